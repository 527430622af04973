//! Painting a heatmap's parts once [`Heatmap::show`] has laid it out: cells, outlines,
//! labels, row sums, the hover ring, and the patterns of blocked cells.

use egui::epaint::TextShape;
use egui::{Align2, Color32, FontId, Rect, Shape, Stroke, Ui, pos2, vec2};

use super::{Blocked, Cells, HIGHLIGHT_COLOR, Heatmap, Layout, format_short};
use crate::app::colormap::{Colormap, blocked_fill, open_fill};
use crate::masks::Cell;

/// Least space between two column labels' text boxes, in points: a box is as wide as the
/// glyphs' advances, so two boxes that touch read as one word. Row labels' boxes may touch:
/// a box is a line high, and its leading keeps the glyphs apart.
const LABEL_GAP: f32 = 2.0;

/// Cells at least this large (points) hold their own value.
const VALUES_IN_CELLS: f32 = 30.0;

/// Width of the ring around a lesson's outlined cell of side `cell`.
fn ring_width(cell: f32) -> f32 {
    (cell * 0.18).clamp(3.0, 8.0)
}

impl Heatmap<'_> {
    /// The lesson's outlined cells that lie inside the grid.
    fn outlined(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.highlight_cells
            .iter()
            .copied()
            .filter(|&(r, c)| r < self.rows && c < self.cols)
    }

    /// Every cell's fill, the pattern of blocked cells, values when asked, and thin grid
    /// lines between cells large enough to read.
    pub(super) fn paint_cells(&self, ui: &Ui, painter: &egui::Painter, cells: Cells) {
        let dark = ui.visuals().dark_mode;
        let pattern_color = if dark {
            Color32::from_gray(215)
        } else {
            Color32::from_gray(35)
        };
        // One mesh for every fill: no anti-aliased seams between cells, and cells under a
        // point still show (a thumbnail of 43 rows).
        let mut fills = egui::Mesh::default();
        let mut marks = vec![];
        let mut values = vec![];
        for r in 0..self.rows {
            for c in 0..self.cols {
                let cell_rect = cells.rect(r, c);
                let state = self.mask.map_or(Cell::Open, |m| m.cells[[r, c]]);
                let value = self.values.map(|v| v[[r, c]]);
                let fill = match (state.is_blocked(), self.blocked, value) {
                    (true, Blocked::Replace, _) => blocked_fill(dark),
                    (_, _, Some(v)) => self.scale.color(v),
                    (false, _, None) => open_fill(dark),
                    (true, Blocked::Overlay, None) => blocked_fill(dark),
                };
                fills.add_colored_rect(cell_rect, fill);
                if state.is_blocked() {
                    let color = if self.blocked == Blocked::Overlay && value.is_some() {
                        Colormap::text_on(fill).gamma_multiply(0.8)
                    } else {
                        pattern_color
                    };
                    marks.push((cell_rect, state, color));
                }
                if self.show_values
                    && cells.side() >= VALUES_IN_CELLS
                    && let Some(v) = value
                    && !(state.is_blocked() && self.blocked == Blocked::Replace)
                {
                    values.push((cell_rect.center(), format_short(v), Colormap::text_on(fill)));
                }
            }
        }
        painter.add(fills);
        for (rect, state, color) in marks {
            paint_pattern(painter, rect, state, color);
        }
        for (at, text, color) in values {
            painter.text(
                at,
                Align2::CENTER_CENTER,
                text,
                FontId::proportional(10.0),
                color,
            );
        }
        let line = Stroke::new(1.0, ui.visuals().extreme_bg_color.gamma_multiply(0.6));
        let grid = cells.grid;
        if cells.size.x >= 10.0 {
            for c in 1..self.cols {
                painter.vline(grid.left() + c as f32 * cells.size.x, grid.y_range(), line);
            }
        }
        if cells.size.y >= 10.0 {
            for r in 1..self.rows {
                painter.hline(grid.x_range(), grid.top() + r as f32 * cells.size.y, line);
            }
        }
    }

    /// The highlighted cell and row, and the border (selected, hovered or plain).
    pub(super) fn paint_outlines(
        &self,
        ui: &Ui,
        painter: &egui::Painter,
        cells: Cells,
        hovered: bool,
    ) {
        for (r, c) in self.outlined() {
            // A thick bright ring with black rims inside and out, reaching past the cell so
            // it reads from the back of a room on every colormap and both themes.
            let cell_rect = cells.rect(r, c);
            let width = ring_width(cells.side());
            let ring = cell_rect.expand(width * 0.5);
            painter.rect_stroke(
                ring,
                0.0,
                Stroke::new(width + 4.0, Color32::BLACK),
                egui::StrokeKind::Middle,
            );
            painter.rect_stroke(
                ring,
                0.0,
                Stroke::new(width, HIGHLIGHT_COLOR),
                egui::StrokeKind::Middle,
            );
        }
        let grid = cells.grid;
        if let Some(row) = self.highlight_row.filter(|r| *r < self.rows) {
            let rr = Rect::from_min_size(
                grid.min + vec2(0.0, row as f32 * cells.size.y),
                vec2(grid.width(), cells.size.y),
            );
            painter.rect_stroke(
                rr,
                0.0,
                Stroke::new(2.5, Color32::from_rgb(0xff, 0x8c, 0x00)),
                egui::StrokeKind::Outside,
            );
        }
        let visuals = ui.visuals();
        let border = if self.clickable && self.selected {
            Stroke::new(3.0, visuals.selection.stroke.color)
        } else if self.clickable && hovered {
            Stroke::new(1.5, visuals.widgets.hovered.fg_stroke.color)
        } else {
            Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color)
        };
        painter.rect_stroke(grid, 0.0, border, egui::StrokeKind::Outside);
    }

    /// Each outlined cell's value on a tag beside it, unless the cells already print their
    /// values: a lesson quotes those numbers, and the class should read them without
    /// hovering, with values off or cells too small for them (presenter mode has no values
    /// switch). A tag goes right of its ring, else left, above or below, wherever it covers
    /// neither another ring nor another tag.
    /// `painter` may draw past the heatmap (a tag beside a grid narrower than itself).
    pub(super) fn paint_outlined_values(&self, painter: &egui::Painter, cells: Cells) {
        if self.show_values && cells.side() >= VALUES_IN_CELLS {
            return;
        }
        let Some(values) = self.values else {
            return;
        };
        let rings: Vec<Rect> = self
            .outlined()
            .map(|(r, c)| cells.rect(r, c).expand(ring_width(cells.side()) + 2.0))
            .collect();
        let mut taken: Vec<Rect> = Vec::new();
        for ((r, c), ring) in self.outlined().zip(rings.iter().copied()) {
            let state = self.mask.map_or(Cell::Open, |m| m.cells[[r, c]]);
            if state.is_blocked() && self.blocked == Blocked::Replace {
                continue;
            }
            let font = FontId::monospace(self.label_size.max(12.0));
            let galley = painter.layout_no_wrap(format_short(values[[r, c]]), font, Color32::BLACK);
            let tag = tag_place(ring, galley.size(), cells.grid, painter.clip_rect(), |t| {
                !rings.iter().chain(&taken).any(|o| o.intersects(t))
            });
            taken.push(tag);
            painter.rect_filled(tag, 3.0, HIGHLIGHT_COLOR);
            painter.rect_stroke(
                tag,
                3.0,
                Stroke::new(1.5, Color32::BLACK),
                egui::StrokeKind::Outside,
            );
            painter.galley(tag.min + vec2(3.0, 3.0), galley, Color32::BLACK);
        }
    }

    /// Token labels on both axes: the hovered row and column stand out, padding is dimmed.
    /// Where cells are smaller than the text, labels are thinned so that none overlaps
    /// another: the outlined cell's and the hovered ones first, then every label that fits.
    pub(super) fn paint_labels(
        &self,
        ui: &Ui,
        painter: &egui::Painter,
        cells: Cells,
        layout: &Layout,
        hovered: Option<(usize, usize)>,
    ) {
        let (grid, cell) = (cells.grid, cells.size);
        let label_font = FontId::monospace(layout.label_points());
        // The outlined cell's row and column labels sit on the outline's colour, so the eye
        // can follow the cell to its two tokens.
        let outlined: Vec<(usize, usize)> = self.outlined().collect();
        let backdrop = |rect: Rect| {
            painter.rect_filled(rect.expand(2.0), 3.0, HIGHLIGHT_COLOR);
        };
        let label_color = |marked: bool, hot: bool, pad: bool| {
            if marked {
                Color32::BLACK
            } else if hot {
                ui.visuals().strong_text_color()
            } else if pad {
                ui.visuals().weak_text_color()
            } else {
                ui.visuals().text_color()
            }
        };
        // Each label laid out in its colour (outlined, hovered, padding or plain).
        let galleys = |labels: &[String],
                       real: Option<&std::ops::Range<usize>>,
                       marked: &dyn Fn(usize) -> bool,
                       hot: Option<usize>| {
            labels
                .iter()
                .enumerate()
                .map(|(i, label)| {
                    let pad = real.is_some_and(|real| !real.contains(&i));
                    let color = label_color(marked(i), hot == Some(i), pad);
                    let galley = painter.layout_no_wrap(label.clone(), label_font.clone(), color);
                    (galley, color)
                })
                .collect::<Vec<_>>()
        };
        // Rows.
        let rows = layout.row_labels.len().min(self.rows);
        let row_marked = |r: usize| outlined.iter().any(|&(hr, _)| hr == r);
        let row_galleys = galleys(
            &layout.row_labels[..rows],
            self.row_real.as_ref(),
            &row_marked,
            hovered.map(|(r, _)| r),
        );
        // A label taller than its row stays within the grid's height (the corner above the
        // first row belongs to the column labels).
        let row_centre = |r: usize, half: f32| {
            let centre = grid.top() + (r as f32 + 0.5) * cell.y;
            centre.min(grid.bottom() - half).max(grid.top() + half)
        };
        // The outlined row's backdrop may reach into its neighbours' leading.
        let row_halves: Vec<f32> = row_galleys.iter().map(|(g, _)| g.size().y / 2.0).collect();
        let row_centres: Vec<f32> = (0..rows).map(|r| row_centre(r, row_halves[r])).collect();
        // The labels that show, with their index: the outlined cell's and the hovered one
        // placed first.
        let thinned = |galleys: Vec<(std::sync::Arc<egui::Galley>, Color32)>,
                       centres: &[f32],
                       halves: &[f32],
                       marked: &dyn Fn(usize) -> bool,
                       hot: Option<usize>| {
            let first: Vec<usize> = (0..centres.len())
                .filter(|&i| marked(i))
                .chain(hot)
                .collect();
            let shown = thin_labels(centres, halves, &first);
            galleys
                .into_iter()
                .enumerate()
                .filter(move |(i, _)| shown[*i])
        };
        let rows_shown = thinned(
            row_galleys,
            &row_centres,
            &row_halves,
            &row_marked,
            hovered.map(|(r, _)| r),
        );
        for (r, (galley, color)) in rows_shown {
            let pos = pos2(grid.left() - 4.0, row_centres[r]);
            let at = Align2::RIGHT_CENTER.anchor_size(pos, galley.size());
            if row_marked(r) {
                backdrop(at);
            }
            painter.galley(at.min, galley, color);
        }
        // Columns: upright where they fit their column, else running upwards.
        let cols = layout.col_labels.len().min(self.cols);
        let col_marked = |c: usize| outlined.iter().any(|&(_, hc)| hc == c);
        let rotated = |c: usize| layout.rotated.get(c).copied().unwrap_or(false);
        let col_galleys = galleys(
            &layout.col_labels[..cols],
            self.col_real.as_ref(),
            &col_marked,
            hovered.map(|(_, c)| c),
        );
        // Along the x axis a rotated label takes its height, an upright one its width; a
        // label wider than its column stays right of the grid's left edge (the corner beside
        // the first column belongs to the row labels).
        let col_halves: Vec<f32> = col_galleys
            .iter()
            .enumerate()
            .map(|(c, (g, _))| {
                let across = if rotated(c) { g.size().y } else { g.size().x };
                (across + LABEL_GAP) / 2.0 + if col_marked(c) { 2.0 } else { 0.0 }
            })
            .collect();
        let col_centres: Vec<f32> = (0..cols)
            .map(|c| (grid.left() + (c as f32 + 0.5) * cell.x).max(grid.left() + col_halves[c]))
            .collect();
        let cols_shown = thinned(
            col_galleys,
            &col_centres,
            &col_halves,
            &col_marked,
            hovered.map(|(_, c)| c),
        );
        for (c, (galley, color)) in cols_shown {
            let x = col_centres[c];
            let size = galley.size();
            if rotated(c) {
                let pos = pos2(x - size.y / 2.0, grid.top() - 4.0);
                if col_marked(c) {
                    // The text runs upwards from `pos`: its box is `size` turned a quarter.
                    backdrop(Rect::from_min_max(
                        pos2(pos.x, pos.y - size.x),
                        pos2(pos.x + size.y, pos.y),
                    ));
                }
                painter.add(Shape::Text(
                    TextShape::new(pos, galley, color).with_angle(-std::f32::consts::FRAC_PI_2),
                ));
            } else {
                let at = Align2::CENTER_BOTTOM.anchor_size(pos2(x, grid.top() - 2.0), size);
                if col_marked(c) {
                    backdrop(at);
                }
                painter.galley(at.min, galley, color);
            }
        }
    }

    /// The sum of each row to the right; a real row that does not sum to one is flagged.
    /// Rows smaller than the text show every second (third, ...) sum, flagged ones first.
    pub(super) fn paint_row_sums(
        &self,
        ui: &Ui,
        painter: &egui::Painter,
        cells: Cells,
        sums: &[f32],
    ) {
        let small = FontId::proportional(11.0);
        let grid = cells.grid;
        let rows = sums.len().min(self.rows);
        let real = |r: usize| self.row_real.as_ref().is_none_or(|real| real.contains(&r));
        let off = |r: usize| real(r) && (sums[r] - 1.0).abs() > 1e-3;
        let galleys: Vec<_> = (0..rows)
            .map(|r| {
                let color = if off(r) {
                    Color32::from_rgb(0xe0, 0x40, 0x40)
                } else if real(r) {
                    ui.visuals().text_color()
                } else {
                    ui.visuals().weak_text_color()
                };
                let s = sums[r];
                let text = if off(r) {
                    format!("{s:.3}!")
                } else {
                    format!("{s:.3}")
                };
                (painter.layout_no_wrap(text, small.clone(), color), color)
            })
            .collect();
        let centre = |r: usize| grid.top() + (r as f32 + 0.5) * cells.size.y;
        let shown = thin_labels(
            &(0..rows).map(centre).collect::<Vec<_>>(),
            &galleys
                .iter()
                .map(|(g, _)| g.size().y / 2.0)
                .collect::<Vec<_>>(),
            &(0..rows).filter(|&r| off(r)).collect::<Vec<_>>(),
        );
        for (r, (galley, color)) in galleys.into_iter().enumerate() {
            if shown[r] {
                let at = Align2::LEFT_CENTER
                    .anchor_size(pos2(grid.right() + 6.0, centre(r)), galley.size());
                painter.galley(at.min, galley, color);
            }
        }
    }
}

