//! Presenter mode's figures: the grid a masks or attention step is about, filling the centre
//! of the window with large token labels and the lesson's outlined cell, and the controls a
//! presenter touches on one line above it. Each figure reports its rect and label size
//! ([`regions::remember_figure`]) so layout checks can see what the audience sees. The full
//! views stay one F5 away.

use egui::{Color32, RichText, Ui, vec2};

use super::masks::{BAD_COLOR, OK_COLOR};
use crate::app::colormap::Scale;
use crate::app::figures::{HeadPipeline, attention_matrix, weights_scale};
use crate::app::labels;
use crate::app::regions::{self, FigureInfo};
use crate::app::state::AppState;
use crate::app::widgets::delta_text;
use crate::app::widgets::heatmap::{
    Blocked, Heatmap, HeatmapResponse, color_bar_under, legend, legend_stacked,
};
use crate::i18n::{tr, trf};
use crate::masks::{MaskGrid, MaskMethod};
use crate::trace::AttentionKind;

/// Token labels of the presenter figures, in points (21 px at the presenter zoom): the least,
/// used while cells are small.
pub const LABEL_POINTS: f32 = 14.0;
/// A grid whose rows come out shorter than a line of [`LABEL_POINTS`] (12 rows at 1280x720)
/// draws its labels down to this size (18 px at the presenter zoom) rather than label only
/// every second row.
const FITTED_LABEL_POINTS: f32 = 12.0;
/// Labels grow with the cells up to this, so a large grid on a large screen has labels the
/// back of the room reads too.
pub const MAX_LABEL_POINTS: f32 = 20.0;

/// The label size for a `rows` x `cols` grid in `room`: about half the cell side the
/// room allows, within [`LABEL_POINTS`]..=[`MAX_LABEL_POINTS`] (the heatmap shrinks it
/// towards [`LABEL_POINTS`] where its rows come out shorter than a line).
fn label_points(room: egui::Vec2, rows: usize, cols: usize) -> f32 {
    let cell = (room.x / cols.max(1) as f32).min(room.y / rows.max(1) as f32);
    (0.5 * cell).clamp(LABEL_POINTS, MAX_LABEL_POINTS).round()
}

/// Largest cell, in points: a short sequence should not turn into a few giant squares.
const MAX_CELL: f32 = 90.0;
/// Width of the column beside the attention heatmap (colour bar, legend, what to read): a
/// fifth of the room, within these bounds, so a projector's narrow centre goes to the cells.
const SIDE_COLUMN: std::ops::RangeInclusive<f32> = 120.0..=170.0;
/// Width of a colour bar under a figure.
const BAR_WIDTH: f32 = 160.0;
/// Gap between the two grids of the masks figure.
const GAP: f32 = 24.0;

