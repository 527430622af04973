//! The decoder view in presenter mode: what the decoder is fed, as one table of large token
//! cells across the centre of the window. Before any decoding step it is the teacher-forcing
//! table (target, decoder input, label, prediction per position); once the stepper has taken
//! steps it is the autoregressive table (what each step was fed and chose), with the newest
//! step's next-token chart and, for beam search, the beams under it. The keys of the stepper
//! (Right/Space, Left, P, R) work here too; the full view is one F5 away.

use egui::{Align2, Color32, FontId, Rect, RichText, Sense, Stroke, Ui, pos2, vec2};

use super::super::masks::{BAD_COLOR, OK_COLOR};
use super::super::presenter::{LABEL_POINTS, MAX_LABEL_POINTS};
use super::{CHOSEN, next_token, stepper, teacher_forcing};
use crate::app::regions::{self, FigureInfo};
use crate::app::state::AppState;
use crate::app::widgets::tokens::display_token;
use crate::i18n::{tr, trf};
use crate::trace::{SequenceTrace, StepTrace};

/// Largest cell side, in points: a short sentence should not become a few giant boxes.
const MAX_CELL: f32 = 72.0;
/// Share of the room the autoregressive table may take; the chart gets the rest.
const STEPPING_TABLE_SHARE: f32 = 0.42;

/// One cell of a [`TokenTable`]: its text and how it stands out.
struct Cell {
    text: String,
    color: Option<Color32>,
    underline: bool,
}

impl Cell {
    fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            color: None,
            underline: false,
        }
    }

    fn colored(text: impl Into<String>, color: Color32) -> Cell {
        Cell {
            color: Some(color),
            ..Cell::plain(text)
        }
    }

    /// Green when right; red and underlined when wrong (not colour alone).
    fn judged(text: impl Into<String>, right: bool) -> Cell {
        Cell {
            underline: !right,
            ..Cell::colored(text, if right { OK_COLOR } else { BAD_COLOR })
        }
    }
}

/// Named rows of token cells, one column per decoder position, painted as large as the room
/// allows. Every token is drawn at the table's label size (`<bos>` as large as a digit):
/// columns are as wide as their widest token, and a table wider than the room continues in
/// a second (third, ...) band of columns under the first, each band with its row names.
struct TokenTable {
    /// The row of column numbers.
    header: Vec<String>,
    rows: Vec<(String, Vec<Cell>)>,
    /// A column drawn with a frame (the newest step).
    outlined_column: Option<usize>,
}

/// Where a [`TokenTable`]'s cells go at one label size.
struct TableLayout {
    points: f32,
    name_width: f32,
    /// Each column's width.
    widths: Vec<f32>,
    /// The columns of each band, top to bottom.
    bands: Vec<std::ops::Range<usize>>,
    cell_h: f32,
    size: egui::Vec2,
}

impl TableLayout {
    /// Space between two bands.
    fn gap(&self) -> f32 {
        self.points
    }

    fn band_height(&self, rows: usize) -> f32 {
        rows as f32 * self.cell_h
    }

    /// The rect of `(row, col)` (row 0: the column numbers) in a table drawn at `origin`.
    fn cell_rect(&self, origin: egui::Pos2, rows: usize, row: usize, col: usize) -> Rect {
        let band = self
            .bands
            .iter()
            .position(|b| b.contains(&col))
            .unwrap_or(0);
        let top = origin.y + band as f32 * (self.band_height(rows) + self.gap());
        let left = origin.x
            + self.name_width
            + self.widths[self.bands[band].start..col].iter().sum::<f32>();
        Rect::from_min_size(
            pos2(left, top + row as f32 * self.cell_h),
            vec2(self.widths[col], self.cell_h),
        )
    }
}

impl TokenTable {
    fn columns(&self) -> usize {
        self.header.len()
    }

