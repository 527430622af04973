//! A heatmap of a `(query, key)` matrix with token labels on both axes, a hover readout, and
//! blocked cells drawn with a pattern (diagonal hatching for future tokens, a cross for
//! padding) so that "blocked" never relies on colour alone.

use egui::{
    Align2, Color32, FontId, Pos2, Rect, Response, Sense, Shape, Stroke, Ui, Vec2,
    epaint::TextShape, pos2, vec2,
};
use ndarray::ArrayView2;

use super::tokens::display_token;
use crate::app::colormap::{Colormap, Scale, blocked_fill, open_fill};
use crate::app::labels;
use crate::i18n::{tr, trf};
use crate::masks::{Cell, MaskGrid};

/// How blocked cells are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Blocked {
    /// Grey with the pattern; the value is hidden (it is `-1e9` or an exact zero).
    #[default]
    Replace,
    /// The value's colour stays visible and the pattern is drawn on top (the mask was not
    /// applied to these values, e.g. raw scores or the "none" method).
    Overlay,
}

/// Paints the pattern of a blocked cell: `/` hatching for a future key, `X` for a padding
/// key, both for both.
pub fn paint_pattern(painter: &egui::Painter, rect: Rect, cell: Cell, color: Color32) {
    let w = rect.width();
    if w < 5.0 {
        return;
    }
    let stroke = Stroke::new((w / 14.0).clamp(1.0, 2.0), color);
    let r = rect.shrink(w * 0.12);
    if matches!(cell, Cell::Future | Cell::Both) {
        // Three parallel diagonals, bottom-left to top-right.
        painter.line_segment([r.left_bottom(), r.right_top()], stroke);
        painter.line_segment(
            [pos2(r.left(), r.center().y), pos2(r.center().x, r.top())],
            stroke,
        );
        painter.line_segment(
            [
                pos2(r.center().x, r.bottom()),
                pos2(r.right(), r.center().y),
            ],
            stroke,
        );
    }
    if matches!(cell, Cell::Padding | Cell::Both) {
        painter.line_segment([r.left_top(), r.right_bottom()], stroke);
        if cell == Cell::Padding {
            painter.line_segment([r.left_bottom(), r.right_top()], stroke);
        }
    }
}

/// What the pointer is over after showing a heatmap.
pub struct HeatmapResponse {
    pub response: Response,
    /// `(row, column)` under the pointer.
    pub hovered: Option<(usize, usize)>,
}

/// Builder for one heatmap.
pub struct Heatmap<'a> {
    values: Option<ArrayView2<'a, f32>>,
    rows: usize,
    cols: usize,
    row_labels: Option<&'a [String]>,
    col_labels: Option<&'a [String]>,
    mask: Option<&'a MaskGrid>,
    blocked: Blocked,
    scale: Scale,
    max_size: Vec2,
    cell_range: (f32, f32),
    value_name: &'a str,
    row_real: Option<usize>,
    col_real: Option<usize>,
    highlight_row: Option<usize>,
    highlight_cell: Option<(usize, usize)>,
    row_sums: Option<&'a [f32]>,
    show_values: bool,
    clickable: bool,
    name: Option<String>,
    selected: bool,
    dim: bool,
    axis_names: (&'a str, &'a str),
}

impl<'a> Heatmap<'a> {
    /// A heatmap of `values` (rows are queries, columns keys).
    pub fn new(values: ArrayView2<'a, f32>) -> Self {
        let (rows, cols) = values.dim();
        Self::empty(rows, cols).values(values)
    }

    /// A grid without values, e.g. a mask (open cells get a neutral colour).
    pub fn mask_only(mask: &'a MaskGrid) -> Self {
        let (rows, cols) = mask.shape();
        Self::empty(rows, cols).mask(mask)
    }

    fn empty(rows: usize, cols: usize) -> Self {
        Self {
            values: None,
            rows,
            cols,
            row_labels: None,
            col_labels: None,
            mask: None,
            blocked: Blocked::Replace,
            scale: Scale::Sequential {
                min: 0.0,
                max: 1.0,
                colormap: Colormap::Viridis,
            },
            max_size: vec2(480.0, 480.0),
            cell_range: (4.0, 28.0),
            value_name: tr("weight"),
            row_real: None,
            col_real: None,
            highlight_row: None,
            highlight_cell: None,
            row_sums: None,
            show_values: false,
            clickable: false,
            name: None,
            selected: false,
            dim: false,
            axis_names: (tr("query"), tr("key")),
        }
    }

