//! Lessons: entering a step sets the real app state ([`apply_step`]): model, batch, masks,
//! view, attention selection, decoding steps, the fine-tune form, and the outlined cell or
//! curve. The panel that shows the lesson is `views::lessons`.

use crate::app::highlight::Highlight;
use crate::app::settings::{DataSource, StrategyKind, ViewId};
use crate::app::state::{AppState, InputRow, ModelOrigin};
use crate::bundled_models::Bundled;
use crate::i18n::trf;
use crate::lessons::{Lesson, LessonView, Schedule, StepState, Strategy, Text, ViewSection};
use crate::model::groups::Group;

/// The tab a lesson's view opens; `inputs` is the side panel, not a tab (`None`).
pub fn view(view: LessonView) -> Option<ViewId> {
    match view {
        LessonView::Inputs => None,
        LessonView::Masks => Some(ViewId::Masks),
        LessonView::Attention => Some(ViewId::Attention),
        LessonView::Decoder => Some(ViewId::Decoder),
        LessonView::Finetune => Some(ViewId::Finetune),
    }
}

fn strategy(strategy: Strategy) -> StrategyKind {
    match strategy {
        Strategy::Greedy => StrategyKind::Greedy,
        Strategy::Sample => StrategyKind::Temperature,
        Strategy::TopK => StrategyKind::TopK,
        Strategy::TopP => StrategyKind::TopP,
        Strategy::Beam => StrategyKind::Beam,
    }
}

/// Whether the current model is the bundled model called `name` (fine-tuned or not).
fn is_current(state: &AppState, name: &str) -> bool {
    matches!(state.model.origin, ModelOrigin::Bundled(n) if n == name)
}

/// Makes the bundled model `model` the current one, with its shipped weights: reloads it
/// unless it already is, never fine-tuned since it was loaded. While a run is live, the model
/// it trains stays ([`apply_step`] has stopped the run if the step needs the shipped weights).
fn ensure_bundled(state: &mut AppState, model: Bundled, notes: &mut Vec<String>) {
    let name = model.name;
    let untouched = !state.model.modified && state.training.base.is_none();
    if is_current(state, name) && (untouched || state.training.is_running()) {
        return;
    }
    match model.bytes() {
        Some(_) => {
            if !state.open_bundled(model) {
                notes.push(state.last_error().unwrap_or_default());
            }
        }
        None => notes.push(trf(
            "This step uses the bundled \"{}\" model, which is not available in this build (it has not been trained yet). The step is shown with the current model ({}) instead.",
            &[&name, &state.model.name],
        )),
    }
}

/// The run name of the preset called `english` in `lesson` (for both languages).
fn run_text(lesson: &Lesson, english: &str) -> Option<Text> {
    lesson
        .steps
        .iter()
        .filter_map(|s| s.state.finetune.as_ref()?.run_name.clone())
        .find(|t| t.en == english)
}

