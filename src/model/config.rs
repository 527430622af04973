//! The model's shape as a plain struct, stored as JSON in every checkpoint.

use serde::{Deserialize, Serialize};

use crate::tokenizer::TokenizerKind;

/// Sizes of `nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers,
/// dim_feedforward, dropout, norm_first=...)` plus what maskscope adds around it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub d_model: usize,
    pub n_heads: usize,
    pub n_encoder_layers: usize,
    pub n_decoder_layers: usize,
    pub d_ff: usize,
    #[serde(default)]
    pub dropout: f32,
    pub norm_first: bool,
    /// Longest source or target (in tokens, without `<bos>` / `<eos>`) the model accepts.
    pub max_len: usize,
    pub tokenizer: TokenizerKind,
}

/// Upper bounds that keep a hostile config from allocating absurd amounts of memory.
const MAX_WIDTH: usize = 8192;
const MAX_LAYERS: usize = 64;
/// Longest source or target, in tokens.
pub const MAX_LEN: usize = 4096;

impl ModelConfig {
    /// The size used by the bundled models.
    pub fn small(tokenizer: TokenizerKind, max_len: usize) -> Self {
        Self {
            d_model: 64,
            n_heads: 4,
            n_encoder_layers: 2,
            n_decoder_layers: 2,
            d_ff: 256,
            dropout: 0.1,
            norm_first: false,
            max_len,
            tokenizer,
        }
    }

    /// The smallest model that still has every part (2 heads, 2 + 2 layers, no dropout):
    /// tests and examples use it.
    pub fn tiny(norm_first: bool, max_len: usize) -> Self {
        Self {
            d_model: 16,
            n_heads: 2,
            n_encoder_layers: 2,
            n_decoder_layers: 2,
            d_ff: 32,
            dropout: 0.0,
            norm_first,
            max_len,
            tokenizer: TokenizerKind::Char,
        }
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// Checks the sizes make a buildable model; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("d_model", self.d_model),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
            ("max_len", self.max_len),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} must be positive"));
            }
        }
        if self.n_encoder_layers == 0 || self.n_decoder_layers == 0 {
            return Err("the model needs at least one encoder and one decoder layer".into());
        }
        if self.d_model > MAX_WIDTH || self.d_ff > 4 * MAX_WIDTH {
            return Err(format!(
                "d_model {} / d_ff {} are larger than maskscope supports",
                self.d_model, self.d_ff
            ));
        }
        if self.n_encoder_layers > MAX_LAYERS || self.n_decoder_layers > MAX_LAYERS {
            return Err(format!("more than {MAX_LAYERS} layers is not supported"));
        }
        if self.max_len > MAX_LEN {
            return Err(format!("max_len {} is larger than {MAX_LEN}", self.max_len));
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return Err(format!(
                "d_model {} is not divisible by n_heads {}",
                self.d_model, self.n_heads
            ));
        }
        if !self.d_model.is_multiple_of(2) {
            return Err(format!(
                "d_model {} must be even for sinusoidal positions",
                self.d_model
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        Ok(())
    }
}
