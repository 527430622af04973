//! The window's icon: a 4 x 4 causal mask, drawn in `assets/icon/maskscope.svg` and rendered
//! to PNGs by `tools/render_icons.sh`. The same files go into the .deb and the README.

use std::sync::Arc;

/// 256 px is what desktops scale down from for task bars and window switchers.
const ICON_PNG: &[u8] = include_bytes!("../../assets/icon/maskscope-256.png");

/// The icon for `ViewportBuilder::with_icon`. An undecodable PNG gives eframe's "no icon"
/// (the empty `IconData`) rather than stopping the window from opening.
pub fn window_icon() -> Arc<egui::IconData> {
    Arc::new(eframe::icon_data::from_png_bytes(ICON_PNG).unwrap_or_default())
}
