//! Encoder and decoder layers exactly as `nn.TransformerEncoderLayer` /
//! `nn.TransformerDecoderLayer` (both `norm_first` settings) and transformers' Marian / BART
//! layers compute them, with each family's parameter names (see [`super::family`]).

use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::attention::{AttnMask, AttnRecord, MultiHeadAttention, append};
use super::family::{Activation, LayerSpec};
use super::ops::{layer_norm, linear};
use super::pass::Pass;

pub struct Linear {
    weight: Tensor, // (out, in)
    bias: Tensor,   // (out,)
}

impl Linear {
    /// `nn.Linear` initialisation: xavier-uniform weight (as `nn.Transformer` resets it), small uniform bias.
    pub fn new(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        let bound = (6.0 / (in_dim + out_dim) as f64).sqrt();
        let bias_bound = 1.0 / (in_dim as f64).sqrt();
        Ok(Self {
            weight: vb.get_with_hints(
                (out_dim, in_dim),
                "weight",
                Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
            )?,
            bias: vb.get_with_hints(
                out_dim,
                "bias",
                Init::Uniform {
                    lo: -bias_bound,
                    up: bias_bound,
                },
            )?,
        })
    }

    /// A linear map from existing tensors (a tied output head).
    pub fn from_parts(weight: Tensor, bias: Tensor) -> Self {
        Self { weight, bias }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        linear(x, &self.weight, &self.bias)
    }
}

pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get_with_hints(dim, "weight", Init::Const(1.0))?,
            bias: vb.get_with_hints(dim, "bias", Init::Const(0.0))?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        layer_norm(x, &self.weight, &self.bias)
    }
}

/// `linear2(dropout(activation(linear1(x))))`.
pub struct FeedForward {
    linear1: Linear,
    linear2: Linear,
    activation: Activation,
}

impl FeedForward {
    fn new(spec: &LayerSpec, vb: &VarBuilder) -> Result<Self> {
        let (first, second) = spec.naming.feed_forward();
        Ok(Self {
            linear1: Linear::new(spec.d_model, spec.d_ff, vb.pp(first))?,
            linear2: Linear::new(spec.d_ff, spec.d_model, vb.pp(second))?,
            activation: spec.activation,
        })
    }

    fn forward(&self, x: &Tensor, pass: &Pass) -> Result<Tensor> {
        let hidden = self.activation.apply(&self.linear1.forward(x)?)?;
        self.linear2.forward(&pass.drop(hidden)?)
    }
}

pub struct EncoderLayer {
    self_attn: MultiHeadAttention,
    ff: FeedForward,
    norm1: LayerNorm,
    norm2: LayerNorm,
    norm_first: bool,
}

impl EncoderLayer {
    pub fn new(spec: &LayerSpec, vb: VarBuilder) -> Result<Self> {
        let d = spec.d_model;
        let [norm1, norm2] = spec.naming.encoder_norms();
        Ok(Self {
            self_attn: MultiHeadAttention::new(d, spec.n_heads, spec.naming, vb.pp("self_attn"))?,
            ff: FeedForward::new(spec, &vb)?,
            norm1: LayerNorm::new(d, vb.pp(norm1))?,
            norm2: LayerNorm::new(d, vb.pp(norm2))?,
            norm_first: spec.norm_first,
        })
    }

    /// `x (batch, src, d)` -> `(batch, src, d)`.
    pub fn forward(
        &self,
        x: &Tensor,
        mask: Option<&AttnMask>,
        pass: &Pass,
    ) -> Result<(Tensor, Option<AttnRecord>)> {
        if self.norm_first {
            let h = self.norm1.forward(x)?;
            let (sa, record) = self.self_attn.forward(&h, &h, mask, pass)?;
            let x = (x + pass.drop(sa)?)?;
            let x = (&x + pass.drop(self.ff.forward(&self.norm2.forward(&x)?, pass)?)?)?;
            Ok((x, record))
        } else {
            let (sa, record) = self.self_attn.forward(x, x, mask, pass)?;
            let x = self.norm1.forward(&(x + pass.drop(sa)?)?)?;
            let x = self
                .norm2
                .forward(&(&x + pass.drop(self.ff.forward(&x, pass)?)?)?)?;
            Ok((x, record))
        }
    }
}

/// Attention records of one decoder layer.
pub struct DecoderRecords {
    pub self_attn: Option<AttnRecord>,
    pub cross: Option<AttnRecord>,
}

/// Keys and values one decoder layer keeps between incremental steps.
#[derive(Clone, Default)]
pub struct LayerCache {
    self_kv: Option<(Tensor, Tensor)>,
    cross_kv: Option<(Tensor, Tensor)>,
}

