//! Guided lessons: data, not code. Each lesson is a short sequence of steps; a step sets part
//! of the app's state (model, batch, masks, view, ...) and explains in a few sentences, in
//! English and Simplified Chinese, what to look at and why.
//!
//! The lessons live in `assets/lessons/lessons.json` and are compiled into the binary. This
//! module only parses and validates them; the app applies a step's [`StepState`].
//!
//! Index conventions (the same as the views): token positions are 0-based; a heatmap or mask
//! cell is `(query, key)`; decoder query `t` holds decoder input token `t` (`<bos>` at 0) and
//! predicts label `t`; source keys are the source characters, without special tokens.

pub mod run_figures;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::bundled_models::Bundled;
use crate::masks::{MaskMethod, PadSide};
use crate::tasks::Task;
use crate::trace::AttentionKind;

/// The view a step opens; `inputs` is the side panel rather than a tab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LessonView {
    Inputs,
    Masks,
    Attention,
    Decoder,
    Finetune,
}

/// A part of a long view that a step scrolls into sight, when what it talks about sits below
/// the first screen (the masks view's row sums at 1366x768, say).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewSection {
    /// The masks view's scores -> masked scores -> weights with row sums.
    ScorePipeline,
    /// The fine-tune form's parameter groups down to the trainable count.
    TrainableCount,
    /// The fine-tune form's hyper-parameters (learning rate, schedule, penalties, new head).
    Hyperparameters,
    /// The selected row in the inputs panel (every step that points at the inputs).
    SelectedRow,
    /// The decoder view's stepper (every step that takes decoding steps).
    Stepper,
}

/// A live leak readout of the masks view that a step's text quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// "Padding changes real outputs by".
    Padding,
    /// "Changing a future token changes earlier outputs by".
    FutureToken,
}

/// The decoding strategy a step selects in the stepper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Greedy,
    /// Sampling with a temperature.
    Sample,
    TopK,
    TopP,
    Beam,
}

/// The learning-rate schedule of a fine-tune preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    Constant,
    WarmupCosine,
}

/// Group keys that name one group or several (see `model::groups`); `enc{i}`, `dec{i}` and
/// `dec{i}-self|cross|ff` are accepted for any layer index `i`.
pub const GROUP_KEYS: [&str; 7] = [
    "src-embed",
    "tgt-embed",
    "embeddings",
    "encoder",
    "decoder",
    "norms",
    "head",
];

/// Number of steps a lesson may have.
pub const STEPS_PER_LESSON: std::ops::RangeInclusive<usize> = 2..=8;

pub use crate::i18n::Language;

/// A user-visible string in every supported language.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    pub zh: String,
}

impl Text {
    pub fn get(&self, lang: Language) -> &str {
        match lang {
            Language::En => &self.en,
            Language::Zh => &self.zh,
        }
    }

