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

/// The figure a presenter-mode view is about (its grids with their labels, or its plots) as
/// drawn in the last frame, and the height of its smallest label text, both in points. The
/// window forgets it at the start of every frame, so a frame without a figure reads `None`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FigureInfo {
    pub rect: Rect,
    pub label_points: f32,
}

impl FigureInfo {
    /// The smallest rect holding both, with the smaller label size.
    pub fn union(self, other: FigureInfo) -> FigureInfo {
        FigureInfo {
            rect: self.rect.union(other.rect),
            label_points: self.label_points.min(other.label_points),
        }
    }
}

fn figure_id() -> egui::Id {
    egui::Id::unique("maskscope_presenter_figure")
}

/// Records the presenter figure drawn this frame (joined with one recorded earlier in it).
pub fn remember_figure(ctx: &egui::Context, info: FigureInfo) {
    let joined = figure(ctx).map_or(info, |earlier| earlier.union(info));
    ctx.data_mut(|d| d.insert_temp(figure_id(), joined));
}

/// Forgets the figure; called by the window before drawing a frame.
pub fn forget_figure(ctx: &egui::Context) {
    ctx.data_mut(|d| d.remove::<FigureInfo>(figure_id()));
}

/// The presenter figure of the last frame, if one was drawn.
pub fn figure(ctx: &egui::Context) -> Option<FigureInfo> {
    ctx.data(|d| d.get_temp::<FigureInfo>(figure_id()))
}

/// The window's panels, for layout checks: where each was drawn in the last frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Panel {
    /// The lessons side panel of the normal layout.
    Lessons,
    /// Presenter mode's lesson caption.
    Caption,
    /// Presenter mode's strip with the selected row's chips.
    InputsStrip,
    /// The central panel.
    Central,
}

fn panel_id(panel: Panel) -> egui::Id {
    egui::Id::unique(("maskscope_panel_rect", panel))
}

/// Records where `panel` was drawn this frame (in points). Called by the window.
pub fn remember_panel(ctx: &egui::Context, panel: Panel, rect: Rect) {
    ctx.data_mut(|d| d.insert_temp(panel_id(panel), rect));
}

/// Forgets every panel's rect; called by the window before drawing a frame.
pub fn forget_panels(ctx: &egui::Context) {
    for panel in [
        Panel::Lessons,
        Panel::Caption,
        Panel::InputsStrip,
        Panel::Central,
    ] {
        ctx.data_mut(|d| d.remove::<Rect>(panel_id(panel)));
    }
}

/// Where `panel` was drawn in the last frame, if it was.
pub fn panel_rect(ctx: &egui::Context, panel: Panel) -> Option<Rect> {
    ctx.data(|d| d.get_temp::<Rect>(panel_id(panel)))
}
