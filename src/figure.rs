//! Figures as files, from plain data: heatmaps and mask grids as SVG (vector, token labels
//! as text, blocked cells hatched so print in grey still shows them) and their numbers as
//! CSV or JSON. No egui here: the same code serves the app's export menu and `maskscope render`.

use std::fmt::Write as _;

use ndarray::Array2;
use serde_json::json;

use crate::masks::{Cell, MaskGrid};

/// What one exported matrix shows.
pub struct Matrix<'a> {
    pub title: &'a str,
    /// `(rows = queries, cols = keys)`.
    pub values: &'a Array2<f32>,
    pub row_labels: &'a [String],
    pub col_labels: &'a [String],
    /// Blocked cells are hatched and their value hidden.
    pub mask: Option<&'a MaskGrid>,
    /// Colour of a value (already scaled by the caller's colormap).
    pub color: &'a dyn Fn(f32) -> [u8; 3],
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A token as shown on an axis: spaces made visible.
fn label(token: &str) -> String {
    if token == " " {
        "␣".to_string()
    } else {
        token.to_string()
    }
}

const CELL: f32 = 28.0;
const MARGIN_LEFT: f32 = 90.0;
const MARGIN_TOP: f32 = 110.0;

/// An SVG heatmap: one square per cell, token labels on both axes, values in open cells.
pub fn heatmap_svg(m: &Matrix) -> String {
    let (rows, cols) = m.values.dim();
    let width = MARGIN_LEFT + cols as f32 * CELL + 20.0;
    let height = MARGIN_TOP + rows as f32 * CELL + 20.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Noto Sans CJK SC, sans-serif">"#
    );
    let _ = writeln!(
        svg,
        r##"<defs><pattern id="future" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#d9d9d9"/><line x1="0" y1="0" x2="0" y2="6" stroke="#555" stroke-width="2"/></pattern><pattern id="padding" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="#d9d9d9"/><path d="M0 0L8 8M8 0L0 8" stroke="#555" stroke-width="1.2"/></pattern></defs>"##
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" font-size="16" font-weight="bold">{}</text>"#,
        10,
        escape(m.title)
    );
    for (j, token) in m.col_labels.iter().enumerate().take(cols) {
        let x = MARGIN_LEFT + (j as f32 + 0.5) * CELL;
        let _ = writeln!(
            svg,
            r#"<text x="{x}" y="{}" font-size="13" transform="rotate(-60 {x} {})" text-anchor="start">{}</text>"#,
            MARGIN_TOP - 6.0,
            MARGIN_TOP - 6.0,
            escape(&label(token))
        );
    }
    for (i, token) in m.row_labels.iter().enumerate().take(rows) {
        let y = MARGIN_TOP + (i as f32 + 0.5) * CELL + 4.0;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{y}" font-size="13" text-anchor="end">{}</text>"#,
            MARGIN_LEFT - 6.0,
            escape(&label(token))
        );
    }
    for ((i, j), &v) in m.values.indexed_iter() {
        let (x, y) = (MARGIN_LEFT + j as f32 * CELL, MARGIN_TOP + i as f32 * CELL);
        let cell = m
            .mask
            .and_then(|g| g.cells.get((i, j)).copied())
            .unwrap_or(Cell::Open);
        let fill = match cell {
            Cell::Open => {
                let [r, g, b] = (m.color)(v);
                format!("rgb({r},{g},{b})")
            }
            Cell::Future => "url(#future)".into(),
            Cell::Padding | Cell::Both => "url(#padding)".into(),
        };
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{fill}" stroke="white" stroke-width="1"><title>{} → {}: {}</title></rect>"#,
            escape(m.row_labels.get(i).map_or("", String::as_str)),
            escape(m.col_labels.get(j).map_or("", String::as_str)),
            if cell.is_blocked() {
                cell.reason().to_string()
            } else {
                format!("{v:.4}")
            }
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// CSV with the key tokens as header and the query token first in each row; blocked cells
/// are written as empty fields so they cannot be mistaken for zero weights.
pub fn matrix_csv(m: &Matrix) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from("query");
    for token in m.col_labels {
        out.push(',');
        out.push_str(&quote(token));
    }
    out.push('\n');
    for (i, row) in m.values.rows().into_iter().enumerate() {
        out.push_str(&quote(m.row_labels.get(i).map_or("", String::as_str)));
        for (j, v) in row.iter().enumerate() {
            out.push(',');
            if !m.mask.is_some_and(|g| g.is_blocked(i, j)) {
                let _ = write!(out, "{v}");
            }
        }
        out.push('\n');
    }
    out
}

/// JSON with labels, values (null where blocked) and the reason per cell.
pub fn matrix_json(m: &Matrix) -> serde_json::Value {
    let values: Vec<Vec<Option<f32>>> = m
        .values
        .rows()
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            row.iter()
                .enumerate()
                .map(|(j, v)| (!m.mask.is_some_and(|g| g.is_blocked(i, j))).then_some(*v))
                .collect()
        })
        .collect();
    let reasons: Option<Vec<Vec<Cell>>> = m
        .mask
        .map(|g| g.cells.rows().into_iter().map(|r| r.to_vec()).collect());
    json!({ "title": m.title, "rows": m.row_labels, "cols": m.col_labels, "values": values, "cells": reasons })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::masks::{MaskSettings, decoder_self};

    fn example() -> (Array2<f32>, Vec<String>, MaskGrid) {
        let values = Array2::from_shape_fn(
            (3, 3),
            |(i, j)| if j <= i { 1.0 / (i + 1) as f32 } else { 0.0 },
        );
        let tokens = ["<bos>", "a", "<b>"].map(String::from).to_vec();
        (values, tokens, decoder_self(3, 3, &MaskSettings::default()))
    }

    #[test]
    fn svg_has_labels_as_text_and_hatched_blocked_cells() {
        let (values, tokens, mask) = example();
        let svg = heatmap_svg(&Matrix {
            title: "decoder self",
            values: &values,
            row_labels: &tokens,
            col_labels: &tokens,
            mask: Some(&mask),
            color: &|_| [1, 2, 3],
        });
        assert!(
            svg.contains(">&lt;bos&gt;</text>"),
            "labels are escaped text"
        );
        assert_eq!(
            svg.matches("url(#future)").count(),
            3,
            "the three future cells are hatched"
        );
        assert_eq!(
            svg.matches("rgb(1,2,3)").count(),
            6,
            "the six open cells are coloured"
        );
    }

    #[test]
    fn csv_and_json_leave_blocked_cells_empty() {
        let (values, tokens, mask) = example();
        let m = Matrix {
            title: "t",
            values: &values,
            row_labels: &tokens,
            col_labels: &tokens,
            mask: Some(&mask),
            color: &|_| [0, 0, 0],
        };
        let csv = matrix_csv(&m);
        assert_eq!(csv.lines().nth(1), Some("\"<bos>\",1,,"));
        let json = matrix_json(&m);
        assert!(json["values"][0][1].is_null());
        assert_eq!(json["values"][1][1], 0.5);
    }
}
