//! A padded batch: decoder input = `<bos>` + target, labels = target + `<eos>`, masks per
//! sequence, and the tensors the model reads.

use std::ops::Range;

use candle_core::{DType, Device, Result, Tensor};

use super::attention::AttnMask;
use super::seq2seq::BatchTensors;
use crate::masks::{MaskGrid, MaskMethod, MaskSettings, PadSide, SequenceMasks};
use crate::tokenizer::{BOS, EOS, PAD};

/// The ids a batch is built around: the decoder's first input, the label after the last
/// target token, and the padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Specials {
    pub start: u32,
    pub eos: u32,
    pub pad: u32,
}

impl Specials {
    /// The built-in models' `<bos>`, `<eos>`, `<pad>`.
    pub const BUILT_IN: Specials = Specials {
        start: BOS,
        eos: EOS,
        pad: PAD,
    };
}

/// One source/target pair as token ids, without special tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    pub src: Vec<u32>,
    pub tgt: Vec<u32>,
}

pub struct Batch {
    pub src: Vec<Vec<u32>>,    // padded to `src_padded`
    pub tgt_in: Vec<Vec<u32>>, // padded to `tgt_padded`
    pub labels: Vec<Vec<u32>>, // padded with the pad id
    pub src_lens: Vec<usize>,
    pub tgt_lens: Vec<usize>,
    pub masks: Vec<SequenceMasks>,
    pub settings: MaskSettings,
}

impl Batch {
    pub fn new(examples: &[Example], settings: MaskSettings) -> Batch {
        Self::with_specials(examples, settings, Specials::BUILT_IN)
    }