    fn values(mut self, values: ArrayView2<'a, f32>) -> Self {
        self.values = Some(values);
        self
    }

    pub fn labels(mut self, rows: &'a [String], cols: &'a [String]) -> Self {
        self.row_labels = Some(rows);
        self.col_labels = Some(cols);
        self
    }

    pub fn mask(mut self, mask: &'a MaskGrid) -> Self {
        if mask.shape() == (self.rows, self.cols) {
            self.mask = Some(mask);
        }
        self
    }

    pub fn blocked(mut self, blocked: Blocked) -> Self {
        self.blocked = blocked;
        self
    }

    pub fn scale(mut self, scale: Scale) -> Self {
        self.scale = scale;
        self
    }

    /// Largest size of the whole widget (labels included); cells shrink to fit.
    pub fn max_size(mut self, size: Vec2) -> Self {
        self.max_size = size;
        self
    }

    pub fn cell_range(mut self, min: f32, max: f32) -> Self {
        self.cell_range = (min, max.max(min));
        self
    }

    /// What a value is called in the hover text ("weight", "score", ...).
    pub fn value_name(mut self, name: &'a str) -> Self {
        self.value_name = name;
        self
    }

    /// What the two axes are called in the hover text.
    pub fn axis_names(mut self, rows: &'a str, cols: &'a str) -> Self {
        self.axis_names = (rows, cols);
        self
    }

    /// Real (unpadded) lengths of the two axes: labels past them are drawn dimmed.
    pub fn real_lengths(mut self, rows: usize, cols: usize) -> Self {
        self.row_real = Some(rows);
        self.col_real = Some(cols);
        self
    }

    pub fn highlight_row(mut self, row: Option<usize>) -> Self {
        self.highlight_row = row;
        self
    }

    /// Outlines one `(row, column)` cell (e.g. the cell a lesson step points at).
    pub fn highlight_cell(mut self, cell: Option<(usize, usize)>) -> Self {
        self.highlight_cell = cell;
        self
    }

    /// Shows a sum per row to the right (real rows that do not sum to one are flagged).
    pub fn row_sums(mut self, sums: &'a [f32]) -> Self {
        self.row_sums = Some(sums);
        self
    }

    pub fn show_values(mut self, show: bool) -> Self {
        self.show_values = show;
        self
    }

    /// Makes the heatmap a button (e.g. a thumbnail) with this accessible name.
    pub fn clickable(mut self, name: impl Into<String>, selected: bool) -> Self {
        self.clickable = true;
        self.name = Some(name.into());
        self.selected = selected;
        self
    }

    /// Accessible name of a non-clickable heatmap.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Draws everything faded (e.g. a mask that is switched off).
    pub fn dim(mut self, dim: bool) -> Self {
        self.dim = dim;
        self
    }

