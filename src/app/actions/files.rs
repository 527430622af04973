//! Choosing a file: the system file dialog (rfd) when it works, otherwise a small window to
//! type a path into. What happens to the chosen path is [`super::Actions::handle_path`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::RichText;

use super::export;
use crate::app::intents::FilePurpose;
use crate::app::settings::DataSource;
use crate::app::state::AppState;
use crate::i18n::tr;

/// The typed-path fallback window.
#[derive(Clone, Debug, PartialEq)]
pub struct PathPrompt {
    pub purpose: FilePurpose,
    pub text: String,
    pub note: Option<String>,
}

/// What the typed-path window was answered with this frame.
pub enum PromptAnswer {
    Path(FilePurpose, PathBuf),
    /// Submitted with nothing typed.
    Empty,
}

pub struct Files {
    /// Use the system file dialog (rfd); off after it failed once, or for tests
    /// (`MASKSCOPE_NO_DIALOG`).
    pub native_dialogs: bool,
    pub prompt: Option<PathPrompt>,
}

impl Default for Files {
    fn default() -> Self {
        Self {
            native_dialogs: std::env::var_os("MASKSCOPE_NO_DIALOG").is_none(),
            prompt: None,
        }
    }
}

impl Files {
    /// Asks for a path for `purpose`: the system dialog's answer, or `None` when the user
    /// cancelled or the typed-path window opened instead (it answers in a later frame,
    /// through [`Files::prompt_window`]).
    pub fn ask(&mut self, state: &AppState, purpose: FilePurpose) -> Option<PathBuf> {
        if !self.native_dialogs {
            self.open_prompt(state, purpose, None);
            return None;
        }
        let started = Instant::now();
        let picked = system_dialog(state, purpose);
        if picked.is_none() && started.elapsed() < Duration::from_millis(400) {
            // Returned at once: no desktop portal or zenity. Fall back to typing a path.
            self.native_dialogs = false;
            let note = tr(
                "No system file dialog is available here (no desktop portal or zenity); type a path instead.",
            );
            self.open_prompt(state, purpose, Some(note.to_owned()));
        }
        picked
    }

    fn open_prompt(&mut self, state: &AppState, purpose: FilePurpose, note: Option<String>) {
        self.prompt = Some(PathPrompt {
            purpose,
            text: suggested_path(state, purpose),
            note,
        });
    }

    /// The typed-path window, if open; returns what it was answered with.
    pub fn prompt_window(&mut self, ctx: &egui::Context) -> Option<PromptAnswer> {
        let prompt = self.prompt.as_mut()?;
        let mut submit = false;
        let mut cancel = false;
        egui::Window::new(prompt.purpose.title())
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                if let Some(note) = &prompt.note {
                    ui.label(RichText::new(note).color(ui.visuals().warn_fg_color));
                }
                let l = ui.label(prompt.purpose.path_label());
                let r = ui
                    .add(
                        egui::TextEdit::singleline(&mut prompt.text)
                            .desired_width(460.0)
                            .font(egui::TextStyle::Monospace),
                    )
                    .labelled_by(l.id);
                if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    submit = true;
                }
                ui.horizontal(|ui| {
                    submit |= ui.button(prompt.purpose.action()).clicked();
                    cancel |= ui.button(tr("Cancel")).clicked();
                });
            });
        if submit {
            let prompt = self.prompt.take()?;
            let text = prompt.text.trim();
            return Some(if text.is_empty() {
                PromptAnswer::Empty
            } else {
                PromptAnswer::Path(prompt.purpose, PathBuf::from(text))
            });
        }
        if cancel {
            self.prompt = None;
        }
        None
    }
}

/// The system's file dialog for `purpose` (blocks until it closes).
fn system_dialog(state: &AppState, purpose: FilePurpose) -> Option<PathBuf> {
    let dialog = rfd::FileDialog::new().set_title(purpose.title());
    let model = tr("maskscope model");
    let session = tr("maskscope session");
    match purpose {
        FilePurpose::OpenModel | FilePurpose::LocateCheckpoint => {
            dialog.add_filter(model, &["safetensors"]).pick_file()
        }
        FilePurpose::OpenModelFolder => dialog.pick_folder(),
        // A translator saves as a folder of files, made under the name chosen here.
        FilePurpose::SaveModel if state.engine.saves_as_folder() => {
            dialog.set_file_name(saved_model_name(state)).save_file()
        }
        FilePurpose::SaveModel => dialog
            .add_filter(model, &["safetensors"])
            .set_file_name(saved_model_name(state))
            .save_file(),
        FilePurpose::OpenData => dialog
            .add_filter(tr("pairs"), &["tsv", "csv", "txt"])
            .pick_file(),
        FilePurpose::ExportCsv => dialog
            .add_filter("CSV", &["csv"])
            .set_file_name("runs.csv")
            .save_file(),
        FilePurpose::Export(job) => {
            let (name, extension) = job.filter();
            dialog
                .add_filter(name, &[extension])
                .set_file_name(export::file_name(state, job))
                .save_file()
        }
        FilePurpose::SaveSession => dialog
            .add_filter(session, &["json"])
            .set_file_name("session.json")
            .save_file(),
        FilePurpose::OpenSession => dialog.add_filter(session, &["json"]).pick_file(),
    }
}

/// The path the typed-path window starts with.
fn suggested_path(state: &AppState, purpose: FilePurpose) -> String {
    let dir = std::env::current_dir().unwrap_or_default();
    let shown = |p: PathBuf| p.display().to_string();
    match purpose {
        FilePurpose::OpenModel | FilePurpose::OpenModelFolder => state
            .settings
            .recent
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        FilePurpose::SaveModel => shown(dir.join(saved_model_name(state).replace(' ', "-"))),
        FilePurpose::OpenData => match &state.settings.finetune.source {
            DataSource::File(p) => p.display().to_string(),
            DataSource::Task(_) => String::new(),
        },
        FilePurpose::ExportCsv => shown(dir.join("runs.csv")),
        FilePurpose::Export(job) => shown(dir.join(export::file_name(state, job))),
        FilePurpose::SaveSession => shown(
            state
                .session
                .path
                .clone()
                .unwrap_or_else(|| dir.join("session.json")),
        ),
        FilePurpose::OpenSession => state
            .session
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        FilePurpose::LocateCheckpoint => String::new(),
    }
}

/// The name a save starts from: `NAME.safetensors`, or a folder `NAME-finetuned` for a
/// translator (so the original folder is not overwritten by accident).
fn saved_model_name(state: &AppState) -> String {
    if state.engine.saves_as_folder() {
        format!("{}-finetuned", state.model.name)
    } else {
        format!("{}.safetensors", state.model.name)
    }
}
