//! Masks: the causal and padding masks as grids, how they combine, and what they do to one
//! head's scores on the way to its weights. Two live readouts prove (or disprove) that the
//! masks keep padding and future tokens from leaking into real outputs.

use egui::{Color32, RichText, Ui, vec2};

use super::{View, explain, kind_selector, layer_head_picker, tile, wrap_top};
use crate::app::colormap::Scale;
use crate::app::figures::{BatchMasks, head_slice};
use crate::app::intents::Intents;
use crate::app::state::AppState;
use crate::app::widgets::delta_text;
use crate::app::widgets::heatmap::{Blocked, Heatmap, color_bar, legend};
use crate::i18n::{tr, trf};
use crate::masks::MaskMethod;
use crate::trace::{self, AttentionKind};

#[derive(Default)]
pub struct MasksView;

pub const OK_COLOR: Color32 = Color32::from_rgb(0x3c, 0xb0, 0x5a);
pub const BAD_COLOR: Color32 = Color32::from_rgb(0xe8, 0x4a, 0x3a);

fn readout(ui: &mut Ui, label: &str, delta: Option<f32>, detail: &str) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(label).strong());
        match delta {
            Some(d) => {
                let ok = d < 1e-5;
                ui.label(
                    RichText::new(trf("max |delta| = {}", &[&delta_text(d)]))
                        .monospace()
                        .strong()
                        .color(if ok { OK_COLOR } else { BAD_COLOR }),
                );
                ui.label(
                    RichText::new(if ok { tr("no leak") } else { tr("LEAK") })
                        .strong()
                        .color(if ok { OK_COLOR } else { BAD_COLOR }),
                );
            }
            None => {
                ui.label(RichText::new(tr("n/a")).weak());
            }
        }
    });
    ui.label(RichText::new(detail).small().weak());
}

impl View for MasksView {
    fn title(&self) -> &str {
        tr("Masks")
    }

