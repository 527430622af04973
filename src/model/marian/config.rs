//! `config.json` of a transformers Marian model: every field that changes the math is read
//! and honoured, and anything maskscope cannot compute the way transformers does is refused
//! with a message naming the field.

use serde_json::{Map, Value};

use super::super::family::{Activation, LayerSpec, Naming};

/// Bounds that keep a hostile config from allocating absurd amounts of memory.
const MAX_WIDTH: usize = 8192;
const MAX_LAYERS: usize = 64;
const MAX_HEADS: usize = 256;
const MAX_POSITIONS: usize = 65_536;
const MAX_VOCAB: usize = crate::tokenizer::MAX_VOCAB;
/// About 8 GB of f32 weights: far above opus-mt's 77 M parameters.
const MAX_PARAMETERS: usize = 2_000_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct MarianConfig {
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub decoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub decoder_ffn_dim: usize,
    pub activation: Activation,
    pub scale_embedding: bool,
    pub vocab_size: usize,
    pub decoder_vocab_size: usize,
    pub share_encoder_decoder_embeddings: bool,
    pub tie_word_embeddings: bool,
    pub pad_token_id: u32,
    pub eos_token_id: u32,
    pub decoder_start_token_id: u32,
    pub forced_eos_token_id: Option<u32>,
    pub max_position_embeddings: usize,
    /// Used only when fine-tuning.
    pub dropout: f32,
    /// The file as read, so saving writes back every field (ours updated).
    pub raw: Map<String, Value>,
}

/// transformers' `MarianConfig` defaults, used for fields a file leaves out.
fn default_of(field: &str) -> Option<Value> {
    Some(match field {
        "vocab_size" => 58101.into(),
        "max_position_embeddings" => 1024.into(),
        "encoder_layers" | "decoder_layers" => 12.into(),
        "encoder_ffn_dim" | "decoder_ffn_dim" => 4096.into(),
        "encoder_attention_heads" | "decoder_attention_heads" => 16.into(),
        "activation_function" => "gelu".into(),
        "d_model" => 1024.into(),
        "dropout" => 0.1.into(),
        "decoder_start_token_id" | "pad_token_id" => 58100.into(),
        "eos_token_id" | "forced_eos_token_id" => 0.into(),
        "scale_embedding" => false.into(),
        "share_encoder_decoder_embeddings" | "tie_word_embeddings" => true.into(),
        _ => return None,
    })
}

/// Fields older Marian / BART configs carry whose non-default values transformers' Marian
/// does not compute (it is always post-LN, without final or embedding norms, with static
/// sinusoidal positions and no extra logits bias): `(field, the value Marian computes)`.
const FIXED_BY_MARIAN: [(&str, bool); 6] = [
    ("normalize_before", false),
    ("add_final_layer_norm", false),
    ("normalize_embedding", false),
    ("static_position_embeddings", true),
    ("add_bias_logits", false),
    ("do_blenderbot_90_layernorm", false),
];

