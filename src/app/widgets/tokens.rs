//! Token chips: one small box per token with its id underneath. Special tokens, `<unk>` and
//! padding look different from ordinary tokens by text *and* by style.

use std::ops::Range;

use egui::{
    Align2, Color32, CornerRadius, FontId, Rect, Response, Sense, Stroke, StrokeKind, Ui, vec2,
};

use crate::i18n::trf;

/// How a chip is styled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChipKind {
    Normal,
    /// `<bos>` / `<eos>` / `</s>`, or a `<pad>` that starts a decoder input (Marian starts
    /// from its pad id).
    Special,
    /// `<unk>`: the typed piece is not in the vocabulary.
    Unknown,
    /// `<pad>`: a position that only exists because another row of the batch is longer.
    Pad,
}

impl ChipKind {
    /// By name, not id: the built-in vocabularies and SentencePiece number their special
    /// tokens differently, but name them alike. A position past the row's real length is
    /// padding whatever its name.
    pub fn of(token: &str, is_padding: bool) -> ChipKind {
        match token {
            _ if is_padding => ChipKind::Pad,
            "<unk>" => ChipKind::Unknown,
            "<pad>" | "<bos>" | "<eos>" | "<s>" | "</s>" => ChipKind::Special,
            _ => ChipKind::Normal,
        }
    }
}

/// Shown instead of a space token so it stays visible (U+00B7, in every default font).
pub const SPACE_GLYPH: &str = "\u{b7}";

/// A token as it is drawn: spaces and other invisible characters made visible.
pub fn display_token(token: &str) -> String {
    match token {
        " " => SPACE_GLYPH.to_owned(),
        "\t" => "\\t".to_owned(),
        "\n" => "\\n".to_owned(),
        t if t.chars().all(char::is_whitespace) && !t.is_empty() => format!("{:?}", t),
        t => t.to_owned(),
    }
}

fn colors(kind: ChipKind, ui: &Ui) -> (Color32, Stroke, Color32) {
    let v = ui.visuals();
    let dark = v.dark_mode;
    match kind {
        ChipKind::Normal => (
            v.extreme_bg_color,
            Stroke::new(1.0, v.widgets.inactive.bg_stroke.color.gamma_multiply(2.0)),
            v.strong_text_color(),
        ),
        ChipKind::Special => {
            let fill = if dark {
                Color32::from_rgb(0x3d, 0x2a, 0x6b)
            } else {
                Color32::from_rgb(0xe4, 0xd8, 0xff)
            };
            (
                fill,
                Stroke::new(1.5, Color32::from_rgb(0x8a, 0x6c, 0xd8)),
                v.strong_text_color(),
            )
        }
        ChipKind::Unknown => {
            let fill = if dark {
                Color32::from_rgb(0x6b, 0x2a, 0x1a)
            } else {
                Color32::from_rgb(0xff, 0xdc, 0xc8)
            };
            (
                fill,
                Stroke::new(2.0, Color32::from_rgb(0xe0, 0x6a, 0x2a)),
                v.strong_text_color(),
            )
        }
        ChipKind::Pad => (
            Color32::TRANSPARENT,
            Stroke::new(1.0, v.weak_text_color()),
            v.weak_text_color(),
        ),
    }
}

/// The chip's two lines of text: the token as shown, and its id.
fn chip_galleys(
    ui: &Ui,
    shown: &str,
    id: u32,
    kind: ChipKind,
    text_color: Color32,
) -> (std::sync::Arc<egui::Galley>, std::sync::Arc<egui::Galley>) {
    let font = FontId::monospace(13.0);
    let id_font = FontId::proportional(9.5);
    let galley = ui
        .painter()
        .layout_no_wrap(shown.to_owned(), font, text_color);
    let id_text = if kind == ChipKind::Unknown {
        format!("{id} <unk>")
    } else {
        id.to_string()
    };
    let id_galley = ui
        .painter()
        .layout_no_wrap(id_text, id_font, ui.visuals().weak_text_color());
    (galley, id_galley)
}

fn chip_size(galley: &egui::Galley, id_galley: &egui::Galley) -> egui::Vec2 {
    let width = galley.size().x.max(id_galley.size().x) + 8.0;
    vec2(width.max(18.0), galley.size().y + id_galley.size().y + 4.0)
}

