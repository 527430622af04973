//! The bundled Chinese font: a subset of Noto Sans CJK SC (SIL OFL 1.1, see
//! `assets/fonts/OFL.txt`; rebuilt by `tools/subset_cjk_font.sh`), installed as a fallback
//! after egui's own fonts so Latin text keeps its look and Chinese renders on machines
//! without any CJK font.

use std::sync::Arc;

use egui::{FontData, FontDefinitions, FontFamily};

/// Name of the font in egui's font table.
pub const CJK_FONT_NAME: &str = "NotoSansSC-maskscope";

/// The subset font file (about 0.8 MB: every character of the Chinese tables and lessons
/// plus GB2312 level 1, the 3,755 most common characters).
pub const CJK_FONT: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-maskscope.otf");

/// egui's default fonts with the Chinese font appended to every family's fallback chain.
pub fn definitions() -> FontDefinitions {
    let mut fonts = FontDefinitions::default();
    fonts.font_data.insert(
        CJK_FONT_NAME.to_owned(),
        Arc::new(FontData::from_static(CJK_FONT)),
    );
    for family in [FontFamily::Proportional, FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .push(CJK_FONT_NAME.to_owned());
    }
    fonts
}

/// Text sizes (points) whose lines are a whole number of points tall both at 1 and at 2
/// pixels per point. egui rounds every line of text to whole pixels, so with its defaults
/// (small 9, body 12.5, heading 18) a line is half a point taller at 2x than at 1x and a view
/// rendered at `--scale 2` lays out a few points lower than at 1x. Measured with egui's
/// Ubuntu font: 9.5, 10.5, 12, 13, 14, 15, 15.5, 16.5, 17.5 and 19 are stable; 9, 12.5, 16
/// and 18 are not.
pub const SMALL_POINTS: f32 = 9.5;
pub const BODY_POINTS: f32 = 13.0;
pub const HEADING_POINTS: f32 = 17.5;
/// A section heading inside a view.
pub const SECTION_POINTS: f32 = 16.5;

/// egui's text styles at the sizes above (monospace keeps egui's 12, which is stable).
pub fn apply_text_sizes(style: &mut egui::Style) {
    use egui::TextStyle;
    for (text_style, size) in [
        (TextStyle::Small, SMALL_POINTS),
        (TextStyle::Body, BODY_POINTS),
        (TextStyle::Button, BODY_POINTS),
        (TextStyle::Heading, HEADING_POINTS),
    ] {
        if let Some(font) = style.text_styles.get_mut(&text_style) {
            font.size = size;
        }
    }
}

/// Installs [`definitions`] and the text sizes once per context (cheap to call every frame).
/// Called from the app's first frame, so test harnesses built around
/// [`crate::app::App::with_state`] get it too.
pub fn ensure_installed(ctx: &egui::Context) {
    let id = egui::Id::unique("maskscope_cjk_font_installed");
    if ctx.data(|d| d.get_temp::<bool>(id)).unwrap_or(false) {
        return;
    }
    ctx.set_fonts(definitions());
    ctx.all_styles_mut(apply_text_sizes);
    ctx.data_mut(|d| d.insert_temp(id, true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_is_a_fallback_after_the_defaults() {
        let defs = definitions();
        for family in [FontFamily::Proportional, FontFamily::Monospace] {
            let chain = &defs.families[&family];
            assert_eq!(chain.last().map(String::as_str), Some(CJK_FONT_NAME));
            assert!(chain.len() > 1, "egui's own fonts come first");
        }
    }
}
