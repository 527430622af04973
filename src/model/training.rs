//! Training and fine-tuning: AdamW over the unfrozen parameter groups, per-group learning
//! rate multipliers, L1/L2 penalties, gradient clipping, schedules, and a worker thread that
//! streams typed events.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use candle_core::{Tensor, Var};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde::{Deserialize, Serialize};

use super::batch::Example;
use super::engine::{Engine, ModelResult};
use super::groups::Group;
use super::limits::{self, LimitError};
use super::ops::{self, AdamWStep, masked_cross_entropy};
use super::pass::Pass;
use super::seq2seq::Seq2Seq;
use crate::masks::MaskSettings;
use crate::trace::{EvalMetrics, StepMetrics};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    Constant,
    /// Linear warmup over `warmup` steps, then cosine decay to zero at the last step.
    WarmupCosine {
        warmup: usize,
    },
}

impl Schedule {
    /// Learning-rate factor at `step` (0-based) of `total`.
    pub fn factor(&self, step: usize, total: usize) -> f64 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::WarmupCosine { warmup } => {
                if step < warmup {
                    (step + 1) as f64 / warmup as f64
                } else {
                    let span = total.saturating_sub(warmup).max(1) as f64;
                    let progress = ((step - warmup) as f64 / span).min(1.0);
                    0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub schedule: Schedule,
    pub weight_decay: f64,
    pub l1: f64,
    pub l2: f64,
    /// Clip the global gradient norm to this value.
    pub clip_norm: Option<f64>,
    pub dropout: f32,
    pub seed: u64,
    /// Evaluate on the validation set every this many steps (and at the end).
    pub eval_every: usize,
    /// Validation examples used per evaluation (all when larger).
    pub eval_size: usize,
    pub mask: MaskSettings,
    pub frozen: BTreeSet<Group>,
    pub lr_multipliers: BTreeMap<Group, f64>,
    pub reinit_head: bool,
    /// Worker threads for the training pool (leave one core for the UI).
    pub threads: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            steps: 300,
            batch_size: 32,
            learning_rate: 1e-3,
            schedule: Schedule::WarmupCosine { warmup: 30 },
            weight_decay: 0.01,
            l1: 0.0,
            l2: 0.0,
            clip_norm: Some(1.0),
            dropout: 0.1,
            seed: 0,
            eval_every: 50,
            eval_size: 200,
            mask: MaskSettings::default(),
            frozen: BTreeSet::new(),
            lr_multipliers: BTreeMap::new(),
            reinit_head: false,
            threads: default_threads(),
        }
    }
}

impl TrainOptions {
    /// Every number checked before training starts; the message names the command line's
    /// option (the window's form cannot produce these values, so this is its backstop).
    pub fn check(&self) -> Result<(), LimitError> {
        limits::count("--batch-size", self.batch_size, limits::MAX_BATCH_SIZE)?;
        limits::count("--threads", self.threads, limits::MAX_THREADS)?;
        let rates = [
            ("--lr", self.learning_rate),
            ("--weight-decay", self.weight_decay),
            ("--clip", self.clip_norm.unwrap_or(0.0)),
            ("--l1", self.l1),
            ("--l2", self.l2),
        ];
        for (option, value) in rates {
            limits::non_negative(option, value)?;
        }
        for (group, value) in &self.lr_multipliers {
            limits::non_negative(&format!("--lr-mult {}", group.key()), *value)?;
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(LimitError::new(
                "--dropout",
                self.dropout,
                "must be at least 0 and below 1",
            ));
        }
        Ok(())
    }
}

