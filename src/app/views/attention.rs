//! Attention: every layer and head of one attention kind as thumbnails, one enlarged with
//! token labels, and a diff against a pinned snapshot.

use egui::{RichText, Ui, vec2};
use ndarray::Array2;

use super::masks::quoted_readout;
use super::{View, explain, kind_selector};
use crate::app::colormap::{Colormap, Scale};
use crate::app::figures::{attention_matrix as matrix, difference, weights_scale};
use crate::app::intents::Intents;
use crate::app::labels;
use crate::app::settings::AttentionSettings;
use crate::app::state::{AppState, Pinned};
use crate::app::widgets::heatmap::{Blocked, Heatmap, LONG_SHORT_STRETCH, color_bar, legend};
use crate::i18n::{tr, trf};
use crate::masks::{MaskGrid, MaskMethod, MaskSettings};
use crate::trace::{AttentionKind, SequenceTrace};

/// Largest cell of the enlarged heatmap: it grows into the free space, so a short sequence
/// still reads from the back of a room.
const ENLARGED_MAX_CELL: f32 = 56.0;
/// The least width, in points, the enlarged heatmap gets beside the thumbnails; with less
/// it goes above them.
const MIN_ENLARGED_BESIDE: f32 = 300.0;

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
        match controls(ui, state) {
            Some(PinChange::Pin) => state.pin(),
            Some(PinChange::Unpin) => {
                state.pinned = None;
                state.settings.attention.diff = false;
            }
            None => {}
        }
        if let Some(p) = &state.pinned {
            ui.label(RichText::new(trf("Pinned: {}", &[&p.label])).small().weak());
        }
        let shown = Shown::new(&seq, state);
        ui.add_space(4.0);
        let thumb_cols = shown.heads + 1;
        let thumb = ((ui.available_width() * 0.38) / thumb_cols as f32 - 8.0).clamp(36.0, 90.0);
        let mut picked = None;
        // As wide as the thumbnails (the wrapping legend would take the whole row).
        let thumbs_width = (thumb + 8.0) * thumb_cols as f32 + 64.0;
        let mut thumbnails_and_legend = |ui: &mut Ui| {
            ui.vertical(|ui| {
                ui.set_max_width(thumbs_width);
                picked = thumbnails(ui, &seq, &shown, thumb);
                ui.add_space(6.0);
                legend(ui);
            });
        };
        let enlarged_with_readout = |ui: &mut Ui| {
            ui.vertical(|ui| {
                if let Some(which) = state.classroom.readout {
                    quoted_readout(ui, &state.readouts, which);
                }
                enlarged(ui, &seq, &shown, state.pinned.as_ref());
            });
        };
        if ui.available_width() - thumbs_width >= MIN_ENLARGED_BESIDE {
            ui.horizontal_top(|ui| {
                thumbnails_and_legend(ui);
                ui.separator();
                enlarged_with_readout(ui);
            });
        } else {
            // Too narrow for both side by side (a zoomed window with the lessons open): the
            // enlarged heatmap the lesson talks about first, the thumbnails under it.
            enlarged_with_readout(ui);
            ui.separator();
            thumbnails_and_legend(ui);
        }
        if let Some(pick) = picked {
            pick.apply(&mut state.settings.attention);
        }
        Intents::new()
    }
}

/// What the pin buttons asked for.
enum PinChange {
    Pin,
    Unpin,
}

/// The kind selector and the row of options: mean over heads, colour range, colormap, pin,
/// diff and unpin.
fn controls(ui: &mut Ui, state: &mut AppState) -> Option<PinChange> {
    let mut change = None;
    let has_pin = state.pinned.is_some();
    let settings = &mut state.settings;
    let a = &mut settings.attention;
    kind_selector(ui, &mut a.kind);
    ui.horizontal_wrapped(|ui| {
        ui.checkbox(&mut a.mean_over_heads, tr("Mean over heads"));
        ui.checkbox(&mut a.auto_range, tr("Auto colour range")).on_hover_text(tr(
            "Off: 0..1 for every matrix, so they compare. On: each matrix's own min..max.",
        ));
        egui::ComboBox::from_label(tr("Colormap"))
            .selected_text(labels::colormap(settings.colormap))
            .show_ui(ui, |ui| {
                for c in Colormap::ALL {
                    ui.selectable_value(&mut settings.colormap, c, labels::colormap(c));
                }
            });
        ui.separator();
        if ui
            .button(tr("Pin"))
            .on_hover_text(tr(
                "Store the current trace to compare against later (e.g. before fine-tuning or flipping a mask)",
            ))
            .clicked()
        {
            change = Some(PinChange::Pin);
        }
        // Widgets one by one (a child ui here would get only the rest of the row and stack
        // its text letter by letter when the row is nearly full).
        ui.add_enabled(has_pin, egui::Checkbox::new(&mut a.diff, tr("Diff vs pinned")))
            .on_hover_text(tr("Show current minus pinned with a diverging colormap"));
        if ui
            .add_enabled(has_pin, egui::Button::new(tr("Unpin")))
            .clicked()
        {
            change = Some(PinChange::Unpin);
        }
    });
    change
}

