//! Regions of the window that can be captured (the inputs panel, the current view, the whole
//! window) and where each was drawn in the last frame. The window records them while it
//! draws; PNG exports and headless renders crop to them.

use egui::{Rect, Ui};

use super::settings::ViewId;

/// A part of the window that can be captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Region {
    /// The inputs panel on the left.
    Inputs,
    /// The current view in the central area (below the view tabs).
    View,
    /// Everything.
    Window,
}

impl Region {
    pub fn slug(self, view: ViewId) -> &'static str {
        match self {
            Region::Inputs => "inputs",
            Region::View => view.slug(),
            Region::Window => "window",
        }
    }
}

fn rect_id(region: Region) -> egui::Id {
    egui::Id::unique(("maskscope_export_rect", region))
}

/// Records where `region` was drawn this frame (in points). Called by the window.
pub fn remember_rect(ctx: &egui::Context, region: Region, rect: Rect) {
    ctx.data_mut(|d| d.insert_temp(rect_id(region), rect));
}

/// Records the rest of `ui` (the central panel below the view tabs) as the view's region,
/// with a few points of the panel's margin on the sides and bottom so nothing drawn at the
/// edge is cut.
pub fn remember_view_rect(ui: &Ui) {
    let r = ui.available_rect_before_wrap();
    let grown = Rect::from_min_max(
        egui::pos2(r.left() - 6.0, r.top()),
        egui::pos2(r.right() + 6.0, r.bottom() + 6.0),
    );
    remember_rect(ui.ctx(), Region::View, grown.intersect(ui.clip_rect()));
    // The view is about to be drawn: nothing of it overflows yet.
    ui.ctx()
        .data_mut(|d| d.insert_temp(overflow_id(), egui::Vec2::ZERO));
}

fn overflow_id() -> egui::Id {
    egui::Id::unique("maskscope_view_overflow")
}

/// Records a scroll area of the current view (its visible rect and its content's size), so a
/// headless render knows how much larger the window must be to show the view whole.
pub fn note_view_scroll(ctx: &egui::Context, visible: Rect, content: egui::Vec2) {
    let overflow = (content - visible.size()).max(egui::Vec2::ZERO);
    ctx.data_mut(|d| {
        let seen = d.get_temp_mut_or_default::<egui::Vec2>(overflow_id());
        *seen = seen.max(overflow);
    });
}

/// How much more room, in points, the current view's content wanted in the last frame than
/// its scroll areas had (zero when everything was shown).
pub fn view_overflow(ctx: &egui::Context) -> egui::Vec2 {
    ctx.data(|d| d.get_temp::<egui::Vec2>(overflow_id()))
        .unwrap_or_default()
}

/// Where `region` was drawn in the last frame, in points.
pub fn region_rect(ctx: &egui::Context, region: Region) -> Option<Rect> {
    match region {
        Region::Window => Some(ctx.content_rect()),
        _ => ctx.data(|d| d.get_temp::<Rect>(rect_id(region))),
    }
}
