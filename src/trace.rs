//! Plain data handed from the model to the views: tokens, masks, attention scores and
//! weights per layer and head, predictions, losses and training metrics. No candle types.
//!
//! Shapes cover the padded batch length, pad positions included, so masks stay visible.
//!
//! Convention for query rows that are themselves padding: they are computed exactly as
//! PyTorch computes them (a pad query attends over the keys its mask leaves open) and are
//! flagged by `src_len` / `tgt_len` (and `pad_side`); they never count towards the loss.
//! A row whose every key is blocked (an empty source, or a left-padded decoder's pad query,
//! whose causal mask leaves only earlier pads) is an "empty row": all-zero weights, never
//! NaN. Its scores are kept as computed; softmax saw them all at `BLOCKED_SCORE`.

use std::ops::Range;

use ndarray::{Array2, Array3, Array4, Axis};
use serde::{Deserialize, Serialize};

use crate::masks::{MaskGrid, MaskSettings, PadSide, SequenceMasks};

/// The three kinds of attention in an encoder-decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum AttentionKind {
    // The snake-case aliases are the names lessons use.
    #[default]
    #[serde(alias = "encoder_self")]
    EncoderSelf,
    #[serde(alias = "decoder_self")]
    DecoderSelf,
    #[serde(alias = "cross")]
    Cross,
}

impl AttentionKind {
    pub const ALL: [AttentionKind; 3] = [
        AttentionKind::EncoderSelf,
        AttentionKind::DecoderSelf,
        AttentionKind::Cross,
    ];

    pub fn label(self) -> &'static str {
        match self {
            AttentionKind::EncoderSelf => "encoder self-attention",
            AttentionKind::DecoderSelf => "decoder self-attention (masked)",
            AttentionKind::Cross => "cross-attention",
        }
    }
}

/// One attention kind for one sequence: every array is `(layer, head, query, key)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttentionTrace {
    /// QK^T / sqrt(d_k), before any mask.
    pub scores: Array4<f32>,
    /// The scores softmax actually saw (blocked cells at `BLOCKED_SCORE` with the additive method).
    pub masked_scores: Array4<f32>,
    /// Post-softmax weights (after the multiply mask, for that method).
    pub weights: Array4<f32>,
}

impl AttentionTrace {
    pub fn layers(&self) -> usize {
        self.weights.dim().0
    }

    pub fn heads(&self) -> usize {
        self.weights.dim().1
    }

    /// `(query, key)` weights of one layer and head.
    pub fn head(&self, layer: usize, head: usize) -> Array2<f32> {
        self.weights
            .index_axis(Axis(0), layer)
            .index_axis(Axis(0), head)
            .to_owned()
    }

    /// `(query, key)` weights averaged over the heads of one layer.
    pub fn mean_over_heads(&self, layer: usize) -> Array2<f32> {
        self.weights
            .index_axis(Axis(0), layer)
            .mean_axis(Axis(0))
            .expect("a layer has at least one head")
    }
}

/// Everything one forward pass shows about one sequence of a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceTrace {
    /// Source ids padded to the batch's source length.
    pub src_ids: Vec<u32>,
    pub src_tokens: Vec<String>,
    /// Real (unpadded) source length.
    pub src_len: usize,
    /// Decoder input: `<bos>` + target, padded to the batch's target length.
    pub tgt_input_ids: Vec<u32>,
    pub tgt_input_tokens: Vec<String>,
    /// Labels: target + `<eos>`, padded with `<pad>`.
    pub labels: Vec<u32>,
    pub label_tokens: Vec<String>,
    /// Real decoder input length (target tokens + 1).
    pub tgt_len: usize,
    /// Which end the pads are on: with `Left` the real tokens are the last `src_len` /
    /// `tgt_len` columns. Traces saved before left padding existed are right-padded.
    #[serde(default)]
    pub pad_side: PadSide,
    pub masks: SequenceMasks,
    pub encoder: AttentionTrace,
    pub decoder_self: AttentionTrace,
    pub cross: AttentionTrace,
    /// `(tgt, vocab)` next-token logits per decoder position.
    pub logits: Array2<f32>,
    /// `(tgt, vocab)` softmax of the logits.
    pub probs: Array2<f32>,
    /// Argmax token per position.
    pub predicted: Vec<u32>,
    pub predicted_tokens: Vec<String>,
    /// Cross-entropy of the label per position; `None` at padding.
    pub loss: Vec<Option<f32>>,
}

impl SequenceTrace {
    pub fn attention(&self, kind: AttentionKind) -> &AttentionTrace {
        match kind {
            AttentionKind::EncoderSelf => &self.encoder,
            AttentionKind::DecoderSelf => &self.decoder_self,
            AttentionKind::Cross => &self.cross,
        }
    }

    pub fn mask(&self, kind: AttentionKind) -> &MaskGrid {
        match kind {
            AttentionKind::EncoderSelf => &self.masks.encoder_self,
            AttentionKind::DecoderSelf => &self.masks.decoder_self,
            AttentionKind::Cross => &self.masks.cross,
        }
    }

