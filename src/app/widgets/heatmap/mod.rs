//! A heatmap of a `(query, key)` matrix with token labels on both axes, a hover readout, and
//! blocked cells drawn with a pattern (diagonal hatching for future tokens, a cross for
//! padding) so that "blocked" never relies on colour alone.

use std::ops::Range;

mod paint;

use egui::{Color32, FontId, Pos2, Rect, Response, Sense, Ui, Vec2, vec2};
use ndarray::ArrayView2;

use self::paint::paint_hover_ring;
pub use self::paint::paint_pattern;
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

/// What the pointer is over after showing a heatmap.
pub struct HeatmapResponse {
    pub response: Response,
    /// `(row, column)` under the pointer.
    pub hovered: Option<(usize, usize)>,
    /// Size of the token labels as drawn, in points (they shrink with very small cells).
    pub label_points: f32,
}

/// The outline of a lesson's cell and the backdrop of its row and column labels: bright
/// magenta, unlike any colormap, with a black rim.
pub const HIGHLIGHT_COLOR: Color32 = Color32::from_rgb(0xff, 0x2d, 0xd4);

/// How far the cells of a long and short matrix may stretch along its short axis (see
/// [`Heatmap::stretch`]): a 43 x 6 matrix gets cells up to 4 times as wide as tall.
pub const LONG_SHORT_STRETCH: f32 = 4.0;

