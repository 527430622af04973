//! Fine-tuning a Marian model with parts of it frozen, and saving the result as a folder
//! transformers' `MarianMTModel.from_pretrained` opens.
//!
//! The freeze tree is the built-in models' [`Group`]s mapped onto Marian's parameter
//! names: the (shared) embeddings, each encoder layer, each decoder layer's self-attention,
//! cross-attention and feed-forward (each with the LayerNorm after it), and the head
//! (`lm_head` when untied, and `final_logits_bias`). Marian has no final norms.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use candle_core::{Tensor, Var};
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

use super::{MarianError, MarianModel, MarianResult, build};
use crate::fsio::write_folder_atomically;
use crate::i18n::{Said, said};
use crate::masks::MaskSettings;
use crate::model::batch::{Batch, Example};
use crate::model::fast_ops::AdamWStep;
use crate::model::groups::Group;
use crate::model::limits::{self, LimitError};
use crate::model::ops::{self, masked_cross_entropy};
use crate::model::params;
use crate::model::pass::Pass;
use crate::model::seq2seq::Seq2Seq;
use crate::model::training::longest_sequence;

/// The freeze-tree group of a Marian parameter.
pub fn group_of(name: &str) -> Option<Group> {
    let layer = |rest: &str| rest.split('.').next()?.parse::<usize>().ok();
    if name.starts_with("model.shared.") || name.starts_with("model.encoder.embed_tokens.") {
        return Some(Group::SourceEmbedding);
    }
    if name.starts_with("model.decoder.embed_tokens.") {
        return Some(Group::TargetEmbedding);
    }
    if name.starts_with("lm_head.") || name == "final_logits_bias" {
        return Some(Group::Head);
    }
    if let Some(rest) = name.strip_prefix("model.encoder.layers.") {
        return layer(rest).map(Group::EncoderLayer);
    }
    let rest = name.strip_prefix("model.decoder.layers.")?;
    let i = layer(rest)?;
    match rest.split('.').nth(1)? {
        "self_attn" | "self_attn_layer_norm" => Some(Group::DecoderSelfAttention(i)),
        "encoder_attn" | "encoder_attn_layer_norm" => Some(Group::DecoderCrossAttention(i)),
        "fc1" | "fc2" | "final_layer_norm" => Some(Group::DecoderFeedForward(i)),
        _ => None,
    }
}

/// Every group of a Marian model, in display order.
pub fn groups(model: &MarianModel) -> Vec<Group> {
    let mut groups = vec![Group::SourceEmbedding];
    if !model.config.share_encoder_decoder_embeddings {
        groups.push(Group::TargetEmbedding);
    }
    groups.extend((0..model.config.encoder_layers).map(Group::EncoderLayer));
    for i in 0..model.config.decoder_layers {
        groups.extend([
            Group::DecoderSelfAttention(i),
            Group::DecoderCrossAttention(i),
            Group::DecoderFeedForward(i),
        ]);
    }
    groups.push(Group::Head);
    groups
}

pub struct FineTuneOptions {
    pub learning_rate: f64,
    pub batch_size: usize,
    pub weight_decay: f64,
    pub clip_norm: Option<f64>,
    pub frozen: BTreeSet<Group>,
    pub seed: u64,
}

impl Default for FineTuneOptions {
    fn default() -> Self {
        Self {
            learning_rate: 5e-5,
            batch_size: 8,
            weight_decay: 0.0,
            clip_norm: Some(1.0),
            frozen: BTreeSet::new(),
            seed: 0,
        }
    }
}

impl FineTuneOptions {
    /// The batch and the memory it implies, checked before anything is allocated (the
    /// command line has checked the rates as for every model).
    fn check(&self, model: &MarianModel, data: &[Example]) -> Result<(), LimitError> {
        limits::count("--batch-size", self.batch_size, limits::MAX_BATCH_SIZE)?;
        limits::check_training_memory(&model.summary(), self.batch_size, longest_sequence(data))
    }
}

struct Slot {
    var: Var,
    m: Tensor,
    v: Tensor,
}

/// AdamW over the trainable groups of a Marian model, one batch per step.
pub struct MarianFineTune<'a> {
    model: &'a MarianModel,
    /// The model's layers over the same storage, with frozen parameters detached so the
    /// backward pass never computes their gradients (candle has no `requires_grad`).
    training_view: Seq2Seq,
    data: Vec<Example>,
    options: FineTuneOptions,
    slots: Vec<Slot>,
    order: Vec<usize>,
    cursor: usize,
    rng: StdRng,
    pub step: usize,
}

impl<'a> MarianFineTune<'a> {
    pub fn new(
        model: &'a MarianModel,
        data: Vec<Example>,
        options: FineTuneOptions,
    ) -> MarianResult<Self> {
        if data.is_empty() {
            return Err(MarianError::Folder("the training data has no pairs".into()));
        }
        options.check(model, &data)?;
        let mut slots = vec![];
        let mut view = HashMap::new();
        for (name, var) in model.vars().lock().expect("vars lock").iter() {
            if group_of(name).is_some_and(|g| !options.frozen.contains(&g)) {
                let zeros = var.as_tensor().zeros_like()?;
                slots.push(Slot {
                    var: var.clone(),
                    m: zeros.clone(),
                    v: zeros,
                });
                view.insert(name.clone(), var.as_tensor().clone());
            } else {
                view.insert(name.clone(), var.as_tensor().detach());
            }
        }
        let training_view = build(&model.config, params::view_of(view))?;
        if slots.is_empty() {
            return Err(MarianError::Folder(
                "every part is frozen: nothing to train".into(),
            ));
        }
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut order: Vec<usize> = (0..data.len()).collect();
        order.shuffle(&mut rng);
        Ok(Self {
            model,
            training_view,
            data,
            options,
            slots,
            order,
            cursor: 0,
            rng,
            step: 0,
        })
    }

