//! Masks: the causal and padding masks as grids, how they combine, and what they do to one
//! head's scores on the way to its weights. Two live readouts prove (or disprove) that the
//! masks keep padding and future tokens from leaking into real outputs.

use egui::{Color32, RichText, Ui, vec2};

use super::{View, explain, kind_selector, layer_head_picker, tile, wrap_top};
use crate::app::figures::{BatchMasks, HeadPipeline};
use crate::app::intents::Intents;
use crate::app::labels;
use crate::app::settings::{MasksViewSettings, Settings};
use crate::app::state::AppState;
use crate::app::state::classroom::Classroom;
use crate::app::widgets::delta_text;
use crate::app::widgets::heatmap::{Blocked, Heatmap, LONG_SHORT_STRETCH, color_bar, legend};
use crate::i18n::{tr, trf};
use crate::lessons::{Readout, ViewSection};
use crate::masks::{MaskGrid, MaskMethod, MaskSettings, PadSide};
use crate::model::leaks::LeakReadouts;
use crate::trace::{self, AttentionKind, BatchTrace, SequenceTrace};

#[derive(Default)]
pub struct MasksView;

pub const OK_COLOR: Color32 = Color32::from_rgb(0x3c, 0xb0, 0x5a);
pub const BAD_COLOR: Color32 = Color32::from_rgb(0xe8, 0x4a, 0x3a);

impl View for MasksView {
    fn title(&self) -> &str {
        tr("Masks")
    }

    fn ui(&mut self, ui: &mut Ui, state: &mut AppState) -> Intents {
        let AppState {
            trace,
            settings,
            readouts,
            selected_row,
            classroom,
            ..
        } = state;
        let Some(batch) = trace.as_ref() else {
            ui.label(tr("No trace yet: enter a source and a target on the left."));
            return Intents::new();
        };
        let Some(seq) = batch.sequences.get(*selected_row) else {
            return Intents::new();
        };
        let grid = TileGrid::new(ui.available_width(), settings.presenter);
        leak_tests(ui, readouts, settings.mask.pad_side);
        ui.add_space(6.0);
        mask_grids(
            ui,
            batch,
            seq,
            *selected_row,
            settings.mask,
            classroom,
            grid,
        );
        ui.add_space(8.0);
        ui.separator();
        if classroom.take_scroll(ViewSection::ScorePipeline, ui) {
            ui.scroll_to_cursor(Some(egui::Align::TOP));
        }
        score_pipeline(ui, seq, settings, classroom, readouts, grid);
        Intents::new()
    }
}

/// How many tiles share a row and how large one may grow: presenter mode shows two larger
/// grids per row instead of three.
#[derive(Clone, Copy)]
struct TileGrid {
    per_row: f32,
    /// The mask grids' side, from the view's width when it was entered.
    mask_side: f32,
}

impl TileGrid {
    fn new(view_width: f32, presenter: bool) -> Self {
        let (per_row, max_tile) = if presenter {
            (2.0, 380.0)
        } else {
            (3.0, 260.0)
        };
        Self {
            per_row,
            mask_side: ((view_width - 60.0) / per_row).clamp(150.0, max_tile),
        }
    }

    /// The side of one pipeline heatmap in a row `width` wide.
    fn pipeline_side(self, width: f32) -> f32 {
        ((width - 110.0) / self.per_row).clamp(170.0, 420.0)
    }
}

