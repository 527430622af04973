//! Everything the views read and change, kept apart from drawing: the model, the input rows,
//! the latest trace, the stepper, fine-tuning, messages and the persisted settings.

pub mod classroom;
pub mod runs;
pub mod stepper;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use self::classroom::Classroom;
use self::runs::{LessonBase, Polled, Training};
use self::stepper::Stepper;
use crate::app::example_rows;
use crate::app::labels;
use crate::app::session_file::SessionStatus;
use crate::app::settings::{FinetuneSettings, Settings};
use crate::bundled_models::{self, Bundled};
use crate::i18n::{Said, said, tr, trf};
use crate::masks::{MaskSettings, PadSide};
use crate::model::Engine;
use crate::model::leaks::{LeakReadouts, leak_readouts};
use crate::model::tracing::TokenSide;
use crate::tasks::Pair;
use crate::trace::{BatchTrace, SequenceTrace};

/// One batch row of the inputs panel.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InputRow {
    pub src: String,
    pub tgt: String,
}

impl From<Pair> for InputRow {
    fn from(p: Pair) -> Self {
        Self {
            src: p.src,
            tgt: p.tgt,
        }
    }
}

/// Where the loaded model came from.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelOrigin {
    Bundled(&'static str),
    File(PathBuf),
    /// An untrained stand-in (the bundled file was missing).
    Random {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    pub name: String,
    pub origin: ModelOrigin,
    /// Fine-tuned in this session and not saved since.
    pub modified: bool,
}

/// A status-bar message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub error: bool,
    /// Rendered when shown, so the log follows a language switch.
    pub said: Said,
}

impl Message {
    /// The message in the window's language.
    pub fn text(&self) -> String {
        self.said.render()
    }
}

/// What the model itself writes for a source (greedy decoding), remembered with the weights
/// and the source it was decoded from.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelOutput {
    pub generation: u64,
    pub src: String,
    pub text: String,
}

/// A trace stored by the "pin" button, for diffs.
#[derive(Clone, Debug)]
pub struct Pinned {
    pub sequence: SequenceTrace,
    pub label: String,
}

pub struct AppState {
    pub settings: Settings,
    pub engine: Engine,
    pub model: ModelInfo,
    pub rows: Vec<InputRow>,
    /// The row the views show.
    pub selected_row: usize,
    pub trace: Option<BatchTrace>,
    /// Tokenizer warnings per row.
    pub warnings: Vec<Vec<Said>>,
    pub inspect_error: Option<String>,
    /// The live leak tests of the masks view, for the selected row.
    pub readouts: LeakReadouts,
    pub pinned: Option<Pinned>,
    pub stepper: Stepper,
    pub training: Training,
    pub messages: Vec<Message>,
    /// The lesson shown and what it outlines.
    pub classroom: Classroom,
    /// The session file this window saves to, and a session waiting for its model.
    pub session: SessionStatus,
    /// The keyboard shortcut list is open.
    pub shortcuts_open: bool,
    /// Ask the inputs panel to focus the first source box (key 1).
    pub focus_first_source: bool,
    /// Presenter mode: the full inputs panel is open over the figure (key 1 or the strip).
    pub presenter_inputs_open: bool,
    /// Bumped whenever the weights change (model loaded, training snapshot applied).
    pub engine_generation: u64,
    /// Per row, the model's own output for its source, offered as the target.
    pub model_outputs: Vec<Option<ModelOutput>>,
    /// How many forward passes `refresh` has run (a test hook).
    pub inspect_runs: u64,
    pub last_inspect: Duration,
    dirty: bool,
}

