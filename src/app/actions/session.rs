//! Sessions and the app: [`capture`] what the window shows as a [`Session`], [`apply`] a
//! session to the app (re-opening its model, re-running the forward pass and the decoding
//! steps), save and open session files, and the window that offers to locate a session's
//! missing model. Neither [`capture`] nor [`apply`] needs a window: the headless
//! `maskscope render` command uses them on a fresh [`AppState`]. The file format is
//! [`crate::app::session_file`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use egui::{RichText, Ui};

use super::Actions;
use crate::app::intents::FilePurpose;
use crate::app::session_file::{
    Column, EvalCurves, FORMAT, FinetuneSession, LessonRef, ModelRef, ProblemKind,
    RUN_FAILED_PREFIX, RUN_FINISHED, RUN_STOPPED, Session, SessionProblem, SessionRow, SessionRun,
    StepCurves, sha256_file, sha256_hex,
};
use crate::app::state::runs::{RunRecord, RunStatus, Training};
use crate::app::state::{AppState, InputRow, ModelInfo, ModelOrigin};
use crate::bundled_models::{self, Bundled};
use crate::i18n::{Said, said, tr, trf};
use crate::model::groups::Group;
use crate::tasks::Task;
use crate::trace::{EvalMetrics, StepMetrics};

/// The session of what `state` shows now. `window_size` is the window's inner size in
/// points (`None` headless).
pub fn capture(state: &AppState, window_size: Option<[f32; 2]>) -> Session {
    let s = &state.settings;
    let model = match &state.model.origin {
        ModelOrigin::Bundled(name) => ModelRef::Bundled {
            name: (*name).to_owned(),
            sha256: bundled_models::bytes(name)
                .map(sha256_hex)
                .unwrap_or_default(),
        },
        ModelOrigin::File(path) => ModelRef::File {
            path: path.clone(),
            sha256: sha256_file(path).unwrap_or_default(),
        },
        ModelOrigin::Random { .. } => ModelRef::Untrained {
            task: bundled_models::DATES.task.name().to_owned(),
        },
    };
    let lesson = state
        .classroom
        .applied
        .then(|| state.classroom.current_lesson())
        .flatten()
        .map(|l| LessonRef {
            id: l.id.clone(),
            step: state.classroom.step,
        });
    Session {
        format: FORMAT.to_owned(),
        model,
        rows: state
            .rows
            .iter()
            .map(|r| SessionRow {
                source: r.src.clone(),
                target: r.tgt.clone(),
            })
            .collect(),
        selected_row: state.selected_row,
        mask: s.mask,
        view: s.view,
        attention: s.attention.clone(),
        masks_view: s.masks_view.clone(),
        colormap: s.colormap,
        show_values: s.show_values,
        decoder: s.decoder.clone(),
        decode_steps: state.stepper.steps().len(),
        theme: s.theme,
        language: s.language,
        presenter: s.presenter,
        window_size,
        lessons_open: s.lessons_open,
        lesson,
        highlight: state.classroom.highlight,
        finetune: Some(capture_finetune(state)),
    }
}

/// The fine-tune view: the form, the freeze choices and every run with its curves (a live
/// run as far as it got, saved as stopped).
fn capture_finetune(state: &AppState) -> FinetuneSession {
    let t = &state.training;
    FinetuneSession {
        form: state.settings.finetune.clone(),
        frozen: group_keys(&t.frozen),
        lr_multipliers: multiplier_keys(&t.multipliers),
        runs: t.runs.iter().map(capture_run).collect(),
    }
}

fn group_keys(groups: &BTreeSet<Group>) -> Vec<String> {
    groups.iter().map(Group::key).collect()
}

fn multiplier_keys(multipliers: &BTreeMap<Group, f64>) -> BTreeMap<String, f64> {
    multipliers.iter().map(|(g, m)| (g.key(), *m)).collect()
}