/// The two live leak tests in a frame: padding and a changed future token.
fn leak_tests(ui: &mut Ui, readouts: &LeakReadouts, pad_side: PadSide) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(
            RichText::new(tr("Live leak tests (re-run on every change)"))
                .heading()
                .size(crate::app::fonts::SECTION_POINTS),
        );
        leak_readout(
            ui,
            tr("Padding changes real outputs by"),
            readouts.padding_delta,
            &trf(
                match pad_side {
                    PadSide::Right => {
                        "The selected row alone vs the same row in a batch where it gets {} source and {} target padding positions; logits compared at its real positions. Needs the source padding mask (the target side is already covered by the causal mask)."
                    }
                    // Left pads come before the real target tokens, so the causal mask lets
                    // every real query see them.
                    PadSide::Left => {
                        "The selected row alone vs the same row in a batch where it gets {} source and {} target padding positions, on the left; logits compared at its real positions. Needs both padding masks: left target pads come before the real tokens, so the causal mask does not hide them."
                    }
                },
                &[&readouts.padding_added.0, &readouts.padding_added.1],
            ),
        );
        leak_readout(
            ui,
            tr("Changing a future token changes earlier outputs by"),
            readouts.future_delta,
            tr(
                "The last target token is replaced by another; logits at all earlier decoder positions compared. The causal mask must make this exactly 0.",
            ),
        );
        if let Some(problem) = &readouts.problem {
            ui.label(
                RichText::new(labels::leak_problem(problem))
                    .small()
                    .color(ui.visuals().warn_fg_color),
            );
        }
    });
}

/// One leak test: its largest change in green ("no leak") or red ("LEAK"), and what it compares.
fn leak_readout(ui: &mut Ui, label: &str, delta: Option<f32>, detail: &str) {
    readout_line(ui, label, delta);
    ui.label(RichText::new(detail).small().weak());
}

/// A leak test's label and its largest change, on one line.
fn readout_line(ui: &mut Ui, label: &str, delta: Option<f32>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(label).strong());
        match delta {
            Some(d) => {
                let ok = d < 1e-5;
                let color = if ok { OK_COLOR } else { BAD_COLOR };
                ui.label(
                    RichText::new(trf("max |delta| = {}", &[&delta_text(d)]))
                        .monospace()
                        .strong()
                        .color(color),
                );
                ui.label(
                    RichText::new(if ok { tr("no leak") } else { tr("LEAK") })
                        .strong()
                        .color(color),
                );
            }
            None => {
                ui.label(RichText::new(tr("n/a")).weak());
            }
        }
    });
}

/// The leak readout a lesson step quotes, framed on one line next to the cells the step
/// outlines: the readouts at the top of the masks view are out of sight from the score
/// pipeline, and the attention view has none.
pub fn quoted_readout(ui: &mut Ui, readouts: &LeakReadouts, which: Readout) {
    let (label, delta) = match which {
        Readout::Padding => (
            tr("Padding changes real outputs by"),
            readouts.padding_delta,
        ),
        Readout::FutureToken => (
            tr("Changing a future token changes earlier outputs by"),
            readouts.future_delta,
        ),
    };
    egui::Frame::group(ui.style()).show(ui, |ui| readout_line(ui, label, delta));
}