    /// The layout at `points`, its bands as wide as `room` allows.
    fn layout(&self, ui: &Ui, points: f32, room: egui::Vec2) -> TableLayout {
        let font = FontId::monospace(points);
        let name_font = FontId::proportional(points);
        let name_width = self
            .rows
            .iter()
            .map(|(name, _)| text_width(ui, name, &name_font))
            .fold(0.0_f32, f32::max)
            + 12.0;
        // Each column as wide as its widest token, with room on both sides, and never
        // narrower than a square-ish cell for a digit.
        let natural: Vec<f32> = (0..self.columns())
            .map(|c| {
                let tokens = self.rows.iter().filter_map(|(_, cells)| cells.get(c));
                tokens
                    .map(|cell| text_width(ui, &cell.text, &font))
                    .chain([text_width(ui, &self.header[c], &name_font)])
                    .fold(0.0_f32, f32::max)
                    + 0.8 * points
            })
            .map(|w| w.max(1.8 * points))
            .collect();
        let avail = (room.x - name_width).max(natural.iter().copied().fold(0.0, f32::max));
        let mut bands = vec![];
        let (mut start, mut used) = (0, 0.0);
        for (c, w) in natural.iter().enumerate() {
            if c > start && used + w > avail {
                bands.push(start..c);
                (start, used) = (c, 0.0);
            }
            used += w;
        }
        bands.push(start..natural.len());
        // Spare width goes to every column alike (up to a large cell), so the bands line up.
        let spare = bands
            .iter()
            .map(|b| (avail - natural[b.clone()].iter().sum::<f32>()) / b.len().max(1) as f32)
            .fold(f32::INFINITY, f32::min)
            .max(0.0);
        let widths: Vec<f32> = natural
            .iter()
            .map(|w| (w + spare).min(w.max(MAX_CELL)))
            .collect();
        // Rows fill the room's height (up to a large cell), never lower than twice the text.
        let rows = self.rows.len() + 1;
        let n = bands.len() as f32;
        let fill = (room.y - (n - 1.0) * points) / (n * rows as f32);
        let cell_h = fill.min(MAX_CELL).max(2.0 * points);
        let widest_band = bands
            .iter()
            .map(|b| widths[b.clone()].iter().sum::<f32>())
            .fold(0.0, f32::max);
        let mut layout = TableLayout {
            points,
            name_width,
            widths,
            bands,
            cell_h,
            size: egui::Vec2::ZERO,
        };
        layout.size = vec2(
            name_width + widest_band,
            n * layout.band_height(rows) + (n - 1.0) * layout.gap(),
        );
        layout
    }