    pub fn show(self, ui: &mut Ui) -> HeatmapResponse {
        let font = FontId::monospace(12.0);
        let small = FontId::proportional(11.0);
        let dark = ui.visuals().dark_mode;
        let text_color = ui.visuals().text_color();
        let weak = ui.visuals().weak_text_color();

        let show_labels = self.row_labels.is_some();
        let row_labels: Vec<String> = self
            .row_labels
            .map(|l| l.iter().map(|t| display_token(t)).collect())
            .unwrap_or_default();
        let col_labels: Vec<String> = self
            .col_labels
            .map(|l| l.iter().map(|t| display_token(t)).collect())
            .unwrap_or_default();
        let measure = |s: &str| {
            ui.fonts_mut(|f| {
                f.layout_no_wrap(s.to_owned(), font.clone(), text_color)
                    .size()
                    .x
            })
        };
        // Width of the widest label (capped), plus a gap to the grid.
        let widest = |labels: &[String]| {
            labels
                .iter()
                .map(|s| measure(s))
                .fold(0.0, f32::max)
                .min(90.0)
                + 6.0
        };
        let row_label_w = if show_labels {
            widest(&row_labels)
        } else {
            0.0
        };
        let rotate = col_labels.iter().any(|s| s.chars().count() > 2);
        let col_label_h = if !show_labels {
            0.0
        } else if rotate {
            widest(&col_labels)
        } else {
            16.0
        };
        let sums_w = if self.row_sums.is_some() { 48.0 } else { 0.0 };

        let (rows, cols) = (self.rows.max(1), self.cols.max(1));
        let avail_w = (self.max_size.x - row_label_w - sums_w).max(10.0);
        let avail_h = (self.max_size.y - col_label_h).max(10.0);
        let cell = (avail_w / cols as f32)
            .min(avail_h / rows as f32)
            .clamp(self.cell_range.0, self.cell_range.1)
            .floor();
        let grid_size = vec2(cell * self.cols as f32, cell * self.rows as f32);
        let total = vec2(
            row_label_w + grid_size.x + sums_w,
            col_label_h + grid_size.y,
        );

        let sense = if self.clickable {
            Sense::click()
        } else {
            Sense::hover()
        };
        let (rect, response) = ui.allocate_exact_size(total, sense);
        if let Some(name) = &self.name {
            let (clickable, selected, enabled) = (self.clickable, self.selected, ui.is_enabled());
            response.widget_info(|| {
                if clickable {
                    egui::WidgetInfo::selected(egui::Role::Button, enabled, selected, name)
                } else {
                    egui::WidgetInfo::labeled(egui::Role::Image, enabled, name)
                }
            });
        }
        let grid = Rect::from_min_size(rect.min + vec2(row_label_w, col_label_h), grid_size);
        let hovered = response.hover_pos().filter(|p| grid.contains(*p)).map(|p| {
            let r = (((p.y - grid.top()) / cell) as usize).min(self.rows.saturating_sub(1));
            let c = (((p.x - grid.left()) / cell) as usize).min(self.cols.saturating_sub(1));
            (r, c)
        });

        if !ui.is_rect_visible(rect) || self.rows == 0 || self.cols == 0 {
            return HeatmapResponse { response, hovered };
        }
        let mut painter = ui.painter_at(rect.expand(2.0));
        if self.dim {
            painter.set_opacity(0.35);
        }
        let pattern_color = if dark {
            Color32::from_gray(215)
        } else {
            Color32::from_gray(35)
        };
        for r in 0..self.rows {
            for c in 0..self.cols {
                let cell_rect = Rect::from_min_size(
                    grid.min + vec2(c as f32 * cell, r as f32 * cell),
                    Vec2::splat(cell),
                );
                let state = self.mask.map_or(Cell::Open, |m| m.cells[[r, c]]);
                let value = self.values.map(|v| v[[r, c]]);
                let fill = match (state.is_blocked(), self.blocked, value) {
                    (true, Blocked::Replace, _) => blocked_fill(dark),
                    (_, _, Some(v)) => self.scale.color(v),
                    (false, _, None) => open_fill(dark),
                    (true, Blocked::Overlay, None) => blocked_fill(dark),
                };
                painter.rect_filled(cell_rect, 0.0, fill);
                if state.is_blocked() {
                    let color = if self.blocked == Blocked::Overlay && value.is_some() {
                        Colormap::text_on(fill).gamma_multiply(0.8)
                    } else {
                        pattern_color
                    };
                    paint_pattern(&painter, cell_rect, state, color);
                }
                if self.show_values
                    && cell >= 30.0
                    && let Some(v) = value
                    && !(state.is_blocked() && self.blocked == Blocked::Replace)
                {
                    painter.text(
                        cell_rect.center(),
                        Align2::CENTER_CENTER,
                        format_short(v),
                        FontId::proportional(10.0),
                        Colormap::text_on(fill),
                    );
                }
            }
        }
        // Thin grid lines between cells when they are large enough to read.
        if cell >= 10.0 {
            let line = Stroke::new(1.0, ui.visuals().extreme_bg_color.gamma_multiply(0.6));
            for c in 1..self.cols {
                let x = grid.left() + c as f32 * cell;
                painter.vline(x, grid.y_range(), line);
            }
            for r in 1..self.rows {
                let y = grid.top() + r as f32 * cell;
                painter.hline(grid.x_range(), y, line);
            }
        }
        if let Some((r, c)) = self
            .highlight_cell
            .filter(|&(r, c)| r < self.rows && c < self.cols)
        {
            // A thick bright ring with a dark rim, visible on every colormap and both themes.
            let cell_rect = Rect::from_min_size(
                grid.min + vec2(c as f32 * cell, r as f32 * cell),
                Vec2::splat(cell),
            );
            let width = (cell * 0.16).clamp(2.0, 5.0);
            painter.rect_stroke(
                cell_rect.expand(2.0),
                0.0,
                Stroke::new(width + 2.0, Color32::BLACK),
                egui::StrokeKind::Inside,
            );
            painter.rect_stroke(
                cell_rect.expand(1.0),
                0.0,
                Stroke::new(width, Color32::from_rgb(0xff, 0x2d, 0xd4)),
                egui::StrokeKind::Inside,
            );
        }
        if let Some(row) = self.highlight_row.filter(|r| *r < self.rows) {
            let rr = Rect::from_min_size(
                grid.min + vec2(0.0, row as f32 * cell),
                vec2(grid.width(), cell),
            );
            painter.rect_stroke(
                rr,
                0.0,
                Stroke::new(2.5, Color32::from_rgb(0xff, 0x8c, 0x00)),
                egui::StrokeKind::Outside,
            );
        }
        if self.clickable && self.selected {
            painter.rect_stroke(
                grid,
                0.0,
                Stroke::new(3.0, ui.visuals().selection.stroke.color),
                egui::StrokeKind::Outside,
            );
        } else if self.clickable && response.hovered() {
            painter.rect_stroke(
                grid,
                0.0,
                Stroke::new(1.5, ui.visuals().widgets.hovered.fg_stroke.color),
                egui::StrokeKind::Outside,
            );
        } else {
            painter.rect_stroke(
                grid,
                0.0,
                Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color),
                egui::StrokeKind::Outside,
            );
        }

