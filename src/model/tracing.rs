//! From a teacher-forced pass to plain data: every attention record, logits, probabilities
//! and loss per position, with ids spelt as tokens. Shared by every model family.

use candle_core::{Device, Tensor};
use ndarray::{Array2, Array4};

use super::attention::AttnRecord;
use super::batch::Batch;
use super::pass::Pass;
use super::seq2seq::Seq2Seq;
use crate::sentencepiece::Side;
use crate::trace::{AttentionTrace, BatchTrace, SequenceTrace};

impl From<TokenSide> for Side {
    fn from(side: TokenSide) -> Side {
        match side {
            TokenSide::Source => Side::Source,
            TokenSide::Target => Side::Target,
        }
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
    let logits = per_sequence_matrices(&out.logits)?; // [batch] (tgt, vocab)
    let probs = per_sequence_matrices(&super::ops::softmax_last_dim(&out.logits)?)?;
    let (enc, dec, cross) = (
        per_sequence(&out.encoder)?,
        per_sequence(&out.decoder_self)?,
        per_sequence(&out.cross)?,
    );
    let mut sequences = Vec::with_capacity(batch.len());
    let per_batch = enc.into_iter().zip(dec).zip(cross).zip(logits).zip(probs);
    for (b, ((((encoder, decoder_self), cross), logits), probs)) in per_batch.enumerate() {
        let predicted: Vec<u32> = probs.rows().into_iter().map(argmax).collect();
        let real = batch.tgt_real(b);
        let loss = batch.labels[b]
            .iter()
            .zip(probs.rows())
            .enumerate()
            .map(|(position, (&label, row))| {
                real.contains(&position)
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
            pad_side: settings.pad_side,
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

fn argmax(row: ndarray::ArrayView1<f32>) -> u32 {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &p)| {
            if p > best.1 { (i, p) } else { best }
        })
        .0 as u32
}

/// Splits `flat` into `count` equal parts, one per sequence; the first keeps the buffer, so
/// a single sentence (a translator's 20 x 65,001 logits) is not copied again.
fn split_per_sequence(mut flat: Vec<f32>, count: usize) -> Vec<Vec<f32>> {
    if count == 0 {
        return vec![];
    }
    let size = flat.len() / count;
    let mut parts: Vec<Vec<f32>> = (1..count).rev().map(|i| flat.split_off(i * size)).collect();
    parts.push(flat);
    parts.reverse();
    parts
}

/// Splits a `(batch, rows, cols)` tensor into one matrix per sequence.
fn per_sequence_matrices(t: &Tensor) -> candle_core::Result<Vec<Array2<f32>>> {
    let (b, rows, cols) = t.dims3()?;
    let flat = t.flatten_all()?.to_vec1::<f32>()?;
    Ok(split_per_sequence(flat, b)
        .into_iter()
        .map(|m| Array2::from_shape_vec((rows, cols), m).expect("sizes match"))
        .collect())
}

/// Splits per-layer records `(batch, heads, q, k)` into one `(layer, head, q, k)` trace per sequence.
fn per_sequence(records: &[AttnRecord]) -> candle_core::Result<Vec<AttentionTrace>> {
    let stack = |pick: fn(&AttnRecord) -> &Tensor| -> candle_core::Result<Vec<Array4<f32>>> {
        let layers = Tensor::stack(&records.iter().map(pick).collect::<Vec<_>>(), 0)?; // (layer, batch, heads, q, k)
        let (l, b, h, q, k) = layers.dims5()?;
        let per_batch = layers.transpose(0, 1)?.contiguous()?; // (batch, layer, heads, q, k)
        let flat = per_batch.flatten_all()?.to_vec1::<f32>()?;
        Ok(split_per_sequence(flat, b)
            .into_iter()
            .map(|m| Array4::from_shape_vec((l, h, q, k), m).expect("sizes match"))
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