    /// The text in the app's current language ([`crate::i18n::language`]).
    pub fn current(&self) -> &str {
        self.get(crate::i18n::language())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    /// Stable kebab-case id (for saved progress and links).
    pub id: String,
    pub title: Text,
    pub summary: Text,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: Text,
    /// Two to four sentences: what to look at and why.
    pub body: Text,
    #[serde(default)]
    pub state: StepState,
}

/// What a step changes. Every field is optional.
///
/// Two kinds of fields:
/// - *persistent* settings (model, inputs, selected_row, the mask switches, view, attention
///   kind, layer, head, mean_over_heads, strategy and its sampling settings): `None` leaves the setting as it is, so a
///   step only states what it changes;
/// - *per-step* actions (`highlight_cell`, `quoted_cells`, `readout`, `highlight_run`,
///   `decode_steps`, `finetune`, `scroll_to`):
///   they belong to the step that sets them; `None` means no highlight / no stepping / no
///   preset for this step.
///
/// [`Lesson::state_at`] combines both, so that entering step `i` (also by jumping straight to
/// it) always shows the same thing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepState {
    /// A bundled model, by name.
    pub model: Option<Bundled>,
    /// Batch rows as (source, target).
    pub inputs: Option<Vec<(String, String)>>,
    pub selected_row: Option<usize>,
    pub causal: Option<bool>,
    pub src_padding: Option<bool>,
    pub tgt_padding: Option<bool>,
    /// `left` or `right`; a lesson that never names it runs right-padded (see `state_at`).
    pub pad_side: Option<PadSide>,
    /// `additive`, `multiply` or `none`.
    pub mask_method: Option<MaskMethod>,
    pub view: Option<LessonView>,
    /// `encoder_self`, `decoder_self` or `cross`.
    pub attention_kind: Option<AttentionKind>,
    pub layer: Option<usize>,
    pub head: Option<usize>,
    pub mean_over_heads: Option<bool>,
    /// `(query, key)` cell to outline in the current heatmap or mask grid (per step).
    pub highlight_cell: Option<(usize, usize)>,
    /// Further cells of the same heatmap whose values the text quotes (per step): outlined
    /// like `highlight_cell`, and each labelled with its value where cells are too small to
    /// hold one.
    pub quoted_cells: Option<Vec<(usize, usize)>>,
    /// The leak readout the text quotes (per step): the view that shows the step's cells
    /// repeats it beside them, so both are in sight without scrolling.
    pub readout: Option<Readout>,
    /// Reset the decoding stepper and take this many steps (per step).
    pub decode_steps: Option<usize>,
    pub strategy: Option<Strategy>,
    /// Sampling settings of the decoder view (persistent, like the strategy).
    pub temperature: Option<f32>,
    pub top_k: Option<usize>,
    pub top_p: Option<f32>,
    /// Seed of the sampler: the same seed draws the same tokens again.
    pub seed: Option<u64>,
    pub beam_width: Option<usize>,
    /// Preset for the fine-tune view; filled in, not started (per step).
    pub finetune: Option<FinetunePreset>,
    /// English `run_name` of a run to emphasise among the curves (per step).
    pub highlight_run: Option<String>,
    /// The part of the view to scroll into sight when the step is entered (per step).
    pub scroll_to: Option<ViewSection>,
}

impl StepState {
    /// Applies `later` on top of `self`: its persistent settings override, and its per-step
    /// actions replace this state's (absent ones are cleared).
    pub fn apply(&mut self, later: &StepState) {
        fn keep<T: Clone>(slot: &mut Option<T>, later: &Option<T>) {
            if later.is_some() {
                slot.clone_from(later);
            }
        }
        let StepState {
            model,
            inputs,
            selected_row,
            causal,
            src_padding,
            tgt_padding,
            pad_side,
            mask_method,
            view,
            attention_kind,
            layer,
            head,
            mean_over_heads,
            highlight_cell,
            quoted_cells,
            readout,
            decode_steps,
            strategy,
            temperature,
            top_k,
            top_p,
            seed,
            beam_width,
            finetune,
            highlight_run,
            scroll_to,
        } = later;
        keep(&mut self.model, model);
        keep(&mut self.inputs, inputs);
        keep(&mut self.selected_row, selected_row);
        keep(&mut self.causal, causal);
        keep(&mut self.src_padding, src_padding);
        keep(&mut self.tgt_padding, tgt_padding);
        keep(&mut self.pad_side, pad_side);
        keep(&mut self.mask_method, mask_method);
        keep(&mut self.view, view);
        keep(&mut self.attention_kind, attention_kind);
        keep(&mut self.layer, layer);
        keep(&mut self.head, head);
        keep(&mut self.mean_over_heads, mean_over_heads);
        keep(&mut self.strategy, strategy);
        keep(&mut self.temperature, temperature);
        keep(&mut self.top_k, top_k);
        keep(&mut self.top_p, top_p);
        keep(&mut self.seed, seed);
        keep(&mut self.beam_width, beam_width);
        self.highlight_cell.clone_from(highlight_cell);
        self.quoted_cells.clone_from(quoted_cells);
        self.readout.clone_from(readout);
        self.decode_steps.clone_from(decode_steps);
        self.finetune.clone_from(finetune);
        self.highlight_run.clone_from(highlight_run);
        self.scroll_to.clone_from(scroll_to);
    }
}

