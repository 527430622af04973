//! Inputs & tokens: the batch rows as text, and what the tokenizer and the batcher make of
//! them (token chips with ids, `<bos>` / `<eos>` / `<pad>` / `<unk>` visibly distinct).

use egui::{RichText, Ui};

use super::{View, explain};
use crate::app::intents::Intents;
use crate::app::state::{AppState, InputRow, ModelOrigin};
use crate::app::widgets::tokens::{ChipKind, chip, chip_row, chip_width, display_token};
use crate::i18n::{tr, trf};
use crate::lessons::ViewSection;
use crate::model::tracing::TokenSide;
use crate::tasks::Task;

#[derive(Default)]
pub struct InputsView;

/// Warning colour that reads on both themes.
pub fn warn_color(ui: &Ui) -> egui::Color32 {
    ui.visuals().warn_fg_color
}

impl View for InputsView {
    fn title(&self) -> &str {
        tr("Inputs & tokens")
    }

    fn ui(&mut self, ui: &mut Ui, state: &mut AppState) -> Intents {
        ui.heading(self.title());
        explain(
            ui,
            tr(
                "Each row is one (source, target) pair of a batch. Shorter rows are padded to the longest; every keystroke re-runs the model.",
            ),
        );
        if let Some(trace) = &state.trace
            && let Some(first) = trace.sequences.first()
        {
            let text = trf(
                "Batch of {}: source padded to {}, decoder input padded to {}",
                &[
                    &trace.sequences.len(),
                    &first.src_ids.len(),
                    &first.tgt_input_ids.len(),
                ],
            );
            ui.label(RichText::new(text).small());
        }
        if ui
            .button(tr("Add row"))
            .on_hover_text(tr("Add another (source, target) pair to the batch"))
            .clicked()
        {
            add_row(state);
        }
        ui.separator();
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                let mut remove = None;
                for i in 0..state.rows.len() {
                    let selected = state.selected_row == i;
                    let frame = egui::Frame::group(ui.style()).stroke(if selected {
                        egui::Stroke::new(2.0, ui.visuals().selection.stroke.color)
                    } else {
                        ui.visuals().widgets.noninteractive.bg_stroke
                    });
                    let shown = frame.show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.horizontal(|ui| {
                            if ui
                                .radio(selected, trf("Row {}", &[&(i + 1)]))
                                .on_hover_text(tr("Show this row in the views"))
                                .clicked()
                            {
                                state.selected_row = i;
                                state.invalidate();
                            }
                            if state.rows.len() > 1
                                && ui.small_button(trf("Remove row {}", &[&(i + 1)])).clicked()
                            {
                                remove = Some(i);
                            }
                        });
                        let mut changed = false;
                        egui::Grid::new(("row_texts", i))
                            .num_columns(2)
                            .show(ui, |ui| {
                                ui.label(tr("Source"));
                                let row = &mut state.rows[i];
                                let source = ui
                                    .add(
                                        egui::TextEdit::singleline(&mut row.src)
                                            .desired_width(f32::INFINITY)
                                            .font(egui::TextStyle::Monospace),
                                    )
                                    .accessible_name(trf("Source text {}", &[&(i + 1)]));
                                // Key 1: type into the first source box.
                                if i == 0 && std::mem::take(&mut state.focus_first_source) {
                                    source.request_focus();
                                }
                                changed |= source.changed();
                                ui.end_row();
                                ui.label(tr("Target"));
                                changed |= ui
                                    .add(
                                        egui::TextEdit::singleline(&mut row.tgt)
                                            .desired_width(f32::INFINITY)
                                            .font(egui::TextStyle::Monospace),
                                    )
                                    .accessible_name(trf("Target text {}", &[&(i + 1)]))
                                    .changed();
                                ui.end_row();
                            });
                        if changed {
                            state.selected_row = i;
                            state.invalidate();
                            // Same frame: the chips below and every view after this panel see the new trace.
                            state.refresh();
                        }
                        if target_note(ui, state, i) {
                            state.use_model_output_as_target(i);
                        }
                        row_chips(ui, state, i);
                    });
                    if selected && state.classroom.take_scroll(ViewSection::SelectedRow, ui) {
                        shown.response.scroll_to_me(None);
                    }
                }
                if let Some(i) = remove {
                    state.remove_row(i);
                    state.refresh();
                }
                ui.add_space(6.0);
                chip_legend(ui);
            });
        Intents::new()
    }
}

/// Appends a row: another example of the model's task, or an empty row.
fn add_row(state: &mut AppState) {
    let task = match &state.model.origin {
        ModelOrigin::Bundled(name) => crate::bundled_models::Bundled::by_name(name).map(|b| b.task),
        ModelOrigin::Random { .. } => Some(Task::Dates),
        ModelOrigin::File(_) => None,
    };
    let row = task
        .map(|t| InputRow::from(t.example(state.rows.len() as u64 + 11)))
        .unwrap_or_default();
    state.add_row(row);
    state.selected_row = state.rows.len() - 1;
    state.refresh();
}

