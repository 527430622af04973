//! Plain-data exports of traces: the `inspect --json` schema (docs/inspect-json.md).

use ndarray::{Array2, Array4};
use serde_json::{Value, json};

use crate::i18n::Said;
use crate::masks::{Cell, MaskGrid};
use crate::trace::{AttentionTrace, BatchTrace, SequenceTrace};

fn matrix(m: &Array2<f32>) -> Value {
    json!(m.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>())
}

fn nested4(a: &Array4<f32>) -> Value {
    let (l, h, _, _) = a.dim();
    json!(
        (0..l)
            .map(|i| (0..h)
                .map(|j| a
                    .slice(ndarray::s![i, j, .., ..])
                    .rows()
                    .into_iter()
                    .map(|r| r.to_vec())
                    .collect::<Vec<_>>())
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()
    )
}

fn attention(a: &AttentionTrace) -> Value {
    json!({ "weights": nested4(&a.weights), "scores": nested4(&a.scores), "masked_scores": nested4(&a.masked_scores) })
}

/// Mask grid as rows of single-letter reasons: `o` open, `f` future, `p` padding, `b` both.
fn grid(g: &MaskGrid) -> Value {
    let letter = |c: &Cell| match c {
        Cell::Open => "o",
        Cell::Future => "f",
        Cell::Padding => "p",
        Cell::Both => "b",
    };
    json!(
        g.cells
            .rows()
            .into_iter()
            .map(|r| r.iter().map(letter).collect::<String>())
            .collect::<Vec<_>>()
    )
}

fn sequence(s: &SequenceTrace, warnings: &[Said]) -> Value {
    json!({
        "src_ids": s.src_ids, "src_tokens": s.src_tokens, "src_len": s.src_len,
        "tgt_input_ids": s.tgt_input_ids, "tgt_input_tokens": s.tgt_input_tokens, "tgt_len": s.tgt_len,
        "labels": s.labels, "label_tokens": s.label_tokens,
        "predicted": s.predicted, "predicted_tokens": s.predicted_tokens,
        "loss": s.loss, "mean_loss": s.mean_loss(),
        "logits": matrix(&s.logits),
        "masks": { "encoder_self": grid(&s.masks.encoder_self), "decoder_self": grid(&s.masks.decoder_self), "cross": grid(&s.masks.cross) },
        "attention": { "encoder": attention(&s.encoder), "decoder_self": attention(&s.decoder_self), "cross": attention(&s.cross) },
        "warnings": warnings.iter().map(Said::to_string).collect::<Vec<_>>(),
    })
}

/// The `inspect --json` document: settings plus one element per batch row.
pub fn batch_json(trace: &BatchTrace, warnings: &[Vec<Said>]) -> Value {
    let empty = vec![];
    json!({
        "settings": trace.settings,
        "batch": trace.sequences.iter().enumerate().map(|(i, s)| sequence(s, warnings.get(i).unwrap_or(&empty))).collect::<Vec<_>>(),
    })
}