        if show_labels {
            let label_font = if cell < 11.0 {
                FontId::monospace(cell.max(7.0))
            } else {
                font.clone()
            };
            // The hovered row / column stands out; padding positions are dimmed.
            let label_color = |hot: bool, pad: bool| {
                if hot {
                    ui.visuals().strong_text_color()
                } else if pad {
                    weak
                } else {
                    text_color
                }
            };
            for (r, label) in row_labels.iter().enumerate().take(self.rows) {
                let pad = self.row_real.is_some_and(|n| r >= n);
                let hot = hovered.is_some_and(|(hr, _)| hr == r);
                let color = label_color(hot, pad);
                let pos = pos2(grid.left() - 4.0, grid.top() + (r as f32 + 0.5) * cell);
                painter.text(pos, Align2::RIGHT_CENTER, label, label_font.clone(), color);
            }
            for (c, label) in col_labels.iter().enumerate().take(self.cols) {
                let pad = self.col_real.is_some_and(|n| c >= n);
                let hot = hovered.is_some_and(|(_, hc)| hc == c);
                let color = label_color(hot, pad);
                let x = grid.left() + (c as f32 + 0.5) * cell;
                if rotate {
                    let galley = painter.layout_no_wrap(label.clone(), label_font.clone(), color);
                    let pos = pos2(x - galley.size().y / 2.0, grid.top() - 4.0);
                    painter.add(Shape::Text(
                        TextShape::new(pos, galley, color).with_angle(-std::f32::consts::FRAC_PI_2),
                    ));
                } else {
                    painter.text(
                        pos2(x, grid.top() - 2.0),
                        Align2::CENTER_BOTTOM,
                        label,
                        label_font.clone(),
                        color,
                    );
                }
            }
        }

        if let Some(sums) = self.row_sums {
            for (r, s) in sums.iter().enumerate().take(self.rows) {
                let real = self.row_real.is_none_or(|n| r < n);
                let off = real && (s - 1.0).abs() > 1e-3;
                let color = if off {
                    Color32::from_rgb(0xe0, 0x40, 0x40)
                } else if real {
                    text_color
                } else {
                    weak
                };
                let pos = pos2(grid.right() + 6.0, grid.top() + (r as f32 + 0.5) * cell);
                let text = if off {
                    format!("{s:.3}!")
                } else {
                    format!("{s:.3}")
                };
                painter.text(pos, Align2::LEFT_CENTER, text, small.clone(), color);
            }
        }

