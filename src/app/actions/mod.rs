//! Actions: what the window does beyond drawing state. Files (dialogs, recent files, typed
//! paths), exports, session save and open, lessons, presenter mode and the keyboard.
//! They run the views' [`Intent`]s and own what lives between frames for them ([`Actions`]:
//! the typed-path window, the export queue). Below them are the views and the state; above
//! them only the window and the headless renderer.

pub mod export;
pub mod export_menu;
pub mod files;
pub mod lessons;
pub mod presenter;
pub mod session;
pub mod shortcuts;
pub mod unsaved_model;

use std::path::Path;

use egui::Ui;

use self::export::Exports;
use self::files::{Files, PromptAnswer};
use crate::app::intents::{FilePurpose, Intent};
use crate::app::settings::DataSource;
use crate::app::state::AppState;
use crate::i18n::{said, tr};

/// The actions' own state, kept between frames. Not persisted.
#[derive(Default)]
pub struct Actions {
    pub files: Files,
    /// PNG exports waiting for a frame, and the offscreen renderer.
    pub exports: Exports,
    /// What would replace a fine-tuned, unsaved model, waiting for Save / Discard / Cancel
    /// ([`unsaved_model::window`]).
    pub pending_switch: Option<Intent>,
}

impl Actions {
    /// Runs what the views asked for this frame. One that would throw away a fine-tuned,
    /// unsaved model waits for the user's answer instead (and the rest of the frame's
    /// intents with it).
    pub fn act(&mut self, state: &mut AppState, intents: impl IntoIterator<Item = Intent>) {
        for intent in intents {
            if unsaved_model::would_discard(state, intent) {
                self.pending_switch = Some(intent);
                return;
            }
            self.run(state, intent);
        }
    }

    /// Runs one intent, unasked.
    fn run(&mut self, state: &mut AppState, intent: Intent) {
        match intent {
            Intent::ChooseFile(purpose) => self.request_file(state, purpose),
            Intent::NextLessonStep => lessons::next(state),
            Intent::PreviousLessonStep => lessons::back(state),
            Intent::SelectLesson(i) => lessons::select(state, i),
            Intent::CloseLessons => lessons::close(state),
            Intent::OpenBundled(b) => {
                state.open_bundled(b);
            }
            Intent::OpenRecent(i) => {
                if let Some(path) = state.settings.recent.get(i).cloned() {
                    state.open_model(&path);
                }
            }
        }
    }

    /// Asks for a path (the system dialog if it works, else the typed-path window) and acts
    /// on it once chosen.
    pub fn request_file(&mut self, state: &mut AppState, purpose: FilePurpose) {
        if let Some(path) = self.files.ask(state, purpose) {
            self.handle_path(state, purpose, &path);
        }
    }

    /// Acts on a chosen path.
    pub fn handle_path(&mut self, state: &mut AppState, purpose: FilePurpose, path: &Path) {
        match purpose {
            FilePurpose::OpenModel | FilePurpose::OpenModelFolder => {
                state.open_model(path);
            }
            FilePurpose::SaveModel => {
                state.save_model(path);
            }
            FilePurpose::OpenData => {
                state.settings.finetune.source = DataSource::File(path.to_owned());
                match state.training.load_data(path) {
                    Ok(m) => state.info(said("loaded {}", &[&m])),
                    Err(e) => state.error(said("could not use {}: {}", &[&path.display(), &e])),
                }
            }
            FilePurpose::ExportCsv => match state.training.export_csv(path) {
                Ok(()) => state.info(said(
                    "exported {} runs to {}",
                    &[&state.training.runs.len(), &path.display()],
                )),
                Err(e) => state.error(said("could not write {}: {}", &[&path.display(), &e])),
            },
            FilePurpose::Export(job) => self.exports.start(state, job, path),
            FilePurpose::SaveSession => {
                session::save_to(state, path);
            }
            FilePurpose::OpenSession => {
                session::open_from(state, path);
            }
            FilePurpose::LocateCheckpoint => session::locate_model(state, path),
        }
    }

    /// Start of every frame, before any panel: theme and presenter style, keyboard
    /// shortcuts, automatic decoding steps, and the window size a session asked for.
    pub fn begin_frame(&mut self, ctx: &egui::Context, state: &mut AppState) {
        presenter::sync(ctx, state);
        shortcuts::handle(ctx, state, self);
        // F5 may have toggled presenter mode: restyle this frame, not the next.
        presenter::sync(ctx, state);
        shortcuts::tick_playback(ctx, state);
        let size = ctx.content_rect().size();
        state.session.window_size = Some([size.x, size.y]);
        if let Some([w, h]) = state.session.pending_window_size.take() {
            ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(egui::vec2(w, h)));
        }
    }

    /// End of every frame: the typed-path window, the shortcut list and the session-model
    /// window.
    pub fn end_frame(&mut self, ctx: &egui::Context, state: &mut AppState) {
        match self.files.prompt_window(ctx) {
            Some(PromptAnswer::Path(purpose, path)) => self.handle_path(state, purpose, &path),
            Some(PromptAnswer::Empty) => state.error(said("no path given", &[])),
            None => {}
        }
        shortcuts::overlay(ctx, state);
        session::problem_window(ctx, state, self);
        unsaved_model::window(ctx, state, self);
    }

    /// The top bar's session buttons and classroom switches.
    pub fn top_bar_items(&mut self, ui: &mut Ui, state: &mut AppState) {
        if ui
            .button(tr("Open session..."))
            .on_hover_text(tr(
                "Restore a saved view: model, inputs, masks, selections and decoding steps",
            ))
            .clicked()
        {
            self.act(state, [Intent::ChooseFile(FilePurpose::OpenSession)]);
        }
        if ui
            .button(tr("Save session..."))
            .on_hover_text(tr("Save this exact view to a file (Ctrl S saves again)"))
            .clicked()
        {
            self.request_file(state, FilePurpose::SaveSession);
        }
        ui.separator();
        presenter::controls(ui, state);
    }
}
