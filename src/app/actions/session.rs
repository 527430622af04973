//! Sessions and the app: [`capture`] what the window shows as a [`Session`], [`apply`] a
//! session to the app (re-opening its model, re-running the forward pass and the decoding
//! steps), save and open session files, and the window that offers to locate a session's
//! missing model. Neither [`capture`] nor [`apply`] needs a window: the headless
//! `maskscope render` command uses them on a fresh [`AppState`]. The file format is
//! [`crate::app::session_file`].

use std::path::Path;

use egui::{RichText, Ui};

use super::Actions;
use crate::app::intents::FilePurpose;
use crate::app::session_file::{
    FORMAT, LessonRef, ModelRef, ProblemKind, Session, SessionProblem, SessionRow, sha256_file,
    sha256_hex,
};
use crate::app::state::{AppState, InputRow, ModelInfo, ModelOrigin};
use crate::bundled_models::{self, Bundled};
use crate::i18n::{tr, trf};
use crate::tasks::Task;

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
    }
}

/// A warning to show when saving `state`: a fine-tuned model that is not saved cannot
/// be reproduced from its file.
pub fn capture_warning(state: &AppState) -> Option<String> {
    state.model.modified.then(|| {
        trf(
            "the model was fine-tuned and not saved; the session refers to {} as it is on disk, so save the model first to reproduce this view",
            &[&state.model.name],
        )
    })
}

/// Reproduces the session in `state`: re-opens the model if needed, replaces the batch,
/// sets masks, view and selections, re-runs the forward pass and re-takes the decoding
/// steps. Sets the language (process-wide). Returns what could not be reproduced; a
/// missing or changed checkpoint also leaves a [`SessionProblem`] in
/// `state.session.problem` for the window to offer locating the file.
pub fn apply(session: &Session, state: &mut AppState) -> Vec<String> {
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
        warnings.push(e.clone());
    }

    let taken = state.redecode(session.decode_steps);
    if taken < session.decode_steps {
        warnings.push(trf(
            "decoding stopped after {} of the session's {} steps",
            &[&taken, &session.decode_steps],
        ));
    }
    if let Some(e) = &state.stepper.error {
        warnings.push(e.clone());
    }

    let c = &mut state.classroom;
    c.highlight = session.highlight;
    c.applied = false;
    if let Some(l) = &session.lesson {
        match c.lessons.iter().position(|x| x.id == l.id) {
            Some(i) => {
                c.lesson = i;
                c.step = l.step.min(c.lessons[i].steps.len().saturating_sub(1));
                c.applied = true;
                state.settings.lesson = l.id.clone();
            }
            None => warnings.push(trf("unknown lesson {}", &[&l.id])),
        }
    }
    state.session.pending_window_size = session.window_size;
    warnings
}

fn apply_model(session: &Session, state: &mut AppState, warnings: &mut Vec<String>) {
    let unchanged = |state: &AppState, origin: &ModelOrigin| {
        &state.model.origin == origin && !state.model.modified
    };
    match &session.model {
        ModelRef::Bundled { name, sha256 } => {
            let Some(b) = Bundled::by_name(name) else {
                warnings.push(trf(
                    "the session's bundled model {} is unknown to this version",
                    &[name],
                ));
                problem(session, state, ProblemKind::Missing, name);
                return;
            };
            let Some(bytes) = b.bytes() else {
                warnings.push(trf(
                    "the bundled {} model is not available in this build",
                    &[name],
                ));
                problem(session, state, ProblemKind::Missing, name);
                return;
            };
            if !sha256.is_empty() && &sha256_hex(bytes) != sha256 {
                warnings.push(trf(
                    "the bundled {} model differs from the one the session was saved with (SHA-256 changed); the views may differ",
                    &[name],
                ));
            }
            if !unchanged(state, &ModelOrigin::Bundled(b.name)) && !state.open_bundled(b) {
                warnings.push(state.last_error().unwrap_or_default().to_owned());
            }
        }
        ModelRef::File { path, sha256 } => {
            let shown = path.display().to_string();
            if !path.exists() {
                warnings.push(trf("the model file {} was not found", &[&shown]));
                problem(session, state, ProblemKind::Missing, &shown);
                return;
            }
            match sha256_file(path) {
                Err(e) => {
                    warnings.push(trf("could not read {}: {}", &[&shown, &e]));
                    problem(session, state, ProblemKind::Missing, &shown);
                    return;
                }
                Ok(actual) if &actual != sha256 => {
                    warnings.push(trf(
                        "the model file {} has changed since the session was saved (SHA-256 differs)",
                        &[&shown],
                    ));
                    problem(session, state, ProblemKind::Changed, &shown);
                    if !state.open_model(path) {
                        warnings.push(state.last_error().unwrap_or_default().to_owned());
                    }
                    return;
                }
                Ok(_) => {}
            }
            if !unchanged(state, &ModelOrigin::File(path.clone())) && !state.open_model(path) {
                warnings.push(state.last_error().unwrap_or_default().to_owned());
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
                    warnings.push(state.last_error().unwrap_or_default().to_owned());
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
    if let Some(w) = capture_warning(state) {
        state.error(w);
    }
    match session.save(path) {
        Ok(()) => {
            state.session.path = Some(path.to_owned());
            state.info(trf("saved the session to {}", &[&path.display()]));
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
            state.info(trf("opened the session {}", &[&path.display()]));
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
                state.error(trf(
                    "{} is not the file the session was saved with (SHA-256 differs); using it anyway",
                    &[&path.display()],
                ));
            }
            for w in apply(&session, state) {
                state.error(w);
            }
        }
        Err(e) => {
            state.error(trf("could not read {}: {}", &[&path.display(), &e]));
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
