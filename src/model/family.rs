//! What distinguishes one model family from another, as plain data: how positions are
//! encoded, which activation the feed-forward uses, where the LayerNorms sit, how the
//! checkpoint names the parts. The layers in [`super::layers`] and [`super::seq2seq`] are
//! written once and read this; each family's loader fills it in.
//!
//! Two families today: maskscope's own (`nn.Transformer` names and math) and Marian
//! (transformers' `MarianMTModel`). BART-style models would add learned positions with an
//! offset and an embedding LayerNorm here.

use candle_core::{Result, Tensor};

use super::ops;

/// How position `p` becomes a vector added to the token embedding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Positions {
    /// `PE[p, 2i] = sin(p / 10000^(2i/d))`, `PE[p, 2i+1] = cos(...)` (the built-in models).
    Interleaved,
    /// Marian's table: the sines in the first half of the vector, the cosines in the second.
    SplitHalves,
}

impl Positions {
    /// The table for positions `0..len`, `(len, d)`.
    pub fn table(self, len: usize, d: usize, device: &candle_core::Device) -> Result<Tensor> {
        match self {
            Positions::Interleaved => ops::positional_encoding(len, d, device),
            Positions::SplitHalves => {
                let half = d.div_ceil(2);
                let mut values = vec![0f32; len * d];
                for pos in 0..len {
                    let row = &mut values[pos * d..(pos + 1) * d];
                    for j in 0..d {
                        // transformers computes the angles in float64, then stores float32.
                        let angle = pos as f64 / 10000f64.powf((2 * (j / 2)) as f64 / d as f64);
                        if j % 2 == 0 {
                            row[j / 2] = angle.sin() as f32;
                        } else {
                            row[half + j / 2] = angle.cos() as f32;
                        }
                    }
                }
                Tensor::from_vec(values, (len, d), device)
            }
        }
    }
}

/// The feed-forward block's nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    /// The exact (erf) GELU, transformers' `"gelu"`.
    Gelu,
    /// `x * sigmoid(x)`, transformers' `"swish"` / `"silu"`.
    Swish,
}

impl Activation {
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::Relu => ops::relu(x),
            Activation::Gelu => x.gelu_erf(),
            Activation::Swish => x.silu(),
        }
    }
}

/// How a checkpoint names the parts of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// `nn.TransformerEncoderLayer` / `nn.TransformerDecoderLayer`: `self_attn.in_proj_weight`
    /// (query, key, value stacked), `multihead_attn`, `linear1`, `linear2`, `norm1..3`.
    PyTorch,
    /// transformers' BART / Marian layers: `self_attn.{q,k,v,out}_proj`, `encoder_attn`,
    /// `fc1`, `fc2`, `self_attn_layer_norm`, `encoder_attn_layer_norm`, `final_layer_norm`.
    Bart,
}

impl Naming {
    pub fn cross_attention(self) -> &'static str {
        match self {
            Naming::PyTorch => "multihead_attn",
            Naming::Bart => "encoder_attn",
        }
    }

    pub fn feed_forward(self) -> (&'static str, &'static str) {
        match self {
            Naming::PyTorch => ("linear1", "linear2"),
            Naming::Bart => ("fc1", "fc2"),
        }
    }

    /// Names of the encoder layer's two norms (after self-attention, after feed-forward).
    pub fn encoder_norms(self) -> [&'static str; 2] {
        match self {
            Naming::PyTorch => ["norm1", "norm2"],
            Naming::Bart => ["self_attn_layer_norm", "final_layer_norm"],
        }
    }

    /// Names of the decoder layer's three norms (self-attention, cross-attention, feed-forward).
    pub fn decoder_norms(self) -> [&'static str; 3] {
        match self {
            Naming::PyTorch => ["norm1", "norm2", "norm3"],
            Naming::Bart => [
                "self_attn_layer_norm",
                "encoder_attn_layer_norm",
                "final_layer_norm",
            ],
        }
    }
}

/// Everything one stack of layers needs to be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    pub d_model: usize,
    pub n_heads: usize,
    pub d_ff: usize,
    pub norm_first: bool,
    pub activation: Activation,
    pub naming: Naming,
}