    fn ui(&mut self, ui: &mut Ui, state: &mut AppState) -> Intents {
        let AppState {
            trace,
            settings: app_settings,
            readouts,
            selected_row,
            classroom,
            ..
        } = state;
        let selected_row = *selected_row;
        // The cell a lesson step outlines, per attention kind.
        let highlight = |kind| classroom.highlight_for(kind);
        let Some(batch) = trace.as_ref() else {
            ui.label(tr("No trace yet: enter a source and a target on the left."));
            return Intents::new();
        };
        let Some(seq) = batch.sequences.get(selected_row) else {
            return Intents::new();
        };
        let settings = app_settings.mask;
        let avail = ui.available_width();
        // Presenter mode: two larger grids per row instead of three.
        let (per_row, max_tile) = if app_settings.presenter {
            (2.0, 380.0)
        } else {
            (3.0, 260.0)
        };

        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new(tr("Live leak tests (re-run on every change)")).heading().size(16.0));
            let r = &*readouts;
            readout(
                ui,
                tr("Padding changes real outputs by"),
                r.padding_delta,
                &trf(
                    "The selected row alone vs the same row in a batch where it gets {} source and {} target padding positions; logits compared at its real positions. Needs the source padding mask (the target side is already covered by the causal mask).",
                    &[&r.padding_added.0, &r.padding_added.1],
                ),
            );
            readout(
                ui,
                tr("Changing a future token changes earlier outputs by"),
                r.future_delta,
                tr("The last target token is replaced by another; logits at all earlier decoder positions compared. The causal mask must make this exactly 0."),
            );
            if let Some(note) = &r.note {
                ui.label(RichText::new(note).small().color(ui.visuals().warn_fg_color));
            }
        });

        ui.add_space(6.0);
        ui.label(RichText::new(tr("The masks")).heading().size(16.0));
        explain(
            ui,
            tr(
                "Rows are queries, columns keys. Hover a cell to see why it is open or blocked. Switch masks on and off in the top bar.",
            ),
        );
        legend(ui);
        let BatchMasks {
            causal,
            src_padding: src_pad,
            tgt_padding: tgt_pad,
            row_names,
            src_positions: src_pos,
            tgt_positions: tgt_pos,
        } = BatchMasks::new(batch, seq);
        let tile_w = ((avail - 60.0) / per_row).clamp(150.0, max_tile);
        let size = vec2(tile_w, tile_w);
        let off = |on: bool| if on { "" } else { tr(" (off)") };
        wrap_top(ui, |ui| {
            ui.spacing_mut().item_spacing.x = 18.0;
            tile(ui, tile_w, |ui| {
                ui.label(
                    RichText::new(trf("Causal (look-ahead){}", &[&off(settings.causal)])).strong(),
                );
                Heatmap::mask_only(&causal)
                    .labels(&seq.tgt_input_tokens, &seq.tgt_input_tokens)
                    .real_lengths(seq.tgt_len, seq.tgt_len)
                    .max_size(size)
                    .dim(!settings.causal)
                    .highlight_cell(highlight(AttentionKind::DecoderSelf))
                    .name(tr("Causal mask grid"))
                    .show(ui);
            });
            tile(ui, tile_w, |ui| {
                ui.label(
                    RichText::new(trf("Source padding{}", &[&off(settings.src_padding)])).strong(),
                );
                Heatmap::mask_only(&src_pad)
                    .labels(&row_names, &src_pos)
                    .axis_names(tr("batch"), tr("source position"))
                    .highlight_row(Some(selected_row))
                    .max_size(vec2(tile_w, tile_w * 0.6))
                    .dim(!settings.src_padding)
                    .name(tr("Source padding mask grid"))
                    .show(ui);
            });
            tile(ui, tile_w, |ui| {
                ui.label(
                    RichText::new(trf("Target padding{}", &[&off(settings.tgt_padding)])).strong(),
                );
                Heatmap::mask_only(&tgt_pad)
                    .labels(&row_names, &tgt_pos)
                    .axis_names(tr("batch"), tr("decoder position"))
                    .highlight_row(Some(selected_row))
                    .max_size(vec2(tile_w, tile_w * 0.6))
                    .dim(!settings.tgt_padding)
                    .name(tr("Target padding mask grid"))
                    .show(ui);
            });
            tile(ui, tile_w, |ui| {
                ui.label(RichText::new(tr("Decoder self = causal + target padding")).strong());
                Heatmap::mask_only(&seq.masks.decoder_self)
                    .labels(&seq.tgt_input_tokens, &seq.tgt_input_tokens)
                    .real_lengths(seq.tgt_len, seq.tgt_len)
                    .max_size(size)
                    .highlight_cell(highlight(AttentionKind::DecoderSelf))
                    .name(tr("Decoder self-attention mask grid"))
                    .show(ui);
            });
            tile(ui, tile_w, |ui| {
                ui.label(RichText::new(tr("Cross = source padding")).strong());
                Heatmap::mask_only(&seq.masks.cross)
                    .labels(&seq.tgt_input_tokens, &seq.src_tokens)
                    .real_lengths(seq.tgt_len, seq.src_len)
                    .axis_names(tr("decoder query"), tr("source key"))
                    .max_size(size)
                    .highlight_cell(highlight(AttentionKind::Cross))
                    .name(tr("Cross-attention mask grid"))
                    .show(ui);
            });
        });

        ui.add_space(8.0);
        ui.separator();
        ui.label(
            RichText::new(tr("Scores -> masked scores -> weights"))
                .heading()
                .size(16.0),
        );
        explain(
            ui,
            match settings.method {
                MaskMethod::Additive => tr(
                    "Additive (correct): blocked scores become -1e9 before softmax, so each row's open weights renormalise and sum to 1.",
                ),
                MaskMethod::Multiply => tr(
                    "Multiply (a common mistake): softmax runs over every key, then blocked weights are zeroed, so rows no longer sum to 1 (sums in red).",
                ),
                MaskMethod::None => {
                    tr("None: the mask is ignored; hatching shows what would have been blocked.")
                }
            },
        );
        let colormap = app_settings.colormap;
        let show_values = app_settings.show_values;
        let vs = &mut app_settings.masks_view;
        kind_selector(ui, &mut vs.kind);
        let att = seq.attention(vs.kind);
        layer_head_picker(
            ui,
            att.layers(),
            att.heads(),
            &mut vs.layer,
            Some(&mut vs.head),
        );
        let (layer, head, kind) = (vs.layer, vs.head, vs.kind);
        let (q_tokens, k_tokens) = seq.axis_tokens(kind);
        let (q_real, k_real) = match kind {
            AttentionKind::EncoderSelf => (seq.src_len, seq.src_len),
            AttentionKind::DecoderSelf => (seq.tgt_len, seq.tgt_len),
            AttentionKind::Cross => (seq.tgt_len, seq.src_len),
        };
        let mask = seq.mask(kind);
        let scores = head_slice(&att.scores, layer, head);
        let masked = head_slice(&att.masked_scores, layer, head);
        let weights = head_slice(&att.weights, layer, head);
        let sums = trace::row_sums(&weights.to_owned());
        let w = ((ui.available_width() - 110.0) / per_row).clamp(170.0, 420.0);
        let size = vec2(w, w);
        let masked_style = if settings.method == MaskMethod::Additive {
            Blocked::Replace
        } else {
            Blocked::Overlay
        };
        let weights_style = if settings.method == MaskMethod::None {
            Blocked::Overlay
        } else {
            Blocked::Replace
        };
        let raw_scale = Scale::auto(scores, None, colormap);
        let masked_scale = Scale::auto(masked, Some(mask), colormap);
        let weight_scale = Scale::unit(colormap);
        wrap_top(ui, |ui| {
            ui.spacing_mut().item_spacing.x = 14.0;
            tile(ui, w + 10.0, |ui| {
                ui.label(RichText::new(tr("1. scores = QK^T / sqrt(d_k)")).strong());
                Heatmap::new(scores)
                    .labels(q_tokens, k_tokens)
                    .highlight_cell(highlight(kind))
                    .real_lengths(q_real, k_real)
                    .mask(mask)
                    .blocked(Blocked::Overlay)
                    .scale(raw_scale)
                    .value_name(tr("score"))
                    .max_size(size)
                    .show_values(show_values)
                    .name(tr("Scores heatmap"))
                    .show(ui);
                color_bar(ui, raw_scale, 100.0);
            });
            tile(ui, w + 10.0, |ui| {
                ui.label(RichText::new(tr("2. masked scores (what softmax sees)")).strong());
                Heatmap::new(masked)
                    .labels(q_tokens, k_tokens)
                    .highlight_cell(highlight(kind))
                    .real_lengths(q_real, k_real)
                    .mask(mask)
                    .blocked(masked_style)
                    .scale(masked_scale)
                    .value_name(tr("masked score"))
                    .max_size(size)
                    .show_values(show_values)
                    .name(tr("Masked scores heatmap"))
                    .show(ui);
                color_bar(ui, masked_scale, 100.0);
            });
            tile(ui, w + 60.0, |ui| {
                ui.label(RichText::new(tr("3. weights = softmax, with row sums")).strong());
                Heatmap::new(weights)
                    .labels(q_tokens, k_tokens)
                    .highlight_cell(highlight(kind))
                    .real_lengths(q_real, k_real)
                    .mask(mask)
                    .blocked(weights_style)
                    .scale(weight_scale)
                    .value_name(tr("weight"))
                    .max_size(size)
                    .row_sums(&sums)
                    .show_values(show_values)
                    .name(tr("Weights heatmap"))
                    .show(ui);
                color_bar(ui, weight_scale, 100.0);
            });
        });
        Intents::new()
    }
}