/// Whether the target is the model's own output for the source, and if not, an offer to
/// make it so: teacher forcing and cross-attention are computed against the target, so a
/// target left over from another source shows an unrelated computation. Returns whether the
/// offer was taken.
fn target_note(ui: &mut Ui, state: &AppState, i: usize) -> bool {
    if matches!(state.model.origin, ModelOrigin::Random { .. }) {
        return false; // an untrained model's output is noise, not a target to offer
    }
    let target = state.rows[i].tgt.trim();
    let output = state.model_output(i);
    if output.is_some_and(|o| o.trim() == target) {
        ui.label(RichText::new(tr("The target is the model's own output.")).weak());
        return false;
    }
    ui.horizontal_wrapped(|ui| {
        if let Some(output) = output {
            let text = trf(
                "Not the model's output: it writes “{}” for this source.",
                &[&output],
            );
            ui.label(RichText::new(text).color(warn_color(ui)));
        }
        ui.button(tr("Use the model's output as the target"))
            .on_hover_text(tr(
                "Teacher forcing and cross-attention are computed against the target: with the model's own output they show how it produced that output",
            ))
            .clicked()
    })
    .inner
}

fn row_chips(ui: &mut Ui, state: &AppState, i: usize) {
    let Some(seq) = state.trace.as_ref().and_then(|t| t.sequences.get(i)) else {
        return;
    };
    let typed_src = state
        .engine
        .typed_pieces(&state.rows[i].src, TokenSide::Source);
    let typed_tgt = state
        .engine
        .typed_pieces(&state.rows[i].tgt, TokenSide::Target);
    chip_row(
        ui,
        tr("source"),
        &seq.src_tokens,
        &seq.src_ids,
        seq.src_real(),
        Some(&typed_src),
    );
    // The decoder input is <bos> + target: typed pieces shift one to the right.
    let typed_in: Vec<String> = std::iter::once(String::new())
        .chain(typed_tgt.iter().cloned())
        .collect();
    chip_row(
        ui,
        tr("decoder in"),
        &seq.tgt_input_tokens,
        &seq.tgt_input_ids,
        seq.tgt_real(),
        Some(&typed_in),
    );
    chip_row(
        ui,
        tr("labels"),
        &seq.label_tokens,
        &seq.labels,
        seq.tgt_real(),
        Some(&typed_tgt),
    );
    if let Some(warnings) = state.warnings.get(i) {
        for w in warnings {
            ui.label(
                RichText::new(trf("Tokenizer: {}", &[w]))
                    .color(warn_color(ui))
                    .small(),
            );
        }
    }
}

fn chip_legend(ui: &mut Ui) {
    ui.label(RichText::new(tr("Chips: token on top, id below. Purple = special tokens (start, end), orange with '?' = <unk> (not in the vocabulary), hollow = <pad>. · is a space.")).small().weak());
}

/// Presenter mode's inputs: one strip with the selected row's source and decoder-input chips.
/// The whole strip is a button that opens the full panel over the figure (key 1 does too);
/// returns whether it was clicked.
pub fn strip(ui: &mut Ui, state: &AppState) -> bool {
    let row = ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 3.0;
        // Only glyphs every bundled font has: the strip must never fail to draw.
        let open = if state.presenter_inputs_open {
            "-"
        } else {
            "+"
        };
        ui.label(RichText::new(format!("{open} {}", tr("Inputs"))).strong());
        let Some(seq) = state.sequence() else {
            return;
        };
        ui.label(RichText::new(trf("row {}", &[&(state.selected_row + 1)])).weak());
        ui.add_space(6.0);
        let (real_src, real_tgt) = (seq.src_real(), seq.tgt_real());
        let source = (&seq.src_tokens[real_src.clone()], &seq.src_ids[real_src]);
        let decoder = (
            &seq.tgt_input_tokens[real_tgt.clone()],
            &seq.tgt_input_ids[real_tgt],
        );
        // Chips when both rows fit on the line; else the tokens as text, larger for the room
        // and never cut off at the window's edge (the full panel is one click away).
        let spacing = ui.spacing().item_spacing.x;
        let chips: f32 = [source, decoder]
            .iter()
            .flat_map(|(tokens, ids)| tokens.iter().zip(ids.iter()))
            .map(|(t, &id)| chip_width(ui, t, id) + spacing)
            .sum();
        let font = egui::TextStyle::Body.resolve(ui.style());
        let labels: f32 = [tr("source"), tr("decoder input")]
            .iter()
            .map(|name| {
                let galley = ui.fonts_mut(|f| {
                    f.layout_no_wrap(name.to_string(), font.clone(), egui::Color32::WHITE)
                });
                galley.size().x + spacing
            })
            .sum::<f32>()
            + 6.0
            + spacing * 2.0
            + 8.0; // the separator and the space before it
        let as_chips = ui.available_width() >= chips + labels;
        for (i, (name, (tokens, ids))) in [(tr("source"), source), (tr("decoder input"), decoder)]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                ui.add_space(6.0);
                ui.separator();
            }
            ui.label(RichText::new(name).weak());
            if as_chips {
                for (token, &id) in tokens.iter().zip(ids) {
                    chip(ui, token, id, ChipKind::of(token, false), None);
                }
            } else {
                let text: String = tokens.iter().map(|t| display_token(t)).collect();
                let text = RichText::new(text).monospace().strong();
                ui.add(egui::Label::new(text).truncate());
            }
        }
    });
    let strip = ui.interact(
        row.response.rect,
        ui.make_persistent_id("inputs_strip"),
        egui::Sense::click(),
    );
    strip.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, tr("Inputs strip")));
    strip
        .on_hover_text(tr("Open the inputs panel over the figure (1)"))
        .clicked()
}
