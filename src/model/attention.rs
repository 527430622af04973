//! Multi-head attention as `nn.MultiheadAttention` computes it, with the mask applied one of
//! three ways (see [`MaskMethod`]) and, on request, a record of scores and weights per head.

use candle_core::{D, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::family::Naming;
use super::ops::{
    add_mask, attention_scores, linear_split_heads, merge_heads_linear, softmax_last_dim,
};
use super::pass::Pass;
use crate::masks::MaskMethod;

/// What one attention call shows: every tensor is `(batch, heads, queries, keys)`.
pub struct AttnRecord {
    pub scores: Tensor,
    pub masked_scores: Tensor,
    pub weights: Tensor,
}

/// A mask ready for the tensors of one batch.
#[derive(Clone)]
pub struct AttnMask {
    /// `(batch, 1, queries, keys)`: 0 where open, `BLOCKED_SCORE` where blocked.
    pub additive: Tensor,
    /// `(batch, 1, queries, keys)`: 1 where open, 0 where blocked.
    pub keep: Tensor,
    /// `(batch, 1, queries, 1)`: 0 for rows with no open key; `None` when every row has one.
    pub open_rows: Option<Tensor>,
}

/// The query, key and value projections, stored the way the checkpoint stores them.
enum Projections {
    /// PyTorch's `in_proj_weight (3 d, d)` / `in_proj_bias (3 d,)`: W_q, W_k, W_v stacked.
    Stacked { weight: Tensor, bias: Tensor },
    /// transformers' `q_proj`, `k_proj`, `v_proj`, each `weight (d, d)` and `bias (d,)`.
    Separate([(Tensor, Tensor); 3]),
}

pub struct MultiHeadAttention {
    projections: Projections,
    out_weight: Tensor, // (d, d)
    out_bias: Tensor,   // (d,)
    n_heads: usize,
    d_model: usize,
}

fn xavier(fan_in: usize, fan_out: usize) -> Init {
    let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

impl MultiHeadAttention {
    pub fn new(d_model: usize, n_heads: usize, naming: Naming, vb: VarBuilder) -> Result<Self> {
        let projections = match naming {
            Naming::PyTorch => Projections::Stacked {
                weight: vb.get_with_hints(
                    (3 * d_model, d_model),
                    "in_proj_weight",
                    xavier(d_model, 3 * d_model),
                )?,
                bias: vb.get_with_hints(3 * d_model, "in_proj_bias", Init::Const(0.0))?,
            },
            Naming::Bart => {
                let part = |name: &str| -> Result<(Tensor, Tensor)> {
                    let vb = vb.pp(name);
                    Ok((
                        vb.get_with_hints((d_model, d_model), "weight", xavier(d_model, d_model))?,
                        vb.get_with_hints(d_model, "bias", Init::Const(0.0))?,
                    ))
                };
                Projections::Separate([part("q_proj")?, part("k_proj")?, part("v_proj")?])
            }
        };
        Ok(Self {
            projections,
            out_weight: vb.pp("out_proj").get_with_hints(
                (d_model, d_model),
                "weight",
                xavier(d_model, d_model),
            )?,
            out_bias: vb
                .pp("out_proj")
                .get_with_hints(d_model, "bias", Init::Const(0.0))?,
            n_heads,
            d_model,
        })
    }

    /// Projects for `part` (0 = query, 1 = key, 2 = value) and splits heads:
    /// `(batch, heads, len, head_dim)`.
    fn project(&self, x: &Tensor, part: usize) -> Result<Tensor> {
        match &self.projections {
            Projections::Stacked { weight, bias } => {
                let d = self.d_model;
                let w = weight.narrow(0, part * d, d)?;
                let b = bias.narrow(0, part * d, d)?;
                linear_split_heads(x, &w, &b, self.n_heads)
            }
            Projections::Separate(parts) => {
                let (w, b) = &parts[part];
                linear_split_heads(x, w, b, self.n_heads)
            }
        }
    }

    /// Keys and values of `kv_in (batch, len, d)`, each `(batch, heads, len, head_dim)`.
    pub fn keys_values(&self, kv_in: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((self.project(kv_in, 1)?, self.project(kv_in, 2)?))
    }

    /// Full attention of `q_in (batch, q_len, d)` over `kv_in (batch, k_len, d)`.
    pub fn forward(
        &self,
        q_in: &Tensor,
        kv_in: &Tensor,
        mask: Option<&AttnMask>,
        pass: &Pass,
    ) -> Result<(Tensor, Option<AttnRecord>)> {
        let (k, v) = self.keys_values(kv_in)?;
        self.attend(q_in, &k, &v, mask, pass)
    }

    /// Attention of `q_in` over precomputed keys and values (the incremental-decoding path).
    pub fn attend(
        &self,
        q_in: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&AttnMask>,
        pass: &Pass,
    ) -> Result<(Tensor, Option<AttnRecord>)> {
        let q = self.project(q_in, 0)?; // (batch, heads, q_len, head_dim)
        let scale = 1.0 / ((self.d_model / self.n_heads) as f64).sqrt();
        let scores = attention_scores(&q, k, scale)?; // (batch, heads, q_len, k_len)
        let (masked_scores, weights) = apply_mask(&scores, mask, pass.mask_method)?;
        let weights = match &pass.dropout {
            Some(dropout) => dropout.apply(&weights)?,
            None => weights,
        };
        let context = weights.matmul(v)?; // (batch, heads, q_len, head_dim)
        // heads merged back to (batch, q_len, d), then the output projection
        let out = merge_heads_linear(&context, &self.out_weight, &self.out_bias)?;
        let record = pass.record.then(|| AttnRecord {
            scores: scores.detach(),
            masked_scores: masked_scores.detach(),
            weights: weights.detach(),
        });
        Ok((out, record))
    }
}

/// Returns `(scores softmax saw, weights)` for one mask method.
fn apply_mask(
    scores: &Tensor,
    mask: Option<&AttnMask>,
    method: MaskMethod,
) -> Result<(Tensor, Tensor)> {
    let Some(mask) = mask else {
        return Ok((scores.clone(), softmax_last_dim(scores)?));
    };
    match method {
        MaskMethod::Additive => {
            let masked = add_mask(scores, &mask.additive)?;
            let mut weights = softmax_last_dim(&masked)?;
            if let Some(open_rows) = &mask.open_rows {
                // A query with no open key would otherwise spread uniform weight over blocked keys.
                weights = weights.broadcast_mul(open_rows)?;
            }
            Ok((masked, weights))
        }
        MaskMethod::Multiply => Ok((
            scores.clone(),
            softmax_last_dim(scores)?.broadcast_mul(&mask.keep)?,
        )),
        MaskMethod::None => Ok((scores.clone(), softmax_last_dim(scores)?)),
    }
}

/// Concatenates cached keys or values with the new position's along the length axis.
pub fn append(cache: Option<&Tensor>, new: &Tensor) -> Result<Tensor> {
    match cache {
        Some(past) => Tensor::cat(&[past, new], D::Minus2),
        None => Ok(new.clone()),
    }
}