impl AppState {
    /// The bundled dates model (or an untrained stand-in) with example rows entered.
    pub fn new(settings: Settings) -> Self {
        let (engine, model, messages) = match load_bundled(bundled_models::DATES) {
            Ok((engine, info)) => (engine, info, vec![]),
            Err(reason) => {
                let engine = bundled_models::random_model(bundled_models::DATES.task);
                let said = said(
                    "{}; showing an UNTRAINED random model with the dates vocabulary (predictions are meaningless until you fine-tune it)",
                    &[&reason],
                );
                let info = ModelInfo {
                    name: tr("untrained dates model").into(),
                    origin: ModelOrigin::Random { reason },
                    modified: false,
                };
                (engine, info, vec![Message { error: false, said }])
            }
        };
        let rows = example_rows::for_task(bundled_models::DATES.task)
            .into_iter()
            .map(InputRow::from)
            .collect();
        let mut settings = settings;
        // A form saved by an older version trains the dates model on dates: a flat line.
        if settings
            .finetune
            .is_the_models_own_task(bundled_models::DATES)
        {
            settings.finetune = FinetuneSettings::default_for(bundled_models::DATES);
        }
        let mut state = Self::with_engine(engine, model, rows, settings);
        state.messages.extend(messages);
        state
    }

    /// A state around an already loaded model.
    pub fn with_engine(
        engine: Engine,
        model: ModelInfo,
        rows: Vec<InputRow>,
        settings: Settings,
    ) -> Self {
        let mut state = Self {
            settings,
            engine,
            model,
            rows,
            selected_row: 0,
            trace: None,
            warnings: vec![],
            inspect_error: None,
            readouts: LeakReadouts::default(),
            pinned: None,
            stepper: Stepper::default(),
            training: Training::default(),
            messages: vec![],
            classroom: Default::default(),
            session: Default::default(),
            shortcuts_open: false,
            focus_first_source: false,
            presenter_inputs_open: false,
            engine_generation: 0,
            model_outputs: vec![],
            inspect_runs: 0,
            last_inspect: Duration::ZERO,
            dirty: true,
        };
        let lesson = state.settings.lesson.clone();
        state.classroom.select_by_id(&lesson);
        state.refresh();
        state
    }

    // ---------------------------------------------------------------------------------------
    // Messages

    pub fn info(&mut self, said: impl Into<Said>) {
        self.messages.push(Message {
            error: false,
            said: said.into(),
        });
        self.trim_messages();
    }

    pub fn error(&mut self, said: impl Into<Said>) {
        self.messages.push(Message {
            error: true,
            said: said.into(),
        });
        self.trim_messages();
    }

    fn trim_messages(&mut self) {
        if self.messages.len() > 200 {
            self.messages.drain(..100);
        }
    }

    /// The newest error message, if the newest message is one.
    pub fn last_error(&self) -> Option<String> {
        self.last_error_said().map(|said| said.render())
    }

    /// The newest message if it is an error, as said (it re-renders in a later language).
    pub fn last_error_said(&self) -> Option<Said> {
        self.messages
            .last()
            .filter(|m| m.error)
            .map(|m| m.said.clone())
    }

    // ---------------------------------------------------------------------------------------
    // The forward pass