/// The masks view in presenter mode: the mask of the chosen attention kind beside what it
/// does to one head's weights (with row sums), then the leak readouts on one line.
pub fn masks_figure(ui: &mut Ui, state: &mut AppState) {
    let Some(seq) = state.sequence().cloned() else {
        ui.label(tr("No trace yet: enter a source and a target on the left."));
        return;
    };
    let kind = {
        let vs = &mut state.settings.masks_view;
        ui.horizontal_wrapped(|ui| {
            // Tighter than egui's default, so the row stays one line on a projector.
            ui.spacing_mut().item_spacing.x = 4.0;
            kind_buttons(ui, &mut vs.kind);
            ui.separator();
            let att = seq.attention(vs.kind);
            number_buttons(ui, tr("Layer"), att.layers(), &mut vs.layer);
            number_buttons(ui, tr("Head"), att.heads(), &mut vs.head);
        });
        vs.kind
    };
    let vs = state.settings.masks_view.clone();
    let method = state.settings.mask.method;
    let Some(pipeline) = HeadPipeline::new(&seq, kind, vs.layer, vs.head, state.settings.colormap)
    else {
        return;
    };
    let mask = seq.mask(kind);
    let (q_tokens, k_tokens) = seq.axis_tokens(kind);
    let (q_real, k_real) = seq.real_ranges(kind);
    let highlight = state.classroom.outlined_for(kind);
    let sums = crate::trace::row_sums(&pipeline.weights.to_owned());
    // Room for a title line above each grid, and under them what each grid's key and the
    // readouts took last frame (they wrap differently at each width).
    let line = ui.spacing().interact_size.y;
    let below_id = ui.scope_id().with("presenter_masks_below");
    let below = ui
        .data(|d| d.get_temp::<f32>(below_id))
        .unwrap_or(3.0 * line + 16.0);
    let max_size = vec2(
        ((ui.available_width() - GAP) / 2.0).max(120.0),
        (ui.available_height() - line - below - 8.0).max(120.0),
    );
    // Three columns' worth of room for the row labels.
    let labels = label_points(max_size, q_tokens.len(), k_tokens.len() + 3);
    let weights_style = if method == MaskMethod::None {
        Blocked::Overlay
    } else {
        Blocked::Replace
    };
    // Each grid with its key below it, in a column exactly half the room wide.
    let column = egui::Layout::top_down(egui::Align::Min);
    let grids = ui.horizontal_top(|ui| {
        let mask_grid = ui.allocate_ui_with_layout(max_size, column, |ui| {
            // With the method "none" no mask is applied: the grid is drawn open and says so.
            let applied = method != MaskMethod::None;
            let mut title = trf("{}: mask", &[&labels::attention_kind(kind)]);
            if !applied {
                title.push_str(tr(" (not applied: method none)"));
            }
            ui.label(RichText::new(title).strong());
            let open = MaskGrid::all_open(mask.shape());
            let grid = Heatmap::mask_only(if applied { mask } else { &open })
                .labels(q_tokens, k_tokens)
                .real_ranges(q_real.clone(), k_real.clone())
                .highlight_cells(highlight.iter().copied())
                .dim(!applied)
                .max_size(max_size)
                .cell_range(4.0, MAX_CELL)
                .label_size(labels)
                .label_size_at_least(FITTED_LABEL_POINTS)
                .name(tr("Mask grid"))
                .show(ui);
            remember(ui, &grid);
            legend(ui);
            grid.response.rect
        });
        ui.add_space(GAP);
        let weights_grid = ui.allocate_ui_with_layout(max_size, column, |ui| {
            let title = trf(
                "weights (layer {}, head {}), with row sums",
                &[&pipeline.layer, &pipeline.head],
            );
            ui.label(RichText::new(title).strong());
            let weights = Heatmap::new(pipeline.weights)
                .labels(q_tokens, k_tokens)
                .real_ranges(q_real.clone(), k_real.clone())
                .highlight_cells(highlight.iter().copied())
                .mask(mask)
                .blocked(weights_style)
                .scale(pipeline.weight_scale)
                .value_name(tr("weight"))
                .row_sums(&sums)
                .max_size(max_size)
                .cell_range(4.0, MAX_CELL)
                .label_size(labels)
                .label_size_at_least(FITTED_LABEL_POINTS)
                .name(tr("Weights heatmap"))
                .show(ui);
            remember(ui, &weights);
            color_bar_under(
                ui,
                pipeline.weight_scale,
                BAR_WIDTH.min(weights.response.rect.width()),
            );
            weights.response.rect
        });
        mask_grid.inner.bottom().max(weights_grid.inner.bottom())
    });
    // One line each: a readout's label never wraps away from its number.
    let readouts = ui.vertical(|ui| {
        let r = &state.readouts;
        ui.horizontal(|ui| readout(ui, tr("Padding leak:"), r.padding_delta));
        ui.horizontal(|ui| readout(ui, tr("Future leak:"), r.future_delta));
    });
    let used = readouts.response.rect.bottom() - grids.inner;
    ui.data_mut(|d| d.insert_temp(below_id, used));
}