    /// Paints the table inside `room` (points) at the largest label size that fits, and
    /// reports it as the figure.
    fn show(&self, ui: &mut Ui, room: egui::Vec2, name: &str) -> FigureInfo {
        let rows = self.rows.len() + 1;
        let largest = MAX_LABEL_POINTS.round() as i32;
        let layout = (LABEL_POINTS.round() as i32..=largest)
            .rev()
            .map(|p| self.layout(ui, p as f32, room))
            .find(|l| l.size.y <= room.y && l.size.x <= room.x)
            .unwrap_or_else(|| self.layout(ui, LABEL_POINTS, room));
        let points = layout.points;
        let font = FontId::monospace(points);
        let name_font = FontId::proportional(points);
        let (rect, response) = ui.allocate_exact_size(layout.size, Sense::hover());
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, name));
        let painter = ui.painter_at(rect.expand(2.0));
        let visuals = ui.visuals();
        let weak = visuals.weak_text_color();
        let strong = visuals.strong_text_color();
        let cell_rect = |row: usize, col: usize| layout.cell_rect(rect.min, rows, row, col);
        for band in &layout.bands {
            let first = band.start;
            for (col, number) in self.header.iter().enumerate().take(band.end).skip(first) {
                let at = cell_rect(0, col).center();
                painter.text(at, Align2::CENTER_CENTER, number, name_font.clone(), weak);
            }
            for (r, (name, cells)) in self.rows.iter().enumerate() {
                let row = r + 1;
                let left = cell_rect(row, first);
                let band_rect = Rect::from_min_max(
                    pos2(rect.left(), left.top()),
                    pos2(cell_rect(row, band.end - 1).right(), left.bottom()),
                );
                if r % 2 == 0 {
                    painter.rect_filled(band_rect, 2.0, visuals.faint_bg_color);
                }
                let name_at = pos2(rect.left() + 4.0, band_rect.center().y);
                painter.text(
                    name_at,
                    Align2::LEFT_CENTER,
                    name,
                    name_font.clone(),
                    strong,
                );
                for (col, cell) in cells.iter().enumerate().take(band.end).skip(first) {
                    let r = cell_rect(row, col);
                    let color = cell.color.unwrap_or(strong);
                    let galley = painter.layout_no_wrap(cell.text.clone(), font.clone(), color);
                    let at = r.center() - galley.size() / 2.0;
                    if cell.underline {
                        let y = at.y + galley.size().y;
                        painter.hline(at.x..=at.x + galley.size().x, y, Stroke::new(2.0, color));
                    }
                    painter.galley(at, galley, color);
                }
            }
        }
        if let Some(col) = self.outlined_column.filter(|&c| c < self.columns()) {
            let frame = cell_rect(0, col).union(cell_rect(rows - 1, col));
            painter.rect_stroke(
                frame.shrink(1.0),
                3.0,
                Stroke::new(3.0, CHOSEN),
                egui::StrokeKind::Inside,
            );
        }
        FigureInfo {
            rect,
            label_points: points,
        }
    }
}

fn text_width(ui: &Ui, text: &str, font: &FontId) -> f32 {
    ui.painter()
        .layout_no_wrap(text.to_owned(), font.clone(), Color32::WHITE)
        .size()
        .x
}

/// Teacher forcing: every real target position, each fed the true previous token.
fn teacher_forcing_table(seq: &SequenceTrace) -> TokenTable {
    let real = seq.tgt_real();
    let token = |tokens: &[String], p: usize| display_token(&tokens[p]);
    let target = real
        .clone()
        // The target is one shorter than the labels (which end with <eos>).
        .map(|p| {
            Cell::plain(if p + 1 < real.end {
                token(&seq.label_tokens, p)
            } else {
                String::new()
            })
        })
        .collect();
    TokenTable {
        header: real.clone().map(|p| (p - real.start).to_string()).collect(),
        rows: vec![
            (tr("target").to_owned(), target),
            (
                tr("decoder input").to_owned(),
                real.clone()
                    .map(|p| Cell::colored(token(&seq.tgt_input_tokens, p), CHOSEN))
                    .collect(),
            ),
            (
                tr("label (to predict)").to_owned(),
                real.clone()
                    .map(|p| Cell::plain(token(&seq.label_tokens, p)))
                    .collect(),
            ),
            (
                tr("predicted").to_owned(),
                real.clone()
                    .map(|p| {
                        let right = seq.predicted[p] == seq.labels[p];
                        Cell::judged(token(&seq.predicted_tokens, p), right)
                    })
                    .collect(),
            ),
        ],
        outlined_column: None,
    }
}

/// Autoregressive decoding: what each step was fed last and what it chose, with how likely
/// the choice was; the newest step framed.
fn stepping_table(steps: &[StepTrace]) -> TokenTable {
    let fed = steps
        .iter()
        .map(|s| {
            let newest = s.input_tokens.last().map_or("", String::as_str);
            Cell::plain(display_token(newest))
        })
        .collect();
    let chosen = steps
        .iter()
        .map(|s| Cell::colored(display_token(&s.chosen_token), CHOSEN))
        .collect();
    let probability = steps
        .iter()
        .map(|s| Cell::plain(format!("{:.0}", 100.0 * s.chosen_probability())))
        .collect();
    TokenTable {
        header: (1..=steps.len()).map(|s| s.to_string()).collect(),
        rows: vec![
            (tr("decoder input").to_owned(), fed),
            (tr("chose").to_owned(), chosen),
            (tr("p (%)").to_owned(), probability),
        ],
        outlined_column: steps.len().checked_sub(1),
    }
}