    /// Marks the trace stale; the next [`refresh`](Self::refresh) re-runs the forward pass.
    pub fn invalidate(&mut self) {
        self.dirty = true;
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Re-runs the teacher-forced pass (and the leak readouts) if anything changed.
    pub fn refresh(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let started = Instant::now();
        if self.rows.is_empty() {
            self.trace = None;
            self.warnings.clear();
            self.inspect_error = None;
            self.readouts = LeakReadouts::default();
            return;
        }
        self.selected_row = self.selected_row.min(self.rows.len() - 1);
        let pairs: Vec<(&str, &str)> = self
            .rows
            .iter()
            .map(|r| (r.src.as_str(), r.tgt.as_str()))
            .collect();
        let settings = self.settings.mask;
        match self.engine.inspect(&pairs, &settings) {
            Ok((trace, warnings)) => {
                self.trace = Some(trace);
                self.warnings = warnings;
                self.inspect_error = None;
            }
            Err(e) => {
                self.trace = None;
                self.inspect_error = Some(trf("forward pass failed: {}", &[&e]));
            }
        }
        let row = &self.rows[self.selected_row];
        let example = self.engine.tokenize(&row.src, &row.tgt).example;
        self.readouts = leak_readouts(&self.engine, &example, &settings);
        self.update_model_outputs();
        self.inspect_runs += 1;
        self.last_inspect = started.elapsed();
    }

    /// The trace of the selected row.
    pub fn sequence(&self) -> Option<&SequenceTrace> {
        self.trace
            .as_ref()
            .and_then(|t| t.sequences.get(self.selected_row))
    }

    pub fn set_mask(&mut self, mask: MaskSettings) {
        if self.settings.mask != mask {
            self.settings.mask = mask;
            self.invalidate();
        }
    }

    /// Keeps `model_outputs` in step with the rows: for the built-in models (a few
    /// milliseconds a row) every row's output is decoded again when its source or the weights
    /// changed; a real translator's outputs are decoded only when asked
    /// ([`Self::use_model_output_as_target`]). A source that does not decode has no output
    /// (the forward pass reports the problem).
    fn update_model_outputs(&mut self) {
        let quick = self.engine.builtin_config().is_some();
        self.model_outputs.resize(self.rows.len(), None);
        for row in 0..self.rows.len() {
            if self.model_output(row).is_none() {
                self.model_outputs[row] = if quick {
                    self.greedy_output(row).ok()
                } else {
                    None
                };
            }
        }
    }

    /// Row `row`'s model output, if it is up to date with the source and the weights.
    pub fn model_output(&self, row: usize) -> Option<&str> {
        let out = self.model_outputs.get(row)?.as_ref()?;
        (out.generation == self.engine_generation && out.src == self.rows.get(row)?.src)
            .then_some(out.text.as_str())
    }

    fn greedy_output(&self, row: usize) -> Result<ModelOutput, String> {
        let src = self.rows[row].src.clone();
        let (text, _) = self
            .engine
            .decode(&src, crate::model::decoding::Strategy::Greedy)
            .map_err(|e| e.to_string())?;
        Ok(ModelOutput {
            generation: self.engine_generation,
            src,
            text,
        })
    }

    /// Makes row `row`'s target what the model writes for its source.
    pub fn use_model_output_as_target(&mut self, row: usize) {
        if row >= self.rows.len() {
            return;
        }
        if self.model_output(row).is_none() {
            match self.greedy_output(row) {
                Ok(out) => {
                    self.model_outputs.resize(self.rows.len(), None);
                    self.model_outputs[row] = Some(out);
                }
                Err(e) => {
                    self.error(said("could not decode row {}: {}", &[&(row + 1), &e]));
                    return;
                }
            }
        }
        let text = self.model_output(row).unwrap_or_default().to_owned();
        self.rows[row].tgt = text;
        self.selected_row = row;
        self.invalidate();
        self.refresh();
    }

    pub fn add_row(&mut self, row: InputRow) {
        self.rows.push(row);
        self.invalidate();
    }

    pub fn remove_row(&mut self, index: usize) {
        if index < self.rows.len() && self.rows.len() > 1 {
            self.rows.remove(index);
            if self.selected_row >= self.rows.len() || self.selected_row > index {
                self.selected_row = self.selected_row.saturating_sub(1);
            }
            self.invalidate();
        }
    }

    /// The token every decoding starts from: `<bos>`, or Marian's `<pad>`.
    pub fn start_token(&self) -> String {
        let start = self.engine.specials().start;
        self.engine.token_name(start, TokenSide::Target)
    }

    /// Source ids of the selected row (what the stepper decodes).
    pub fn selected_source_ids(&self) -> Vec<u32> {
        let src = self
            .rows
            .get(self.selected_row)
            .map_or("", |r| r.src.as_str());
        self.engine.source_ids(src)
    }

    /// Keeps the stepper's session in line with the selected source, strategy and weights.
    pub fn sync_stepper(&mut self) {
        let ids = self.selected_source_ids();
        let strategy = self.settings.decoder.strategy();
        self.stepper
            .sync(&self.engine, &ids, strategy, self.engine_generation);
    }

    /// Starts or pauses automatic stepping; `now` is the frame's time in seconds.
    pub fn toggle_play(&mut self, now: f64) {
        self.sync_stepper();
        self.stepper.playing = !self.stepper.playing && !self.stepper.finished();
        self.stepper.last_tick = now;
    }

    /// Resets the decoding stepper and takes up to `steps` steps with the current strategy.
    /// Returns how many were taken (fewer when decoding finishes first).
    pub fn redecode(&mut self, steps: usize) -> usize {
        self.sync_stepper();
        self.stepper.reset();
        let mut taken = 0;
        while taken < steps && self.stepper.step(&self.engine) {
            taken += 1;
        }
        taken
    }

    pub fn pin(&mut self) {
        if let Some(seq) = self.sequence().cloned() {
            let row = &self.rows[self.selected_row];
            let label = format!(
                "'{}' -> '{}' ({})",
                row.src,
                row.tgt,
                mask_summary(&self.settings.mask)
            );
            self.info(said("pinned the trace of {}", &[&label]));
            self.pinned = Some(Pinned {
                sequence: seq,
                label,
            });
        }
    }

    // ---------------------------------------------------------------------------------------
    // Models

    /// Replaces the model; refused while training runs.
    pub fn set_model(
        &mut self,
        engine: Engine,
        model: ModelInfo,
        rows: Option<Vec<InputRow>>,
    ) -> bool {
        if self.training.is_running() {
            self.error(said("stop the training run before switching models", &[]));
            return false;
        }
        let rows = match rows {
            None if engine.kind() != self.engine.kind() && !engine.trains_on_builtin_tasks() => {
                let rows = example_rows::for_translator();
                Some(rows.into_iter().map(InputRow::from).collect())
            }
            rows => rows,
        };
        if engine.kind() != self.engine.kind() {
            // Hyper-parameters that suit one family ruin the other: start from its defaults.
            let source = self.settings.finetune.source.clone();
            self.settings.finetune = FinetuneSettings {
                source,
                ..FinetuneSettings::default()
            };
            if !engine.trains_on_builtin_tasks() {
                self.settings.finetune.suit_translator();
            }
        }
        self.engine = engine;
        self.model = model;
        if let Some(rows) = rows {
            self.rows = rows;
            self.selected_row = 0;
        }
        self.pinned = None;
        self.stepper = Stepper::default();
        self.training.model_changed();
        self.engine_generation += 1;
        self.invalidate();
        self.refresh();
        true
    }

    /// Loads a checkpoint file or a Marian model folder. On failure the previous model stays
    /// and the error is shown.
    pub fn open_model(&mut self, path: &Path) -> bool {
        if self.training.is_running() {
            self.error(said(
                "stop the training run before opening another model",
                &[],
            ));
            return false;
        }
        match Engine::open(path) {
            Ok(engine) => {
                let name = if path.is_dir() {
                    path.file_name()
                } else {
                    path.file_stem()
                }
                .map_or_else(
                    || path.display().to_string(),
                    |s| s.to_string_lossy().into_owned(),
                );
                let info = ModelInfo {
                    name: name.clone(),
                    origin: ModelOrigin::File(path.to_owned()),
                    modified: false,
                };
                if self.set_model(engine, info, None) {
                    self.settings.remember(path.to_owned());
                    self.info(said("opened {}", &[&path.display()]));
                    return true;
                }
                false
            }
            Err(e) => {
                self.error(said(
                    "could not open {}: {}. The previous model ({}) is still loaded.",
                    &[&path.display(), &e, &self.model.name],
                ));
                false
            }
        }
    }

    pub fn open_bundled(&mut self, bundled: Bundled) -> bool {
        match load_bundled(bundled) {
            Ok((engine, info)) => {
                let rows = example_rows::for_task(bundled.task)
                    .into_iter()
                    .map(InputRow::from)
                    .collect();
                if self.set_model(engine, info, Some(rows)) {
                    self.info(said("opened the bundled {} model", &[&bundled.name]));
                    // Something the model cannot do yet, so the demo's curve moves.
                    self.settings.finetune = FinetuneSettings::default_for(bundled);
                    return true;
                }
                false
            }
            Err(reason) => {
                self.error(said(
                    "{}. The previous model ({}) is still loaded.",
                    &[&reason, &self.model.name],
                ));
                false
            }
        }
    }

    pub fn save_model(&mut self, path: &Path) -> bool {
        if self.training.is_running() {
            self.error(said(
                "wait for the training run to finish (or stop it) before saving",
                &[],
            ));
            return false;
        }
        if !self.training.runs.is_empty() {
            self.engine.history = Some(self.training.history_json());
        }
        match self.engine.save(path) {
            Ok(()) => {
                self.settings.remember(path.to_owned());
                self.model.modified = false;
                self.info(said("saved the model to {}", &[&path.display()]));
                true
            }
            Err(e) => {
                self.error(said("could not save {}: {}", &[&path.display(), &e]));
                false
            }
        }
    }

    /// Goes back to the weights from before the first fine-tune of this model.
    pub fn revert_to_base(&mut self) {
        if self.training.is_running() {
            return;
        }
        if let Some(base) = self.training.base.take() {
            self.engine = base;
            self.model.modified = false;
            self.engine_generation += 1;
            self.invalidate();
            self.info(said(
                "reverted to the model as it was before fine-tuning",
                &[],
            ));
        }
    }

    // ---------------------------------------------------------------------------------------
    // Training

    pub fn start_training(&mut self) {
        let name = self.model.name.clone();
        // Whether the engine holds exactly the weights of the bundled model `base` (before
        // `start`, which keeps the current weights as the base to revert to).
        let untouched = |base: &str| {
            matches!(self.model.origin, ModelOrigin::Bundled(n) if n == base)
                && !self.model.modified
                && self.training.base.is_none()
        };
        let lesson_base = self
            .classroom
            .run_name
            .as_ref()
            .and(self.classroom.run_base)
            .map(|base| LessonBase {
                model: base.name.to_owned(),
                from_base: untouched(base.name),
            });
        match self.training.start(
            &self.engine,
            &self.settings.finetune,
            self.settings.mask,
            &name,
        ) {
            Ok(message) => {
                // A lesson's fine-tune preset names its runs (so a step can point at one).
                if let Some(name) = &self.classroom.run_name
                    && let Some(run) = self.training.runs.last_mut()
                {
                    run.name = name.current().to_owned();
                }
                if let Some(run) = self.training.runs.last_mut() {
                    run.lesson_base = lesson_base;
                }
                self.info(message)
            }
            Err(e) => self.error(said("could not start training: {}", &[&e])),
        }
    }

    /// Drains training events; call once per frame. Returns whether a run is live.
    pub fn poll_training(&mut self) -> bool {
        let polled = self.training.poll(&self.engine);
        self.absorb(polled);
        self.training.is_running()
    }

    /// Stops the live run and waits for it to end; the run stays in the runs table.
    pub fn stop_training(&mut self) {
        let polled = self.training.stop(&self.engine);
        self.absorb(polled);
    }

    /// Takes in what draining the training events reported.
    fn absorb(&mut self, polled: Polled) {
        if polled.weights_changed {
            self.engine_generation += 1;
            self.model.modified = true;
            self.invalidate();
        }
        for (error, text) in polled.messages {
            if error {
                self.error(text)
            } else {
                self.info(text)
            }
        }
    }
}

fn load_bundled(b: Bundled) -> Result<(Engine, ModelInfo), String> {
    let bytes = b
        .bytes()
        .ok_or_else(|| trf("the bundled {} model is not available", &[&b.name]))?;
    let engine = Engine::from_bytes(bytes)
        .map_err(|e| trf("the bundled {} model could not be read: {}", &[&b.name, &e]))?;
    Ok((
        engine,
        ModelInfo {
            name: b.name.to_owned(),
            origin: ModelOrigin::Bundled(b.name),
            modified: false,
        },
    ))
}

/// `causal + padding, additive` and the like.
pub fn mask_summary(m: &MaskSettings) -> String {
    let mut on = vec![];
    if m.causal {
        on.push(tr("causal"));
    }
    if m.src_padding {
        on.push(tr("src pad"));
    }
    if m.tgt_padding {
        on.push(tr("tgt pad"));
    }
    if m.pad_side == PadSide::Left {
        on.push(tr("padded on the left"));
    }
    let on = if on.is_empty() {
        tr("no masks").to_owned()
    } else {
        on.join(" + ")
    };
    format!("{on}, {}", labels::mask_method(m.method))
}
