//! Decoder: how the decoder is fed. Teacher forcing (training: the true previous token at
//! every position, all at once) next to autoregressive decoding (inference: the model's own
//! previous output, one step at a time).

mod figure;
mod next_token;
mod stepper;
mod teacher_forcing;

pub use figure::presenter_figure;

use egui::{Color32, RichText, Ui};

use super::{View, explain};
use crate::app::intents::Intents;
use crate::app::state::AppState;
use crate::i18n::{tr, trf};
use crate::lessons::ViewSection;

#[derive(Default)]
pub struct DecoderView;

/// Colour of the chosen token's bar.
pub const CHOSEN: Color32 = Color32::from_rgb(0xff, 0x8c, 0x00);

impl View for DecoderView {
    fn title(&self) -> &str {
        tr("Decoder")
    }

    fn ui(&mut self, ui: &mut Ui, state: &mut AppState) -> Intents {
        egui::CollapsingHeader::new(RichText::new(tr("Teacher forcing (training)")).strong())
            .default_open(true)
            .show(ui, |ui| {
                teacher_forcing::ui(ui, state);
            });
        ui.separator();
        let heading = ui.label(RichText::new(tr("Autoregressive decoding (inference)")).strong());
        if state.classroom.take_scroll(ViewSection::Stepper, ui) {
            heading.scroll_to_me(Some(egui::Align::TOP));
        }
        explain(
            ui,
            &trf(
                "The decoder starts from {} and feeds each chosen token back in. Each step adds one position: one new row of the causal mask. Keys: Right/Space step, Left back, P play/pause, R reset.",
                &[&state.start_token()],
            ),
        );
        stepper::ui(ui, state);
        Intents::new()
    }
}