/// Settings filled into the fine-tune view. `None` leaves the view's current value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetunePreset {
    /// Bundled model to start from.
    pub base: Option<Bundled>,
    /// Task name as in `tasks::Task::name`: copy, reverse, sort, dates, numbers, chinese-numbers.
    pub task: Option<Task>,
    pub train_size: Option<usize>,
    pub val_size: Option<usize>,
    /// Seed of the generated training and validation pairs.
    pub data_seed: Option<u64>,
    pub steps: Option<usize>,
    pub batch_size: Option<usize>,
    pub learning_rate: Option<f64>,
    pub schedule: Option<Schedule>,
    /// Warmup steps of the `warmup-cosine` schedule.
    pub warmup: Option<usize>,
    /// AdamW's decoupled weight decay.
    pub weight_decay: Option<f64>,
    /// Penalties added to the loss: `l1 * sum |w|` and `l2 * sum w^2`.
    pub l1: Option<f64>,
    pub l2: Option<f64>,
    /// Global gradient-norm limit; `0` switches clipping off.
    pub clip_norm: Option<f64>,
    pub dropout: Option<f32>,
    /// Seed of the batch order, dropout and a new head.
    pub seed: Option<u64>,
    pub eval_every: Option<usize>,
    pub eval_size: Option<usize>,
    /// Group keys to freeze (see [`GROUP_KEYS`]).
    pub freeze: Option<Vec<String>>,
    /// (group key, multiplier of the learning rate).
    pub lr_multipliers: Option<Vec<(String, f64)>>,
    /// Replace the output head with a freshly initialised one.
    pub new_head: Option<bool>,
    /// How masks are applied while training (for the leakage demonstration); `None` = the
    /// current mask settings.
    pub mask_method: Option<MaskMethod>,
    pub run_name: Option<Text>,
}

/// The model a lesson's preset names for its run, and whether the run started from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonBase {
    /// The bundled model's name.
    pub model: String,
    /// `false` when the run started from other weights: the model had already been
    /// fine-tuned (an earlier run on it), or another model was loaded. Its curves then do not
    /// show what the lesson says about the preset.
    pub from_base: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    #[error("lessons are not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{at}: {problem}")]
    Invalid { at: String, problem: String },
}

impl Lesson {
    /// The state to show on entering step `index`: the persistent settings of steps
    /// `0..=index` combined, plus step `index`'s own per-step actions. Clamped to the last
    /// step.
    pub fn state_at(&self, index: usize) -> StepState {
        // Every lesson's cells and numbers assume right padding unless it says otherwise, so
        // a pad side the user left on "left" never shifts them.
        let mut state = StepState {
            pad_side: Some(PadSide::Right),
            ..StepState::default()
        };
        for step in self.steps.iter().take(index.saturating_add(1)) {
            state.apply(&step.state);
        }
        state
    }

    /// The index of the step whose fine-tune preset names its run `english`.
    pub fn preset_step(&self, english: &str) -> Option<usize> {
        self.steps.iter().position(|s| {
            s.state
                .finetune
                .as_ref()
                .and_then(|p| p.run_name.as_ref())
                .is_some_and(|name| name.en == english)
        })
    }

    pub fn title(&self, lang: Language) -> &str {
        self.title.get(lang)
    }
}

/// The lessons shipped with the app.
pub fn builtin() -> Result<Vec<Lesson>, LessonError> {
    parse(include_str!("../assets/lessons/lessons.json"))
}

/// Parses and validates a JSON array of lessons.
pub fn parse(json: &str) -> Result<Vec<Lesson>, LessonError> {
    let lessons: Vec<Lesson> = serde_json::from_str(json)?;
    validate(&lessons)?;
    Ok(lessons)
}

/// Every user-visible text of a lesson with where it is (`"{id} step {n} body"`): titles,
/// the summary, step titles and bodies, and run names.
pub fn texts(lesson: &Lesson) -> Vec<(String, &Text)> {
    let mut out = vec![
        (format!("{} title", lesson.id), &lesson.title),
        (format!("{} summary", lesson.id), &lesson.summary),
    ];
    for (i, step) in lesson.steps.iter().enumerate() {
        out.push((format!("{} step {} title", lesson.id, i + 1), &step.title));
        out.push((format!("{} step {} body", lesson.id, i + 1), &step.body));
        if let Some(name) = step
            .state
            .finetune
            .as_ref()
            .and_then(|p| p.run_name.as_ref())
        {
            out.push((format!("{} step {} run", lesson.id, i + 1), name));
        }
    }
    out
}

fn invalid(at: impl Into<String>, problem: impl Into<String>) -> LessonError {
    LessonError::Invalid {
        at: at.into(),
        problem: problem.into(),
    }
}

fn check_text(at: &str, what: &str, text: &Text) -> Result<(), LessonError> {
    for lang in Language::ALL {
        if text.get(lang).trim().is_empty() {
            return Err(invalid(
                at,
                format!("{what} is empty in {}", lang.native_name()),
            ));
        }
    }
    Ok(())
}