    fn next_batch(&mut self) -> Vec<Example> {
        let mut batch = Vec::with_capacity(self.options.batch_size);
        while batch.len() < self.options.batch_size.max(1) {
            if self.cursor == self.order.len() {
                self.order.shuffle(&mut self.rng);
                self.cursor = 0;
            }
            batch.push(self.data[self.order[self.cursor]].clone());
            self.cursor += 1;
        }
        batch
    }

    /// One optimisation step on the next batch; returns its mean loss per target token.
    pub fn step(&mut self) -> MarianResult<f32> {
        let examples = self.next_batch();
        self.model.check_lengths(&examples)?;
        let batch = Batch::with_specials(&examples, MaskSettings::default(), self.model.specials());
        let device = self.model.device();
        let seed = self.options.seed.wrapping_add(self.step as u64);
        let pass = Pass::train(
            crate::masks::MaskMethod::Additive,
            self.model.config.dropout,
            seed,
        );
        let out = self.training_view.forward(&batch.tensors(device)?, &pass)?;
        let (b, t, v) = out.logits.dims3()?;
        let (labels, weight) = batch.label_tensors(device)?;
        let (loss, _) = masked_cross_entropy(&out.logits.reshape((b * t, v))?, &labels, &weight)?;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(MarianError::Folder(format!(
                "the loss became {value} at step {}; try a lower learning rate",
                self.step
            )));
        }
        let grads = loss.backward()?;
        let mut collected = Vec::with_capacity(self.slots.len());
        let mut norm_sq = 0f64;
        for slot in &self.slots {
            let g = match grads.get(slot.var.as_tensor()) {
                Some(g) => g.clone(),
                None => slot.var.as_tensor().zeros_like()?,
            };
            norm_sq += ops::sum_squares(&g)?;
            collected.push(g);
        }
        let clip = match self.options.clip_norm {
            Some(max) if norm_sq.sqrt() > max => max / norm_sq.sqrt(),
            _ => 1.0,
        };
        let t = (self.step + 1) as i32;
        let (beta1, beta2) = (0.9f64, 0.999f64);
        let update = AdamWStep {
            lr: self.options.learning_rate,
            beta1,
            beta2,
            eps: 1e-8,
            weight_decay: self.options.weight_decay,
            bc1: 1.0 - beta1.powi(t),
            bc2: 1.0 - beta2.powi(t),
            grad_scale: clip,
        };
        for (slot, g) in self.slots.iter_mut().zip(collected) {
            (slot.m, slot.v) = ops::adamw_update(&slot.var, &g, &slot.m, &slot.v, &update)?;
        }
        self.step += 1;
        Ok(value)
    }
}

/// The tokenizer and generation files a saved folder copies from the original.
const COPIED_FILES: [&str; 6] = [
    "source.spm",
    "target.spm",
    "vocab.json",
    "target_vocab.json",
    "tokenizer_config.json",
    "generation_config.json",
];

impl MarianModel {
    /// Tokenizes text pairs for fine-tuning; pairs too long for the model are reported.
    pub fn examples(&self, pairs: &[(String, String)]) -> (Vec<Example>, Vec<Said>) {
        let mut examples = vec![];
        let mut warnings = vec![];
        for (i, (src, tgt)) in pairs.iter().enumerate() {
            let (example, _) = self.tokenize(src, tgt);
            if self.check_lengths(std::slice::from_ref(&example)).is_err() {
                warnings.push(said(
                    "pair {}: too long for the model, skipped",
                    &[&(i + 1)],
                ));
            } else {
                examples.push(example);
            }
        }
        (examples, warnings)
    }

    /// Writes a folder `MarianMTModel.from_pretrained` loads: `config.json`,
    /// `model.safetensors` with the current weights, and the tokenizer files copied. The
    /// folder is replaced as one step ([`write_folder_atomically`]): killed at any moment,
    /// `out` is the old folder or the new one. Other files of an old folder there (a README)
    /// are kept, stale weight files are not.
    pub fn save_folder(&self, out: &Path) -> MarianResult<()> {
        let io =
            |e: std::io::Error| MarianError::Folder(format!("cannot write {}: {e}", out.display()));
        crate::fsio::replaceable_folder(out).map_err(MarianError::Folder)?;
        let weights: HashMap<String, Tensor> = self.weights().into_iter().collect();
        super::folder::refuse_non_finite(out, &weights)?;
        let config = serde_json::to_vec_pretty(&self.config.raw)
            .map_err(|e| MarianError::Folder(e.to_string()))?;
        let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
        let bytes = safetensors::tensor::serialize(
            weights.iter().map(|(k, v)| (k.as_str(), v)),
            Some(metadata),
        )
        .map_err(|e| MarianError::Folder(e.to_string()))?;
        let mut files = vec![("config.json", config), ("model.safetensors", bytes)];
        for name in COPIED_FILES {
            let from = self.folder.join(name);
            if from.is_file() {
                files.push((name, super::folder::read_file(&from)?));
            }
        }
        let weights_file = |name: &str| {
            name.ends_with(".safetensors")
                || name.ends_with(".bin")
                || name.ends_with(".h5")
                || name.ends_with(".msgpack")
        };
        write_folder_atomically(out, &files, |name| !weights_file(name)).map_err(io)?;
        Ok(())
    }
}