/// Which of the labels centred at `centres`, each `halves` long on either side along the
/// axis, are drawn so that none overlaps another: those in `first` are placed first, then
/// the rest from the start, each only where it overlaps no label already placed.
/// Labels of equal size in cells smaller than they are come out as every second (third, ...).
fn thin_labels(centres: &[f32], halves: &[f32], first: &[usize]) -> Vec<bool> {
    let n = centres.len().min(halves.len());
    let mut shown = vec![false; n];
    let mut placed: Vec<(f32, f32)> = vec![];
    for i in first.iter().copied().filter(|&i| i < n).chain(0..n) {
        if shown[i] {
            continue;
        }
        let (lo, hi) = (centres[i] - halves[i], centres[i] + halves[i]);
        if placed.iter().all(|&(a, b)| hi <= a || lo >= b) {
            shown[i] = true;
            placed.push((lo, hi));
        }
    }
    shown
}

/// Where a value tag of text `size` goes beside `ring`: right, left, above, then below it,
/// where `free` says it covers nothing. Inside the grid's width if one of those places is,
/// else anywhere in `room` (a grid narrower than a tag puts them beside it); right of the
/// ring if no place is free. The tag's rect includes its 3-point margin.
fn tag_place(
    ring: Rect,
    size: egui::Vec2,
    grid: Rect,
    room: Rect,
    free: impl Fn(Rect) -> bool,
) -> Rect {
    let tag = size + vec2(6.0, 6.0);
    let gap = 3.0;
    let mid_y = ring.center().y - tag.y / 2.0;
    let candidates = |within: Rect| {
        // Centred on the ring, slid back inside `within`'s width.
        let centred_x = (ring.center().x - tag.x / 2.0)
            .min(within.right() - tag.x)
            .max(within.left());
        [
            pos2(ring.right() + gap, mid_y),
            pos2(ring.left() - gap - tag.x, mid_y),
            pos2(centred_x, ring.top() - gap - tag.y),
            pos2(centred_x, ring.bottom() + gap),
        ]
        .map(|at| Rect::from_min_size(at, tag))
    };
    let inside = |r: Rect, within: Rect| {
        r.left() >= within.left() - 1.0 && r.right() <= within.right() + 1.0
    };
    let in_grid = candidates(grid);
    let in_room = candidates(room);
    in_grid
        .iter()
        .find(|r| inside(**r, grid) && free(**r))
        .or_else(|| {
            in_room
                .iter()
                .find(|r| room.contains_rect(**r) && free(**r))
        })
        .or_else(|| in_grid.iter().find(|r| inside(**r, grid)))
        .copied()
        .unwrap_or(in_room[0])
}

/// A white ring with a black inner rim around the hovered cell.
pub(super) fn paint_hover_ring(painter: &egui::Painter, cell_rect: Rect) {
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

/// Paints the pattern of a blocked cell: `/` hatching for a future key, `X` for a padding
/// key, both for both.
pub fn paint_pattern(painter: &egui::Painter, rect: Rect, cell: Cell, color: Color32) {
    let w = rect.width().min(rect.height());
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

#[cfg(test)]
mod tests {
    use super::thin_labels;

    #[test]
    fn labels_twice_as_tall_as_their_rows_show_every_second_one() {
        let centres: Vec<f32> = (0..6).map(|i| 5.0 + 10.0 * i as f32).collect();
        assert_eq!(
            thin_labels(&centres, &[9.0; 6], &[]),
            [true, false, true, false, true, false]
        );
        // The outlined row's label comes first; its neighbours make way.
        assert_eq!(
            thin_labels(&centres, &[9.0; 6], &[3]),
            [true, false, false, true, false, true]
        );
        // Labels that fit their rows all show.
        assert_eq!(thin_labels(&centres, &[5.0; 6], &[]), [true; 6]);
    }
}