/// The width [`chip`] takes for `token` (points), to decide before drawing whether a row of
/// chips fits.
pub fn chip_width(ui: &Ui, token: &str, id: u32) -> f32 {
    let kind = ChipKind::of(token, false);
    let (galley, id_galley) = chip_galleys(ui, &display_token(token), id, kind, Color32::WHITE);
    chip_size(&galley, &id_galley).x
}

/// One chip: the token on top, its id below. `typed` is what the user typed when it differs
/// from the token (an `<unk>`).
pub fn chip(ui: &mut Ui, token: &str, id: u32, kind: ChipKind, typed: Option<&str>) -> Response {
    let (fill, stroke, text_color) = colors(kind, ui);
    let shown = match (kind, typed) {
        (ChipKind::Unknown, Some(t)) => format!("{}?", display_token(t)),
        _ => display_token(token),
    };
    let (galley, id_galley) = chip_galleys(ui, &shown, id, kind, text_color);
    let size = chip_size(&galley, &id_galley);
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    if ui.is_rect_visible(rect) {
        let painter = ui.painter();
        painter.rect(
            rect,
            CornerRadius::same(3),
            fill,
            stroke,
            StrokeKind::Inside,
        );
        if kind == ChipKind::Pad {
            // Dashes along the top edge: padding is "not really there".
            let mut x = rect.left() + 2.0;
            while x < rect.right() - 2.0 {
                painter.hline(
                    x..=(x + 2.0).min(rect.right() - 2.0),
                    rect.top() + 1.0,
                    Stroke::new(1.0, ui.visuals().panel_fill),
                );
                x += 5.0;
            }
        }
        let top = Rect::from_min_size(
            rect.min + vec2(0.0, 1.0),
            vec2(rect.width(), galley.size().y),
        );
        painter.galley(
            Align2::CENTER_TOP
                .anchor_size(top.center_top(), galley.size())
                .min,
            galley,
            text_color,
        );
        painter.galley(
            Align2::CENTER_BOTTOM
                .anchor_size(rect.center_bottom() - vec2(0.0, 1.0), id_galley.size())
                .min,
            id_galley,
            Color32::PLACEHOLDER,
        );
    }
    let what = match kind {
        ChipKind::Normal => trf("token '{}' (id {})", &[&display_token(token), &id]),
        ChipKind::Special => trf("special token {} (id {})", &[&token, &id]),
        ChipKind::Unknown => trf(
            "unknown: '{}' is not in the vocabulary and became <unk> (id {})",
            &[&display_token(typed.unwrap_or(token)), &id],
        ),
        ChipKind::Pad => trf(
            "<pad> (id {}): filler so every row of the batch has the same length",
            &[&id],
        ),
    };
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &what));
    response.on_hover_text(what)
}

/// A labelled, wrapping row of chips; positions outside `real` are padding (before it when
/// the row is left-padded, after it otherwise). `typed` gives the typed piece per real token
/// (for `<unk>`), counted from the first real position.
pub fn chip_row(
    ui: &mut Ui,
    label: &str,
    tokens: &[String],
    ids: &[u32],
    real: Range<usize>,
    typed: Option<&[String]>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing = vec2(3.0, 3.0);
        ui.label(egui::RichText::new(label).small().weak());
        for (i, (token, &id)) in tokens.iter().zip(ids).enumerate() {
            chip(
                ui,
                token,
                id,
                ChipKind::of(token, !real.contains(&i)),
                typed
                    .zip(i.checked_sub(real.start))
                    .and_then(|(t, k)| t.get(k))
                    .map(String::as_str),
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_are_visible() {
        assert_eq!(display_token(" "), SPACE_GLYPH);
        assert_eq!(display_token("a"), "a");
    }

    #[test]
    fn chips_are_classed_by_name_and_position() {
        assert_eq!(ChipKind::of("<pad>", true), ChipKind::Pad);
        assert_eq!(
            ChipKind::of("<pad>", false),
            ChipKind::Special,
            "Marian's start"
        );
        assert_eq!(ChipKind::of("<unk>", false), ChipKind::Unknown);
        assert_eq!(ChipKind::of("<bos>", false), ChipKind::Special);
        assert_eq!(ChipKind::of("</s>", false), ChipKind::Special);
        assert_eq!(ChipKind::of("\u{2581}", false), ChipKind::Normal);
        assert_eq!(ChipKind::of("<", false), ChipKind::Normal);
    }
}
