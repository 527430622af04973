//! Teacher forcing: every decoder position at once, each fed the true previous token, as a
//! table of positions (target, shifted decoder input, label, prediction, loss).

use egui::{RichText, Ui, vec2};

use super::super::explain;
use super::super::masks::{BAD_COLOR, OK_COLOR};
use crate::app::state::AppState;
use crate::app::widgets::tokens::display_token;
use crate::i18n::{tr, trf};
use crate::trace::SequenceTrace;

pub(super) fn ui(ui: &mut Ui, state: &AppState) {
    let Some(seq) = state.sequence() else {
        ui.label(tr("No trace yet."));
        return;
    };
    explain(
        ui,
        tr(
            "All positions are computed in one pass. Position t sees the true target up to t-1 (the decoder input is the target shifted right) and is scored against label t.",
        ),
    );
    egui::ScrollArea::horizontal()
        .id_salt("tf_scroll")
        .show(ui, |ui| positions_table(ui, seq, state.settings.presenter));
    summary(ui, seq);
}

/// One column per decoder position, one row per thing fed or scored there. `presenter`
/// shortens the longest row name, so the whole sentence fits at projector sizes.
fn positions_table(ui: &mut Ui, seq: &SequenceTrace, presenter: bool) {
    // Only the real columns: with left padding they are the last ones. Positions count from
    // the first real token, as the model's position encodings do.
    let real = seq.tgt_real();
    let weak = ui.visuals().weak_text_color();
    egui::Grid::new("teacher_forcing")
        .striped(true)
        .spacing(vec2(if presenter { 6.0 } else { 10.0 }, 4.0))
        // Columns as narrow as their tokens (egui's default minimum is a button's width), so
        // a whole sentence fits a projector's centre column without scrolling sideways.
        .min_col_width(18.0)
        .show(ui, |ui| {
            ui.label(RichText::new(tr("position")).color(weak));
            for p in real.clone() {
                ui.label(RichText::new((p - real.start).to_string()).color(weak));
            }
            ui.end_row();
            ui.label(tr("target"));
            for p in real.clone() {
                // The target is one shorter than the labels (which end with <eos>).
                let t = if p + 1 < real.end {
                    display_token(&seq.label_tokens[p])
                } else {
                    String::new()
                };
                ui.label(RichText::new(t).monospace());
            }
            ui.end_row();
            ui.label(if presenter {
                tr("decoder input")
            } else {
                tr("decoder input (shifted right)")
            });
            for p in real.clone() {
                ui.label(
                    RichText::new(display_token(&seq.tgt_input_tokens[p]))
                        .monospace()
                        .strong(),
                );
            }
            ui.end_row();
            ui.label(tr("label (to predict)"));
            for p in real.clone() {
                ui.label(RichText::new(display_token(&seq.label_tokens[p])).monospace());
            }
            ui.end_row();
            ui.label(tr("predicted"));
            for p in real.clone() {
                prediction(ui, seq, p);
            }
            ui.end_row();
            ui.label(tr("loss (cross-entropy)"));
            for p in real.clone() {
                let loss = seq.loss.get(p).copied().flatten();
                ui.label(RichText::new(loss.map_or(String::new(), loss_text)).small());
            }
            ui.end_row();
        });
}

/// The predicted token at `p`: green when it is the label, else red and underlined (so it
/// does not rely on colour alone).
fn prediction(ui: &mut Ui, seq: &SequenceTrace, p: usize) {
    let right = seq.predicted[p] == seq.labels[p];
    let text = RichText::new(display_token(&seq.predicted_tokens[p]))
        .monospace()
        .strong()
        .color(if right { OK_COLOR } else { BAD_COLOR });
    let text = if right { text } else { text.underline() };
    ui.label(text).on_hover_text(if right {
        tr("correct")
    } else {
        tr("wrong (underlined)")
    });
}

/// A loss with two decimals, or in scientific notation when it rounds to zero.
fn loss_text(loss: f32) -> String {
    if loss >= 0.01 {
        format!("{loss:.2}")
    } else {
        format!("{loss:.0e}")
    }
}

/// The mean loss and how many positions were predicted right.
pub(super) fn summary(ui: &mut Ui, seq: &SequenceTrace) {
    let Some(mean) = seq.mean_loss() else {
        return;
    };
    let n = seq.tgt_len;
    let correct = seq
        .tgt_real()
        .filter(|&p| seq.predicted[p] == seq.labels[p])
        .count();
    ui.label(trf(
        "mean loss {}; {} of {} positions predicted correctly",
        &[&format!("{mean:.3}"), &correct, &n],
    ));
}