fn capture_run(run: &RunRecord) -> SessionRun {
    let status = match &run.status {
        RunStatus::Finished => RUN_FINISHED.to_owned(),
        RunStatus::Failed(why) => format!("{RUN_FAILED_PREFIX}{why}"),
        RunStatus::Starting | RunStatus::Running | RunStatus::Paused | RunStatus::Cancelled => {
            RUN_STOPPED.to_owned()
        }
    };
    // A diverged step has no place on a curve (and a session must open again).
    let steps: Vec<&StepMetrics> = run
        .steps
        .iter()
        .filter(|s| s.train_loss.is_finite() && s.learning_rate.is_finite())
        .collect();
    let evals: Vec<&EvalMetrics> = run
        .evals
        .iter()
        .filter(|e| e.val_loss.is_finite())
        .collect();
    SessionRun {
        name: run.name.clone(),
        visible: run.visible,
        status,
        summary: run.summary.clone(),
        settings: run.settings.clone(),
        frozen: group_keys(&run.frozen),
        lr_multipliers: multiplier_keys(&run.multipliers),
        trainable_parameters: run.trainable,
        total_steps: run.total_steps,
        color: run.color,
        lesson_base: run.lesson_base.clone(),
        steps: StepCurves {
            step: Column(steps.iter().map(|s| s.step).collect()),
            train_loss: Column(steps.iter().map(|s| s.train_loss).collect()),
            learning_rate: Column(steps.iter().map(|s| s.learning_rate).collect()),
        },
        evals: EvalCurves {
            step: Column(evals.iter().map(|e| e.step).collect()),
            val_loss: Column(evals.iter().map(|e| e.val_loss).collect()),
            token_accuracy: Column(evals.iter().map(|e| e.token_accuracy).collect()),
            exact_match: Column(evals.iter().map(|e| e.exact_match).collect()),
            // Stored only when every evaluation measured it, so the columns stay aligned.
            weight_norm: Column(
                evals
                    .iter()
                    .map(|e| e.weight_norm)
                    .collect::<Option<_>>()
                    .unwrap_or_default(),
            ),
        },
    }
}

/// Warnings to show when saving `state`: a fine-tuned model that is not saved cannot
/// be reproduced from its file, and a run still training is saved only as far as it got.
pub fn capture_warnings(state: &AppState) -> Vec<Said> {
    let mut warnings = vec![];
    if state.model.modified {
        warnings.push(said(
            "the model was fine-tuned and not saved; the session refers to {} as it is on disk, so save the model first to reproduce this view",
            &[&state.model.name],
        ));
    }
    if let Some(run) = state
        .training
        .live_index()
        .and_then(|i| state.training.runs.get(i))
    {
        warnings.push(said(
            "{} was still training; the session keeps its curves so far, as stopped",
            &[&run.name],
        ));
    }
    warnings
}

