//! Presenter mode's layout, decided from the window's size alone (in points, after the
//! presenter zoom): where the lesson caption goes and how much room it takes. The figure gets
//! everything else. Nothing of it is stored, so the same step looks the same at every size;
//! the normal layout's side panel widths are kept aside ([`SideWidths`]) so switching
//! presenter mode off brings them back exactly.

use egui::Vec2;

/// Largest share of the window's width a side caption takes.
pub const CAPTION_SHARE: f32 = 0.28;
/// A side caption never grows wider than this (in points): past it, lines get too long to read.
const CAPTION_MAX_WIDTH: f32 = 420.0;
/// A side caption narrower than this cannot hold a step's title and Back / Next on their lines.
const CAPTION_MIN_WIDTH: f32 = 200.0;
/// Windows at least this much wider than tall put the caption beside the figure (16:10, 16:9);
/// squarer ones (4:3, portrait) put it below, where their spare room is.
const SIDE_ASPECT: f32 = 1.45;
/// Share of the window's height a bottom caption takes.
const BOTTOM_SHARE: f32 = 0.24;

/// Where the lesson caption goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Caption {
    /// A column on the right, this wide.
    Side { width: f32 },
    /// A band along the bottom, this tall.
    Bottom { height: f32 },
}

/// Presenter mode's layout for one window size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PresenterLayout {
    pub caption: Caption,
}

impl PresenterLayout {
    /// The layout for a window of `size` points.
    pub fn for_window(size: Vec2) -> Self {
        let side_width = (size.x * CAPTION_SHARE).min(CAPTION_MAX_WIDTH).floor();
        let landscape = size.x >= SIDE_ASPECT * size.y;
        let caption = if landscape && side_width >= CAPTION_MIN_WIDTH {
            Caption::Side { width: side_width }
        } else {
            Caption::Bottom {
                height: (size.y * BOTTOM_SHARE).floor(),
            }
        };
        Self { caption }
    }
}

/// A resizable side panel of the normal layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SidePanel {
    Inputs,
    Lessons,
}

/// The normal layout's side panel widths as last drawn, given back exactly when presenter
/// mode ends. Without this they come back a few points wider: the first frame back is still
/// drawn at the presenter zoom (a zoom change applies one frame late), contents measured in
/// it (grids, scroll areas) remember their wider size, and the next frame's panel grows to
/// hold it.
#[derive(Debug, Default)]
pub struct SideWidths {
    inputs: Option<f32>,
    lessons: Option<f32>,
    /// Normal frames left that draw the panels at the recorded widths: the one still at the
    /// presenter zoom and the first at the normal zoom.
    restore_frames: u8,
}

impl SideWidths {
    /// A presenter-mode frame was drawn: the next normal frames restore the widths.
    pub fn presenter_frame(&mut self) {
        self.restore_frames = 2;
    }

    /// A normal frame was drawn.
    pub fn normal_frame_drawn(&mut self) {
        self.restore_frames = self.restore_frames.saturating_sub(1);
    }

    /// Records the width `side` was drawn at in a normal frame.
    pub fn record(&mut self, side: SidePanel, width: f32) {
        *self.width_mut(side) = Some(width);
    }

    /// `panel` fixed at the width `side` had before presenter mode, while it comes back.
    pub fn restored(&self, side: SidePanel, panel: egui::Panel) -> egui::Panel {
        let width = match side {
            SidePanel::Inputs => self.inputs,
            SidePanel::Lessons => self.lessons,
        };
        match width.filter(|_| self.restore_frames > 0) {
            Some(w) => panel.exact_size(w),
            None => panel,
        }
    }

    fn width_mut(&mut self, side: SidePanel) -> &mut Option<f32> {
        match side {
            SidePanel::Inputs => &mut self.inputs,
            SidePanel::Lessons => &mut self.lessons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::vec2;

    #[test]
    fn projector_sizes_get_a_side_caption_of_at_most_30_percent() {
        // 1280x720, 1366x768, 1920x1080 at the presenter zoom of 1.5.
        for size in [vec2(853.3, 480.0), vec2(910.7, 512.0), vec2(1280.0, 720.0)] {
            match PresenterLayout::for_window(size).caption {
                Caption::Side { width } => {
                    assert!(width <= 0.3 * size.x, "{width} of {size:?}");
                    assert!(width >= CAPTION_MIN_WIDTH);
                }
                other => panic!("{size:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn square_and_narrow_windows_get_a_bottom_band() {
        for size in [vec2(683.0, 512.0), vec2(500.0, 800.0), vec2(600.0, 300.0)] {
            let layout = PresenterLayout::for_window(size);
            assert!(
                matches!(layout.caption, Caption::Bottom { height } if height <= 0.3 * size.y),
                "{size:?}: {layout:?}"
            );
        }
    }
}