pub struct DecoderLayer {
    self_attn: MultiHeadAttention,
    cross_attn: MultiHeadAttention,
    ff: FeedForward,
    norm1: LayerNorm,
    norm2: LayerNorm,
    norm3: LayerNorm,
    norm_first: bool,
}

impl DecoderLayer {
    pub fn new(spec: &LayerSpec, vb: VarBuilder) -> Result<Self> {
        let (d, heads, naming) = (spec.d_model, spec.n_heads, spec.naming);
        let [norm1, norm2, norm3] = naming.decoder_norms();
        Ok(Self {
            self_attn: MultiHeadAttention::new(d, heads, naming, vb.pp("self_attn"))?,
            cross_attn: MultiHeadAttention::new(d, heads, naming, vb.pp(naming.cross_attention()))?,
            ff: FeedForward::new(spec, &vb)?,
            norm1: LayerNorm::new(d, vb.pp(norm1))?,
            norm2: LayerNorm::new(d, vb.pp(norm2))?,
            norm3: LayerNorm::new(d, vb.pp(norm3))?,
            norm_first: spec.norm_first,
        })
    }

    /// Teacher-forced pass: `x (batch, tgt, d)` over `memory (batch, src, d)`.
    pub fn forward(
        &self,
        x: &Tensor,
        memory: &Tensor,
        self_mask: Option<&AttnMask>,
        cross_mask: Option<&AttnMask>,
        pass: &Pass,
    ) -> Result<(Tensor, DecoderRecords)> {
        let (k, v) = self.cross_attn.keys_values(memory)?;
        self.run(x, None, (&k, &v), self_mask, cross_mask, pass)
    }

    /// One incremental step: `x (batch, 1, d)` is the newest position; `cache` holds the
    /// keys and values of earlier positions and of the memory, and is extended in place.
    pub fn step(
        &self,
        x: &Tensor,
        memory: &Tensor,
        cache: &mut LayerCache,
        cross_mask: Option<&AttnMask>,
        pass: &Pass,
    ) -> Result<(Tensor, DecoderRecords)> {
        if cache.cross_kv.is_none() {
            cache.cross_kv = Some(self.cross_attn.keys_values(memory)?);
        }
        let (ck, cv) = cache.cross_kv.clone().expect("set above");
        self.run(x, Some(cache), (&ck, &cv), None, cross_mask, pass)
    }

    /// The layer body. With a cache, self-attention keys and values are the cached ones
    /// followed by this input's (the causal mask is implicit: there is no future yet).
    fn run(
        &self,
        x: &Tensor,
        cache: Option<&mut LayerCache>,
        cross_kv: (&Tensor, &Tensor),
        self_mask: Option<&AttnMask>,
        cross_mask: Option<&AttnMask>,
        pass: &Pass,
    ) -> Result<(Tensor, DecoderRecords)> {
        let self_block =
            |h: &Tensor, cache: Option<&mut LayerCache>| -> Result<(Tensor, Option<AttnRecord>)> {
                match cache {
                    None => self.self_attn.forward(h, h, self_mask, pass),
                    Some(cache) => {
                        let (k_new, v_new) = self.self_attn.keys_values(h)?;
                        let past = cache.self_kv.as_ref();
                        let k = append(past.map(|(k, _)| k), &k_new)?;
                        let v = append(past.map(|(_, v)| v), &v_new)?;
                        cache.self_kv = Some((k.clone(), v.clone()));
                        self.self_attn.attend(h, &k, &v, None, pass)
                    }
                }
            };
        let (ck, cv) = cross_kv;
        if self.norm_first {
            let (sa, self_rec) = self_block(&self.norm1.forward(x)?, cache)?;
            let x = (x + pass.drop(sa)?)?;
            let (ca, cross_rec) =
                self.cross_attn
                    .attend(&self.norm2.forward(&x)?, ck, cv, cross_mask, pass)?;
            let x = (&x + pass.drop(ca)?)?;
            let x = (&x + pass.drop(self.ff.forward(&self.norm3.forward(&x)?, pass)?)?)?;
            Ok((
                x,
                DecoderRecords {
                    self_attn: self_rec,
                    cross: cross_rec,
                },
            ))
        } else {
            let (sa, self_rec) = self_block(x, cache)?;
            let x = self.norm1.forward(&(x + pass.drop(sa)?)?)?;
            let (ca, cross_rec) = self.cross_attn.attend(&x, ck, cv, cross_mask, pass)?;
            let x = self.norm2.forward(&(&x + pass.drop(ca)?)?)?;
            let x = self
                .norm3
                .forward(&(&x + pass.drop(self.ff.forward(&x, pass)?)?)?)?;
            Ok((
                x,
                DecoderRecords {
                    self_attn: self_rec,
                    cross: cross_rec,
                },
            ))
        }
    }
}
