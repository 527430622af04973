//! The Marian family: transformers' `MarianMTModel` (the opus-mt translators) opened from a
//! folder as the hub gives it, run by the same traced layers as the built-in models
//! (configured by [`super::family`]) and traced the same way.

mod config;
pub mod finetune;
mod folder;
mod generate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use candle_nn::{Init, VarBuilder};

pub use config::MarianConfig;
pub use folder::GenerationSettings;

use super::batch::{Batch, Example, Specials};
use super::family::Positions;
use super::layers::{DecoderLayer, EncoderLayer, Linear};
use super::params::{self, VarStore};
use super::seq2seq::Seq2Seq;
use super::summary::{ModelKind, ModelSummary};
use super::tracing::{TokenSide, trace_batch};
use crate::i18n::{Said, said};
use crate::masks::MaskSettings;
use crate::sentencepiece::{MarianTokenizer, Side};
use crate::trace::BatchTrace;

#[derive(Debug, thiserror::Error)]
pub enum MarianError {
    /// The folder or one of its files is missing, unreadable or inconsistent.
    #[error("{0}")]
    Folder(String),
    #[error("model error: {0}")]
    Model(#[from] candle_core::Error),
    #[error(transparent)]
    Limit(#[from] super::limits::LimitError),
}

pub type MarianResult<T> = Result<T, MarianError>;

/// A Marian translation model with its tokenizers, ready to trace and decode.
pub struct MarianModel {
    pub config: MarianConfig,
    pub generation: GenerationSettings,
    /// Shared by copies of the model (the tokenizer never changes).
    pub tokenizer: Arc<MarianTokenizer>,
    pub folder: PathBuf,
    model: Seq2Seq,
    vars: VarStore,
    device: Device,
}

/// The checkpoint's names for the token embeddings and the output head, with the aliases
/// under which transformers may have saved tied tensors.
const SHARED: &str = "model.shared.weight";
const ENCODER_EMBED: &str = "model.encoder.embed_tokens.weight";
const DECODER_EMBED: &str = "model.decoder.embed_tokens.weight";
const LM_HEAD: &str = "lm_head.weight";
const LOGITS_BIAS: &str = "final_logits_bias";

impl MarianModel {
    /// Opens a model folder (`config.json`, weights, `source.spm`, `target.spm`,
    /// `vocab.json`, ...). Every problem is a message naming the file and field.
    pub fn load(folder: &Path) -> MarianResult<Self> {
        let files = folder::read(folder)?;
        let config = MarianConfig::parse(&files.config).map_err(MarianError::Folder)?;
        let tokenizer =
            MarianTokenizer::from_files(&files.tokenizer).map_err(MarianError::Folder)?;
        check_tokenizer(&config, &tokenizer)?;
        let generation = GenerationSettings::read(files.generation.as_deref(), &config)
            .map_err(MarianError::Folder)?;
        let device = Device::Cpu;
        let tensors =
            canonical_tensors(&config, folder::weights(folder, &files.weights, &device)?)?;
        let (vb, vars) = params::loaded(tensors, &device);
        let model = build(&config, vb).map_err(|e| {
            MarianError::Folder(format!(
                "{} does not match config.json: {e}",
                files.weights.display()
            ))
        })?;
        Ok(Self {
            config,
            generation,
            tokenizer: Arc::new(tokenizer),
            folder: folder.to_path_buf(),
            model,
            vars,
            device,
        })
    }

    pub fn specials(&self) -> Specials {
        Specials {
            start: self.config.decoder_start_token_id,
            eos: self.config.eos_token_id,
            pad: self.config.pad_token_id,
        }
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

    /// Source and target ids of a text pair (without the final `</s>`, which the batch adds
    /// as the last label), and the pieces that became `<unk>`.
    pub fn tokenize(&self, src: &str, tgt: &str) -> (Example, Vec<Said>) {
        let src_enc = self.tokenizer.encode(src, Side::Source);
        let mut tgt_enc = self.tokenizer.encode(tgt, Side::Target);
        tgt_enc.ids.pop();
        let warnings = src_enc
            .unknown
            .iter()
            .map(|p| {
                said(
                    "source: {} is not in the vocabulary and became <unk>",
                    &[&format!("{p:?}")],
                )
            })
            .chain(tgt_enc.unknown.iter().map(|p| {
                said(
                    "target: {} is not in the vocabulary and became <unk>",
                    &[&format!("{p:?}")],
                )
            }))
            .collect();
        (
            Example {
                src: src_enc.ids,
                tgt: tgt_enc.ids,
            },
            warnings,
        )
    }

    /// Token names of ids on one side, with the word-start mark kept visible.
    pub fn token_names(&self, ids: &[u32], side: TokenSide) -> Vec<String> {
        let side = match side {
            TokenSide::Source => Side::Source,
            TokenSide::Target => Side::Target,
        };
        self.tokenizer.pieces(ids, side)
    }

    /// Teacher-forced pass over id pairs with a full trace (the same trace as built-in models).
    pub fn trace(&self, examples: &[Example], settings: &MaskSettings) -> MarianResult<BatchTrace> {
        self.check_lengths(examples)?;
        let batch = Batch::with_specials(examples, *settings, self.specials());
        Ok(trace_batch(
            &self.model,
            &batch,
            &self.device,
            &|ids, side| self.token_names(ids, side),
        )?)
    }

    /// Tokenizes text pairs and traces them; the warnings are per pair.
    pub fn inspect(
        &self,
        pairs: &[(&str, &str)],
        settings: &MaskSettings,
    ) -> MarianResult<(BatchTrace, Vec<Vec<Said>>)> {
        let (examples, warnings): (Vec<_>, Vec<_>) =
            pairs.iter().map(|(s, t)| self.tokenize(s, t)).unzip();
        Ok((self.trace(&examples, settings)?, warnings))
    }

    fn check_lengths(&self, examples: &[Example]) -> MarianResult<()> {
        let limit = self.config.max_position_embeddings;
        for e in examples {
            let longest = e.src.len().max(e.tgt.len() + 1);
            if longest > limit {
                return Err(MarianError::Folder(format!(
                    "a sequence of {longest} tokens is longer than the model's {limit} positions (max_position_embeddings)"
                )));
            }
        }
        Ok(())
    }

    /// The model's size and shape in plain numbers.
    pub fn summary(&self) -> ModelSummary {
        let c = &self.config;
        let parameters = self
            .vars
            .lock()
            .expect("vars lock")
            .values()
            .map(|v| v.elem_count())
            .sum();
        ModelSummary {
            kind: ModelKind::Marian,
            d_model: c.d_model,
            heads: (c.encoder_attention_heads, c.decoder_attention_heads),
            layers: (c.encoder_layers, c.decoder_layers),
            d_ff: (c.encoder_ffn_dim, c.decoder_ffn_dim),
            norm_first: false,
            tokenizer: None,
            vocab: (c.vocab_size, c.decoder_vocab_size),
            max_len: c.max_position_embeddings,
            parameters,
        }
    }

    /// Every parameter by checkpoint name (a deep copy).
    pub fn weights(&self) -> Vec<(String, Tensor)> {
        let vars = self.vars.lock().expect("vars lock");
        vars.iter()
            .map(|(name, var)| (name.clone(), var.as_tensor().copy().expect("copy on cpu")))
            .collect()
    }
}

/// The tokenizer's vocabularies and special ids must fit the weights they index.
fn check_tokenizer(config: &MarianConfig, tokenizer: &MarianTokenizer) -> MarianResult<()> {
    let source = tokenizer.vocabulary(Side::Source).len();
    if source > config.vocab_size {
        return Err(MarianError::Folder(format!(
            "vocab.json has ids up to {} but config.json vocab_size is {}: the vocabulary does not belong to these weights",
            source - 1,
            config.vocab_size
        )));
    }
    let target = tokenizer.vocabulary(Side::Target).len();
    if target > config.decoder_vocab_size {
        return Err(MarianError::Folder(format!(
            "the target vocabulary has ids up to {} but config.json decoder_vocab_size is {}",
            target - 1,
            config.decoder_vocab_size
        )));
    }
    for (what, tok, cfg) in [
        ("<pad>", tokenizer.pad_id, config.pad_token_id),
        ("</s>", tokenizer.eos_id, config.eos_token_id),
    ] {
        if tok != cfg {
            return Err(MarianError::Folder(format!(
                "vocab.json puts {what} at id {tok} but config.json says {cfg}"
            )));
        }
    }
    Ok(())
}

/// Maps the tensors a folder holds onto the names [`build`] asks for: tied embeddings may
/// have been saved under any of their names, and `final_logits_bias` may be missing (it is
/// then zero, as transformers loads it).
fn canonical_tensors(
    config: &MarianConfig,
    mut tensors: HashMap<String, Tensor>,
) -> MarianResult<HashMap<String, Tensor>> {
    let mut take_first = |names: &[&str]| names.iter().find_map(|n| tensors.remove(*n));
    let missing = |what: &str| MarianError::Folder(format!("the weights have no {what}"));
    let mut out = HashMap::new();
    if config.share_encoder_decoder_embeddings {
        let aliases: &[&str] = if config.tie_word_embeddings {
            &[SHARED, ENCODER_EMBED, DECODER_EMBED, LM_HEAD]
        } else {
            &[SHARED, ENCODER_EMBED, DECODER_EMBED]
        };
        let shared = take_first(aliases).ok_or_else(|| missing(SHARED))?;
        out.insert(SHARED.to_string(), shared);
    } else {
        let encoder = take_first(&[ENCODER_EMBED, SHARED]).ok_or_else(|| missing(ENCODER_EMBED))?;
        let decoder_aliases: &[&str] = if config.tie_word_embeddings {
            &[DECODER_EMBED, LM_HEAD]
        } else {
            &[DECODER_EMBED]
        };
        let decoder = take_first(decoder_aliases).ok_or_else(|| missing(DECODER_EMBED))?;
        out.insert(ENCODER_EMBED.to_string(), encoder);
        out.insert(DECODER_EMBED.to_string(), decoder);
    }
    if !config.tie_word_embeddings {
        let head = take_first(&[LM_HEAD]).ok_or_else(|| missing(LM_HEAD))?;
        out.insert(LM_HEAD.to_string(), head);
    }
    let bias = match take_first(&[LOGITS_BIAS]) {
        Some(bias) => bias,
        None => Tensor::zeros(
            (1, config.decoder_vocab_size),
            candle_core::DType::F32,
            &Device::Cpu,
        )?,
    };
    out.insert(LOGITS_BIAS.to_string(), bias);
    for (name, tensor) in tensors {
        if name.starts_with("model.encoder.layers.") || name.starts_with("model.decoder.layers.") {
            out.insert(name, tensor);
        }
    }
    Ok(out)
}

/// The Marian model on the shared layers: post-LN layers with `fc1`/`fc2` and separate
/// projections, Marian's sinusoidal table, no final norms, a head tied to (or beside) the
/// decoder embeddings plus `final_logits_bias`.
pub(crate) fn build(config: &MarianConfig, vb: VarBuilder) -> candle_core::Result<Seq2Seq> {
    let d = config.d_model;
    let embed_init = Init::Randn {
        mean: 0.0,
        stdev: 0.02,
    };
    let m = vb.pp("model");
    let (src_embed, tgt_embed) = if config.share_encoder_decoder_embeddings {
        let shared = m
            .pp("shared")
            .get_with_hints((config.vocab_size, d), "weight", embed_init)?;
        (shared.clone(), shared)
    } else {
        (
            m.pp("encoder.embed_tokens").get_with_hints(
                (config.vocab_size, d),
                "weight",
                embed_init,
            )?,
            m.pp("decoder.embed_tokens").get_with_hints(
                (config.decoder_vocab_size, d),
                "weight",
                embed_init,
            )?,
        )
    };
    let (encoder_spec, decoder_spec) = (config.encoder_spec(), config.decoder_spec());
    let encoder = (0..config.encoder_layers)
        .map(|i| EncoderLayer::new(&encoder_spec, m.pp("encoder.layers").pp(i)))
        .collect::<candle_core::Result<_>>()?;
    let decoder = (0..config.decoder_layers)
        .map(|i| DecoderLayer::new(&decoder_spec, m.pp("decoder.layers").pp(i)))
        .collect::<candle_core::Result<_>>()?;
    let head_weight = if config.tie_word_embeddings {
        tgt_embed.clone()
    } else {
        vb.pp("lm_head")
            .get_with_hints((config.decoder_vocab_size, d), "weight", embed_init)?
    };
    let bias = vb
        .get_with_hints(
            (1, config.decoder_vocab_size),
            LOGITS_BIAS,
            Init::Const(0.0),
        )?
        .reshape(config.decoder_vocab_size)?;
    Ok(Seq2Seq {
        d_model: d,
        embed_scale: if config.scale_embedding {
            (d as f64).sqrt()
        } else {
            1.0
        },
        src_embed,
        tgt_embed,
        encoder,
        encoder_norm: None,
        decoder,
        decoder_norm: None,
        generator: Linear::from_parts(head_weight, bias),
        position_kind: Positions::SplitHalves,
        position_table_len: config.max_position_embeddings,
        positions: std::sync::OnceLock::new(),
        positions_limited: true,
    })
}

impl MarianModel {
    /// Replaces one parameter's values (the name and shape must match).
    pub fn set_weight(&self, name: &str, value: &Tensor) -> MarianResult<()> {
        let vars = self.vars.lock().expect("vars lock");
        let var = vars
            .get(name)
            .ok_or_else(|| MarianError::Folder(format!("the model has no parameter {name}")))?;
        var.set(value)?;
        Ok(())
    }
}

impl MarianModel {
    /// An independent copy (own variables) of this model, sharing the tokenizer.
    pub fn duplicate(&self) -> MarianResult<Self> {
        let tensors: HashMap<String, Tensor> = self.weights().into_iter().collect();
        let (vb, vars) = params::loaded(tensors, &self.device);
        Ok(Self {
            config: self.config.clone(),
            generation: self.generation.clone(),
            tokenizer: self.tokenizer.clone(),
            folder: self.folder.clone(),
            model: build(&self.config, vb)?,
            vars,
            device: self.device.clone(),
        })
    }
}
