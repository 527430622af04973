//! Never throw away a fine-tuned model silently: opening another model, a session or a lesson
//! while the weights are fine-tuned and unsaved asks first (Save / Discard / Cancel).

use egui::{Id, RichText};

use super::Actions;
use crate::app::intents::{FilePurpose, Intent};
use crate::app::state::AppState;
use crate::i18n::{tr, trf};

/// Whether `intent` would replace the model while it holds fine-tuned, unsaved weights.
pub fn would_discard(state: &AppState, intent: Intent) -> bool {
    state.model.modified && replaces_model(state, intent)
}

/// Whether `intent` replaces the model in the window: another model or session, or a lesson
/// starting (a lesson loads the model it names; moving between the steps of a lesson that
/// has started keeps what its own runs made, in the runs table).
fn replaces_model(state: &AppState, intent: Intent) -> bool {
    match intent {
        Intent::OpenBundled(_) | Intent::OpenRecent(_) | Intent::SelectLesson(_) => true,
        Intent::ChooseFile(purpose) => matches!(
            purpose,
            FilePurpose::OpenModel | FilePurpose::OpenModelFolder | FilePurpose::OpenSession
        ),
        Intent::NextLessonStep => {
            let c = &state.classroom;
            let last = c.current_lesson().map_or(0, |l| l.steps.len() - 1);
            !c.applied || c.step >= last
        }
        Intent::PreviousLessonStep | Intent::CloseLessons => false,
    }
}

/// What the user answered.
enum Answer {
    Save,
    Discard,
    Cancel,
}

/// The question, while an intent waits for it. Once the model has been saved (here or by the
/// typed-path window a Save opened), the waiting intent runs by itself.
pub fn window(ctx: &egui::Context, state: &mut AppState, actions: &mut Actions) {
    let Some(intent) = actions.pending_switch else {
        return;
    };
    if !state.model.modified {
        actions.pending_switch = None;
        actions.run(state, intent);
        return;
    }
    if actions.files.prompt.is_some() {
        return; // the typed-path window a Save opened answers first (a modal would cover it)
    }
    let mut answer = None;
    let modal = egui::Modal::new(Id::unique("maskscope_unsaved_model")).show(ctx, |ui| {
        ui.set_max_width(460.0);
        ui.heading(tr("Keep the fine-tuned model?"));
        ui.add_space(6.0);
        ui.label(trf(
            "“{}” has been fine-tuned and not saved. {} replaces it, and its fine-tuned weights are lost unless you save them first. (The runs' curves stay in the runs table.)",
            &[&state.model.name, &what(intent)],
        ));
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            if ui
                .button(RichText::new(tr("Save it first...")).strong())
                .clicked()
            {
                answer = Some(Answer::Save);
            }
            if ui.button(tr("Discard")).clicked() {
                answer = Some(Answer::Discard);
            }
            if ui.button(tr("Cancel")).clicked() {
                answer = Some(Answer::Cancel);
            }
        });
    });
    if modal.should_close() && answer.is_none() {
        answer = Some(Answer::Cancel); // Escape or a click beside the window
    }
    match answer {
        Some(Answer::Save) => actions.request_file(state, FilePurpose::SaveModel),
        Some(Answer::Discard) => {
            actions.pending_switch = None;
            actions.run(state, intent);
        }
        Some(Answer::Cancel) => actions.pending_switch = None,
        None => {}
    }
}

/// The waiting action, as the question names it.
fn what(intent: Intent) -> String {
    match intent {
        Intent::OpenBundled(b) => trf("Opening the bundled “{}” model", &[&b.name]),
        Intent::ChooseFile(FilePurpose::OpenSession) => tr("Opening a session").to_owned(),
        Intent::SelectLesson(_) | Intent::NextLessonStep => tr("Starting the lesson").to_owned(),
        _ => tr("Opening another model").to_owned(),
    }
}
