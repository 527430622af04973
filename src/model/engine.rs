//! The model as the rest of the app sees it: a tokenizer plus weights, turning text into
//! traces, for either model family. Everything returned here is plain data from
//! [`crate::trace`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor};

use super::batch::{Batch, Example, Specials};
use super::checkpoint::{self, CheckpointData, CheckpointError};
use super::config::ModelConfig;
use super::groups::Group;
use super::marian::{self, MarianModel, finetune};
use super::params::{self, VarStore};
use super::pass::Pass;
use super::seq2seq::Seq2Seq;
pub use super::summary::{ModelKind, ModelSummary};
use super::tracing::{TokenSide, trace_batch};
use crate::i18n::{Said, said};
use crate::masks::MaskSettings;
use crate::sentencepiece::Side;
use crate::tasks::Pair;
use crate::tokenizer::{FIRST_ORDINARY_ID, Vocab};
use crate::trace::BatchTrace;

pub type ModelResult<T> = Result<T, CheckpointError>;

/// A model folder's error, kept as its message beside the checkpoint errors.
impl From<marian::MarianError> for CheckpointError {
    fn from(e: marian::MarianError) -> Self {
        CheckpointError::Folder(e.to_string())
    }
}

/// Refuses a config whose parameters (counted from the shapes it implies, nothing allocated)
/// are more than [`limits::MAX_PARAMETERS`](super::limits::MAX_PARAMETERS).
fn check_parameter_count(config: &ModelConfig, vocab_len: usize) -> ModelResult<()> {
    use super::limits::{MAX_PARAMETERS, thousands};
    let count: usize = super::expected_shapes(config, vocab_len)?
        .values()
        .map(|shape| shape.iter().product::<usize>())
        .sum();
    if count > MAX_PARAMETERS {
        return Err(CheckpointError::InvalidConfig(format!(
            "d_model {}, d_ff {}, {} + {} layers and {} tokens make {} parameters ({} MiB); maskscope builds at most {} ({} MiB)",
            config.d_model,
            config.d_ff,
            config.n_encoder_layers,
            config.n_decoder_layers,
            vocab_len,
            thousands(count),
            (count * 4) >> 20,
            thousands(MAX_PARAMETERS),
            (MAX_PARAMETERS * 4) >> 20,
        )));
    }
    Ok(())
}

/// A model of either family, the one interface the app and the command line use: the
/// built-in character models (one `.safetensors` checkpoint) and Marian translators (a
/// Hugging Face folder). Both run the same traced layers ([`Seq2Seq`]); what differs (the
/// tokenizer, the special ids, the freeze groups, how it is saved) is answered here, so
/// callers never ask which family they hold.
pub struct Engine {
    family: Family,
    /// Training history summary stored with the checkpoint, if any.
    pub history: Option<serde_json::Value>,
}

enum Family {
    BuiltIn(Box<BuiltIn>),
    Marian(Box<MarianModel>),
}

/// A built-in model: `nn.Transformer` names and math, a character or word vocabulary.
struct BuiltIn {
    config: ModelConfig,
    vocab: Vocab,
    model: Seq2Seq,
    vars: VarStore,
    device: Device,
}

/// One text pair after tokenising, with what the tokenizer had to say about it.
pub struct Tokenized {
    pub example: Example,
    pub warnings: Vec<Said>,
}