/// What the view shows this frame: the chosen kind, layer and head (clamped to the model),
/// and how blocked cells are drawn.
struct Shown {
    settings: AttentionSettings,
    layers: usize,
    heads: usize,
    layer: usize,
    head: usize,
    colormap: Colormap,
    blocked: Blocked,
    show_values: bool,
    highlight: Vec<(usize, usize)>,
    mask: MaskSettings,
}

impl Shown {
    fn new(seq: &SequenceTrace, state: &AppState) -> Self {
        let settings = state.settings.attention.clone();
        let att = seq.attention(settings.kind);
        let (layers, heads) = (att.layers(), att.heads());
        Self {
            layer: settings.layer.min(layers.saturating_sub(1)),
            head: settings.head.min(heads.saturating_sub(1)),
            layers,
            heads,
            colormap: state.settings.colormap,
            // Without a mask method the weights were never masked: keep their colour.
            blocked: if state.settings.mask.method == MaskMethod::None {
                Blocked::Overlay
            } else {
                Blocked::Replace
            },
            show_values: state.settings.show_values,
            highlight: state.classroom.outlined_for(settings.kind),
            mask: state.settings.mask,
            settings,
        }
    }

    fn kind(&self) -> AttentionKind {
        self.settings.kind
    }

    /// The enlarged matrix of `seq`: one head, or the mean over heads.
    fn matrix_of(&self, seq: &SequenceTrace) -> Array2<f32> {
        let a = &self.settings;
        matrix(seq, a.kind, self.layer, self.head, a.mean_over_heads)
    }
}

/// A thumbnail the user clicked: a layer and one head, or the layer's mean over heads.
struct Pick {
    layer: usize,
    head: Option<usize>,
}

impl Pick {
    fn apply(self, a: &mut AttentionSettings) {
        a.layer = self.layer;
        match self.head {
            Some(head) => {
                a.head = head;
                a.mean_over_heads = false;
            }
            None => a.mean_over_heads = true,
        }
    }
}

/// The layers x heads grid of clickable thumbnails, a mean column at the end of each row.
fn thumbnails(ui: &mut Ui, seq: &SequenceTrace, shown: &Shown, side: f32) -> Option<Pick> {
    let att = seq.attention(shown.kind());
    let mask = seq.mask(shown.kind());
    let mean_over_heads = shown.settings.mean_over_heads;
    let mut picked = None;
    ui.label(RichText::new(tr("Layers x heads (click one)")).strong());
    egui::Grid::new("thumbs")
        .spacing(vec2(6.0, 6.0))
        .show(ui, |ui| {
            ui.label("");
            for h in 0..shown.heads {
                ui.label(RichText::new(trf("head {}", &[&h])).small());
            }
            ui.label(RichText::new(tr("mean")).small());
            ui.end_row();
            let thumbnail = |ui: &mut Ui, values: &Array2<f32>, name: String, selected| {
                thumbnail(ui, values, mask, shown, side, name, selected)
            };
            for l in 0..shown.layers {
                ui.label(RichText::new(trf("layer {}", &[&l])).small());
                for h in 0..shown.heads {
                    let selected = !mean_over_heads && l == shown.layer && h == shown.head;
                    let name = trf("Layer {} head {}", &[&l, &h]);
                    if thumbnail(ui, &att.head(l, h), name, selected) {
                        picked = Some(Pick {
                            layer: l,
                            head: Some(h),
                        });
                    }
                }
                let selected = mean_over_heads && l == shown.layer;
                let name = trf("Layer {} mean over heads", &[&l]);
                if thumbnail(ui, &att.mean_over_heads(l), name, selected) {
                    picked = Some(Pick {
                        layer: l,
                        head: None,
                    });
                }
                ui.end_row();
            }
        });
    picked
}

