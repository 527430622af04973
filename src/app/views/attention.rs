//! Attention: every layer and head of one attention kind as thumbnails, one enlarged with
//! token labels, and a diff against a pinned snapshot.

use egui::{RichText, Ui, vec2};
use ndarray::Array2;

use super::{View, explain, kind_selector};
use crate::app::colormap::{Colormap, Scale};
use crate::app::figures::{attention_matrix as matrix, difference, weights_scale};
use crate::app::intents::Intents;
use crate::app::labels;
use crate::app::state::AppState;
use crate::app::widgets::heatmap::{Blocked, Heatmap, color_bar, legend};
use crate::i18n::{tr, trf};
use crate::masks::MaskMethod;
use crate::trace::AttentionKind;

/// Largest cell of the enlarged heatmap: it grows into the free space, so a short sequence
/// still reads from the back of a room.
const ENLARGED_MAX_CELL: f32 = 56.0;

#[derive(Default)]
pub struct AttentionView;

impl View for AttentionView {
    fn title(&self) -> &str {
        tr("Attention")
    }

    fn ui(&mut self, ui: &mut Ui, state: &mut AppState) -> Intents {
        let Some(seq) = state.sequence().cloned() else {
            ui.label(tr("No trace yet: enter a source and a target on the left."));
            return Intents::new();
        };
        let method = state.settings.mask.method;
        let mut pin = false;
        let mut unpin = false;
        {
            let a = &mut state.settings.attention;
            kind_selector(ui, &mut a.kind);
            ui.horizontal_wrapped(|ui| {
                ui.checkbox(&mut a.mean_over_heads, tr("Mean over heads"));
                ui.checkbox(&mut a.auto_range, tr("Auto colour range")).on_hover_text(tr("Off: 0..1 for every matrix, so they compare. On: each matrix's own min..max."));
                egui::ComboBox::from_label(tr("Colormap")).selected_text(labels::colormap(state.settings.colormap)).show_ui(ui, |ui| {
                    for c in Colormap::ALL {
                        ui.selectable_value(&mut state.settings.colormap, c, labels::colormap(c));
                    }
                });
                ui.separator();
                if ui.button(tr("Pin")).on_hover_text(tr("Store the current trace to compare against later (e.g. before fine-tuning or flipping a mask)")).clicked() {
                    pin = true;
                }
                let has_pin = state.pinned.is_some();
                // Widgets one by one (a child ui here would get only the rest of the row and
                // stack its text letter by letter when the row is nearly full).
                ui.add_enabled(has_pin, egui::Checkbox::new(&mut a.diff, tr("Diff vs pinned")))
                    .on_hover_text(tr("Show current minus pinned with a diverging colormap"));
                if ui.add_enabled(has_pin, egui::Button::new(tr("Unpin"))).clicked() {
                    unpin = true;
                }
            });
        }
        if pin {
            state.pin();
        }
        if unpin {
            state.pinned = None;
            state.settings.attention.diff = false;
        }
        if let Some(p) = &state.pinned {
            ui.label(RichText::new(trf("Pinned: {}", &[&p.label])).small().weak());
        }

        let a = state.settings.attention.clone();
        let highlight = state.classroom.highlight_for(a.kind);
        let att = seq.attention(a.kind);
        let (layers, heads) = (att.layers(), att.heads());
        let layer = a.layer.min(layers.saturating_sub(1));
        let head = a.head.min(heads.saturating_sub(1));
        let colormap = state.settings.colormap;
        let mask = seq.mask(a.kind);
        let (q_tokens, k_tokens) = seq.axis_tokens(a.kind);
        let (q_real, k_real) = match a.kind {
            AttentionKind::EncoderSelf => (seq.src_len, seq.src_len),
            AttentionKind::DecoderSelf => (seq.tgt_len, seq.tgt_len),
            AttentionKind::Cross => (seq.tgt_len, seq.src_len),
        };
        let blocked = if method == MaskMethod::None {
            Blocked::Overlay
        } else {
            Blocked::Replace
        };
        let fixed = Scale::unit(colormap);

        let mut picked: Option<(usize, Option<usize>)> = None;
        ui.add_space(4.0);
        let thumb_cols = heads + 1;
        let thumb = ((ui.available_width() * 0.38) / thumb_cols as f32 - 8.0).clamp(36.0, 90.0);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                // As wide as the thumbnails (the wrapping legend would take the whole row).
                ui.set_max_width((thumb + 8.0) * thumb_cols as f32 + 64.0);
                ui.label(RichText::new(tr("Layers x heads (click one)")).strong());
                egui::Grid::new("thumbs").spacing(vec2(6.0, 6.0)).show(ui, |ui| {
                    ui.label("");
                    for h in 0..heads {
                        ui.label(RichText::new(trf("head {}", &[&h])).small());
                    }
                    ui.label(RichText::new(tr("mean")).small());
                    ui.end_row();
                    // One clickable thumbnail of the layer x head grid.
                    let thumbnail = |ui: &mut Ui, values: &Array2<f32>, label: String, selected: bool| {
                        Heatmap::new(values.view())
                            .mask(mask)
                            .blocked(blocked)
                            .scale(fixed)
                            .max_size(vec2(thumb, thumb))
                            .cell_range(1.0, 12.0)
                            .clickable(label, selected)
                            .show(ui)
                            .response
                            .clicked()
                    };
                    for l in 0..layers {
                        ui.label(RichText::new(trf("layer {}", &[&l])).small());
                        for h in 0..heads {
                            let m = att.head(l, h);
                            let selected = !a.mean_over_heads && l == layer && h == head;
                            if thumbnail(ui, &m, trf("Layer {} head {}", &[&l, &h]), selected) {
                                picked = Some((l, Some(h)));
                            }
                        }
                        let m = att.mean_over_heads(l);
                        let selected = a.mean_over_heads && l == layer;
                        if thumbnail(ui, &m, trf("Layer {} mean over heads", &[&l]), selected) {
                            picked = Some((l, None));
                        }
                        ui.end_row();
                    }
                });
                ui.add_space(6.0);
                legend(ui);
            });
            ui.separator();
            ui.vertical(|ui| {
                let which = if a.mean_over_heads { trf("layer {}, mean over {} heads", &[&layer, &heads]) } else { trf("layer {}, head {}", &[&layer, &head]) };
                ui.label(RichText::new(format!("{} - {which}", labels::attention_kind(a.kind))).strong());
                let current = matrix(&seq, a.kind, layer, head, a.mean_over_heads);
                let side = (ui.available_width() - 20.0).min(ui.available_height().max(300.0) - 60.0).clamp(220.0, 620.0);
                let size = vec2(side, side);
                let show_values = state.settings.show_values;
                // The enlarged heatmap, current weights or their difference from the pinned ones.
                let enlarged = |values| {
                    Heatmap::new(values)
                        .labels(q_tokens, k_tokens)
                        .highlight_cell(highlight)
                        .real_lengths(q_real, k_real)
                        .mask(mask)
                        .max_size(size)
                        .cell_range(4.0, ENLARGED_MAX_CELL)
                        .show_values(show_values)
                };
                if a.diff {
                    let pinned = state.pinned.as_ref().map(|p| matrix(&p.sequence, a.kind, layer, head, a.mean_over_heads));
                    match pinned.as_ref().map(|p| difference(&current, p)) {
                        Some(Some((diff, scale))) => {
                            enlarged(diff.view())
                                .blocked(Blocked::Overlay)
                                .scale(scale)
                                .value_name(tr("current - pinned"))
                                .name(tr("Attention difference heatmap"))
                                .show(ui);
                            color_bar(ui, scale, 140.0);
                            explain(ui, tr("Blue: less attention than when pinned; red: more."));
                        }
                        Some(None) => {
                            ui.label(RichText::new(tr("The pinned trace has a different shape (the tokens changed). Pin again to compare.")).color(ui.visuals().warn_fg_color));
                        }
                        None => {
                            ui.label(tr("Nothing pinned yet."));
                        }
                    }
                } else {
                    let scale = weights_scale(&current, mask, a.auto_range, colormap);
                    enlarged(current.view())
                        .blocked(blocked)
                        .scale(scale)
                        .value_name(tr("weight"))
                        .name(tr("Attention heatmap"))
                        .show(ui);
                    color_bar(ui, scale, 140.0);
                }
                let hint = match a.kind {
                    AttentionKind::EncoderSelf => tr("Each source token (row) attends over all real source tokens (columns)."),
                    AttentionKind::DecoderSelf => tr("Each decoder position (row) may only attend to itself and earlier positions: the causal mask."),
                    AttentionKind::Cross => tr("Each decoder position (row) looks at the encoder's outputs for the source (columns)."),
                };
                explain(ui, hint);
            });
        });
        if let Some((l, h)) = picked {
            let a = &mut state.settings.attention;
            a.layer = l;
            match h {
                Some(h) => {
                    a.head = h;
                    a.mean_over_heads = false;
                }
                None => a.mean_over_heads = true,
            }
        }
        Intents::new()
    }
}