    /// A batch for a model whose special ids are not the built-in ones (Marian's).
    pub fn with_specials(
        examples: &[Example],
        settings: MaskSettings,
        specials: Specials,
    ) -> Batch {
        let Specials { start, eos, pad } = specials;
        // At least one source column, so an empty source still has a (fully blocked) key.
        let src_padded = examples
            .iter()
            .map(|e| e.src.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let tgt_padded = examples.iter().map(|e| e.tgt.len() + 1).max().unwrap_or(1);
        let mut batch = Batch {
            src: vec![],
            tgt_in: vec![],
            labels: vec![],
            src_lens: vec![],
            tgt_lens: vec![],
            masks: vec![],
            settings,
        };
        for e in examples {
            let tgt_in: Vec<u32> = std::iter::once(start)
                .chain(e.tgt.iter().copied())
                .collect();
            let labels: Vec<u32> = e.tgt.iter().copied().chain(std::iter::once(eos)).collect();
            batch.masks.push(SequenceMasks::new(
                e.src.len(),
                src_padded,
                tgt_in.len(),
                tgt_padded,
                &settings,
            ));
            let side = settings.pad_side;
            batch.src.push(side.pad(&e.src, src_padded, pad));
            batch.tgt_in.push(side.pad(&tgt_in, tgt_padded, pad));
            batch.labels.push(side.pad(&labels, tgt_padded, pad));
            batch.src_lens.push(e.src.len());
            batch.tgt_lens.push(tgt_in.len());
        }
        batch
    }

    pub fn len(&self) -> usize {
        self.src.len()
    }

    pub fn is_empty(&self) -> bool {
        self.src.is_empty()
    }

    pub fn src_padded(&self) -> usize {
        self.src.first().map_or(0, Vec::len)
    }

    pub fn tgt_padded(&self) -> usize {
        self.tgt_in.first().map_or(0, Vec::len)
    }

    /// The columns of row `b`'s source that hold real tokens.
    pub fn src_real(&self, b: usize) -> Range<usize> {
        self.settings
            .pad_side
            .real_range(self.src_lens[b], self.src_padded())
    }

    /// The columns of row `b`'s decoder input (and labels) that hold real tokens.
    pub fn tgt_real(&self, b: usize) -> Range<usize> {
        self.settings
            .pad_side
            .real_range(self.tgt_lens[b], self.tgt_padded())
    }

    /// Position ids `(batch, len)` counted from each row's first real token, so a real token
    /// has the same position however many pads precede it (Hugging Face's
    /// `cumsum(mask) - 1`); pads get position 0 (no real query attends to them). `None` with
    /// right padding, where every row's positions are simply `0..len`.
    fn position_ids(
        &self,
        lens: &[usize],
        padded: usize,
        device: &Device,
    ) -> Result<Option<Tensor>> {
        if self.settings.pad_side == PadSide::Right {
            return Ok(None);
        }
        let ids: Vec<u32> = lens
            .iter()
            .flat_map(|&len| {
                let lead = PadSide::Left.lead(len, padded);
                (0..padded).map(move |j| j.saturating_sub(lead) as u32)
            })
            .collect();
        Ok(Some(Tensor::from_vec(ids, (lens.len(), padded), device)?))
    }

    pub fn tensors(&self, device: &Device) -> Result<BatchTensors> {
        let ids = |rows: &[Vec<u32>]| {
            Tensor::new(rows.concat(), device)?
                .reshape((rows.len(), rows.first().map_or(0, Vec::len)))
        };
        let mask = |pick: fn(&SequenceMasks) -> &MaskGrid| {
            attn_mask(
                &self.masks.iter().map(pick).collect::<Vec<_>>(),
                self.settings.method,
                device,
            )
        };
        Ok(BatchTensors {
            src: ids(&self.src)?,
            tgt_in: ids(&self.tgt_in)?,
            encoder_mask: mask(|m| &m.encoder_self)?,
            decoder_mask: mask(|m| &m.decoder_self)?,
            cross_mask: mask(|m| &m.cross)?,
            src_positions: self.position_ids(&self.src_lens, self.src_padded(), device)?,
            tgt_positions: self.position_ids(&self.tgt_lens, self.tgt_padded(), device)?,
        })
    }

    /// Flattened labels `(batch * tgt,)` and their weights (0 at padding).
    pub fn label_tensors(&self, device: &Device) -> Result<(Tensor, Tensor)> {
        let labels = self.labels.concat();
        let weight: Vec<f32> = (0..self.len())
            .flat_map(|b| {
                let real = self.tgt_real(b);
                (0..self.tgt_padded()).map(move |i| if real.contains(&i) { 1.0 } else { 0.0 })
            })
            .collect();
        Ok((Tensor::new(labels, device)?, Tensor::new(weight, device)?))
    }
}

/// Stacks per-sequence grids into `(batch, 1, queries, keys)` tensors; `None` when nothing is
/// blocked or the method ignores masks.
pub fn attn_mask(
    grids: &[&MaskGrid],
    method: MaskMethod,
    device: &Device,
) -> Result<Option<AttnMask>> {
    if method == MaskMethod::None || grids.iter().all(|g| g.blocked_count() == 0) {
        return Ok(None);
    }
    let (q, k) = grids[0].shape();
    let shape = (grids.len(), 1, q, k);
    let additive: Vec<f32> = grids
        .iter()
        .flat_map(|g| g.additive().into_iter())
        .collect();
    let keep: Vec<f32> = grids.iter().flat_map(|g| g.keep().into_iter()).collect();
    let open: Vec<f32> = grids
        .iter()
        .flat_map(|g| g.fully_blocked_rows())
        .map(|blocked| if blocked { 0.0 } else { 1.0 })
        .collect();
    let open_rows = if open.contains(&0.0) {
        Some(Tensor::from_vec(open, (grids.len(), 1, q, 1), device)?)
    } else {
        None
    };
    Ok(Some(AttnMask {
        additive: Tensor::from_vec(additive, shape, device)?.to_dtype(DType::F32)?,
        keep: Tensor::from_vec(keep, shape, device)?,
        open_rows,
    }))
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;
    use crate::masks::PadSide;
    use crate::model::Engine;
    use crate::model::pass::Pass;

    /// The claim of lesson `padding-side` step 3 on the bundled dates model: counted by
    /// column, the left-padded row's real outputs change; counted from its first real token
    /// (what the batch hands the model), they match the row alone.
    #[test]
    fn left_padded_positions_must_count_from_the_first_real_token() {
        let engine = Engine::from_bytes(crate::bundled_models::bytes("dates").unwrap()).unwrap();
        let pairs = [
            ("November 28, 2026", "28 Nov 2026"),
            ("May 5, 2026", "5 May 2026"),
            ("2026-03-09", "9 Mar 2026"),
        ];
        let examples: Vec<Example> = pairs
            .iter()
            .map(|(s, t)| engine.tokenize(s, t).example)
            .collect();
        let left = MaskSettings {
            pad_side: PadSide::Left,
            ..MaskSettings::default()
        };
        let alone = engine
            .logits(&examples[2..], &MaskSettings::default())
            .unwrap();
        let batch = engine.batch(&examples, left);
        let pass = Pass::eval(MaskMethod::Additive, false);
        let mut tensors = batch.tensors(&Device::Cpu).unwrap();
        let counted = engine.model().forward(&tensors, &pass).unwrap().logits;
        tensors.src_positions = None;
        tensors.tgt_positions = None;
        let by_column = engine.model().forward(&tensors, &pass).unwrap().logits;
        let delta = |logits: &Tensor| {
            let rows = logits.to_vec3::<f32>().unwrap();
            batch
                .tgt_real(2)
                .enumerate()
                .flat_map(|(i, j)| {
                    let (a, b) = (alone[0][i].clone(), rows[2][j].clone());
                    a.into_iter().zip(b).map(|(x, y)| (x - y).abs())
                })
                .fold(0f32, f32::max)
        };
        assert!(delta(&counted) < 1e-4, "{}", delta(&counted));
        assert!(delta(&by_column) > 1.0, "{}", delta(&by_column));
    }
}