/// Token labels' size in points unless [`Heatmap::label_size`] says otherwise.
pub const LABEL_POINTS: f32 = 12.0;

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
    max_aspect: f32,
    value_name: &'a str,
    row_real: Option<Range<usize>>,
    col_real: Option<Range<usize>>,
    highlight_row: Option<usize>,
    /// The lesson's outlined cells, the first one the step's own.
    highlight_cells: Vec<(usize, usize)>,
    label_size: f32,
    /// The least the labels may shrink to so that each row keeps its label.
    label_min: f32,
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
            max_aspect: 1.0,
            value_name: tr("weight"),
            row_real: None,
            col_real: None,
            highlight_row: None,
            highlight_cells: Vec::new(),
            label_size: LABEL_POINTS,
            label_min: LABEL_POINTS,
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

    /// Lets the cells of a long and short matrix grow along its short axis, up to `ratio`
    /// times as long as along the other: a 43 x 6 matrix gets wide cells instead of a thin
    /// strip in a wide panel (`f32::INFINITY`: fill `max_size`, for thumbnails). Square
    /// matrices keep square cells.
    pub fn stretch(mut self, ratio: f32) -> Self {
        self.max_aspect = ratio.max(1.0);
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

    /// The real (unpadded) rows and columns: labels outside them are drawn dimmed. Ranges,
    /// not lengths: a left-padded row's real tokens are its last ones.
    pub fn real_ranges(mut self, rows: Range<usize>, cols: Range<usize>) -> Self {
        self.row_real = Some(rows);
        self.col_real = Some(cols);
        self
    }

    pub fn highlight_row(mut self, row: Option<usize>) -> Self {
        self.highlight_row = row;
        self
    }

    /// Outlines every `(row, column)` cell a lesson step quotes; each gets its value on a
    /// tag unless the cells print their values themselves.
    pub fn highlight_cells(mut self, cells: impl IntoIterator<Item = (usize, usize)>) -> Self {
        self.highlight_cells = cells.into_iter().collect();
        self
    }

    /// Size of the token labels in points (presenter figures use more than the default).
    pub fn label_size(mut self, points: f32) -> Self {
        self.label_size = points;
        self.label_min = points;
        self
    }

    /// Lets the labels shrink down to `points` where rows are shorter than a line of the
    /// label size (presenter figures: every row keeps a label at least this large).
    pub fn label_size_at_least(mut self, points: f32) -> Self {
        self.label_min = points.min(self.label_size);
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
        let layout = self.fitted_layout(ui);
        let (rect, response) = ui.allocate_exact_size(layout.total, self.sense());
        self.describe(&response, ui.is_enabled());
        let grid = Rect::from_min_size(
            rect.min + vec2(layout.row_label_w, layout.col_label_h),
            layout.grid_size,
        );
        let cell = layout.cell;
        let hovered = response.hover_pos().filter(|p| grid.contains(*p)).map(|p| {
            let r = (((p.y - grid.top()) / cell.y) as usize).min(self.rows.saturating_sub(1));
            let c = (((p.x - grid.left()) / cell.x) as usize).min(self.cols.saturating_sub(1));
            (r, c)
        });
        let label_points = layout.label_points();
        if !ui.is_rect_visible(rect) || self.rows == 0 || self.cols == 0 {
            return HeatmapResponse {
                response,
                hovered,
                label_points,
            };
        }
        // Room around the grid for the outline of a lesson's cell at the edge.
        let mut painter = ui.painter_at(rect.expand(10.0));
        if self.dim {
            painter.set_opacity(0.35);
        }
        let cells = Cells { grid, size: cell };
        self.paint_cells(ui, &painter, cells);
        self.paint_outlines(ui, &painter, cells, response.hovered());
        if self.row_labels.is_some() {
            self.paint_labels(ui, &painter, cells, &layout, hovered);
        }
        if let Some(sums) = self.row_sums {
            self.paint_row_sums(ui, &painter, cells, sums);
        }
        // Value tags may reach past the heatmap, as far as the panel shows.
        let mut tags = ui.painter().clone();
        if self.dim {
            tags.set_opacity(0.35);
        }
        self.paint_outlined_values(&tags, cells);
        if let Some((r, c)) = hovered {
            paint_hover_ring(&painter, cells.rect(r, c));
        }
        let response = match hovered {
            Some(cell) => self.hover_text(response, cell),
            None => response,
        };
        HeatmapResponse {
            response,
            hovered,
            label_points,
        }
    }

    fn sense(&self) -> Sense {
        if self.clickable {
            Sense::click()
        } else {
            Sense::hover()
        }
    }

    /// The accessible name and role (a button when clickable, else an image).
    fn describe(&self, response: &Response, enabled: bool) {
        if let Some(name) = &self.name {
            let (clickable, selected) = (self.clickable, self.selected);
            response.widget_info(|| {
                if clickable {
                    egui::WidgetInfo::selected(egui::Role::Button, enabled, selected, name)
                } else {
                    egui::WidgetInfo::labeled(egui::Role::Image, enabled, name)
                }
            });
        }
    }

    /// [`Heatmap::layout`] at the label size, or smaller (down to
    /// [`Heatmap::label_size_at_least`]) where a label would be taller than its row and
    /// every second row would lose its label.
    fn fitted_layout(&self, ui: &Ui) -> Layout {
        let mut points = self.label_size;
        let mut layout = self.layout(ui, points);
        while points - 1.0 >= self.label_min && layout.line_height > layout.cell.y {
            points -= 1.0;
            layout = self.layout(ui, points);
        }
        layout
    }

    /// Sizes at labels of `points`: label margins from the widest labels, cells as large as
    /// fit `max_size`.
    fn layout(&self, ui: &Ui, points: f32) -> Layout {
        let font = FontId::monospace(points);
        let shown = |labels: Option<&[String]>| -> Vec<String> {
            labels
                .map(|l| l.iter().map(|t| display_token(t)).collect())
                .unwrap_or_default()
        };
        let text_color = ui.visuals().text_color();
        let width = |s: &String| {
            ui.fonts_mut(|f| {
                f.layout_no_wrap(s.to_owned(), font.clone(), text_color)
                    .size()
                    .x
            })
        };
        // Width of the widest label (capped), plus a gap to the grid. Longer labels are cut
        // to the cap with "…" (the hover readout names the whole token).
        let cap = 90.0 * points / LABEL_POINTS;
        let fitted = |labels: Vec<String>| -> Vec<String> {
            labels
                .into_iter()
                .map(|l| fit_width(l, cap, &width))
                .collect()
        };
        let row_labels = fitted(shown(self.row_labels));
        let col_labels = fitted(shown(self.col_labels));
        let widest =
            |widths: &mut dyn Iterator<Item = f32>| widths.fold(0.0, f32::max).min(cap) + 6.0;
        let show_labels = self.row_labels.is_some();
        let row_label_w = if show_labels {
            widest(&mut row_labels.iter().map(width))
        } else {
            0.0
        };
        let sums_w = if self.row_sums.is_some() { 48.0 } else { 0.0 };
        let (rows, cols) = (self.rows.max(1), self.cols.max(1));
        let avail_w = (self.max_size.x - row_label_w - sums_w).max(10.0);
        let cell_for = |col_label_h: f32| {
            let avail_h = (self.max_size.y - col_label_h).max(10.0);
            let room = vec2(avail_w / cols as f32, avail_h / rows as f32);
            let square = room.min_elem();
            let (lo, hi) = self.cell_range;
            // Large cells get whole points (crisp edges); tiny ones keep their fraction, or a
            // 43-row thumbnail of 60 points would lose a third of its height.
            // Only the axis with fewer cells stretches: a square matrix keeps square cells.
            let side = |v: f32, stretches: bool| {
                let most = if stretches {
                    square * self.max_aspect
                } else {
                    square
                };
                let v = v.min(most).clamp(lo, hi);
                if v >= 4.0 { v.floor() } else { v }
            };
            vec2(
                side(room.x, self.rows > self.cols),
                side(room.y, self.cols > self.rows),
            )
        };
        // A column label stands upright when it fits its column (a digit, a letter, one CJK
        // character); only the ones that do not run upwards. Their height makes the cells
        // smaller, so which ones fit is decided again at the final size (a label that fitted
        // the larger cell is shorter than the rotated ones, so the margin still holds it).
        let col_widths: Vec<f32> = col_labels.iter().map(width).collect();
        let upright_h = points + 4.0;
        // Upright only with a point to spare on each side: neighbours must not touch.
        let too_wide =
            |cell: Vec2| -> Vec<bool> { col_widths.iter().map(|w| *w > cell.x - 2.0).collect() };
        let (rotated, col_label_h) = if show_labels {
            let first = too_wide(cell_for(upright_h));
            if first.contains(&true) {
                let rotated_h = widest(
                    &mut col_widths
                        .iter()
                        .zip(&first)
                        .filter(|(_, r)| **r)
                        .map(|(w, _)| *w),
                );
                let h = rotated_h.max(upright_h);
                (too_wide(cell_for(h)), h)
            } else {
                (first, upright_h)
            }
        } else {
            (vec![false; col_labels.len()], 0.0)
        };
        let cell = cell_for(col_label_h);
        let grid_size = vec2(cell.x * self.cols as f32, cell.y * self.rows as f32);
        let line_height = ui.fonts_mut(|f| f.row_height(&font));
        Layout {
            font,
            line_height,
            row_labels,
            col_labels,
            rotated,
            row_label_w,
            col_label_h,
            cell,
            grid_size,
            total: vec2(
                row_label_w + grid_size.x + sums_w,
                col_label_h + grid_size.y,
            ),
        }
    }

    /// What the hovered cell is: its two tokens, its value and why it is open or blocked.
    fn hover_text(&self, response: Response, (r, c): (usize, usize)) -> Response {
        let (row_axis, col_axis) = self.axis_names;
        let token = |labels: Option<&[String]>, i: usize| {
            labels
                .and_then(|l| l.get(i))
                .map(|t| format!(" '{}'", display_token(t)))
                .unwrap_or_default()
        };
        let (row_tok, col_tok) = (token(self.row_labels, r), token(self.col_labels, c));
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
    }
}