/// Reproduces the session in `state`: re-opens the model if needed, replaces the batch,
/// sets masks, view and selections, re-runs the forward pass and re-takes the decoding
/// steps. Sets the language (process-wide). Returns what could not be reproduced; a
/// missing or changed checkpoint also leaves a [`SessionProblem`] in
/// `state.session.problem` for the window to offer locating the file.
pub fn apply(session: &Session, state: &mut AppState) -> Vec<Said> {
    let mut warnings = vec![];
    state.session.problem = None;
    apply_model(session, state, &mut warnings);

    state.rows = session
        .rows
        .iter()
        .map(|r| InputRow {
            src: r.source.clone(),
            tgt: r.target.clone(),
        })
        .collect();
    state.selected_row = session.selected_row.min(state.rows.len().saturating_sub(1));
    let s = &mut state.settings;
    s.mask = session.mask;
    s.view = session.view;
    s.attention = session.attention.clone();
    s.masks_view = session.masks_view.clone();
    s.colormap = session.colormap;
    s.show_values = session.show_values;
    s.decoder = session.decoder.clone();
    s.theme = session.theme;
    s.presenter = session.presenter;
    s.lessons_open = session.lessons_open;
    s.language = session.language;
    crate::i18n::set_language(session.language);
    state.pinned = None;
    state.invalidate();
    state.refresh();
    if let Some(e) = &state.inspect_error {
        warnings.push(e.clone().into());
    }

    let taken = state.redecode(session.decode_steps);
    if taken < session.decode_steps {
        warnings.push(said(
            "decoding stopped after {} of the session's {} steps",
            &[&taken, &session.decode_steps],
        ));
    }
    if let Some(e) = &state.stepper.error {
        warnings.push(e.clone().into());
    }

    let c = &mut state.classroom;
    c.highlight = session.highlight;
    c.quoted_cells.clear();
    c.readout = None;
    c.applied = false;
    if let Some(l) = &session.lesson {
        match c.lessons.iter().position(|x| x.id == l.id) {
            Some(i) => {
                c.lesson = i;
                c.step = l.step.min(c.lessons[i].steps.len().saturating_sub(1));
                c.applied = true;
                // The cells and readout the step's text quotes belong to the step, so they
                // come back with it (the highlight is the user's and was saved).
                if let Some(step) = c.lessons[i].steps.get(c.step) {
                    c.quoted_cells = step.state.quoted_cells.clone().unwrap_or_default();
                    c.readout = step.state.readout;
                }
                state.settings.lesson = l.id.clone();
            }
            None => warnings.push(said("unknown lesson {}", &[&l.id])),
        }
    }
    if let Some(finetune) = &session.finetune {
        apply_finetune(finetune, state, &mut warnings);
    }
    state.session.pending_window_size = session.window_size;
    warnings
}

/// Restores the fine-tune form, the freeze choices and the runs (replacing the runs shown).
fn apply_finetune(saved: &FinetuneSession, state: &mut AppState, warnings: &mut Vec<Said>) {
    if state.training.is_running() {
        warnings.push(
            said("a training run is in progress: the session's fine-tune settings and runs were not loaded", &[]),
        );
        return;
    }
    // The model's own parameter groups: the session's names are checked against them.
    let config = state.engine.groups();
    let runs = saved
        .runs
        .iter()
        .map(|r| restore_run(r, &config, warnings))
        .collect();
    let t: &mut Training = &mut state.training;
    t.frozen = parse_groups(&saved.frozen, &config, warnings);
    t.multipliers = parse_multipliers(&saved.lr_multipliers, &config, warnings);
    state.settings.finetune = saved.form.clone();
    if let Err(e) = t.replace_runs(runs) {
        warnings.push(e.into());
    }
}

fn restore_run(saved: &SessionRun, config: &[Group], warnings: &mut Vec<Said>) -> RunRecord {
    let status = if saved.status == RUN_FINISHED {
        RunStatus::Finished
    } else if let Some(why) = saved.status.strip_prefix(RUN_FAILED_PREFIX) {
        RunStatus::Failed(why.to_owned())
    } else {
        RunStatus::Cancelled
    };
    let s = &saved.steps;
    let steps = (0..s.step.0.len())
        .map(|i| StepMetrics {
            step: s.step.0[i],
            train_loss: s.train_loss.0[i],
            learning_rate: s.learning_rate.0[i],
        })
        .collect();
    let e = &saved.evals;
    let evals = (0..e.step.0.len())
        .map(|i| EvalMetrics {
            step: e.step.0[i],
            val_loss: e.val_loss.0[i],
            token_accuracy: e.token_accuracy.0[i],
            exact_match: e.exact_match.0[i],
            weight_norm: e.weight_norm.0.get(i).copied(),
        })
        .collect();
    RunRecord {
        name: saved.name.clone(),
        visible: saved.visible,
        steps,
        evals,
        status,
        total_steps: saved.total_steps,
        trainable: saved.trainable_parameters,
        summary: saved.summary.clone(),
        color: saved.color,
        best: None,
        settings: saved.settings.clone(),
        frozen: parse_groups(&saved.frozen, config, warnings),
        multipliers: parse_multipliers(&saved.lr_multipliers, config, warnings),
        lesson_base: saved.lesson_base.clone(),
    }
}