/// The attention view in presenter mode: one heatmap of the chosen kind, layer and head (or
/// the mean over heads), its colour bar and what to read beside it.
pub fn attention_figure(ui: &mut Ui, state: &mut AppState) {
    let Some(seq) = state.sequence().cloned() else {
        ui.label(tr("No trace yet: enter a source and a target on the left."));
        return;
    };
    {
        let a = &mut state.settings.attention;
        ui.horizontal_wrapped(|ui| {
            // Tighter than egui's default, so the row stays one line on a projector.
            ui.spacing_mut().item_spacing.x = 4.0;
            kind_buttons(ui, &mut a.kind);
            ui.separator();
            let att = seq.attention(a.kind);
            number_buttons(ui, tr("Layer"), att.layers(), &mut a.layer);
            let mut head = (!a.mean_over_heads).then_some(a.head);
            head_buttons(ui, att.heads(), &mut head);
            a.mean_over_heads = head.is_none();
            if let Some(h) = head {
                a.head = h;
            }
        });
    }
    let a = state.settings.attention.clone();
    let att = seq.attention(a.kind);
    let layer = a.layer.min(att.layers().saturating_sub(1));
    let head = a.head.min(att.heads().saturating_sub(1));
    let mask = seq.mask(a.kind);
    let (q_tokens, k_tokens) = seq.axis_tokens(a.kind);
    let (q_real, k_real) = seq.real_ranges(a.kind);
    let values = attention_matrix(&seq, a.kind, layer, head, a.mean_over_heads);
    let scale: Scale = weights_scale(&values, mask, a.auto_range, state.settings.colormap);
    let blocked = if state.settings.mask.method == MaskMethod::None {
        Blocked::Overlay
    } else {
        Blocked::Replace
    };
    let side = (ui.available_width() * 0.2).clamp(*SIDE_COLUMN.start(), *SIDE_COLUMN.end());
    let size = vec2(
        (ui.available_width() - side - 12.0).max(120.0),
        ui.available_height().max(120.0),
    );
    ui.horizontal_top(|ui| {
        let grid = Heatmap::new(values.view())
            .labels(q_tokens, k_tokens)
            .real_ranges(q_real.clone(), k_real.clone())
            .highlight_cells(state.classroom.outlined_for(a.kind))
            .mask(mask)
            .blocked(blocked)
            .scale(scale)
            .value_name(tr("weight"))
            .max_size(size)
            .cell_range(4.0, MAX_CELL)
            // Three columns' worth of room for the row labels.
            .label_size(label_points(size, q_tokens.len(), k_tokens.len() + 3))
            .label_size_at_least(FITTED_LABEL_POINTS)
            .name(tr("Attention heatmap"))
            .show(ui);
        remember(ui, &grid);
        ui.vertical(|ui| {
            ui.set_max_width(side);
            ui.label(RichText::new(labels::attention_kind(a.kind)).strong());
            let which = if a.mean_over_heads {
                trf("layer {}, mean over heads", &[&layer])
            } else {
                trf("layer {}, head {}", &[&layer, &head])
            };
            ui.label(which);
            ui.add_space(6.0);
            color_bar_under(ui, scale, side);
            ui.add_space(6.0);
            legend_stacked(ui);
            ui.add_space(6.0);
            let hint = match a.kind {
                AttentionKind::EncoderSelf => tr("Rows: source tokens. Columns: source tokens."),
                AttentionKind::DecoderSelf => {
                    tr("Rows: decoder inputs. Columns: earlier decoder inputs.")
                }
                AttentionKind::Cross => tr("Rows: decoder inputs. Columns: source tokens."),
            };
            ui.label(RichText::new(hint).weak());
        });
    });
}

/// Records a grid as (part of) this frame's figure.
fn remember(ui: &Ui, grid: &HeatmapResponse) {
    regions::remember_figure(
        ui.ctx(),
        FigureInfo {
            rect: grid.response.rect,
            label_points: grid.label_points,
        },
    );
}

/// The three attention kinds with short names (the long ones do not fit one line).
fn kind_buttons(ui: &mut Ui, kind: &mut AttentionKind) {
    for k in AttentionKind::ALL {
        let label = match k {
            AttentionKind::EncoderSelf => tr("Encoder self"),
            AttentionKind::DecoderSelf => tr("Decoder self"),
            AttentionKind::Cross => tr("Cross"),
        };
        if ui.selectable_label(*kind == k, label).clicked() {
            *kind = k;
        }
    }
}

/// `Layer 0 1`: one button per index, for a quick click in front of a class.
fn number_buttons(ui: &mut Ui, name: &str, count: usize, value: &mut usize) {
    if count <= 1 {
        return;
    }
    ui.label(RichText::new(name).weak());
    *value = (*value).min(count - 1);
    for i in 0..count {
        if ui.selectable_label(*value == i, i.to_string()).clicked() {
            *value = i;
        }
    }
}

/// `Head 0 1 2 3 mean`; `None` is the mean over heads.
fn head_buttons(ui: &mut Ui, count: usize, head: &mut Option<usize>) {
    ui.label(RichText::new(tr("Head")).weak());
    for i in 0..count {
        if ui
            .selectable_label(*head == Some(i), i.to_string())
            .clicked()
        {
            *head = Some(i);
        }
    }
    if ui.selectable_label(head.is_none(), tr("mean")).clicked() {
        *head = None;
    }
}

/// One leak readout: the largest change as the normal view words it (a rounding-size change
/// says it is float rounding, not a leak: the room sees "1.9e-6" where the lesson promised
/// 0), and whether it leaks.
fn readout(ui: &mut Ui, label: &str, delta: Option<f32>) {
    ui.label(RichText::new(label).strong());
    let Some(d) = delta else {
        ui.label(RichText::new(tr("n/a")).weak());
        return;
    };
    let ok = d < 1e-5;
    let color: Color32 = if ok { OK_COLOR } else { BAD_COLOR };
    ui.label(RichText::new(delta_text(d)).monospace().color(color))
        .on_hover_text(trf("max |delta| = {}", &[&delta_text(d)]));
    let verdict = if ok { tr("no leak") } else { tr("LEAK") };
    ui.label(RichText::new(verdict).strong().color(color));
}