/// All cores but one, so the UI thread always has a core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("the training set is empty")]
    NoData,
    #[error("every parameter group is frozen: nothing to train")]
    NothingToTrain,
    #[error(
        "loss became {value} at step {step}; the weights were restored to the last step with a finite loss. Try a lower learning rate or gradient clipping."
    )]
    NonFinite { step: usize, value: f32 },
    #[error(
        "the weights became non-finite in the last step ({step}); they were restored to the step before. Try a lower learning rate or gradient clipping."
    )]
    NonFiniteWeights { step: usize },
    #[error("no examples to evaluate")]
    NothingToEvaluate,
    #[error(
        "a new output head is for the built-in models; a translator's head is tied to its embeddings"
    )]
    NewHeadUnsupported,
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Model(#[from] super::CheckpointError),
}

impl From<candle_core::Error> for TrainError {
    fn from(e: candle_core::Error) -> Self {
        TrainError::Model(e.into())
    }
}

/// One trainable parameter with its AdamW moments.
struct Slot {
    name: String,
    group: Group,
    var: Var,
    m: Tensor,
    v: Tensor,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

/// The synchronous training loop over one engine. The worker thread drives it.
pub struct Trainer {
    engine: Engine,
    /// The engine's layers with frozen parameters detached (see [`Engine::training_view`]).
    view: Seq2Seq,
    train: Vec<Example>,
    validation: Vec<Example>,
    options: TrainOptions,
    slots: Vec<Slot>,
    rng: StdRng,
    order: Vec<usize>,
    cursor: usize,
    pub step: usize,
    /// Trainable values (slot order) that last gave a finite loss, taken before each update:
    /// restored when a later loss is not finite. Empty before the first update.
    last_good: Vec<Tensor>,
}

/// Tokens in the longest source or decoder input of `examples` (`<bos>` / `<eos>` included).
pub fn longest_sequence(examples: &[Example]) -> usize {
    examples
        .iter()
        .map(|e| e.src.len().max(e.tgt.len()) + 1)
        .max()
        .unwrap_or(1)
}

/// Trainable parameter count per group (0 for frozen groups).
pub fn trainable_counts(engine: &Engine, frozen: &BTreeSet<Group>) -> Vec<(Group, usize, bool)> {
    let mut per_group: BTreeMap<Group, usize> = BTreeMap::new();
    for (name, n) in engine.parameter_sizes() {
        if let Some(g) = engine.group_of(&name) {
            *per_group.entry(g).or_default() += n;
        }
    }
    engine
        .groups()
        .into_iter()
        .map(|g| {
            let n = per_group.get(&g).copied().unwrap_or(0);
            (g, n, !frozen.contains(&g))
        })
        .collect()
}

impl Trainer {
    pub fn new(
        engine: Engine,
        train: Vec<Example>,
        validation: Vec<Example>,
        options: TrainOptions,
    ) -> Result<Self, TrainError> {
        if train.is_empty() {
            return Err(TrainError::NoData);
        }
        options.check()?;
        limits::check_training_memory(
            &engine.summary(),
            options.batch_size,
            longest_sequence(&train),
        )?;
        if options.reinit_head {
            reinit_head(&engine, options.seed)?;
        }
        let vars = engine.vars().lock().expect("vars lock").clone();
        let mut slots = vec![];
        for (name, var) in vars {
            let Some(group) = engine.group_of(&name) else {
                continue;
            };
            if options.frozen.contains(&group) {
                continue;
            }
            let zeros = var.as_tensor().zeros_like()?;
            slots.push(Slot {
                name,
                group,
                m: zeros.clone(),
                v: zeros,
                var,
            });
        }
        if slots.is_empty() {
            return Err(TrainError::NothingToTrain);
        }
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut rng);
        let view = engine.training_view(&options.frozen)?;
        Ok(Self {
            engine,
            view,
            train,
            validation,
            options,
            slots,
            rng,
            order,
            cursor: 0,
            step: 0,
            last_good: vec![],
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn into_engine(self) -> Engine {
        self.engine
    }

    pub fn options(&self) -> &TrainOptions {
        &self.options
    }

    pub fn done(&self) -> bool {
        self.step >= self.options.steps
    }

    fn next_batch(&mut self) -> Vec<Example> {
        let size = self.options.batch_size.max(1);
        let mut batch = Vec::with_capacity(size);
        while batch.len() < size {
            if self.cursor == self.order.len() {
                self.order.shuffle(&mut self.rng);
                self.cursor = 0;
            }
            batch.push(self.train[self.order[self.cursor]].clone());
            self.cursor += 1;
        }
        batch
    }

    pub fn learning_rate(&self) -> f64 {
        self.options.learning_rate * self.options.schedule.factor(self.step, self.options.steps)
    }

    /// Loss of one batch under `pass` (dropout while training); the graph is kept for backward.
    fn loss(&self, examples: &[Example], pass: &Pass) -> Result<Tensor, TrainError> {
        let batch = self.engine.batch(examples, self.options.mask);
        let device = self.engine.device();
        let out = self.view.forward(&batch.tensors(device)?, pass)?;
        let (b, t, v) = out.logits.dims3()?;
        let (labels, weight) = batch.label_tensors(device)?;
        let (mut loss, _) =
            masked_cross_entropy(&out.logits.reshape((b * t, v))?, &labels, &weight)?;
        if self.options.l1 > 0.0 || self.options.l2 > 0.0 {
            for slot in &self.slots {
                let p = slot.var.as_tensor();
                if self.options.l2 > 0.0 {
                    loss = (loss + (p.sqr()?.sum_all()? * self.options.l2)?)?;
                }
                if self.options.l1 > 0.0 {
                    loss = (loss + (p.abs()?.sum_all()? * self.options.l1)?)?;
                }
            }
        }
        Ok(loss)
    }

    /// One optimisation step. On a non-finite loss the weights are restored to those before the
    /// previous update (the last that gave a finite loss) and an error returned.
    pub fn train_step(&mut self) -> Result<StepMetrics, TrainError> {
        let examples = self.next_batch();
        let lr = self.learning_rate();
        let seed = self
            .options
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(self.step as u64);
        let pass = Pass::train(self.options.mask.method, self.options.dropout, seed);
        let loss = self.loss(&examples, &pass)?;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            // The previous update broke the model: go back to the weights before it.
            self.restore_last_good()?;
            return Err(TrainError::NonFinite {
                step: self.step,
                value,
            });
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
        if !norm_sq.is_finite() {
            return Err(TrainError::NonFinite {
                step: self.step,
                value: f32::NAN,
            });
        }
        let clip = match self.options.clip_norm {
            Some(max) if norm_sq.sqrt() > max => max / norm_sq.sqrt(),
            _ => 1.0,
        };
        self.last_good = self
            .slots
            .iter()
            .map(|slot| slot.var.as_tensor().copy())
            .collect::<candle_core::Result<_>>()?;
        let t = (self.step + 1) as i32;
        let (bc1, bc2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
        for (slot, g) in self.slots.iter_mut().zip(collected) {
            let group_lr = lr
                * self
                    .options
                    .lr_multipliers
                    .get(&slot.group)
                    .copied()
                    .unwrap_or(1.0);
            if group_lr == 0.0 {
                continue;
            }
            let step = AdamWStep {
                lr: group_lr,
                beta1: BETA1,
                beta2: BETA2,
                eps: EPS,
                weight_decay: self.options.weight_decay,
                bc1,
                bc2,
                grad_scale: clip,
            };
            (slot.m, slot.v) = ops::adamw_update(&slot.var, &g, &slot.m, &slot.v, &step)?;
        }
        self.step += 1;
        if self.done() && !self.outputs_finite()? {
            // No later loss will catch what the last update did: check the weights and what
            // they compute (huge finite weights can still give inf - inf = NaN).
            self.restore_last_good()?;
            return Err(TrainError::NonFiniteWeights { step: self.step });
        }
        Ok(StepMetrics {
            step: self.step,
            train_loss: value,
            learning_rate: lr,
        })
    }

    /// Puts back the trainable values from before the last update.
    fn restore_last_good(&self) -> Result<(), TrainError> {
        for (slot, good) in self.slots.iter().zip(&self.last_good) {
            slot.var.set(good)?;
        }
        Ok(())
    }

    /// Whether every trainable value is finite (a sum of squares in f64 cannot overflow) and
    /// so is the loss of a training batch without dropout.
    fn outputs_finite(&self) -> Result<bool, TrainError> {
        for slot in &self.slots {
            if !ops::sum_squares(slot.var.as_tensor())?.is_finite() {
                return Ok(false);
            }
        }
        let n = self.train.len().min(self.options.batch_size.max(1));
        let pass = Pass::eval(self.options.mask.method, false);
        let loss = self.loss(&self.train[..n], &pass)?.to_scalar::<f32>()?;
        Ok(loss.is_finite())
    }

    /// Whether there are validation examples to evaluate.
    pub fn has_validation(&self) -> bool {
        !self.validation.is_empty()
    }

    /// The training loss of `examples` (penalties included, without dropout) and its gradient
    /// for every trainable parameter by name (zeros where the graph gives none). For tests and
    /// diagnostics: the weights are not changed.
    pub fn loss_and_grads(
        &self,
        examples: &[Example],
    ) -> Result<(f32, BTreeMap<String, Tensor>), TrainError> {
        let loss = self.loss(examples, &Pass::eval(self.options.mask.method, false))?;
        let grads = loss.backward()?;
        let mut named = BTreeMap::new();
        for slot in &self.slots {
            let g = match grads.get(slot.var.as_tensor()) {
                Some(g) => g.clone(),
                None => slot.var.as_tensor().zeros_like()?,
            };
            named.insert(slot.name.clone(), g);
        }
        Ok((loss.to_scalar::<f32>()?, named))
    }

    /// Validation loss, token accuracy (teacher forced) and exact-sequence match (greedy).
    pub fn evaluate(&self) -> Result<EvalMetrics, TrainError> {
        let n = self.validation.len().min(self.options.eval_size.max(1));
        let metrics = evaluate(
            &self.engine,
            &self.validation[..n],
            self.options.mask,
            self.step,
        )?;
        if !metrics.val_loss.is_finite() {
            // Never report (or keep) a model whose held-out loss is NaN: back to the weights
            // before the last update.
            self.restore_last_good()?;
            return Err(TrainError::NonFinite {
                step: self.step,
                value: metrics.val_loss,
            });
        }
        Ok(EvalMetrics {
            weight_norm: Some(self.trainable_weight_norm()?),
            ..metrics
        })
    }

    /// `sqrt(sum of w^2)` over the weights the optimizer updates: the quantity an L2 penalty
    /// and weight decay pull down, so regularisers can be compared on one readout.
    pub fn trainable_weight_norm(&self) -> Result<f32, TrainError> {
        let mut sum_sq = 0f64;
        for slot in &self.slots {
            sum_sq += slot.var.as_tensor().sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
        Ok(sum_sq.sqrt() as f32)
    }

    pub fn names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// Copies of what training changes: the trainable parameters (and a freshly drawn head
    /// even when frozen). Frozen ones never change, so snapshots leave them out: for a
    /// translator that is most of its 300 MB.
    pub fn changed_weights(&self) -> BTreeMap<String, Tensor> {
        let mut out: BTreeMap<String, Tensor> = self
            .slots
            .iter()
            .map(|s| {
                let copy = s.var.as_tensor().copy().expect("copy on cpu");
                (s.name.clone(), copy)
            })
            .collect();
        if self.options.reinit_head {
            for (name, value) in self.engine.weights() {
                if self.engine.group_of(&name) == Some(Group::Head) {
                    out.insert(name, value);
                }
            }
        }
        out
    }
}

/// Evaluates `examples` in chunks: loss and token accuracy teacher-forced, exact match by
/// greedy decoding. No examples is an error ([`TrainError::NothingToEvaluate`]), not NaN.
pub fn evaluate(
    engine: &Engine,
    examples: &[Example],
    mask: MaskSettings,
    step: usize,
) -> Result<EvalMetrics, TrainError> {
    if examples.is_empty() {
        return Err(TrainError::NothingToEvaluate);
    }
    let (mut loss_sum, mut tokens, mut correct, mut exact) = (0f64, 0usize, 0usize, 0usize);
    let specials = engine.specials();
    for chunk in examples.chunks(128) {
        let batch = engine.batch(chunk, mask);
        let out = engine.model().forward(
            &batch.tensors(engine.device())?,
            &Pass::eval(mask.method, false),
        )?;
        let (b, t, v) = out.logits.dims3()?;
        let (labels, weight) = batch.label_tensors(engine.device())?;
        let (_, per_row) =
            masked_cross_entropy(&out.logits.reshape((b * t, v))?, &labels, &weight)?;
        loss_sum += per_row.sum_all()?.to_scalar::<f32>()? as f64;
        let predicted = out.logits.argmax(2)?.flatten_all()?.to_vec1::<u32>()?;
        for (p, l) in predicted.iter().zip(batch.labels.concat()) {
            if l != specials.pad {
                tokens += 1;
                correct += usize::from(*p == l);
            }
        }
        let sources: Vec<Vec<u32>> = chunk.iter().map(|e| e.src.clone()).collect();
        let max_steps = chunk.iter().map(|e| e.tgt.len() + 1).max().unwrap_or(1) + 2;
        for (out, e) in engine.greedy_batch(&sources, max_steps)?.iter().zip(chunk) {
            let expected: Vec<u32> = e
                .tgt
                .iter()
                .copied()
                .chain(std::iter::once(specials.eos))
                .collect();
            exact += usize::from(*out == expected);
        }
    }
    Ok(EvalMetrics {
        step,
        val_loss: (loss_sum / tokens.max(1) as f64) as f32,
        token_accuracy: correct as f32 / tokens.max(1) as f32,
        exact_match: exact as f32 / examples.len() as f32,
        weight_norm: None,
    })
}

/// Fresh seeded values for the output head (for "new head" fine-tuning).
fn reinit_head(engine: &Engine, seed: u64) -> Result<(), TrainError> {
    let (Some(config), Some(vocab)) = (engine.builtin_config(), engine.builtin_vocab()) else {
        return Err(TrainError::NewHeadUnsupported);
    };
    let fresh = Engine::new_random(config.clone(), vocab.clone(), seed ^ 0x4ead)?;
    let head: BTreeMap<String, Tensor> = fresh
        .weights()
        .into_iter()
        .filter(|(n, _)| Group::of(n) == Some(Group::Head))
        .collect();
    engine.set_weights(&head)?;
    Ok(())
}

/// Commands the UI sends to a running worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainCommand {
    Pause,
    Resume,
    Cancel,
}

/// Weights copied out of the worker for the UI to follow; opaque to views.
#[derive(Clone)]
pub struct WeightsSnapshot(pub(crate) BTreeMap<String, Tensor>);

impl std::fmt::Debug for WeightsSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WeightsSnapshot({} tensors)", self.0.len())
    }
}

impl WeightsSnapshot {
    pub fn apply_to(&self, engine: &Engine) -> ModelResult<()> {
        engine.set_weights(&self.0)
    }
}

pub enum TrainEvent {
    Started {
        trainable: Vec<(Group, usize, bool)>,
    },
    Step(StepMetrics),
    Eval(EvalMetrics),
    /// The weights of the evaluation with the lowest validation loss so far (sent right after
    /// that `Eval`), so a run can be kept at its best step rather than its last.
    Best {
        step: usize,
        val_loss: f32,
        weights: WeightsSnapshot,
    },
    Weights(WeightsSnapshot),
    Paused,
    Resumed,
    /// The run ended (completed or cancelled) with these final weights.
    Finished {
        cancelled: bool,
        weights: WeightsSnapshot,
    },
    Failed {
        message: String,
        weights: Option<WeightsSnapshot>,
    },
}

/// A training run on its own thread (and its own thread pool).
pub struct TrainingRun {
    commands: Sender<TrainCommand>,
    pub events: Receiver<TrainEvent>,
    handle: Option<JoinHandle<()>>,
}

impl TrainingRun {
    /// Starts training a copy of `engine`; `snapshot_every` paces weight snapshots for live views.
    pub fn spawn(
        engine: &Engine,
        train: Vec<Example>,
        validation: Vec<Example>,
        options: TrainOptions,
        snapshot_every: Duration,
    ) -> ModelResult<TrainingRun> {
        let copy = engine.duplicate()?;
        let (command_tx, command_rx) = mpsc::channel();
        let (event_tx, event_rx) = mpsc::channel();
        let threads = options.threads.max(1);
        let handle = std::thread::Builder::new()
            .name("maskscope-training".into())
            .spawn(move || {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
                let work = || {
                    catching_panics(&event_tx, |good| {
                        worker(
                            copy,
                            train,
                            validation,
                            options,
                            snapshot_every,
                            command_rx,
                            &event_tx,
                            good,
                        )
                    })
                };
                match pool {
                    Ok(pool) => pool.install(work),
                    Err(_) => work(),
                }
            })
            .map_err(|e| super::CheckpointError::Model(candle_core::Error::wrap(e)))?;
        Ok(TrainingRun {
            commands: command_tx,
            events: event_rx,
            handle: Some(handle),
        })
    }

