//! The model as the rest of the app sees it: a vocabulary plus weights, turning text into
//! traces. Everything returned here is plain data from [`crate::trace`].

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use ndarray::{Array2, Array4};

use super::attention::AttnRecord;
use super::batch::{Batch, Example};
use super::checkpoint::{self, CheckpointData, CheckpointError};
use super::config::ModelConfig;
use super::params::{self, VarStore};
use super::pass::Pass;
use super::seq2seq::Seq2Seq;
use crate::masks::MaskSettings;
use crate::tokenizer::Vocab;
use crate::trace::{AttentionTrace, BatchTrace, SequenceTrace};

pub type ModelResult<T> = Result<T, CheckpointError>;

pub struct Engine {
    config: ModelConfig,
    vocab: Vocab,
    model: Seq2Seq,
    vars: VarStore,
    /// Training history summary stored with the checkpoint, if any.
    pub history: Option<serde_json::Value>,
    device: Device,
}

/// One text pair after tokenising, with what the tokenizer had to say about it.
pub struct Tokenized {
    pub example: Example,
    pub warnings: Vec<String>,
}

impl Engine {
    /// A freshly initialised model (seeded, reproducible).
    pub fn new_random(config: ModelConfig, vocab: Vocab, seed: u64) -> ModelResult<Engine> {
        config.validate().map_err(CheckpointError::BadConfig)?;
        Self::build(config, vocab, None, |device| params::random(seed, device))
    }

    pub fn from_checkpoint(data: CheckpointData) -> ModelResult<Engine> {
        let CheckpointData {
            config,
            vocab,
            history,
            tensors,
        } = data;
        Self::build(config, vocab, history, |device| {
            params::loaded(tensors, device)
        })
    }

    /// Builds the model on the CPU with parameters from `source`.
    fn build<'a>(
        config: ModelConfig,
        vocab: Vocab,
        history: Option<serde_json::Value>,
        source: impl FnOnce(&Device) -> (candle_nn::VarBuilder<'a>, VarStore),
    ) -> ModelResult<Engine> {
        let device = Device::Cpu;
        let (vb, vars) = source(&device);
        let model = Seq2Seq::new(&config, vocab.len(), vb)?;
        Ok(Engine {
            config,
            vocab,
            model,
            vars,
            history,
            device,
        })
    }

    pub fn load(path: &Path) -> ModelResult<Engine> {
        Self::from_checkpoint(checkpoint::read_file(path)?)
    }

    pub fn from_bytes(bytes: &[u8]) -> ModelResult<Engine> {
        Self::from_checkpoint(checkpoint::parse(bytes)?)
    }

    pub fn save(&self, path: &Path) -> ModelResult<()> {
        checkpoint::write_file(
            path,
            &self.config,
            &self.vocab,
            self.history.as_ref(),
            &self.weights(),
        )
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    pub(crate) fn model(&self) -> &Seq2Seq {
        &self.model
    }

    pub(crate) fn vars(&self) -> &VarStore {
        &self.vars
    }

    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    /// A deep copy of every parameter by checkpoint name.
    pub fn weights(&self) -> BTreeMap<String, Tensor> {
        let vars = self.vars.lock().expect("vars lock");
        vars.iter()
            .map(|(name, var)| (name.clone(), var.as_tensor().copy().expect("copy on cpu")))
            .collect()
    }

    /// Replaces parameter values in place (names and shapes must match this model).
    pub fn set_weights(&self, weights: &BTreeMap<String, Tensor>) -> ModelResult<()> {
        let vars = self.vars.lock().expect("vars lock");
        for (name, value) in weights {
            let var = vars
                .get(name)
                .ok_or_else(|| CheckpointError::Mismatch(format!("unknown parameter `{name}`")))?;
            var.set(value)?;
        }
        Ok(())
    }

    /// Parameter names with their element counts, in name order.
    pub fn parameter_sizes(&self) -> Vec<(String, usize)> {
        self.vars
            .lock()
            .expect("vars lock")
            .iter()
            .map(|(n, v)| (n.clone(), v.elem_count()))
            .collect()
    }

    /// Tokenises one source/target pair (truncated to `max_len`, unknowns reported).
    pub fn tokenize(&self, src: &str, tgt: &str) -> Tokenized {
        let src = self.vocab.encode(src, self.config.max_len);
        let tgt = self.vocab.encode(tgt, self.config.max_len);
        let mut warnings: Vec<String> = src
            .warnings()
            .into_iter()
            .map(|w| format!("source: {w}"))
            .collect();
        warnings.extend(tgt.warnings().into_iter().map(|w| format!("target: {w}")));
        Tokenized {
            example: Example {
                src: src.ids,
                tgt: tgt.ids,
            },
            warnings,
        }
    }

    /// Teacher-forced forward pass over text pairs with a full trace.
    pub fn inspect(
        &self,
        pairs: &[(&str, &str)],
        settings: &MaskSettings,
    ) -> ModelResult<(BatchTrace, Vec<Vec<String>>)> {
        let tokenized: Vec<Tokenized> = pairs.iter().map(|(s, t)| self.tokenize(s, t)).collect();
        let examples: Vec<Example> = tokenized.iter().map(|t| t.example.clone()).collect();
        let trace = self.trace(&examples, settings)?;
        Ok((trace, tokenized.into_iter().map(|t| t.warnings).collect()))
    }

    /// Teacher-forced forward pass over token ids with a full trace.
    pub fn trace(&self, examples: &[Example], settings: &MaskSettings) -> ModelResult<BatchTrace> {
        let batch = Batch::new(examples, *settings);
        Ok(trace_batch(
            &self.model,
            &batch,
            &self.device,
            &|ids, _| self.vocab.tokens_of(ids),
        )?)
    }

    /// Next-token logits `(batch, tgt, vocab)` of a teacher-forced pass, without a trace.
    pub fn logits(
        &self,
        examples: &[Example],
        settings: &MaskSettings,
    ) -> ModelResult<Vec<Vec<Vec<f32>>>> {
        let batch = Batch::new(examples, *settings);
        Ok(self
            .model
            .forward(
                &batch.tensors(&self.device)?,
                &Pass::eval(settings.method, false),
            )?
            .logits
            .to_vec3::<f32>()?)
    }
}

/// Which vocabulary names a list of ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSide {
    Source,
    Target,
}