/// The three separate masks (causal, source and target padding of the whole batch) and the
/// two they combine into, each faded when its switch is off.
fn mask_grids(
    ui: &mut Ui,
    batch: &BatchTrace,
    seq: &SequenceTrace,
    selected_row: usize,
    switches: MaskSettings,
    classroom: &Classroom,
    grid: TileGrid,
) {
    ui.label(
        RichText::new(tr("The masks"))
            .heading()
            .size(crate::app::fonts::SECTION_POINTS),
    );
    explain(
        ui,
        tr(
            "Rows are queries, columns keys. Hover a cell to see why it is open or blocked. Switch masks on and off in the top bar.",
        ),
    );
    legend(ui);
    let masks = BatchMasks::new(batch, seq);
    let side = grid.mask_side;
    let square = vec2(side, side);
    // The padding grids have one row per batch row: wider than tall.
    let batch_rows = vec2(side, side * 0.6);
    // With the method "none" no mask is applied, whatever the switches say: every grid is
    // drawn open and faded, and says why, so nothing reads as blocked that is not.
    let applied = switches.method != MaskMethod::None;
    if !applied {
        ui.label(
            RichText::new(tr(
                "Not applied: with the mask method “none” nothing is blocked, so every grid below is open.",
            ))
            .strong()
            .color(ui.visuals().warn_fg_color),
        );
    }
    let open = |m: &MaskGrid| MaskGrid::all_open(m.shape());
    let unapplied = (!applied).then(|| {
        [
            open(&masks.causal),
            open(&masks.src_padding),
            open(&masks.tgt_padding),
            open(&seq.masks.decoder_self),
            open(&seq.masks.cross),
        ]
    });
    let [causal, src_padding, tgt_padding, decoder_self, cross] = match &unapplied {
        Some([a, b, c, d, e]) => [a, b, c, d, e],
        None => [
            &masks.causal,
            &masks.src_padding,
            &masks.tgt_padding,
            &seq.masks.decoder_self,
            &seq.masks.cross,
        ],
    };
    let off = |on: bool| {
        if !applied {
            tr(" (not applied: method none)")
        } else if on {
            ""
        } else {
            tr(" (off)")
        }
    };
    let (tgt, src) = (&seq.tgt_input_tokens, &seq.src_tokens);
    wrap_top(ui, |ui| {
        ui.spacing_mut().item_spacing.x = 18.0;
        titled_tile(
            ui,
            side,
            &trf("Causal (look-ahead){}", &[&off(switches.causal)]),
            Heatmap::mask_only(causal)
                .labels(tgt, tgt)
                .real_ranges(seq.tgt_real(), seq.tgt_real())
                .max_size(square)
                .dim(!(switches.causal && applied))
                .highlight_cells(classroom.outlined_for(AttentionKind::DecoderSelf))
                .name(tr("Causal mask grid")),
        );
        titled_tile(
            ui,
            side,
            &trf("Source padding{}", &[&off(switches.src_padding)]),
            Heatmap::mask_only(src_padding)
                .labels(&masks.row_names, &masks.src_positions)
                .axis_names(tr("batch"), tr("source position"))
                .highlight_row(Some(selected_row))
                .max_size(batch_rows)
                .stretch(LONG_SHORT_STRETCH)
                .dim(!(switches.src_padding && applied))
                .name(tr("Source padding mask grid")),
        );
        titled_tile(
            ui,
            side,
            &trf("Target padding{}", &[&off(switches.tgt_padding)]),
            Heatmap::mask_only(tgt_padding)
                .labels(&masks.row_names, &masks.tgt_positions)
                .axis_names(tr("batch"), tr("decoder position"))
                .highlight_row(Some(selected_row))
                .max_size(batch_rows)
                .stretch(LONG_SHORT_STRETCH)
                .dim(!(switches.tgt_padding && applied))
                .name(tr("Target padding mask grid")),
        );
        titled_tile(
            ui,
            side,
            &format!(
                "{}{}",
                tr("Decoder self = causal + target padding"),
                off(true)
            ),
            Heatmap::mask_only(decoder_self)
                .labels(tgt, tgt)
                .real_ranges(seq.tgt_real(), seq.tgt_real())
                .max_size(square)
                .dim(!applied)
                .highlight_cells(classroom.outlined_for(AttentionKind::DecoderSelf))
                .name(tr("Decoder self-attention mask grid")),
        );
        titled_tile(
            ui,
            side,
            &format!("{}{}", tr("Cross = source padding"), off(true)),
            Heatmap::mask_only(cross)
                .labels(tgt, src)
                .real_ranges(seq.tgt_real(), seq.src_real())
                .axis_names(tr("decoder query"), tr("source key"))
                .max_size(square)
                .stretch(LONG_SHORT_STRETCH)
                .dim(!applied)
                .highlight_cells(classroom.outlined_for(AttentionKind::Cross))
                .name(tr("Cross-attention mask grid")),
        );
    });
}

/// A tile with a bold title over one heatmap.
fn titled_tile(ui: &mut Ui, width: f32, title: &str, heatmap: Heatmap) {
    tile(ui, width, |ui| {
        ui.label(RichText::new(title).strong());
        heatmap.show(ui);
    });
}