impl Engine {
    /// A freshly initialised model (seeded, reproducible).
    /// The config is checked first, its parameter count against
    /// [`limits::MAX_PARAMETERS`](super::limits::MAX_PARAMETERS), before anything is allocated.
    pub fn new_random(config: ModelConfig, vocab: Vocab, seed: u64) -> ModelResult<Engine> {
        config.validate().map_err(CheckpointError::InvalidConfig)?;
        check_parameter_count(&config, vocab.len())?;
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
            family: Family::BuiltIn(Box::new(BuiltIn {
                config,
                vocab,
                model,
                vars,
                device,
            })),
            history,
        })
    }

    /// A Marian translator opened from its folder.
    pub fn from_marian(model: MarianModel) -> Engine {
        Engine {
            family: Family::Marian(Box::new(model)),
            history: None,
        }
    }

    /// A maskscope checkpoint file.
    pub fn load(path: &Path) -> ModelResult<Engine> {
        Self::from_checkpoint(checkpoint::read_file(path)?)
    }

    /// A checkpoint file, or a Marian model folder (`config.json`, weights, tokenizer files).
    pub fn open(path: &Path) -> ModelResult<Engine> {
        if path.is_dir() {
            Ok(Self::from_marian(MarianModel::load(path)?))
        } else {
            Self::load(path)
        }
    }

    pub fn from_bytes(bytes: &[u8]) -> ModelResult<Engine> {
        Self::from_checkpoint(checkpoint::parse(bytes)?)
    }

    /// Writes the model as it came: a checkpoint file, or a folder transformers opens.
    pub fn save(&self, path: &Path) -> ModelResult<()> {
        match &self.family {
            Family::BuiltIn(b) => checkpoint::write_file(
                path,
                &b.config,
                &b.vocab,
                self.history.as_ref(),
                &self.weights(),
            ),
            Family::Marian(m) => Ok(m.save_folder(path)?),
        }
    }

    pub fn kind(&self) -> ModelKind {
        match &self.family {
            Family::BuiltIn(_) => ModelKind::BuiltIn,
            Family::Marian(_) => ModelKind::Marian,
        }
    }

    /// Whether [`save`](Self::save) writes a folder rather than one file.
    pub fn saves_as_folder(&self) -> bool {
        self.kind() == ModelKind::Marian
    }

    /// Whether the generated character tasks (dates, copy, ...) fit this model's vocabulary:
    /// a translator's subword vocabulary is trained on text pairs instead.
    pub fn trains_on_builtin_tasks(&self) -> bool {
        self.kind() == ModelKind::BuiltIn
    }

    /// The built-in family's config (`None` for a Marian model).
    pub fn builtin_config(&self) -> Option<&ModelConfig> {
        match &self.family {
            Family::BuiltIn(b) => Some(&b.config),
            Family::Marian(_) => None,
        }
    }

    /// The built-in family's vocabulary (`None` for a Marian model).
    pub fn builtin_vocab(&self) -> Option<&Vocab> {
        match &self.family {
            Family::BuiltIn(b) => Some(&b.vocab),
            Family::Marian(_) => None,
        }
    }

    pub fn marian(&self) -> Option<&MarianModel> {
        match &self.family {
            Family::BuiltIn(_) => None,
            Family::Marian(m) => Some(m),
        }
    }

    pub fn summary(&self) -> ModelSummary {
        match &self.family {
            Family::BuiltIn(b) => {
                let parameters = self.parameter_sizes().iter().map(|(_, n)| n).sum();
                let c = &b.config;
                ModelSummary {
                    kind: ModelKind::BuiltIn,
                    d_model: c.d_model,
                    heads: (c.n_heads, c.n_heads),
                    layers: (c.n_encoder_layers, c.n_decoder_layers),
                    d_ff: (c.d_ff, c.d_ff),
                    norm_first: c.norm_first,
                    tokenizer: Some(b.vocab.kind()),
                    vocab: (b.vocab.len(), b.vocab.len()),
                    max_len: c.max_len,
                    parameters,
                }
            }
            Family::Marian(m) => m.summary(),
        }
    }

    pub(crate) fn model(&self) -> &Seq2Seq {
        match &self.family {
            Family::BuiltIn(b) => &b.model,
            Family::Marian(m) => m.model(),
        }
    }

    pub(crate) fn vars(&self) -> &VarStore {
        match &self.family {
            Family::BuiltIn(b) => &b.vars,
            Family::Marian(m) => m.vars(),
        }
    }

    pub(crate) fn device(&self) -> &Device {
        match &self.family {
            Family::BuiltIn(b) => &b.device,
            Family::Marian(m) => m.device(),
        }
    }

    /// The decoder's first input, the end of a sequence, the padding.
    pub fn specials(&self) -> Specials {
        match &self.family {
            Family::BuiltIn(_) => Specials::BUILT_IN,
            Family::Marian(m) => m.specials(),
        }
    }

    /// Tokens per side the model accepts (its position table).
    pub fn max_len(&self) -> usize {
        match &self.family {
            Family::BuiltIn(b) => b.config.max_len,
            Family::Marian(m) => m.config.max_position_embeddings,
        }
    }

    /// Output tokens after which decoding stops even without `<eos>`.
    pub fn max_decode_steps(&self) -> usize {
        match &self.family {
            Family::BuiltIn(b) => b.config.max_len + 1,
            Family::Marian(m) => m.generation.max_length.saturating_sub(1).max(1),
        }
    }

    /// Ids decoding never chooses (Marian's `bad_words_ids`: `<pad>`).
    pub fn banned_ids(&self) -> &[u32] {
        match &self.family {
            Family::BuiltIn(_) => &[],
            Family::Marian(m) => &m.generation.banned,
        }
    }

    /// Target vocabulary size (the width of the logits).
    pub fn target_vocab_size(&self) -> usize {
        match &self.family {
            Family::BuiltIn(b) => b.vocab.len(),
            Family::Marian(m) => m.config.decoder_vocab_size,
        }
    }

    /// Whether `id` is an ordinary target token (not padding, start, end or unknown).
    pub fn is_ordinary(&self, id: u32) -> bool {
        match &self.family {
            Family::BuiltIn(b) => id >= FIRST_ORDINARY_ID && (id as usize) < b.vocab.len(),
            Family::Marian(m) => {
                (id as usize) < m.tokenizer.vocabulary(Side::Target).len()
                    && !m.tokenizer.is_special(id)
                    && id != m.config.decoder_start_token_id
            }
        }
    }

    /// Every freeze-tree group of this model, in display order.
    pub fn groups(&self) -> Vec<Group> {
        match &self.family {
            Family::BuiltIn(b) => Group::all(&b.config),
            Family::Marian(m) => finetune::groups(m),
        }
    }

    /// The group a parameter belongs to.
    pub fn group_of(&self, name: &str) -> Option<Group> {
        match &self.family {
            Family::BuiltIn(_) => Group::of(name),
            Family::Marian(_) => finetune::group_of(name),
        }
    }

    /// A deep copy of every parameter by checkpoint name.
    pub fn weights(&self) -> BTreeMap<String, Tensor> {
        let vars = self.vars().lock().expect("vars lock");
        vars.iter()
            .map(|(name, var)| (name.clone(), var.as_tensor().copy().expect("copy on cpu")))
            .collect()
    }

    /// Replaces parameter values in place (names and shapes must match this model).
    pub fn set_weights(&self, weights: &BTreeMap<String, Tensor>) -> ModelResult<()> {
        let vars = self.vars().lock().expect("vars lock");
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
        self.vars()
            .lock()
            .expect("vars lock")
            .iter()
            .map(|(n, v)| (n.clone(), v.elem_count()))
            .collect()
    }

    /// The model's layers over the same weights, with the parameters of `frozen` groups (and
    /// any outside every group) detached: the backward pass through it computes gradients
    /// only for what trains.
    pub(crate) fn training_view(&self, frozen: &BTreeSet<Group>) -> candle_core::Result<Seq2Seq> {
        let view: HashMap<String, Tensor> = self
            .vars()
            .lock()
            .expect("vars lock")
            .iter()
            .map(|(name, var)| {
                let trains = self.group_of(name).is_some_and(|g| !frozen.contains(&g));
                let t = var.as_tensor();
                (name.clone(), if trains { t.clone() } else { t.detach() })
            })
            .collect();
        match &self.family {
            Family::BuiltIn(b) => Seq2Seq::new(&b.config, b.vocab.len(), params::view_of(view)),
            Family::Marian(m) => marian::build(&m.config, params::view_of(view)),
        }
    }

    /// Tokenises one source/target pair (cut to [`max_len`](Self::max_len), unknowns reported).
    pub fn tokenize(&self, src: &str, tgt: &str) -> Tokenized {
        match &self.family {
            Family::BuiltIn(b) => {
                let src = b.vocab.encode(src, b.config.max_len);
                let tgt = b.vocab.encode(tgt, b.config.max_len);
                let on_side = |side: &'static str, w: Said| Said::Pattern(side, vec![w]);
                let mut warnings: Vec<Said> = src
                    .warnings()
                    .into_iter()
                    .map(|w| on_side("source: {}", w))
                    .collect();
                warnings.extend(tgt.warnings().into_iter().map(|w| on_side("target: {}", w)));
                Tokenized {
                    example: Example {
                        src: src.ids,
                        tgt: tgt.ids,
                    },
                    warnings,
                }
            }
            Family::Marian(m) => {
                let (mut example, mut warnings) = m.tokenize(src, tgt);
                let limit = m.config.max_position_embeddings.max(2);
                if example.src.len() > limit {
                    // Keep the closing `</s>` the model was trained to see.
                    let eos = example.src.pop().expect("longer than the limit");
                    example.src.truncate(limit - 1);
                    example.src.push(eos);
                    warnings.push(said("source: cut to the model's {} positions", &[&limit]));
                }
                if example.tgt.len() >= limit {
                    example.tgt.truncate(limit - 1);
                    warnings.push(said("target: cut to the model's {} positions", &[&limit]));
                }
                Tokenized { example, warnings }
            }
        }
    }

    /// Tokenises a data set. Also returns how many pairs had a warning (a piece the
    /// vocabulary lacks, or text cut at `max_len`): they still train, with `<unk>`.
    pub fn tokenize_pairs(&self, pairs: &[Pair]) -> (Vec<Example>, usize) {
        let mut warned = 0;
        let examples = pairs
            .iter()
            .map(|p| {
                let t = self.tokenize(&p.src, &p.tgt);
                warned += usize::from(!t.warnings.is_empty());
                t.example
            })
            .collect();
        (examples, warned)
    }

    /// Source ids of a text, as the encoder reads them.
    pub fn source_ids(&self, text: &str) -> Vec<u32> {
        self.tokenize(text, "").example.src
    }

    /// The pieces a text splits into on one side, before they become ids (`?` marks for
    /// unknown ones are the chips' business).
    pub fn typed_pieces(&self, text: &str, side: TokenSide) -> Vec<String> {
        match &self.family {
            Family::BuiltIn(b) => b.vocab.encode(text, b.config.max_len).tokens,
            Family::Marian(m) => {
                let mut pieces = m.tokenizer.encode(text, side.into()).pieces;
                if side == TokenSide::Target {
                    pieces.pop(); // the label `</s>` is added by the batch, not typed
                }
                pieces
            }
        }
    }

    /// Token names of ids on one side (SentencePiece pieces keep their word-start mark).
    pub fn token_names(&self, ids: &[u32], side: TokenSide) -> Vec<String> {
        match &self.family {
            Family::BuiltIn(b) => b.vocab.tokens_of(ids),
            Family::Marian(m) => m.token_names(ids, side),
        }
    }

    pub fn token_name(&self, id: u32, side: TokenSide) -> String {
        self.token_names(&[id], side).pop().unwrap_or_default()
    }

    /// Output ids as text, special tokens dropped.
    pub fn text_of(&self, ids: &[u32]) -> String {
        match &self.family {
            Family::BuiltIn(b) => b.vocab.decode(ids),
            Family::Marian(m) => m.tokenizer.decode(ids),
        }
    }

    /// Teacher-forced forward pass over text pairs with a full trace.
    pub fn inspect(
        &self,
        pairs: &[(&str, &str)],
        settings: &MaskSettings,
    ) -> ModelResult<(BatchTrace, Vec<Vec<Said>>)> {
        let tokenized: Vec<Tokenized> = pairs.iter().map(|(s, t)| self.tokenize(s, t)).collect();
        let examples: Vec<Example> = tokenized.iter().map(|t| t.example.clone()).collect();
        let trace = self.trace(&examples, settings)?;
        Ok((trace, tokenized.into_iter().map(|t| t.warnings).collect()))
    }

    /// A padded batch with this model's special ids.
    pub(crate) fn batch(&self, examples: &[Example], settings: MaskSettings) -> Batch {
        Batch::with_specials(examples, settings, self.specials())
    }

    /// Teacher-forced forward pass over token ids with a full trace.
    pub fn trace(&self, examples: &[Example], settings: &MaskSettings) -> ModelResult<BatchTrace> {
        let batch = self.batch(examples, *settings);
        Ok(trace_batch(
            self.model(),
            &batch,
            self.device(),
            &|ids, side| self.token_names(ids, side),
        )?)
    }

    /// Next-token logits `(batch, tgt, vocab)` of a teacher-forced pass, without a trace.
    pub fn logits(
        &self,
        examples: &[Example],
        settings: &MaskSettings,
    ) -> ModelResult<Vec<Vec<Vec<f32>>>> {
        let batch = self.batch(examples, *settings);
        Ok(self
            .model()
            .forward(
                &batch.tensors(self.device())?,
                &Pass::eval(settings.method, false),
            )?
            .logits
            .to_vec3::<f32>()?)
    }
}

impl Engine {
    /// An independent copy (own variables) of this model.
    pub fn duplicate(&self) -> ModelResult<Engine> {
        let copy = match &self.family {
            Family::BuiltIn(b) => {
                return Self::from_checkpoint(CheckpointData {
                    config: b.config.clone(),
                    vocab: b.vocab.clone(),
                    history: self.history.clone(),
                    tensors: self.weights().into_iter().collect(),
                });
            }
            Family::Marian(m) => m.duplicate()?,
        };
        Ok(Engine {
            family: Family::Marian(Box::new(copy)),
            history: self.history.clone(),
        })
    }
}