    pub fn send(&self, command: TrainCommand) {
        let _ = self.commands.send(command);
    }

    /// Events received so far, without blocking.
    pub fn drain(&self) -> Vec<TrainEvent> {
        self.events.try_iter().collect()
    }

    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Asks the worker to stop and waits until it has (at most one step or evaluation): its
    /// last events, the `Finished` with the weights so far among them, are then in `events`.
    pub fn stop_and_wait(&mut self) {
        self.send(TrainCommand::Cancel);
        if let Some(handle) = self.handle.take() {
            // A panic inside the worker has already been reported as `Failed`.
            let _ = handle.join();
        }
    }
}

impl Drop for TrainingRun {
    fn drop(&mut self) {
        let _ = self.commands.send(TrainCommand::Cancel);
    }
}

/// Runs the worker loop `work`; a panic inside it ends the run as failed, with the panic's
/// message and the weights of the last good step (which `work` keeps in its argument), so
/// the window stays up and keeps a usable model.
fn catching_panics(events: &Sender<TrainEvent>, work: impl FnOnce(&mut Option<WeightsSnapshot>)) {
    let mut good = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut good)));
    if let Err(panic) = outcome {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        let _ = events.send(TrainEvent::Failed {
            message: format!("the training thread panicked: {message}"),
            weights: good,
        });
    }
}