/// Group keys for this model; a key it does not have is reported and skipped.
fn parse_groups(keys: &[String], config: &[Group], warnings: &mut Vec<Said>) -> BTreeSet<Group> {
    let mut groups = BTreeSet::new();
    for key in keys {
        match Group::parse_many(key, config) {
            Some(found) => groups.extend(found),
            None => warnings.push(said(
                "the session names a parameter group {} that this model does not have",
                &[key],
            )),
        }
    }
    groups
}

fn parse_multipliers(
    keys: &BTreeMap<String, f64>,
    config: &[Group],
    warnings: &mut Vec<Said>,
) -> BTreeMap<Group, f64> {
    let mut multipliers = BTreeMap::new();
    for (key, m) in keys {
        for g in parse_groups(std::slice::from_ref(key), config, warnings) {
            multipliers.insert(g, *m);
        }
    }
    multipliers
}

fn apply_model(session: &Session, state: &mut AppState, warnings: &mut Vec<Said>) {
    let unchanged = |state: &AppState, origin: &ModelOrigin| {
        &state.model.origin == origin && !state.model.modified
    };
    match &session.model {
        ModelRef::Bundled { name, sha256 } => {
            let Some(b) = Bundled::by_name(name) else {
                warnings.push(said(
                    "the session's bundled model {} is unknown to this version",
                    &[name],
                ));
                problem(session, state, ProblemKind::Missing, name);
                return;
            };
            let Some(bytes) = b.bytes() else {
                warnings.push(said(
                    "the bundled {} model is not available in this build",
                    &[name],
                ));
                problem(session, state, ProblemKind::Missing, name);
                return;
            };
            if !sha256.is_empty() && &sha256_hex(bytes) != sha256 {
                warnings.push(said(
                    "the bundled {} model differs from the one the session was saved with (SHA-256 changed); the views may differ",
                    &[name],
                ));
            }
            if !unchanged(state, &ModelOrigin::Bundled(b.name)) && !state.open_bundled(b) {
                warnings.extend(state.last_error_said());
            }
        }
        ModelRef::File { path, sha256 } => {
            let shown = path.display().to_string();
            if path.symlink_metadata().is_err() {
                warnings.push(said("the model file {} was not found", &[&shown]));
                problem(session, state, ProblemKind::Missing, &shown);
                return;
            }
            match sha256_file(path) {
                Err(e) => {
                    warnings.push(said("could not read {}: {}", &[&shown, &e]));
                    problem(session, state, ProblemKind::Missing, &shown);
                    return;
                }
                Ok(actual) if &actual != sha256 => {
                    warnings.push(said(
                        "the model file {} has changed since the session was saved (SHA-256 differs)",
                        &[&shown],
                    ));
                    problem(session, state, ProblemKind::Changed, &shown);
                    if !state.open_model(path) {
                        warnings.extend(state.last_error_said());
                        // Not a model at all: the current one would be shown in its place.
                        problem(session, state, ProblemKind::Missing, &shown);
                    }
                    return;
                }
                Ok(_) => {}
            }
            if !unchanged(state, &ModelOrigin::File(path.clone())) && !state.open_model(path) {
                warnings.extend(state.last_error_said());
                problem(session, state, ProblemKind::Missing, &shown);
            }
        }
        ModelRef::Untrained { task } => {
            let untrained =
                matches!(state.model.origin, ModelOrigin::Random { .. }) && !state.model.modified;
            if !untrained {
                let task = Task::parse(task).unwrap_or(Task::Dates);
                let engine = bundled_models::random_model(task);
                let info = ModelInfo {
                    name: format!("untrained {} model", task.name()),
                    origin: ModelOrigin::Random {
                        reason: "requested by a session".into(),
                    },
                    modified: false,
                };
                if !state.set_model(engine, info, None) {
                    warnings.extend(state.last_error_said());
                }
            }
        }
    }
}