/// True for the group keys `model::groups` understands.
pub fn is_group_key(key: &str) -> bool {
    let layer = |rest: &str| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
    if GROUP_KEYS.contains(&key) {
        return true;
    }
    if let Some(rest) = key.strip_prefix("enc") {
        return layer(rest);
    }
    if let Some(rest) = key.strip_prefix("dec") {
        let index = ["-self", "-cross", "-ff"]
            .iter()
            .find_map(|suffix| rest.strip_suffix(suffix))
            .unwrap_or(rest);
        return layer(index);
    }
    false
}

fn check_preset(at: &str, preset: &FinetunePreset) -> Result<(), LessonError> {
    // base, task, schedule and mask_method are enums: serde has checked them.
    let FinetunePreset {
        base: _,
        task: _,
        train_size,
        val_size: _,
        data_seed: _,
        steps,
        batch_size,
        learning_rate,
        schedule: _,
        warmup: _,
        weight_decay,
        l1,
        l2,
        clip_norm,
        dropout,
        seed: _,
        eval_every,
        eval_size,
        freeze,
        lr_multipliers,
        new_head: _,
        mask_method: _,
        run_name,
    } = preset;
    if [batch_size, eval_every, eval_size].contains(&&Some(0)) {
        return Err(invalid(
            at,
            "batch_size, eval_every and eval_size must be positive",
        ));
    }
    for (name, value) in [("l1", l1), ("l2", l2), ("clip_norm", clip_norm)] {
        if value.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
            return Err(invalid(at, format!("{name} must be zero or positive")));
        }
    }
    if *train_size == Some(0) || *steps == Some(0) {
        return Err(invalid(at, "train_size and steps must be positive"));
    }
    if learning_rate.is_some_and(|lr| !(lr.is_finite() && lr > 0.0)) {
        return Err(invalid(at, "learning_rate must be a positive number"));
    }
    if weight_decay.is_some_and(|wd| !(wd.is_finite() && wd >= 0.0)) {
        return Err(invalid(at, "weight_decay must be zero or positive"));
    }
    if dropout.is_some_and(|p| !(0.0..1.0).contains(&p)) {
        return Err(invalid(at, "dropout must be in [0, 1)"));
    }
    for key in freeze.iter().flatten() {
        if !is_group_key(key) {
            return Err(invalid(
                at,
                format!("unknown parameter group {key:?} in freeze"),
            ));
        }
    }
    for (key, mult) in lr_multipliers.iter().flatten() {
        if !is_group_key(key) {
            return Err(invalid(
                at,
                format!("unknown parameter group {key:?} in lr_multipliers"),
            ));
        }
        if !(mult.is_finite() && *mult >= 0.0) {
            return Err(invalid(
                at,
                format!("learning-rate multiplier of {key} must be >= 0"),
            ));
        }
    }
    if let Some(name) = run_name {
        check_text(at, "run_name", name)?;
    }
    Ok(())
}

fn check_state(at: &str, state: &StepState, runs: &HashSet<&str>) -> Result<(), LessonError> {
    if state
        .temperature
        .is_some_and(|t| !(t.is_finite() && t > 0.0))
    {
        return Err(invalid(at, "temperature must be a positive number"));
    }
    if state.top_p.is_some_and(|p| !(p > 0.0 && p <= 1.0)) {
        return Err(invalid(at, "top_p must be in (0, 1]"));
    }
    if state.top_k == Some(0) || state.beam_width == Some(0) {
        return Err(invalid(at, "top_k and beam_width must be positive"));
    }
    if let Some(inputs) = &state.inputs {
        if inputs.is_empty() {
            return Err(invalid(at, "inputs must have at least one row"));
        }
        if inputs.iter().any(|(src, _)| src.is_empty()) {
            return Err(invalid(at, "every input row needs a source"));
        }
    }
    if let Some(preset) = &state.finetune {
        check_preset(at, preset)?;
    }
    if state.quoted_cells.is_some() && state.highlight_cell.is_none() {
        return Err(invalid(at, "quoted_cells needs a highlight_cell"));
    }
    if let Some(run) = &state.highlight_run
        && !runs.contains(run.as_str())
    {
        return Err(invalid(
            at,
            format!("highlight_run {run:?} is not the English run_name of a preset so far"),
        ));
    }
    Ok(())
}