/// The measured sizes of one heatmap.
struct Layout {
    font: FontId,
    /// The labels as shown (special tokens and spaces made visible).
    row_labels: Vec<String>,
    col_labels: Vec<String>,
    /// Per column: its label runs upwards (it is wider than its column).
    rotated: Vec<bool>,
    row_label_w: f32,
    col_label_h: f32,
    /// A cell's width and height (equal unless [`Heatmap::stretch`] let them differ).
    cell: Vec2,
    /// Height of a line of label text.
    line_height: f32,
    grid_size: Vec2,
    total: Vec2,
}

impl Layout {
    /// The labels' size as drawn: always the size asked for. Cells smaller than the text
    /// show every second (third, ...) label instead of smaller ones.
    fn label_points(&self) -> f32 {
        self.font.size
    }
}

/// `label` as it fits `max` points (measured by `width`): whole, or cut with "…".
fn fit_width(label: String, max: f32, width: &dyn Fn(&String) -> f32) -> String {
    if width(&label) <= max {
        return label;
    }
    let mut chars: Vec<char> = label.chars().collect();
    while chars.len() > 1 {
        chars.pop();
        let cut: String = chars.iter().chain(['…'].iter()).collect();
        if width(&cut) <= max {
            return cut;
        }
    }
    chars.into_iter().chain(['…']).collect()
}

/// Where the cells are: the grid's rect and a cell's size.
#[derive(Clone, Copy)]
struct Cells {
    grid: Rect,
    size: Vec2,
}

impl Cells {
    fn rect(self, r: usize, c: usize) -> Rect {
        Rect::from_min_size(
            self.grid.min + vec2(c as f32 * self.size.x, r as f32 * self.size.y),
            self.size,
        )
    }