        if let Some((r, c)) = hovered {
            let cell_rect = Rect::from_min_size(
                grid.min + vec2(c as f32 * cell, r as f32 * cell),
                Vec2::splat(cell),
            );
            painter.rect_stroke(
                cell_rect,
                0.0,
                Stroke::new(2.0, Color32::WHITE),
                egui::StrokeKind::Inside,
            );
            painter.rect_stroke(
                cell_rect.shrink(2.0),
                0.0,
                Stroke::new(1.0, Color32::BLACK),
                egui::StrokeKind::Inside,
            );
        }

        let response = if let Some((r, c)) = hovered {
            let (row_axis, col_axis) = self.axis_names;
            let row_tok = self
                .row_labels
                .and_then(|l| l.get(r))
                .map(|t| format!(" '{}'", display_token(t)))
                .unwrap_or_default();
            let col_tok = self
                .col_labels
                .and_then(|l| l.get(c))
                .map(|t| format!(" '{}'", display_token(t)))
                .unwrap_or_default();
            let state = self.mask.map(|m| m.cells[[r, c]]);
            let value = self.values.map(|v| v[[r, c]]);
            let value_name = self.value_name;
            response.on_hover_ui_at_pointer(|ui| {
                ui.label(format!(
                    "{row_axis} {r}{row_tok}  ->  {col_axis} {c}{col_tok}"
                ));
                if let Some(v) = value {
                    ui.label(
                        egui::RichText::new(format!("{value_name} = {}", format_value(v))).strong(),
                    );
                }
                if let Some(state) = state {
                    ui.label(labels::cell_reason(state));
                }
            })
        } else {
            response
        };
        HeatmapResponse { response, hovered }
    }
}

/// A value for hover text: blocked scores read as `-1e9`, others with 4 significant digits.
pub fn format_value(v: f32) -> String {
    if v <= -1e8 {
        trf("{} (blocked)", &[&format!("{v:.0e}")])
    } else if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn format_short(v: f32) -> String {
    if v.abs() >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A small legend explaining the cell patterns.
pub fn legend(ui: &mut Ui) {
    let dark = ui.visuals().dark_mode;
    let pattern = if dark {
        Color32::from_gray(215)
    } else {
        Color32::from_gray(35)
    };
    ui.horizontal_wrapped(|ui| {
        for (cell, text) in [
            (Cell::Open, tr("open")),
            (Cell::Future, tr("blocked: future (causal)")),
            (Cell::Padding, tr("blocked: padding")),
            (Cell::Both, tr("blocked: both")),
        ] {
            let (rect, _) = ui.allocate_exact_size(Vec2::splat(16.0), Sense::hover());
            let fill = if cell.is_blocked() {
                blocked_fill(dark)
            } else {
                open_fill(dark)
            };
            ui.painter().rect_filled(rect, 0.0, fill);
            paint_pattern(ui.painter(), rect, cell, pattern);
            ui.label(egui::RichText::new(text).small());
            ui.add_space(8.0);
        }
    });
}

/// A horizontal colour bar for a scale.
pub fn color_bar(ui: &mut Ui, scale: Scale, width: f32) {
    let (lo, hi) = match scale {
        Scale::Sequential { min, max, .. } => (min, max),
        Scale::Diverging { abs_max } => (-abs_max, abs_max),
    };
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(format_value(lo)).small());
        let (rect, _) = ui.allocate_exact_size(vec2(width, 12.0), Sense::hover());
        let steps = 48;
        for i in 0..steps {
            let t = i as f32 / (steps - 1) as f32;
            let x0 = rect.left() + rect.width() * i as f32 / steps as f32;
            let r = Rect::from_min_max(
                Pos2::new(x0, rect.top()),
                Pos2::new(x0 + rect.width() / steps as f32 + 0.5, rect.bottom()),
            );
            ui.painter()
                .rect_filled(r, 0.0, scale.color(lo + (hi - lo) * t));
        }
        ui.label(egui::RichText::new(format_value(hi)).small());
    });
}
