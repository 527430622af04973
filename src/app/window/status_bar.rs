//! The status bar: the newest message, the log, the mask summary and a live run's progress.

use egui::{Color32, RichText, Ui};

use crate::app::state::{AppState, Message, mask_summary};
use crate::i18n::{tr, trf};

/// Presenter mode shows the status bar only when it has something the room should see: a
/// run in progress or an error.
pub(super) fn needs_status_bar(state: &AppState) -> bool {
    state.training.live_index().is_some()
        || state.inspect_error.is_some()
        || state.messages.last().is_some_and(|m| m.error)
}

pub(super) fn status_bar(ui: &mut Ui, state: &AppState) {
    ui.horizontal(|ui| {
        if let Some(m) = state.messages.last() {
            let color = message_color(ui, m);
            let prefix = if m.error { tr("Error: ") } else { "" };
            // Wrapped, not cut at the window's edge: an error's cause comes last.
            ui.add(
                egui::Label::new(RichText::new(format!("{prefix}{}", m.text())).color(color))
                    .wrap(),
            )
            .on_hover_text(tr("Newest message; see Log for all"));
        } else {
            ui.label(RichText::new(tr("Ready.")).weak());
        }
        if let Some(e) = &state.inspect_error {
            ui.label(RichText::new(e).color(ERROR_COLOR));
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            // Presenter mode hides the log and the mask summary (advanced, small print).
            if !state.settings.presenter {
                ui.menu_button(trf("Log ({})", &[&state.messages.len()]), |ui| {
                    egui::ScrollArea::vertical()
                        .max_height(300.0)
                        .show(ui, |ui| {
                            for m in state.messages.iter().rev() {
                                ui.label(RichText::new(m.text()).color(message_color(ui, m)));
                            }
                        });
                });
                // The timing lives in the hover text: it changes every run, the label should not.
                ui.label(
                    RichText::new(mask_summary(&state.settings.mask))
                        .weak()
                        .small(),
                )
                .on_hover_text(trf(
                    "Last forward pass (batch + leak tests): {} ms",
                    &[&format!("{:.1}", state.last_inspect.as_secs_f64() * 1000.0)],
                ));
            }
            if let Some(i) = state.training.live_index() {
                let r = &state.training.runs[i];
                let step = r.steps.last().map_or(0, |s| s.step);
                let loss = r.steps.last().map_or(String::new(), |s| {
                    trf(", loss {}", &[&format!("{:.3}", s.train_loss)])
                });
                ui.label(
                    RichText::new(trf(
                        "training {}: step {}/{}{}",
                        &[&r.name, &step, &r.total_steps, &loss],
                    ))
                    .strong(),
                );
            }
        });
    });
}

const ERROR_COLOR: Color32 = Color32::from_rgb(0xe8, 0x4a, 0x3a);

fn message_color(ui: &Ui, message: &Message) -> Color32 {
    if message.error {
        ERROR_COLOR
    } else {
        ui.visuals().text_color()
    }
}
