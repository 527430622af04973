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

/// Installs [`definitions`] once per context (cheap to call every frame). Called from the
/// app's first frame, so test harnesses built around [`crate::app::App::with_state`] get it
/// too.
pub fn ensure_installed(ctx: &egui::Context) {
    let id = egui::Id::unique("maskscope_cjk_font_installed");
    if ctx.data(|d| d.get_temp::<bool>(id)).unwrap_or(false) {
        return;
    }
    ctx.set_fonts(definitions());
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