/// The training thread: steps, evaluations and snapshots until done, cancelled or failed.
/// `last_good` follows the weights of the last step that went well.
#[allow(clippy::too_many_arguments)]
fn worker(
    engine: Engine,
    train: Vec<Example>,
    validation: Vec<Example>,
    options: TrainOptions,
    snapshot_every: Duration,
    commands: Receiver<TrainCommand>,
    events: &Sender<TrainEvent>,
    last_good: &mut Option<WeightsSnapshot>,
) {
    let frozen = options.frozen.clone();
    let trainable = trainable_counts(&engine, &frozen);
    let mut trainer = match Trainer::new(engine, train, validation, options) {
        Ok(t) => t,
        Err(e) => {
            let _ = events.send(TrainEvent::Failed {
                message: e.to_string(),
                weights: None,
            });
            return;
        }
    };
    let _ = events.send(TrainEvent::Started { trainable });
    let mut last_snapshot = Instant::now();
    let mut paused = false;
    let eval_every = trainer.options().eval_every.max(1);
    let mut good = trainer.changed_weights();
    *last_good = Some(WeightsSnapshot(good.clone()));
    let mut best_val_loss = f32::INFINITY;
    loop {
        loop {
            let command = if paused {
                commands.recv().map_err(|_| TryRecvError::Disconnected)
            } else {
                commands.try_recv()
            };
            match command {
                Ok(TrainCommand::Pause) => {
                    paused = true;
                    let _ = events.send(TrainEvent::Paused);
                }
                Ok(TrainCommand::Resume) => {
                    paused = false;
                    let _ = events.send(TrainEvent::Resumed);
                }
                Ok(TrainCommand::Cancel) | Err(TryRecvError::Disconnected) => {
                    let _ = events.send(TrainEvent::Finished {
                        cancelled: true,
                        weights: WeightsSnapshot(trainer.changed_weights()),
                    });
                    return;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        if trainer.done() {
            break;
        }
        match trainer.train_step() {
            Ok(metrics) => {
                let _ = events.send(TrainEvent::Step(metrics));
            }
            Err(e) => {
                // train_step has already restored the last weights that gave a finite loss;
                // `good` may hold the broken weights that the previous update produced.
                let _ = events.send(TrainEvent::Failed {
                    message: e.to_string(),
                    weights: Some(WeightsSnapshot(trainer.changed_weights())),
                });
                return;
            }
        }
        good = trainer.changed_weights();
        *last_good = Some(WeightsSnapshot(good.clone()));
        let eval_due = trainer.step % eval_every == 0 || trainer.done();
        // Too few pairs for a validation split: the run goes on without held-out figures.
        if eval_due && trainer.has_validation() {
            match trainer.evaluate() {
                Ok(m) => {
                    let _ = events.send(TrainEvent::Eval(m));
                    if m.val_loss < best_val_loss {
                        best_val_loss = m.val_loss;
                        let _ = events.send(TrainEvent::Best {
                            step: m.step,
                            val_loss: m.val_loss,
                            weights: WeightsSnapshot(good.clone()),
                        });
                    }
                }
                Err(e) => {
                    // A NaN validation loss has restored the weights before the last update.
                    let _ = events.send(TrainEvent::Failed {
                        message: e.to_string(),
                        weights: Some(WeightsSnapshot(trainer.changed_weights())),
                    });
                    return;
                }
            }
        }
        if last_snapshot.elapsed() >= snapshot_every {
            let _ = events.send(TrainEvent::Weights(WeightsSnapshot(good.clone())));
            last_snapshot = Instant::now();
        }
    }
    let _ = events.send(TrainEvent::Finished {
        cancelled: false,
        weights: WeightsSnapshot(good),
    });
}

#[cfg(test)]
mod panic_tests {
    use super::*;

    /// A panic in the worker ends the run as failed with its message and the last good
    /// weights, instead of a silent thread death.
    #[test]
    fn a_panicking_worker_sends_failed_with_the_last_good_weights() {
        let (tx, rx) = mpsc::channel();
        let weights = BTreeMap::from([(
            "w".to_string(),
            Tensor::new(&[1f32, 2.0], &candle_core::Device::Cpu).unwrap(),
        )]);
        catching_panics(&tx, |good| {
            *good = Some(WeightsSnapshot(weights.clone()));
            panic!("index out of bounds at step 7");
        });
        match rx.try_recv() {
            Ok(TrainEvent::Failed {
                message,
                weights: Some(w),
            }) => {
                assert!(
                    message.contains("index out of bounds at step 7"),
                    "{message}"
                );
                assert_eq!(w.0["w"].to_vec1::<f32>().unwrap(), vec![1.0, 2.0]);
            }
            _ => panic!("expected a Failed event with weights"),
        }
        // A worker that returns normally sends nothing more.
        catching_panics(&tx, |_| {});
        assert!(rx.try_recv().is_err());
    }
}