/// Applies step `step` of lesson `lesson` (indices into `state.classroom.lessons`) to the
/// app. Returns notes about what could not be done.
pub fn apply_step(state: &mut AppState, lesson: usize, step: usize) -> Vec<String> {
    let Some(l) = state.classroom.lessons.get(lesson).cloned() else {
        return vec![];
    };
    let step = step.min(l.steps.len().saturating_sub(1));
    let s: StepState = l.state_at(step);
    let mut notes = vec![];

    // A live run goes on while the step only watches the curves of the model it trains; a
    // step that needs the model it names (a preset, which must start from that model's
    // shipped weights, another model, a view of the weights) stops it first. The stopped
    // run keeps its curves in the runs table.
    let needed = s.finetune.as_ref().and_then(|p| p.base).or(s.model);
    if let Some(model) = needed
        && let Some(live) = state.training.live_index()
    {
        let watching = s.finetune.is_none()
            && s.view == Some(LessonView::Finetune)
            && is_current(state, model.name);
        if !watching {
            let run = state
                .training
                .runs
                .get(live)
                .map(|r| r.name.clone())
                .unwrap_or_default();
            state.stop_training();
            notes.push(trf(
                "The training run \"{}\" was stopped so that this step starts from the model it names; its curves so far stay in the runs table.",
                &[&run],
            ));
        }
    }

    if let Some(model) = s.model {
        ensure_bundled(state, model, &mut notes);
    }
    if let Some(base) = s.finetune.as_ref().and_then(|p| p.base)
        && s.model != Some(base)
    {
        ensure_bundled(state, base, &mut notes);
    }
    if let Some(inputs) = &s.inputs {
        state.rows = inputs
            .iter()
            .map(|(src, tgt)| InputRow {
                src: src.clone(),
                tgt: tgt.clone(),
            })
            .collect();
        state.pinned = None;
    }
    if let Some(row) = s.selected_row {
        state.selected_row = row.min(state.rows.len().saturating_sub(1));
    }

    let mut mask = state.settings.mask;
    if let Some(v) = s.causal {
        mask.causal = v;
    }
    if let Some(v) = s.src_padding {
        mask.src_padding = v;
    }
    if let Some(v) = s.tgt_padding {
        mask.tgt_padding = v;
    }
    if let Some(side) = s.pad_side {
        mask.pad_side = side;
    }
    if let Some(m) = s.mask_method {
        mask.method = m;
    }
    if let Some(m) = s.finetune.as_ref().and_then(|p| p.mask_method) {
        mask.method = m;
    }
    state.settings.mask = mask;

    if let Some(v) = s.view.and_then(view) {
        state.settings.view = v;
    }
    let settings = &mut state.settings;
    if let Some(kind) = s.attention_kind {
        settings.attention.kind = kind;
        settings.masks_view.kind = kind;
    }
    if let Some(layer) = s.layer {
        settings.attention.layer = layer;
        settings.masks_view.layer = layer;
        settings.decoder.layer = layer;
    }
    if let Some(head) = s.head {
        settings.attention.head = head;
        settings.masks_view.head = head;
    }
    if let Some(mean) = s.mean_over_heads {
        settings.attention.mean_over_heads = mean;
    }
    if let Some(k) = s.strategy {
        settings.decoder.strategy = strategy(k);
    }
    let decoder = &mut settings.decoder;
    if let Some(v) = s.temperature {
        decoder.temperature = v;
    }
    if let Some(v) = s.top_k {
        decoder.top_k = v;
    }
    if let Some(v) = s.top_p {
        decoder.top_p = v;
    }
    if let Some(v) = s.seed {
        decoder.seed = v;
    }
    if let Some(v) = s.beam_width {
        decoder.beam_width = v;
    }

    state.invalidate();
    state.refresh();
    if let Some(n) = s.decode_steps {
        state.redecode(n);
    }

    // The form shows the latest preset up to this step, so a step that only compares runs
    // looks the same whether it was reached step by step or opened directly; only a step's
    // own preset names the next run.
    let form_preset = l.steps[..=step]
        .iter()
        .rev()
        .find_map(|st| st.state.finetune.as_ref());
    state.classroom.run_name = None;
    state.classroom.run_base = s.finetune.as_ref().and_then(|p| p.base).or(s.model);
    if let Some(p) = form_preset {
        let f = &mut state.settings.finetune;
        if let Some(task) = p.task {
            f.source = DataSource::Task(task);
        }
        fn set<T: Clone>(slot: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                slot.clone_from(v);
            }
        }
        set(&mut f.train_size, &p.train_size);
        set(&mut f.val_size, &p.val_size);
        set(&mut f.data_seed, &p.data_seed);
        set(&mut f.steps, &p.steps);
        set(&mut f.batch_size, &p.batch_size);
        set(&mut f.learning_rate, &p.learning_rate);
        if let Some(schedule) = p.schedule {
            f.warmup_cosine = schedule == Schedule::WarmupCosine;
        }
        set(&mut f.warmup, &p.warmup);
        set(&mut f.weight_decay, &p.weight_decay);
        set(&mut f.l1, &p.l1);
        set(&mut f.l2, &p.l2);
        if let Some(limit) = p.clip_norm {
            f.clip = limit > 0.0;
            if f.clip {
                f.clip_norm = limit;
            }
        }
        set(&mut f.dropout, &p.dropout);
        set(&mut f.seed, &p.seed);
        set(&mut f.eval_every, &p.eval_every);
        set(&mut f.eval_size, &p.eval_size);
        if let Some(v) = p.new_head {
            f.reinit_head = v;
        }
        let groups = state.engine.groups();
        if let Some(keys) = &p.freeze {
            state.training.frozen = keys
                .iter()
                .filter_map(|k| Group::parse_many(k, &groups))
                .flatten()
                .collect();
        }
        if let Some(pairs) = &p.lr_multipliers {
            state.training.multipliers = pairs
                .iter()
                .filter_map(|(k, m)| Group::parse_many(k, &groups).map(|g| (g, *m)))
                .flat_map(|(groups, m)| groups.into_iter().map(move |g| (g, m)))
                .collect();
        }
        if s.finetune.is_some() {
            state.classroom.run_name = p.run_name.clone();
        }
    }

    let kind = state.settings.attention.kind;
    state.classroom.highlight = s
        .highlight_cell
        .map(|(query, key)| Highlight { kind, query, key });
    state.classroom.quoted_cells = s.quoted_cells.clone().unwrap_or_default();
    state.classroom.readout = s.readout;
    state.classroom.highlight_run = s.highlight_run.as_deref().and_then(|n| run_text(&l, n));
    // A step that points at the inputs panel brings its selected row into sight.
    let inputs = s.view == Some(LessonView::Inputs);
    // One that takes decoding steps brings the stepper (under the teacher-forcing table).
    let stepping = s.view == Some(LessonView::Decoder) && s.decode_steps.is_some_and(|n| n > 0);
    state.classroom.scroll_to = s
        .scroll_to
        .or(inputs.then_some(ViewSection::SelectedRow))
        .or(stepping.then_some(ViewSection::Stepper));

    let c = &mut state.classroom;
    c.lesson = lesson;
    c.step = step;
    c.applied = true;
    c.step_notes = notes.clone();
    state.settings.lesson = l.id.clone();
    notes
}