impl MarianConfig {
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("config.json is not JSON: {e}"))?;
        let Value::Object(raw) = value else {
            return Err("config.json must hold a JSON object".into());
        };
        Self::from_map(raw)
    }

    fn from_map(raw: Map<String, Value>) -> Result<Self, String> {
        match raw.get("model_type").and_then(Value::as_str) {
            Some("marian") => {}
            Some(other) => {
                return Err(format!(
                    "config.json: model_type \"{other}\" is not supported (maskscope opens \"marian\" models)"
                ));
            }
            None => return Err("config.json has no model_type (expected \"marian\")".into()),
        }
        for (field, marian_value) in FIXED_BY_MARIAN {
            if let Some(v) = raw.get(field)
                && v.as_bool() != Some(marian_value)
            {
                return Err(format!(
                    "config.json: {field} = {v} is not supported: transformers' Marian always computes {field} = {marian_value}"
                ));
            }
        }
        for field in ["encoder_layerdrop", "decoder_layerdrop"] {
            if raw
                .get(field)
                .and_then(Value::as_f64)
                .is_some_and(|v| v != 0.0)
            {
                return Err(format!(
                    "config.json: {field} is not supported (maskscope trains every layer every step)"
                ));
            }
        }
        let get = |field: &str| raw.get(field).cloned().or_else(|| default_of(field));
        let size = |field: &str| -> Result<usize, String> {
            get(field)
                .and_then(|v| v.as_u64())
                .map(|v| v as usize)
                .ok_or_else(|| format!("config.json: {field} must be a non-negative integer"))
        };
        let flag = |field: &str| -> Result<bool, String> {
            get(field)
                .and_then(|v| v.as_bool())
                .ok_or_else(|| format!("config.json: {field} must be true or false"))
        };
        let token = |field: &str| -> Result<u32, String> {
            match get(field) {
                Some(Value::Array(ids)) if ids.len() == 1 => ids[0].as_u64(),
                Some(v) => v.as_u64(),
                None => None,
            }
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| format!("config.json: {field} must be one token id"))
        };
        let activation = match get("activation_function").as_ref().and_then(Value::as_str) {
            Some("swish" | "silu") => Activation::Swish,
            Some("gelu") => Activation::Gelu,
            Some("relu") => Activation::Relu,
            Some(other) => {
                return Err(format!(
                    "config.json: activation_function \"{other}\" is not supported (swish, silu, gelu, relu)"
                ));
            }
            None => return Err("config.json: activation_function must be a string".into()),
        };
        let vocab_size = size("vocab_size")?;
        let share = flag("share_encoder_decoder_embeddings")?;
        let decoder_vocab_size = match raw.get("decoder_vocab_size") {
            Some(Value::Null) | None => vocab_size,
            Some(_) => size("decoder_vocab_size")?,
        };
        let config = Self {
            d_model: size("d_model")?,
            encoder_layers: size("encoder_layers")?,
            decoder_layers: size("decoder_layers")?,
            encoder_attention_heads: size("encoder_attention_heads")?,
            decoder_attention_heads: size("decoder_attention_heads")?,
            encoder_ffn_dim: size("encoder_ffn_dim")?,
            decoder_ffn_dim: size("decoder_ffn_dim")?,
            activation,
            scale_embedding: flag("scale_embedding")?,
            vocab_size,
            // Shared embeddings use one table: transformers then ignores decoder_vocab_size.
            decoder_vocab_size: if share {
                vocab_size
            } else {
                decoder_vocab_size
            },
            share_encoder_decoder_embeddings: share,
            tie_word_embeddings: flag("tie_word_embeddings")?,
            pad_token_id: token("pad_token_id")?,
            eos_token_id: token("eos_token_id")?,
            decoder_start_token_id: token("decoder_start_token_id")?,
            forced_eos_token_id: match raw.get("forced_eos_token_id") {
                Some(Value::Null) => None,
                _ => Some(token("forced_eos_token_id")?),
            },
            max_position_embeddings: size("max_position_embeddings")?,
            dropout: get("dropout").and_then(|v| v.as_f64()).unwrap_or(0.0) as f32,
            raw,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks sizes before anything is allocated; messages name the field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("d_model", self.d_model),
            ("encoder_layers", self.encoder_layers),
            ("decoder_layers", self.decoder_layers),
            ("encoder_attention_heads", self.encoder_attention_heads),
            ("decoder_attention_heads", self.decoder_attention_heads),
            ("encoder_ffn_dim", self.encoder_ffn_dim),
            ("decoder_ffn_dim", self.decoder_ffn_dim),
            ("vocab_size", self.vocab_size),
            ("decoder_vocab_size", self.decoder_vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(format!("config.json: {field} must be positive"));
            }
        }
        let limits = [
            ("d_model", self.d_model, MAX_WIDTH),
            ("encoder_ffn_dim", self.encoder_ffn_dim, 4 * MAX_WIDTH),
            ("decoder_ffn_dim", self.decoder_ffn_dim, 4 * MAX_WIDTH),
            ("encoder_layers", self.encoder_layers, MAX_LAYERS),
            ("decoder_layers", self.decoder_layers, MAX_LAYERS),
            (
                "encoder_attention_heads",
                self.encoder_attention_heads,
                MAX_HEADS,
            ),
            (
                "decoder_attention_heads",
                self.decoder_attention_heads,
                MAX_HEADS,
            ),
            ("vocab_size", self.vocab_size, MAX_VOCAB),
            ("decoder_vocab_size", self.decoder_vocab_size, MAX_VOCAB),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                MAX_POSITIONS,
            ),
        ];
        for (field, value, max) in limits {
            if value > max {
                return Err(format!(
                    "config.json: {field} = {value} is larger than maskscope supports ({max})"
                ));
            }
        }
        for (field, heads) in [
            ("encoder_attention_heads", self.encoder_attention_heads),
            ("decoder_attention_heads", self.decoder_attention_heads),
        ] {
            if !self.d_model.is_multiple_of(heads) {
                return Err(format!(
                    "config.json: d_model {} is not divisible by {field} {heads}",
                    self.d_model
                ));
            }
        }
        if self.parameter_count() > MAX_PARAMETERS {
            return Err(format!(
                "config.json describes {} parameters, more than maskscope loads ({MAX_PARAMETERS})",
                self.parameter_count()
            ));
        }
        for (field, id) in [
            ("pad_token_id", self.pad_token_id),
            ("eos_token_id", self.eos_token_id),
            ("decoder_start_token_id", self.decoder_start_token_id),
        ] {
            if id as usize >= self.decoder_vocab_size.min(self.vocab_size) {
                return Err(format!(
                    "config.json: {field} {id} is outside the vocabulary ({} tokens)",
                    self.decoder_vocab_size.min(self.vocab_size)
                ));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!(
                "config.json: dropout {} must be in [0, 1)",
                self.dropout
            ));
        }
        Ok(())
    }

    /// Parameters the config implies (embeddings, layers, head), counted before allocating.
    pub fn parameter_count(&self) -> usize {
        let d = self.d_model;
        let attention = 4 * (d * d + d);
        let norm = 2 * d;
        let ffn = |f: usize| 2 * d * f + f + d;
        let encoder = self.encoder_layers * (attention + ffn(self.encoder_ffn_dim) + 2 * norm);
        let decoder = self.decoder_layers * (2 * attention + ffn(self.decoder_ffn_dim) + 3 * norm);
        let embeddings = if self.share_encoder_decoder_embeddings {
            self.vocab_size * d
        } else {
            (self.vocab_size + self.decoder_vocab_size) * d
        };
        let head = if self.tie_word_embeddings {
            0
        } else {
            self.decoder_vocab_size * d
        };
        encoder
            .saturating_add(decoder)
            .saturating_add(embeddings)
            .saturating_add(head)
    }

    pub fn encoder_spec(&self) -> LayerSpec {
        LayerSpec {
            d_model: self.d_model,
            n_heads: self.encoder_attention_heads,
            d_ff: self.encoder_ffn_dim,
            norm_first: false,
            activation: self.activation,
            naming: Naming::Bart,
        }
    }

    pub fn decoder_spec(&self) -> LayerSpec {
        LayerSpec {
            n_heads: self.decoder_attention_heads,
            d_ff: self.decoder_ffn_dim,
            ..self.encoder_spec()
        }
    }
}
