//! Runtime state of the classroom features (lessons, highlights, the shortcut list, sessions)
//! and the small windows that belong to them. Persisted choices (theme, presenter mode, the
//! open lessons panel) live in [`super::settings::Settings`].

use std::path::PathBuf;

use egui::{RichText, Ui};
use serde::{Deserialize, Serialize};

use super::session::Session;
use super::state::{AppState, FilePurpose};
use crate::i18n::{tr, trf};
use crate::lessons::{Lesson, Text};
use crate::trace::AttentionKind;

/// A cell outlined in the heatmaps and mask grids of one attention kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Highlight {
    pub kind: AttentionKind,
    pub query: usize,
    pub key: usize,
}

/// Why a session's checkpoint could not be used as saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The file (or bundled model) is not there.
    Missing,
    /// The file is there but its SHA-256 differs from the one saved in the session.
    Changed,
}

/// A session waiting for the user to locate its checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionProblem {
    pub kind: ProblemKind,
    /// What the session named (a path or a bundled model name).
    pub wanted: String,
    pub session: Session,
}

pub struct Classroom {
    /// The built-in lessons (empty if they failed to parse; see `lessons_error`).
    pub lessons: Vec<Lesson>,
    pub lessons_error: Option<String>,
    /// Index into `lessons` of the lesson shown in the panel.
    pub lesson: usize,
    /// Step shown in the panel.
    pub step: usize,
    /// Whether `step` has been applied to the app (opening the panel changes nothing).
    pub applied: bool,
    /// What applying the step could not do (e.g. a model that is not available).
    pub step_notes: Vec<String>,
    /// The cell a lesson step (or a session) outlines.
    pub highlight: Option<Highlight>,
    /// Curves of runs with this name are drawn emphasised.
    pub highlight_run: Option<Text>,
    /// Name given to the next training run (from a lesson's fine-tune preset).
    pub run_name: Option<Text>,
    /// The keyboard shortcut list is open.
    pub show_shortcuts: bool,
    /// Ask the inputs panel to focus the first source box (key 1).
    pub focus_first_source: bool,
    /// Where Ctrl+S saves again without asking.
    pub session_path: Option<PathBuf>,
    pub session_problem: Option<SessionProblem>,
    /// The window's size in points, updated every frame (saved in sessions).
    pub window_size: Option<[f32; 2]>,
    /// A size a session asked for; the window applies it on its next frame.
    pub pending_window_size: Option<[f32; 2]>,
}

impl Default for Classroom {
    fn default() -> Self {
        let (lessons, lessons_error) = match crate::lessons::builtin() {
            Ok(l) => (l, None),
            Err(e) => (vec![], Some(e.to_string())),
        };
        Self {
            lessons,
            lessons_error,
            lesson: 0,
            step: 0,
            applied: false,
            step_notes: vec![],
            highlight: None,
            highlight_run: None,
            run_name: None,
            show_shortcuts: false,
            focus_first_source: false,
            session_path: None,
            session_problem: None,
            window_size: None,
            pending_window_size: None,
        }
    }
}

impl Classroom {
    /// The highlighted `(query, key)` cell if it belongs to `kind`.
    pub fn highlight_for(&self, kind: AttentionKind) -> Option<(usize, usize)> {
        self.highlight
            .filter(|h| h.kind == kind)
            .map(|h| (h.query, h.key))
    }

    /// Whether a run called `name` is the one a lesson step emphasises.
    pub fn is_highlighted_run(&self, name: &str) -> bool {
        self.highlight_run
            .as_ref()
            .is_some_and(|t| t.en == name || t.zh == name)
    }

    pub fn current_lesson(&self) -> Option<&Lesson> {
        self.lessons.get(self.lesson)
    }

    /// Selects the lesson with this id (the persisted choice), if there is one.
    pub fn select_by_id(&mut self, id: &str) {
        if let Some(i) = self.lessons.iter().position(|l| l.id == id) {
            self.lesson = i;
            self.step = 0;
            self.applied = false;
        }
    }
}

/// Resets the decoding stepper and takes up to `steps` steps with the current strategy.
/// Returns how many were taken (fewer when decoding finishes first).
pub fn redecode(state: &mut AppState, steps: usize) -> usize {
    state.sync_stepper();
    state.stepper.reset();
    let mut taken = 0;
    while taken < steps && state.stepper.step(&state.engine) {
        taken += 1;
    }
    taken
}

/// The window shown when a session's checkpoint is missing or changed.
pub fn session_problem_window(ctx: &egui::Context, state: &mut AppState) {
    let Some(problem) = &state.classroom.session_problem else {
        return;
    };
    if state.path_prompt.is_some() {
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
        state.request_file(FilePurpose::LocateCheckpoint);
    } else if close {
        state.classroom.session_problem = None;
    }
}

/// Start of every frame, before any panel: theme and presenter style, keyboard shortcuts,
/// automatic decoding steps, and the window size a session asked for.
pub fn begin_frame(ctx: &egui::Context, state: &mut AppState) {
    super::presenter::sync(ctx, state);
    super::shortcuts::handle(ctx, state);
    // F5 may have toggled presenter mode: restyle this frame, not the next.
    super::presenter::sync(ctx, state);
    super::shortcuts::tick_playback(ctx, state);
    let size = ctx.content_rect().size();
    state.classroom.window_size = Some([size.x, size.y]);
    if let Some([w, h]) = state.classroom.pending_window_size.take() {
        ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(egui::vec2(w, h)));
    }
}

/// End of every frame: the shortcut list and the session-model window.
pub fn end_frame(ctx: &egui::Context, state: &mut AppState) {
    super::shortcuts::overlay(ctx, state);
    session_problem_window(ctx, state);
}

/// The top bar's session buttons and classroom switches.
pub fn top_bar_items(ui: &mut Ui, state: &mut AppState) {
    if ui
        .button(tr("Open session..."))
        .on_hover_text(tr(
            "Restore a saved view: model, inputs, masks, selections and decoding steps",
        ))
        .clicked()
    {
        state.request_file(FilePurpose::OpenSession);
    }
    if ui
        .button(tr("Save session..."))
        .on_hover_text(tr("Save this exact view to a file (Ctrl S saves again)"))
        .clicked()
    {
        state.request_file(FilePurpose::SaveSession);
    }
    ui.separator();
    super::presenter::controls(ui, state);
}