    /// The shorter side of a cell.
    fn side(self) -> f32 {
        self.size.min_elem()
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

/// The four kinds of cell and what the legend calls them.
fn legend_entries() -> [(Cell, &'static str); 4] {
    [
        (Cell::Open, tr("open")),
        (Cell::Future, tr("blocked: future (causal)")),
        (Cell::Padding, tr("blocked: padding")),
        (Cell::Both, tr("blocked: both")),
    ]
}

/// One legend entry: a cell drawn as the heatmap draws it, and its name.
fn legend_entry(ui: &mut Ui, cell: Cell, text: &str) {
    let dark = ui.visuals().dark_mode;
    let pattern = if dark {
        Color32::from_gray(215)
    } else {
        Color32::from_gray(35)
    };
    let (rect, _) = ui.allocate_exact_size(Vec2::splat(16.0), Sense::hover());
    let fill = if cell.is_blocked() {
        blocked_fill(dark)
    } else {
        open_fill(dark)
    };
    ui.painter().rect_filled(rect, 0.0, fill);
    paint_pattern(ui.painter(), rect, cell, pattern);
    ui.add(egui::Label::new(egui::RichText::new(text).small()).wrap());
}

/// A small legend explaining the cell patterns, on as few lines as fit.
pub fn legend(ui: &mut Ui) {
    ui.horizontal_wrapped(|ui| {
        for (cell, text) in legend_entries() {
            legend_entry(ui, cell, text);
            ui.add_space(8.0);
        }
    });
}

/// The legend one entry per line, for a narrow column.
pub fn legend_stacked(ui: &mut Ui) {
    for (cell, text) in legend_entries() {
        ui.horizontal(|ui| legend_entry(ui, cell, text));
    }
}

/// The lowest and highest value a scale shows.
fn scale_ends(scale: Scale) -> (f32, f32) {
    match scale {
        Scale::Sequential { min, max, .. } => (min, max),
        Scale::Diverging { abs_max } => (-abs_max, abs_max),
    }
}

/// Paints the scale's colours from low (left) to high (right) over `rect`.
fn paint_scale(ui: &Ui, rect: Rect, scale: Scale) {
    let (lo, hi) = scale_ends(scale);
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
}

/// A horizontal colour bar for a scale, its ends labelled on either side.
pub fn color_bar(ui: &mut Ui, scale: Scale, width: f32) {
    let (lo, hi) = scale_ends(scale);
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(format_value(lo)).small());
        let (rect, _) = ui.allocate_exact_size(vec2(width, 12.0), Sense::hover());
        paint_scale(ui, rect, scale);
        ui.label(egui::RichText::new(format_value(hi)).small());
    });
}

/// A colour bar `width` wide with its ends labelled underneath, for a narrow column or a
/// row that must not grow past `width`.
pub fn color_bar_under(ui: &mut Ui, scale: Scale, width: f32) {
    let (lo, hi) = scale_ends(scale);
    ui.vertical(|ui| {
        ui.set_max_width(width);
        let (rect, _) = ui.allocate_exact_size(vec2(width, 14.0), Sense::hover());
        paint_scale(ui, rect, scale);
        ui.horizontal(|ui| {
            ui.set_max_width(width);
            ui.label(egui::RichText::new(format_value(lo)).small());
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(egui::RichText::new(format_value(hi)).small());
            });
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which column labels a heatmap of these labels runs upwards, with cells of `cell`
    /// points (the CJK font installed, as in the app).
    fn rotated(labels: &[&str], cell: f32) -> Vec<bool> {
        let ctx = egui::Context::default();
        crate::app::fonts::ensure_installed(&ctx);
        let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        let mask = MaskGrid::all_open((1, labels.len()));
        let mut out = vec![];
        for _ in 0..2 {
            // The fonts are in place from the second pass on.
            let mut output = ctx.run_ui(egui::RawInput::default(), |ui| {
                let heatmap = Heatmap::mask_only(&mask)
                    .labels(&labels[..1], &labels)
                    .cell_range(cell, cell);
                out = heatmap.layout(ui, LABEL_POINTS).rotated;
            });
            output.textures_delta.clear();
        }
        out
    }

    #[test]
    fn only_labels_wider_than_their_column_run_upwards() {
        // chinese-numerals 4: <bos> does not fit a 24-point column, the CJK characters and
        // a two-digit number do; they stay upright beside the rotated one.
        assert_eq!(
            rotated(&["<bos>", "三", "百", "2", "10"], 24.0),
            [true, false, false, false, false]
        );
        // Short labels that fit stay upright even when no label is rotated.
        assert_eq!(rotated(&["三", "a"], 24.0), [false, false]);
        // In narrow columns a two-digit number no longer fits and turns; a digit keeps a
        // point clear on each side of a 10-point column.
        assert_eq!(rotated(&["9", "10"], 10.0), [false, true]);
    }
}