/// One head's way from raw scores through the masked scores to the weights, with the kind,
/// layer and head pickers and what the chosen mask method does.
fn score_pipeline(
    ui: &mut Ui,
    seq: &SequenceTrace,
    settings: &mut Settings,
    classroom: &Classroom,
    readouts: &LeakReadouts,
    grid: TileGrid,
) {
    ui.label(
        RichText::new(tr("Scores -> masked scores -> weights"))
            .heading()
            .size(crate::app::fonts::SECTION_POINTS),
    );
    if let Some(which) = classroom.readout {
        quoted_readout(ui, readouts, which);
    }
    let method = settings.mask.method;
    explain(ui, method_explanation(method));
    pipeline_pickers(ui, seq, &mut settings.masks_view);
    let kind = settings.masks_view.kind;
    let MasksViewSettings { layer, head, .. } = settings.masks_view;
    let Some(pipeline) = HeadPipeline::new(seq, kind, layer, head, settings.colormap) else {
        return;
    };
    let (q_tokens, k_tokens) = seq.axis_tokens(kind);
    let (q_real, k_real) = seq.real_ranges(kind);
    let mask = seq.mask(kind);
    let sums = trace::row_sums(&pipeline.weights.to_owned());
    let side = grid.pipeline_side(ui.available_width());
    let stage = |values| {
        Heatmap::new(values)
            .labels(q_tokens, k_tokens)
            .highlight_cells(classroom.outlined_for(kind))
            .real_ranges(q_real.clone(), k_real.clone())
            .mask(mask)
            .max_size(vec2(side, side))
            .show_values(settings.show_values)
    };
    // Raw scores were never masked: their blocked cells keep their colour under the pattern.
    // Masked scores are replaced only where the additive method wrote -1e9; weights wherever
    // a method applied the mask.
    let masked_style = if method == MaskMethod::Additive {
        Blocked::Replace
    } else {
        Blocked::Overlay
    };
    let weights_style = if method == MaskMethod::None {
        Blocked::Overlay
    } else {
        Blocked::Replace
    };
    wrap_top(ui, |ui| {
        ui.spacing_mut().item_spacing.x = 14.0;
        tile(ui, side + 10.0, |ui| {
            ui.label(RichText::new(tr("1. scores = QK^T / sqrt(d_k)")).strong());
            stage(pipeline.scores)
                .blocked(Blocked::Overlay)
                .scale(pipeline.raw_scale)
                .value_name(tr("score"))
                .name(tr("Scores heatmap"))
                .show(ui);
            color_bar(ui, pipeline.raw_scale, 100.0);
        });
        tile(ui, side + 10.0, |ui| {
            ui.label(RichText::new(tr("2. masked scores (what softmax sees)")).strong());
            stage(pipeline.masked)
                .blocked(masked_style)
                .scale(pipeline.masked_scale)
                .value_name(tr("masked score"))
                .name(tr("Masked scores heatmap"))
                .show(ui);
            color_bar(ui, pipeline.masked_scale, 100.0);
        });
        // Wider: the row sums sit to the right of the grid.
        tile(ui, side + 60.0, |ui| {
            ui.label(RichText::new(tr("3. weights = softmax, with row sums")).strong());
            stage(pipeline.weights)
                .blocked(weights_style)
                .scale(pipeline.weight_scale)
                .value_name(tr("weight"))
                .row_sums(&sums)
                // The tile's extra width is for the sums, so the cells match the other two.
                .max_size(vec2(side + 50.0, side))
                .name(tr("Weights heatmap"))
                .show(ui);
            color_bar(ui, pipeline.weight_scale, 100.0);
        });
    });
}

/// The kind, layer and head whose pipeline is shown.
fn pipeline_pickers(ui: &mut Ui, seq: &SequenceTrace, picked: &mut MasksViewSettings) {
    kind_selector(ui, &mut picked.kind);
    let att = seq.attention(picked.kind);
    layer_head_picker(
        ui,
        att.layers(),
        att.heads(),
        &mut picked.layer,
        Some(&mut picked.head),
    );
}

/// What the chosen mask method does to scores and weights.
fn method_explanation(method: MaskMethod) -> &'static str {
    match method {
        MaskMethod::Additive => tr(
            "Additive (correct): blocked scores become -1e9 before softmax, so each row's open weights renormalise and sum to 1.",
        ),
        MaskMethod::Multiply => tr(
            "Multiply (a common mistake): softmax runs over every key, then blocked weights are zeroed, so rows no longer sum to 1 (sums in red).",
        ),
        MaskMethod::None => {
            tr("None: the mask is ignored; hatching shows what would have been blocked.")
        }
    }
}