/// The decoder figure of presenter mode.
pub fn presenter_figure(ui: &mut Ui, state: &mut AppState) {
    state.sync_stepper();
    let time = ui.ctx().input(|i| i.time);
    stepper::transport(ui, state).apply(state, time);
    if state.stepper.steps().is_empty() {
        teacher_forcing(ui, state);
    } else {
        stepping(ui, state);
    }
}

fn teacher_forcing(ui: &mut Ui, state: &AppState) {
    let Some(seq) = state.sequence() else {
        ui.label(tr("No trace yet: enter a source and a target on the left."));
        return;
    };
    ui.label(
        RichText::new(tr(
            "Teacher forcing (training): position t is fed the true token t-1. Step (Right) decodes instead.",
        ))
        .strong(),
    );
    let line = ui.spacing().interact_size.y;
    let room = vec2(ui.available_width(), ui.available_height() - 2.0 * line);
    let info = teacher_forcing_table(seq).show(ui, room, tr("Decoder inputs table"));
    regions::remember_figure(ui.ctx(), info);
    teacher_forcing::summary(ui, seq);
}

fn stepping(ui: &mut Ui, state: &AppState) {
    let steps = state.stepper.steps();
    let Some(last) = steps.last() else {
        return;
    };
    let output: Vec<u32> = steps.iter().map(|s| s.chosen).collect();
    let mut heading = trf(
        "Autoregressive decoding: {}",
        &[&format!("\"{}\"", state.engine.text_of(&output))],
    );
    if state.stepper.finished() {
        heading = format!("{heading} {}", tr("(finished)"));
    }
    ui.label(RichText::new(heading).strong());
    // What the beams below took last frame, so the table and the chart leave them room.
    let below_id = ui.scope_id().with("presenter_decoder_below");
    let below = ui.data(|d| d.get_temp::<f32>(below_id)).unwrap_or(0.0);
    let line = ui.spacing().interact_size.y;
    let room = vec2(
        ui.available_width(),
        (ui.available_height() - below - 2.0 * line).max(200.0),
    );
    let table = stepping_table(steps).show(
        ui,
        vec2(room.x, room.y * STEPPING_TABLE_SHARE),
        tr("Decoder inputs table"),
    );
    regions::remember_figure(ui.ctx(), table);
    let chart_top = ui.cursor().top();
    ui.label(RichText::new(tr("Next-token distribution (chosen in orange)")).strong());
    let chart_height = (room.y * (1.0 - STEPPING_TABLE_SHARE) - line).max(100.0);
    let vocab_size = state.engine.target_vocab_size();
    let top_n = state.settings.decoder.top_n;
    next_token::chart(ui, last, vocab_size, top_n, room.x, chart_height);
    let chart = Rect::from_min_max(
        pos2(table.rect.left(), chart_top),
        pos2(table.rect.left() + room.x, ui.cursor().top()),
    );
    regions::remember_figure(
        ui.ctx(),
        FigureInfo {
            rect: chart,
            label_points: table.label_points,
        },
    );
    let beams_top = ui.cursor().top();
    let beams = state
        .stepper
        .session()
        .and_then(|s| s.beams.get(steps.len() - 1).or(s.beams.last()));
    if let Some(beams) = beams {
        // The table's own text at the figure's label size, for the back of the room.
        ui.scope(|ui| {
            for (style, font) in ui.style_mut().text_styles.iter_mut() {
                if matches!(style, egui::TextStyle::Body | egui::TextStyle::Monospace) {
                    font.size = table.label_points * 0.85;
                }
            }
            stepper::beam_table(ui, steps.len(), beams);
        });
    }
    let used = ui.cursor().top() - beams_top;
    ui.data_mut(|d| d.insert_temp(below_id, used));
}