    /// Token labels of the query axis and the key axis for one attention kind.
    pub fn axis_tokens(&self, kind: AttentionKind) -> (&[String], &[String]) {
        match kind {
            AttentionKind::EncoderSelf => (&self.src_tokens, &self.src_tokens),
            AttentionKind::DecoderSelf => (&self.tgt_input_tokens, &self.tgt_input_tokens),
            AttentionKind::Cross => (&self.tgt_input_tokens, &self.src_tokens),
        }
    }

    /// Real (unpadded) lengths of the query and key axes of `kind`.
    pub fn real_lengths(&self, kind: AttentionKind) -> (usize, usize) {
        match kind {
            AttentionKind::EncoderSelf => (self.src_len, self.src_len),
            AttentionKind::DecoderSelf => (self.tgt_len, self.tgt_len),
            AttentionKind::Cross => (self.tgt_len, self.src_len),
        }
    }

    /// The source columns that hold real tokens (the last ones when left-padded).
    pub fn src_real(&self) -> Range<usize> {
        self.pad_side.real_range(self.src_len, self.src_ids.len())
    }

    /// The decoder-input (and label) columns that hold real tokens.
    pub fn tgt_real(&self) -> Range<usize> {
        self.pad_side
            .real_range(self.tgt_len, self.tgt_input_ids.len())
    }

    /// The real query rows and key columns of `kind`.
    pub fn real_ranges(&self, kind: AttentionKind) -> (Range<usize>, Range<usize>) {
        match kind {
            AttentionKind::EncoderSelf => (self.src_real(), self.src_real()),
            AttentionKind::DecoderSelf => (self.tgt_real(), self.tgt_real()),
            AttentionKind::Cross => (self.tgt_real(), self.src_real()),
        }
    }

    /// Mean loss over the real label positions.
    pub fn mean_loss(&self) -> Option<f32> {
        let real: Vec<f32> = self.loss.iter().flatten().copied().collect();
        (!real.is_empty()).then(|| real.iter().sum::<f32>() / real.len() as f32)
    }
}

/// One forward pass over a padded batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchTrace {
    pub settings: MaskSettings,
    pub sequences: Vec<SequenceTrace>,
}

/// One autoregressive decoding step: what the newest decoder position saw and predicted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepTrace {
    /// Index of the newest decoder position (0 for the step fed only `<bos>`).
    pub position: usize,
    /// Decoder input so far, `<bos>` first.
    pub input_ids: Vec<u32>,
    pub input_tokens: Vec<String>,
    /// `(layer, head, key)`: the newest row of decoder self-attention.
    pub self_row: Array3<f32>,
    /// `(layer, head, source)`: the newest row of cross-attention.
    pub cross_row: Array3<f32>,
    /// Next-token probabilities after temperature / top-k / top-p filtering (what was sampled from).
    pub probs: Vec<f32>,
    /// The most likely next tokens by name, most likely first (a few of a vocabulary that
    /// may hold 65,001): what the chart shows.
    #[serde(default)]
    pub top: Vec<TokenChance>,
    /// The token chosen at this step.
    pub chosen: u32,
    pub chosen_token: String,
}

impl StepTrace {
    /// The probability the chosen token had (0 if it lies outside `probs`).
    pub fn chosen_probability(&self) -> f32 {
        self.probs.get(self.chosen as usize).copied().unwrap_or(0.0)
    }
}

/// A candidate next token and its probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenChance {
    pub id: u32,
    pub token: String,
    pub prob: f32,
}

/// One hypothesis of beam search after a step: the tokens it has written, the sum of their
/// log-probabilities, and the length-normalised score beams are ranked by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BeamHypothesis {
    /// Output ids so far, without `<bos>` (ending in `<eos>` once finished).
    pub ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// Sum of the log-probabilities of `ids`.
    pub log_prob: f32,
    /// `log_prob / ids.len()`: what the search ranks by, so long outputs are not penalised
    /// just for having more terms.
    pub score: f32,
    pub finished: bool,
}

/// Metrics a training run streams.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    pub step: usize,
    pub train_loss: f32,
    pub learning_rate: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalMetrics {
    pub step: usize,
    pub val_loss: f32,
    pub token_accuracy: f32,
    pub exact_match: f32,
    /// L2 norm of the trainable weights at this evaluation (what L2 and weight decay shrink);
    /// absent where no run measured it (a plain `eval`, older sessions).
    #[serde(default)]
    pub weight_norm: Option<f32>,
}

/// Largest absolute difference between two equally shaped arrays (0 for empty ones).
pub fn max_abs_diff<D: ndarray::Dimension>(
    a: &ndarray::Array<f32, D>,
    b: &ndarray::Array<f32, D>,
) -> f32 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Sum of each row of a `(query, key)` matrix.
pub fn row_sums(m: &Array2<f32>) -> Vec<f32> {
    m.sum_axis(Axis(1)).to_vec()
}