/// One clickable thumbnail on the fixed 0..1 scale; true when clicked.
fn thumbnail(
    ui: &mut Ui,
    values: &Array2<f32>,
    mask: &MaskGrid,
    shown: &Shown,
    side: f32,
    name: String,
    selected: bool,
) -> bool {
    Heatmap::new(values.view())
        .mask(mask)
        .blocked(shown.blocked)
        .scale(Scale::unit(shown.colormap))
        .max_size(vec2(side, side))
        .cell_range(0.5, 12.0)
        .stretch(f32::INFINITY)
        .clickable(name, selected)
        .show(ui)
        .response
        .clicked()
}

/// The chosen matrix enlarged with token labels (or its difference from the pinned trace),
/// its title, colour bar and what its rows and columns are.
fn enlarged(ui: &mut Ui, seq: &SequenceTrace, shown: &Shown, pinned: Option<&Pinned>) {
    let kind = shown.kind();
    let which = if shown.settings.mean_over_heads {
        trf(
            "layer {}, mean over {} heads",
            &[&shown.layer, &shown.heads],
        )
    } else {
        trf("layer {}, head {}", &[&shown.layer, &shown.head])
    };
    let title = if kind == AttentionKind::DecoderSelf && !causal_applied(shown.mask) {
        tr("decoder self-attention (causal mask off)")
    } else {
        labels::attention_kind(kind)
    };
    ui.label(RichText::new(format!("{title} - {which}")).strong());
    let current = shown.matrix_of(seq);
    // Never wider than the room: a clipped heatmap hides the cells a lesson outlines.
    let side = (ui.available_height().max(300.0) - 60.0)
        .clamp(220.0, 620.0)
        .min(ui.available_width() - 20.0);
    let (q_tokens, k_tokens) = seq.axis_tokens(kind);
    let (q_real, k_real) = seq.real_ranges(kind);
    let heatmap = |values| {
        Heatmap::new(values)
            .labels(q_tokens, k_tokens)
            .highlight_cells(shown.highlight.iter().copied())
            .real_ranges(q_real.clone(), k_real.clone())
            .mask(seq.mask(kind))
            .max_size(vec2(side, side))
            .cell_range(4.0, ENLARGED_MAX_CELL)
            .stretch(LONG_SHORT_STRETCH)
            .show_values(shown.show_values)
    };
    if shown.settings.diff {
        let pinned = pinned.map(|p| shown.matrix_of(&p.sequence));
        match pinned.as_ref().map(|p| difference(&current, p)) {
            Some(Some((diff, scale))) => {
                heatmap(diff.view())
                    .blocked(Blocked::Overlay)
                    .scale(scale)
                    .value_name(tr("current - pinned"))
                    .name(tr("Attention difference heatmap"))
                    .show(ui);
                color_bar(ui, scale, 140.0);
                explain(ui, tr("Blue: less attention than when pinned; red: more."));
            }
            Some(None) => {
                ui.label(
                    RichText::new(tr(
                        "The pinned trace has a different shape (the tokens changed). Pin again to compare.",
                    ))
                    .color(ui.visuals().warn_fg_color),
                );
            }
            None => {
                ui.label(tr("Nothing pinned yet."));
            }
        }
    } else {
        let scale = weights_scale(
            &current,
            seq.mask(kind),
            shown.settings.auto_range,
            shown.colormap,
        );
        heatmap(current.view())
            .blocked(shown.blocked)
            .scale(scale)
            .value_name(tr("weight"))
            .name(tr("Attention heatmap"))
            .show(ui);
        color_bar(ui, scale, 140.0);
    }
    explain(ui, axes_hint(kind, shown.mask));
}

/// Whether the causal mask reaches the weights (switched on, and a method applies it).
fn causal_applied(mask: MaskSettings) -> bool {
    mask.causal && mask.method != MaskMethod::None
}

/// What a row and a column of `kind`'s matrix are, under the masks in force.
fn axes_hint(kind: AttentionKind, mask: MaskSettings) -> &'static str {
    let src_padding = mask.src_padding && mask.method != MaskMethod::None;
    match kind {
        AttentionKind::EncoderSelf if src_padding => {
            tr("Each source token (row) attends over all real source tokens (columns).")
        }
        AttentionKind::EncoderSelf => tr(
            "Each source token (row) attends over all source tokens (columns), <pad> included: the source padding mask is off.",
        ),
        AttentionKind::DecoderSelf if causal_applied(mask) => tr(
            "Each decoder position (row) may only attend to itself and earlier positions: the causal mask.",
        ),
        AttentionKind::DecoderSelf => tr(
            "Each decoder position (row) attends over every position, later ones included: the causal mask is off.",
        ),
        AttentionKind::Cross => tr(
            "Each decoder position (row) looks at the encoder's outputs for the source (columns).",
        ),
    }
}
