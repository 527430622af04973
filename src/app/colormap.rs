//! Colormaps for heatmaps: perceptually uniform, colour-blind-safe defaults (viridis,
//! cividis), grayscale for print, a diverging map for differences, the [`Scale`] that maps a
//! heatmap's values to them, and the fills of mask cells. Shared by the heatmap widget and the
//! SVG figures, so exports match the window.

use egui::Color32;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::masks::MaskGrid;

/// A sequential colormap for values scaled to `0..=1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Colormap {
    #[default]
    Viridis,
    Cividis,
    /// Light (0) to dark (1): prints well in black and white.
    Grayscale,
}

const VIRIDIS: [[u8; 3]; 9] = [
    [0x44, 0x01, 0x54],
    [0x47, 0x2d, 0x7b],
    [0x3b, 0x52, 0x8b],
    [0x2c, 0x72, 0x8e],
    [0x21, 0x91, 0x8c],
    [0x28, 0xae, 0x80],
    [0x5e, 0xc9, 0x62],
    [0xad, 0xdc, 0x30],
    [0xfd, 0xe7, 0x25],
];

const CIVIDIS: [[u8; 3]; 9] = [
    [0x00, 0x20, 0x4c],
    [0x00, 0x33, 0x6f],
    [0x39, 0x48, 0x6b],
    [0x57, 0x5c, 0x6d],
    [0x70, 0x71, 0x73],
    [0x8a, 0x87, 0x79],
    [0xa6, 0x9d, 0x75],
    [0xc4, 0xb5, 0x6c],
    [0xff, 0xe9, 0x45],
];

/// ColorBrewer RdBu (reversed): blue for negative, near-white for zero, red for positive.
const DIVERGING: [[u8; 3]; 7] = [
    [0x21, 0x66, 0xac],
    [0x67, 0xa9, 0xcf],
    [0xd1, 0xe5, 0xf0],
    [0xf7, 0xf7, 0xf7],
    [0xfd, 0xdb, 0xc7],
    [0xef, 0x8a, 0x62],
    [0xb2, 0x18, 0x2b],
];

fn sample(stops: &[[u8; 3]], t: f32) -> Color32 {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (stops.len() - 1) as f32;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f32;
    let (a, b) = (stops[i], stops[i + 1]);
    let mix = |k: usize| (a[k] as f32 + (b[k] as f32 - a[k] as f32) * f).round() as u8;
    Color32::from_rgb(mix(0), mix(1), mix(2))
}

impl Colormap {
    pub const ALL: [Colormap; 3] = [Colormap::Viridis, Colormap::Cividis, Colormap::Grayscale];

    pub fn label(self) -> &'static str {
        match self {
            Colormap::Viridis => "viridis",
            Colormap::Cividis => "cividis",
            Colormap::Grayscale => "grayscale (print)",
        }
    }

    /// Colour of `t` in `0..=1` (clamped; NaN maps to the low end).
    pub fn color(self, t: f32) -> Color32 {
        match self {
            Colormap::Viridis => sample(&VIRIDIS, t),
            Colormap::Cividis => sample(&CIVIDIS, t),
            Colormap::Grayscale => {
                let t = if t.is_finite() {
                    t.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let v = (255.0 - t * 235.0).round() as u8;
                Color32::from_gray(v)
            }
        }
    }

    /// Black or white, whichever reads better on top of `color`.
    pub fn text_on(color: Color32) -> Color32 {
        let luma = 0.299 * color.r() as f32 + 0.587 * color.g() as f32 + 0.114 * color.b() as f32;
        if luma > 140.0 {
            Color32::BLACK
        } else {
            Color32::WHITE
        }
    }
}

/// Diverging colour for `t` in `-1..=1` (0 is near-white).
pub fn diverging(t: f32) -> Color32 {
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    sample(&DIVERGING, (t + 1.0) / 2.0)
}

/// How values map to colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// `min..=max` through a sequential colormap.
    Sequential {
        min: f32,
        max: f32,
        colormap: Colormap,
    },
    /// `-abs_max..=abs_max` through the diverging map (for differences).
    Diverging { abs_max: f32 },
}

impl Scale {
    pub fn color(&self, v: f32) -> Color32 {
        match *self {
            Scale::Sequential { min, max, colormap } => {
                let span = max - min;
                let t = if span > f32::EPSILON {
                    (v - min) / span
                } else {
                    0.5
                };
                colormap.color(t)
            }
            Scale::Diverging { abs_max } => {
                diverging(if abs_max > 0.0 { v / abs_max } else { 0.0 })
            }
        }
    }

    /// `0..=1` through `colormap`: attention weights, comparable across matrices.
    pub fn unit(colormap: Colormap) -> Scale {
        Scale::Sequential {
            min: 0.0,
            max: 1.0,
            colormap,
        }
    }

    /// Sequential scale over the open (unblocked, finite) cells of `values`.
    pub fn auto(values: ArrayView2<f32>, mask: Option<&MaskGrid>, colormap: Colormap) -> Scale {
        let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
        for ((q, k), &v) in values.indexed_iter() {
            let blocked = mask.is_some_and(|m| m.cells.get((q, k)).is_some_and(|c| c.is_blocked()));
            if !blocked && v.is_finite() && v.abs() < 1e8 {
                min = min.min(v);
                max = max.max(v);
            }
        }
        if min > max {
            (min, max) = (0.0, 1.0);
        }
        Scale::Sequential { min, max, colormap }
    }
}

/// Neutral colour of blocked cells: a grey that none of the colormaps' ends use.
pub fn blocked_fill(dark_mode: bool) -> Color32 {
    if dark_mode {
        Color32::from_gray(70)
    } else {
        Color32::from_gray(185)
    }
}

/// Colour of open cells in a mask grid without values.
pub fn open_fill(dark_mode: bool) -> Color32 {
    if dark_mode {
        Color32::from_rgb(0x2f, 0x6f, 0x5a)
    } else {
        Color32::from_rgb(0xc8, 0xe8, 0xd8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_match_stops() {
        assert_eq!(
            Colormap::Viridis.color(0.0),
            Color32::from_rgb(0x44, 0x01, 0x54)
        );
        assert_eq!(
            Colormap::Viridis.color(1.0),
            Color32::from_rgb(0xfd, 0xe7, 0x25)
        );
        assert_eq!(
            Colormap::Viridis.color(f32::NAN),
            Colormap::Viridis.color(0.0)
        );
        assert_eq!(diverging(0.0), Color32::from_rgb(0xf7, 0xf7, 0xf7));
    }

    #[test]
    fn grayscale_darkens() {
        assert!(Colormap::Grayscale.color(1.0).r() < Colormap::Grayscale.color(0.0).r());
    }
}