/// One teacher-forced pass over `batch` with every attention record kept, turned into
/// plain data. `names` spells ids as tokens for the views; any model family uses this.
pub(crate) fn trace_batch(
    model: &Seq2Seq,
    batch: &Batch,
    device: &Device,
    names: &dyn Fn(&[u32], TokenSide) -> Vec<String>,
) -> candle_core::Result<BatchTrace> {
    let settings = batch.settings;
    let out = model.forward(&batch.tensors(device)?, &Pass::eval(settings.method, true))?;
    let logits = out.logits.to_vec3::<f32>()?; // [batch][tgt][vocab]
    let probs = super::ops::softmax_last_dim(&out.logits)?.to_vec3::<f32>()?;
    let (enc, dec, cross) = (
        per_sequence(&out.encoder)?,
        per_sequence(&out.decoder_self)?,
        per_sequence(&out.cross)?,
    );
    let mut sequences = Vec::with_capacity(batch.len());
    for (b, ((encoder, decoder_self), cross)) in enc.into_iter().zip(dec).zip(cross).enumerate() {
        let logits = to_matrix(&logits[b]);
        let probs = to_matrix(&probs[b]);
        let predicted: Vec<u32> = probs.rows().into_iter().map(argmax).collect();
        let loss = batch.labels[b]
            .iter()
            .zip(probs.rows())
            .enumerate()
            .map(|(position, (&label, row))| {
                (position < batch.tgt_lens[b])
                    .then(|| -row[label as usize].max(f32::MIN_POSITIVE).ln())
            })
            .collect();
        sequences.push(SequenceTrace {
            src_tokens: names(&batch.src[b], TokenSide::Source),
            src_ids: batch.src[b].clone(),
            src_len: batch.src_lens[b],
            tgt_input_tokens: names(&batch.tgt_in[b], TokenSide::Target),
            tgt_input_ids: batch.tgt_in[b].clone(),
            label_tokens: names(&batch.labels[b], TokenSide::Target),
            labels: batch.labels[b].clone(),
            tgt_len: batch.tgt_lens[b],
            masks: batch.masks[b].clone(),
            encoder,
            decoder_self,
            cross,
            predicted_tokens: names(&predicted, TokenSide::Target),
            predicted,
            logits,
            probs,
            loss,
        });
    }
    Ok(BatchTrace {
        settings,
        sequences,
    })
}

pub(crate) fn argmax(row: ndarray::ArrayView1<f32>) -> u32 {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &p)| {
            if p > best.1 { (i, p) } else { best }
        })
        .0 as u32
}

fn to_matrix(rows: &[Vec<f32>]) -> Array2<f32> {
    let cols = rows.first().map_or(0, Vec::len);
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).expect("rows of equal length")
}

/// Splits per-layer records `(batch, heads, q, k)` into one `(layer, head, q, k)` trace per sequence.
fn per_sequence(records: &[AttnRecord]) -> candle_core::Result<Vec<AttentionTrace>> {
    let stack = |pick: fn(&AttnRecord) -> &Tensor| -> candle_core::Result<Vec<Array4<f32>>> {
        let layers = Tensor::stack(&records.iter().map(pick).collect::<Vec<_>>(), 0)?; // (layer, batch, heads, q, k)
        let (l, b, h, q, k) = layers.dims5()?;
        let per_batch = layers.transpose(0, 1)?.contiguous()?; // (batch, layer, heads, q, k)
        let flat = per_batch.flatten_all()?.to_vec1::<f32>()?;
        let size = l * h * q * k;
        Ok((0..b)
            .map(|i| {
                Array4::from_shape_vec((l, h, q, k), flat[i * size..(i + 1) * size].to_vec())
                    .expect("sizes match")
            })
            .collect())
    };
    let (scores, masked, weights) = (
        stack(|r| &r.scores)?,
        stack(|r| &r.masked_scores)?,
        stack(|r| &r.weights)?,
    );
    Ok(scores
        .into_iter()
        .zip(masked)
        .zip(weights)
        .map(|((scores, masked_scores), weights)| AttentionTrace {
            scores,
            masked_scores,
            weights,
        })
        .collect())
}

impl Engine {
    /// An independent copy (own variables) of this model.
    pub fn duplicate(&self) -> ModelResult<Engine> {
        let tensors = self.weights().into_iter().collect();
        Self::from_checkpoint(CheckpointData {
            config: self.config.clone(),
            vocab: self.vocab.clone(),
            history: self.history.clone(),
            tensors,
        })
    }
}