fn problem(session: &Session, state: &mut AppState, kind: ProblemKind, wanted: &str) {
    state.session.problem = Some(SessionProblem {
        kind,
        wanted: wanted.to_owned(),
        session: session.clone(),
    });
}

// -------------------------------------------------------------------------------------------
// The window's actions (file dialogs land here via `Actions::handle_path`).

/// Saves what `state` shows to `path`; messages go to the status bar.
pub fn save_to(state: &mut AppState, path: &Path) -> bool {
    let session = capture(state, state.session.window_size);
    for w in capture_warnings(state) {
        state.error(w);
    }
    match session.save(path) {
        Ok(()) => {
            state.session.path = Some(path.to_owned());
            state.info(said("saved the session to {}", &[&path.display()]));
            true
        }
        Err(e) => {
            state.error(e.to_string());
            false
        }
    }
}

/// Loads and applies the session at `path`; messages go to the status bar.
pub fn open_from(state: &mut AppState, path: &Path) -> bool {
    match Session::load(path) {
        Ok(session) => {
            let warnings = apply(&session, state);
            state.session.path = Some(path.to_owned());
            state.info(said("opened the session {}", &[&path.display()]));
            for w in warnings {
                state.error(w);
            }
            true
        }
        Err(e) => {
            state.error(e.to_string());
            false
        }
    }
}

/// The user picked `path` for the model of the session waiting in `session_problem`.
pub fn locate_model(state: &mut AppState, path: &Path) {
    let Some(problem) = state.session.problem.take() else {
        return;
    };
    let original = match &problem.session.model {
        ModelRef::File { sha256, .. } | ModelRef::Bundled { sha256, .. } => sha256.clone(),
        ModelRef::Untrained { .. } => String::new(),
    };
    match problem.session.with_model_file(path) {
        Ok(session) => {
            if let ModelRef::File { sha256, .. } = &session.model
                && !original.is_empty()
                && *sha256 != original
            {
                state.error(said(
                    "{} is not the file the session was saved with (SHA-256 differs); using it anyway",
                    &[&path.display()],
                ));
            }
            for w in apply(&session, state) {
                state.error(w);
            }
        }
        Err(e) => {
            state.error(said("could not read {}: {}", &[&path.display(), &e]));
            state.session.problem = Some(problem);
        }
    }
}

/// The window shown when a session's checkpoint is missing or changed.
pub fn problem_window(ctx: &egui::Context, state: &mut AppState, actions: &mut Actions) {
    let Some(problem) = &state.session.problem else {
        return;
    };
    if actions.files.prompt.is_some() {
        // The typed-path window for locating the file is open on top.
        return;
    }
    let text = match problem.kind {
        ProblemKind::Missing => trf(
            "The session's model {} was not found, so the current model is shown instead.",
            &[&problem.wanted],
        ),
        ProblemKind::Changed => trf(
            "The model file {} has changed since the session was saved (its SHA-256 differs): the views may not match the saved ones.",
            &[&problem.wanted],
        ),
    };
    let mut locate = false;
    let mut close = false;
    egui::Window::new(tr("Session model"))
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui: &mut Ui| {
            ui.set_max_width(520.0);
            ui.label(RichText::new(text).color(ui.visuals().warn_fg_color));
            ui.horizontal(|ui| {
                locate = ui.button(tr("Locate the model file...")).clicked();
                close = ui.button(tr("Keep the current model")).clicked();
            });
        });
    if locate {
        actions.request_file(state, FilePurpose::LocateCheckpoint);
    } else if close {
        state.session.problem = None;
    }
}