/// Next step (or the first step of the next lesson); applies the current step if none is
/// applied yet.
pub fn next(state: &mut AppState) {
    let c = &state.classroom;
    let Some(lesson) = c.current_lesson() else {
        return;
    };
    let (mut l, mut s) = (c.lesson, c.step);
    if c.applied {
        if s + 1 < lesson.steps.len() {
            s += 1;
        } else if l + 1 < c.lessons.len() {
            l += 1;
            s = 0;
        } else {
            return;
        }
    }
    apply_step(state, l, s);
}

/// Previous step (stays at the first step of a lesson).
pub fn back(state: &mut AppState) {
    let c = &state.classroom;
    if c.current_lesson().is_none() {
        return;
    }
    let s = if c.applied {
        c.step.saturating_sub(1)
    } else {
        c.step
    };
    apply_step(state, c.lesson, s);
}

/// Chooses a lesson and enters its first step.
pub fn select(state: &mut AppState, lesson: usize) {
    apply_step(state, lesson, 0);
}

/// Turns the highlight off when the panel closes (lesson highlights belong to the panel).
pub fn close(state: &mut AppState) {
    state.settings.lessons_open = false;
    state.classroom.highlight = None;
    state.classroom.quoted_cells.clear();
    state.classroom.readout = None;
    state.classroom.highlight_run = None;
}

/// The runs a lesson step compares, trained one after another in the window: with
/// `MASKSCOPE_LESSON=<id>:<step>` and `MASKSCOPE_START_TRAINING=lesson`, every step of the
/// lesson up to `<step>` that has a fine-tune preset is entered and its run started once the
/// one before has finished; then `<step>` is entered again. A way to check, in the real
/// window, what a step that compares several runs says about their curves.
pub struct LessonRuns {
    lesson: usize,
    target: usize,
    pending: std::collections::VecDeque<usize>,
}

impl LessonRuns {
    /// The queue for the lesson step the app has entered, if the environment asks for it.
    pub fn from_env(state: &AppState) -> Option<Self> {
        if std::env::var("MASKSCOPE_START_TRAINING").ok()?.trim() != "lesson" {
            return None;
        }
        let c = &state.classroom;
        let lesson = c.current_lesson()?;
        let pending = lesson.steps[..=c.step.min(lesson.steps.len().saturating_sub(1))]
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state.finetune.is_some())
            .map(|(i, _)| i)
            .collect();
        Some(Self {
            lesson: c.lesson,
            target: c.step,
            pending,
        })
    }

    /// Starts the next run when none is live; enters the target step once all have run.
    /// Returns whether there is more to do.
    pub fn drive(&mut self, state: &mut AppState) -> bool {
        if state.training.is_running() {
            return true;
        }
        match self.pending.pop_front() {
            Some(step) => {
                apply_step(state, self.lesson, step);
                state.start_training();
                true
            }
            None => {
                apply_step(state, self.lesson, self.target);
                false
            }
        }
    }
}