/// A body's run figures parse, are the same in every language, and name runs of this lesson's
/// presets.
fn check_run_figures(at: &str, lesson: &Lesson, body: &Text) -> Result<(), LessonError> {
    for lang in Language::ALL {
        run_figures::pieces(body.get(lang)).map_err(|e| invalid(at, e))?;
    }
    let placeholders = run_figures::placeholders(&body.en);
    let sorted = |text: &str| {
        let mut v: Vec<String> = run_figures::placeholders(text)
            .iter()
            .map(|p| format!("{p:?}"))
            .collect();
        v.sort();
        v
    };
    if sorted(&body.en) != sorted(&body.zh) {
        return Err(invalid(
            at,
            "the body's run figures differ between languages",
        ));
    }
    for p in placeholders {
        if lesson.preset_step(&p.run).is_none() {
            return Err(invalid(
                at,
                format!(
                    "{{{{{}: ...}}}} is not the English run_name of a preset of this lesson",
                    p.run
                ),
            ));
        }
    }
    Ok(())
}

fn validate(lessons: &[Lesson]) -> Result<(), LessonError> {
    let mut ids = HashSet::new();
    for lesson in lessons {
        let id = lesson.id.as_str();
        let id_ok = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(invalid(format!("lesson {id:?}"), "id must be kebab-case"));
        }
        if !ids.insert(id) {
            return Err(invalid(format!("lesson {id}"), "duplicate id"));
        }
        let at = format!("lesson {id}");
        check_text(&at, "title", &lesson.title)?;
        check_text(&at, "summary", &lesson.summary)?;
        if !STEPS_PER_LESSON.contains(&lesson.steps.len()) {
            return Err(invalid(
                &at,
                format!(
                    "{} steps (expected {} to {})",
                    lesson.steps.len(),
                    STEPS_PER_LESSON.start(),
                    STEPS_PER_LESSON.end()
                ),
            ));
        }
        let mut runs = HashSet::new();
        let mut rows = None;
        for (i, step) in lesson.steps.iter().enumerate() {
            let at = format!("lesson {id}, step {}", i + 1);
            check_text(&at, "title", &step.title)?;
            check_text(&at, "body", &step.body)?;
            check_run_figures(&at, lesson, &step.body)?;
            if let Some(name) = step
                .state
                .finetune
                .as_ref()
                .and_then(|p| p.run_name.as_ref())
            {
                runs.insert(name.en.as_str());
            }
            check_state(&at, &step.state, &runs)?;
            if let Some(inputs) = &step.state.inputs {
                rows = Some(inputs.len());
            }
            if let (Some(row), Some(rows)) = (step.state.selected_row, rows)
                && row >= rows
            {
                return Err(invalid(
                    &at,
                    format!("selected_row {row} but the batch has {rows} rows"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lessons() -> Vec<Lesson> {
        match builtin() {
            Ok(l) => l,
            Err(e) => panic!("builtin lessons: {e}"),
        }
    }

    fn is_cjk(c: char) -> bool {
        matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
    }

    /// Rough sentence count: CJK terminators anywhere, ASCII ones at the end or before
    /// whitespace (so 0.1 and 28.11.2026 do not count).
    fn sentences(text: &str) -> usize {
        let chars: Vec<char> = text.trim().chars().collect();
        chars
            .iter()
            .enumerate()
            .filter(|&(i, &c)| match c {
                '。' | '！' | '？' => true,
                '.' | '!' | '?' => chars.get(i + 1).is_none_or(|n| n.is_whitespace()),
                _ => false,
            })
            .count()
    }

    #[test]
    fn builtin_lessons_parse_and_validate() {
        let lessons = lessons();
        assert!(lessons.len() >= 12, "only {} lessons", lessons.len());
        for lesson in &lessons {
            assert!(
                (3..=6).contains(&lesson.steps.len()),
                "{} has {} steps",
                lesson.id,
                lesson.steps.len()
            );
        }
    }

    #[test]
    fn every_text_is_in_both_languages() {
        for lesson in lessons() {
            for (at, text) in texts(&lesson) {
                assert!(!text.en.trim().is_empty(), "{at}: empty English");
                assert!(!text.zh.trim().is_empty(), "{at}: empty Chinese");
                assert!(
                    text.zh.chars().any(is_cjk),
                    "{at}: Chinese text without CJK"
                );
                assert_eq!(text.get(Language::En), text.en);
                assert_eq!(text.get(Language::Zh), text.zh);
            }
        }
    }

    /// The texts between “ and ”.
    fn quotes(text: &str) -> Vec<&str> {
        text.split('“')
            .skip(1)
            .filter_map(|rest| rest.split_once('”').map(|(quoted, _)| quoted))
            .collect()
    }

    /// A lesson that quotes a UI label quotes it exactly, in both languages: an English quote
    /// that names a label (the same words in any case, or its beginning followed by "…") must
    /// be the label itself, and the Chinese text of the same step must quote the label's
    /// translation; a Chinese quote of a translation needs the English label quoted too.
    #[test]
    fn quoted_ui_labels_are_exact_in_both_languages() {
        let labels = crate::i18n::chinese_entries();
        let names_label = |quoted: &str, label: &str| {
            let quoted = quoted.to_lowercase();
            let label = label.to_lowercase();
            quoted == label
                || quoted
                    .strip_suffix('…')
                    .is_some_and(|start| label.starts_with(start.trim_end()))
        };
        let mut bad = vec![];
        let mut checked = 0;
        for lesson in lessons() {
            for (at, text) in texts(&lesson) {
                let (en, zh) = (quotes(&text.en), quotes(&text.zh));
                for quoted in &en {
                    for &(label, translation) in &labels {
                        if !names_label(quoted, label) {
                            continue;
                        }
                        checked += 1;
                        if *quoted != label {
                            bad.push(format!("{at}: “{quoted}” should be “{label}”"));
                        }
                        if !zh.contains(&translation) {
                            bad.push(format!("{at}: the Chinese text lacks “{translation}”"));
                        }
                    }
                }
                for quoted in &zh {
                    for &(label, translation) in &labels {
                        if *quoted == translation && !en.contains(&label) {
                            bad.push(format!("{at}: “{quoted}” without the English “{label}”"));
                        }
                    }
                }
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        assert!(
            checked >= 5,
            "only {checked} quoted labels: is the check still looking?"
        );
    }

    #[test]
    fn bodies_have_two_to_four_sentences() {
        for lesson in lessons() {
            for (i, step) in lesson.steps.iter().enumerate() {
                for lang in Language::ALL {
                    let n = sentences(step.body.get(lang));
                    assert!(
                        (2..=4).contains(&n),
                        "{} step {} ({}): {n} sentences in {:?}",
                        lesson.id,
                        i + 1,
                        lang.native_name(),
                        step.body.get(lang)
                    );
                }
            }
        }
    }

    #[test]
    fn every_group_key_is_known() {
        for lesson in lessons() {
            for step in &lesson.steps {
                if let Some(p) = &step.state.finetune {
                    assert!(p.freeze.iter().flatten().all(|k| is_group_key(k)));
                    assert!(
                        p.lr_multipliers
                            .iter()
                            .flatten()
                            .all(|(k, _)| is_group_key(k))
                    );
                }
            }
        }
    }

    /// A misspelt name in a lesson file is refused with the name and the choices.
    #[test]
    fn unknown_names_are_refused_with_the_choices() {
        let cases = [
            (
                r#""model": "date""#,
                ["date", "dates, numbers, copy, chinese"],
            ),
            (r#""view": "mask""#, ["mask", "masks"]),
            (r#""strategy": "topk""#, ["topk", "top-k"]),
            (r#""mask_method": "add""#, ["add", "additive"]),
            (r#""attention_kind": "crossed""#, ["crossed", "cross"]),
            (
                r#""finetune": {"task": "reversed"}"#,
                ["reversed", "reverse"],
            ),
            (
                r#""finetune": {"schedule": "cosine"}"#,
                ["cosine", "warmup-cosine"],
            ),
        ];
        for (field, expected) in cases {
            let json = format!(
                r#"[{{"id": "x", "title": {{"en": "t", "zh": "t"}}, "summary": {{"en": "s", "zh": "s"}},
                "steps": [{{"title": {{"en": "t", "zh": "t"}}, "body": {{"en": "b.", "zh": "b。"}},
                "state": {{{field}}}}}]}}]"#
            );
            let message = parse(&json).unwrap_err().to_string();
            for part in expected {
                assert!(message.contains(part), "{field}: {message}");
            }
        }
    }

    /// Each lesson starts from a known state, whatever the user did before.
    #[test]
    fn first_steps_set_everything_they_rely_on() {
        for lesson in lessons() {
            let s = &lesson.steps[0].state;
            assert!(s.model.is_some(), "{}: no model", lesson.id);
            assert!(s.inputs.is_some(), "{}: no inputs", lesson.id);
            assert!(s.view.is_some(), "{}: no view", lesson.id);
            assert!(s.selected_row.is_some(), "{}: no selected row", lesson.id);
            assert_eq!(s.causal, Some(true), "{}", lesson.id);
            assert_eq!(s.src_padding, Some(true), "{}", lesson.id);
            assert_eq!(s.tgt_padding, Some(true), "{}", lesson.id);
            assert!(s.mask_method.is_some(), "{}: no mask method", lesson.id);
        }
    }

    /// A step that samples states the whole sampler (temperature, top-k, top-p and seed), so a
    /// class sees the same draw whatever the decoder view held before.
    #[test]
    fn sampling_steps_fix_the_sampler() {
        for lesson in lessons() {
            for i in 0..lesson.steps.len() {
                let s = lesson.state_at(i);
                if !matches!(
                    s.strategy,
                    Some(Strategy::Sample | Strategy::TopK | Strategy::TopP)
                ) {
                    continue;
                }
                let at = format!("{} step {}", lesson.id, i + 1);
                assert!(s.temperature.is_some(), "{at}: no temperature");
                assert!(
                    s.top_k.is_some() && s.top_p.is_some(),
                    "{at}: no top-k / top-p"
                );
                assert!(s.seed.is_some(), "{at}: no seed");
            }
        }
    }

    /// Presets state every setting (every field, including ones added later), so a run never
    /// inherits leftovers from an earlier preset or from the form.
    #[test]
    fn presets_are_complete() {
        for lesson in lessons() {
            for (i, step) in lesson.steps.iter().enumerate() {
                let Some(p) = &step.state.finetune else {
                    continue;
                };
                let fields = serde_json::to_value(p).expect("a preset serialises");
                let missing: Vec<&String> = fields
                    .as_object()
                    .expect("a preset is an object")
                    .iter()
                    .filter(|(_, v)| v.is_null())
                    .map(|(k, _)| k)
                    .collect();
                assert!(
                    missing.is_empty(),
                    "{} step {}: preset leaves {missing:?} to chance",
                    lesson.id,
                    i + 1
                );
            }
        }
    }

    /// Highlighted cells lie inside the grid the step shows, and attention steps name a kind.
    #[test]
    fn highlighted_cells_are_inside_the_grid() {
        for lesson in lessons() {
            for i in 0..lesson.steps.len() {
                let s = lesson.state_at(i);
                let Some((q, k)) = s.highlight_cell else {
                    continue;
                };
                let at = format!("{} step {}", lesson.id, i + 1);
                assert!(
                    matches!(s.view, Some(LessonView::Masks | LessonView::Attention)),
                    "{at}: cell in view {:?}",
                    s.view
                );
                let inputs = s.inputs.as_ref().expect("inputs");
                let src = inputs
                    .iter()
                    .map(|(s, _)| s.chars().count())
                    .max()
                    .unwrap_or(0);
                let tgt = 1 + inputs
                    .iter()
                    .map(|(_, t)| t.chars().count())
                    .max()
                    .unwrap_or(0);
                let (queries, keys) = match s.attention_kind {
                    Some(AttentionKind::EncoderSelf) => (src, src),
                    Some(AttentionKind::DecoderSelf) => (tgt, tgt),
                    Some(AttentionKind::Cross) => (tgt, src),
                    None => panic!("{at}: no attention kind"),
                };
                assert!(
                    q < queries && k < keys,
                    "{at}: ({q}, {k}) outside {queries}x{keys}"
                );
            }
        }
    }

    /// Targets in the lessons are what the tasks would produce.
    #[test]
    fn number_targets_are_correct() {
        for lesson in lessons() {
            for i in 0..lesson.steps.len() {
                let s = lesson.state_at(i);
                let convert: fn(u64) -> String = match s.model {
                    Some(crate::bundled_models::NUMBERS) => crate::tasks::to_english,
                    Some(crate::bundled_models::CHINESE) => crate::tasks::to_chinese,
                    _ => continue,
                };
                for (src, tgt) in s.inputs.iter().flatten() {
                    let n: u64 = src.parse().expect("a number");
                    assert_eq!(&convert(n), tgt, "{} step {}", lesson.id, i + 1);
                }
            }
        }
    }

    #[test]
    fn state_at_carries_settings_but_not_actions() {
        let lesson = lessons()
            .into_iter()
            .find(|l| l.steps.len() >= 2)
            .expect("a lesson");
        let first = lesson.state_at(0);
        let mut expected = first.clone();
        expected.apply(&lesson.steps[1].state);
        assert_eq!(lesson.state_at(1), expected);
        assert_eq!(
            lesson.state_at(1).model,
            lesson.steps[1].state.model.or(first.model)
        );
        assert_eq!(
            lesson.state_at(1).highlight_cell,
            lesson.steps[1].state.highlight_cell
        );
        assert_eq!(
            lesson.state_at(999),
            lesson.state_at(lesson.steps.len() - 1)
        );
    }

    #[test]
    fn parse_rejects_bad_lessons() {
        let step = |state: &str| {
            format!(
                r#"{{"title":{{"en":"T","zh":"标题"}},"body":{{"en":"A. B.","zh":"甲。乙。"}},"state":{state}}}"#
            )
        };
        let lesson = |id: &str, steps: &[String]| {
            format!(
                r#"{{"id":"{id}","title":{{"en":"T","zh":"标题"}},"summary":{{"en":"S","zh":"摘要"}},"steps":[{}]}}"#,
                steps.join(",")
            )
        };
        let ok = step("{}");
        assert!(parse(&format!("[{}]", lesson("a", &[ok.clone(), ok.clone()]))).is_ok());
        let bad = [
            format!("[{}]", lesson("a", std::slice::from_ref(&ok))),
            format!("[{0},{0}]", lesson("a", &[ok.clone(), ok.clone()])),
            format!("[{}]", lesson("A b", &[ok.clone(), ok.clone()])),
            format!(
                "[{}]",
                lesson("a", &[ok.clone(), step(r#"{"view":"nope"}"#)])
            ),
            format!(
                "[{}]",
                lesson("a", &[ok.clone(), step(r#"{"mask_method":"sub"}"#)])
            ),
            format!(
                "[{}]",
                lesson("a", &[ok.clone(), step(r#"{"attention_kind":"x"}"#)])
            ),
            format!(
                "[{}]",
                lesson("a", &[ok.clone(), step(r#"{"model":"gpt"}"#)])
            ),
            format!(
                "[{}]",
                lesson("a", &[ok.clone(), step(r#"{"colour":"red"}"#)])
            ),
            format!(
                "[{}]",
                lesson("a", &[ok.clone(), step(r#"{"finetune":{"task":"fly"}}"#)])
            ),
            format!(
                "[{}]",
                lesson(
                    "a",
                    &[ok.clone(), step(r#"{"finetune":{"freeze":["legs"]}}"#)]
                )
            ),
            format!(
                "[{}]",
                lesson("a", &[ok.clone(), step(r#"{"highlight_run":"ghost"}"#)])
            ),
            format!(
                "[{}]",
                lesson(
                    "a",
                    &[
                        ok.clone(),
                        step(r#"{"inputs":[["a","b"]],"selected_row":1}"#)
                    ]
                )
            ),
            format!(
                "[{}]",
                lesson(
                    "a",
                    &[
                        ok.clone(),
                        step(r#"{"finetune":{"run_name":{"en":"x","zh":" "}}}"#)
                    ]
                )
            ),
            format!(
                "[{}]",
                lesson(
                    "a",
                    &[ok.clone(), step(r#"{"finetune":{"schedule":"linear"}}"#)]
                )
            ),
            format!(
                "[{}]",
                lesson("a", &[ok.clone(), step(r#"{"finetune":{"batch_size":0}}"#)])
            ),
            format!(
                "[{}]",
                lesson("a", &[ok.clone(), step(r#"{"finetune":{"l2":-1.0}}"#)])
            ),
            format!(
                "[{}]",
                lesson("a", &[ok.clone(), step(r#"{"temperature":0.0}"#)])
            ),
            format!("[{}]", lesson("a", &[ok.clone(), step(r#"{"top_p":1.5}"#)])),
            "not json".to_owned(),
        ];
        for json in bad {
            assert!(parse(&json).is_err(), "accepted {json}");
        }
    }

    #[test]
    fn group_keys() {
        for key in [
            "enc0",
            "enc1",
            "dec0",
            "dec1-self",
            "dec0-cross",
            "dec0-ff",
            "head",
            "norms",
        ] {
            assert!(is_group_key(key), "{key}");
        }
        for key in ["enc", "dec-self", "decx", "dec0-mlp", "heads", ""] {
            assert!(!is_group_key(key), "{key}");
        }
    }
}
