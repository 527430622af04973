//! The README's figures come from `docs/sessions/`: every view of every saved session renders
//! whole (no grid cut at the bottom or the right) at `--scale 1` and `--scale 2`, and the 2x
//! image is the same layout with twice the pixels, not another layout.
//!
//! Drives the same headless renderer as `maskscope render` (see tests/render.rs): the virtual
//! window is the session's, made taller until the view fits.

use std::path::{Path, PathBuf};

use egui::Rect;
use image::RgbaImage;
use maskscope::app::regions::{Region, region_rect};
use maskscope::app::render::{Canvas, Headless, Target, session_state};

/// The saved sessions the README's figures are drawn from, in name order.
fn docs_sessions() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/sessions");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
}

/// One target of one session as rendered: the image, the rect it shows (points) and the
/// grids drawn in it (accessible name, rect in points).
struct Shot {
    image: RgbaImage,
    shown: Rect,
    canvas: Canvas,
    grids: Vec<(String, Rect)>,
}

/// Renders every target of the session at `path`, in [`Target::ALL`]'s order, at `scale`.
fn render_all(path: &Path, scale: f32) -> Vec<(Target, Shot)> {
    let (state, size, warnings) = session_state(Some(path)).expect("the session opens");
    assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
    let [width, height] = size.unwrap_or([1366.0, 768.0]);
    let canvas = Canvas {
        width,
        height,
        scale,
    };
    let mut headless = Headless::new(state, canvas).expect("a wgpu adapter (lavapipe)");
    Target::ALL
        .into_iter()
        .map(|target| {
            let image = headless
                .capture_whole(target)
                .unwrap_or_else(|e| panic!("{} {target:?}: {e}", path.display()));
            let at = format!("{} {target:?} at {scale}x", path.display());
            let cut = headless.cut_off(target);
            assert!(cut.is_none(), "{at}: {cut:?}");
            let shown = match target.region() {
                Region::Window => headless.ctx().content_rect(),
                region => region_rect(headless.ctx(), region).expect("drawn"),
            };
            // The inputs panel shows no grids; the view's lie outside its image.
            let grids = match target {
                Target::Inputs => vec![],
                _ => headless
                    .drawn_grids()
                    .into_iter()
                    .map(|g| (g.name, g.rect))
                    .collect(),
            };
            let shot = Shot {
                image,
                shown,
                canvas: headless.canvas(),
                grids,
            };
            (target, shot)
        })
        .collect()
}

/// Every grid lies wholly inside the image, in pixels: nothing cut at the right or bottom.
fn assert_grids_whole(at: &str, shot: &Shot, scale: f32) {
    let (w, h) = (shot.image.width() as f32, shot.image.height() as f32);
    for (name, rect) in &shot.grids {
        let min = (rect.min - shot.shown.min) * scale;
        let max = (rect.max - shot.shown.min) * scale;
        assert!(
            min.x >= -1.0 && min.y >= -1.0 && max.x <= w + 1.0 && max.y <= h + 1.0,
            "{at}: {name} at {min:?}..{max:?} px is not inside the {w}x{h} image"
        );
    }
}

/// Mean absolute difference per channel between `one` and `two` shrunk by 2 (box filter).
fn mean_difference(one: &RgbaImage, two: &RgbaImage) -> f64 {
    let (w, h) = (
        one.width().min(two.width() / 2),
        one.height().min(two.height() / 2),
    );
    let mut total = 0u64;
    for y in 0..h {
        for x in 0..w {
            let a = one.get_pixel(x, y).0;
            for (c, channel) in a.iter().enumerate().take(3) {
                let sum: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    .iter()
                    .map(|(dx, dy)| two.get_pixel(2 * x + dx, 2 * y + dy).0[c] as u32)
                    .sum();
                total += (sum as i64 / 4 - *channel as i64).unsigned_abs();
            }
        }
    }
    total as f64 / (3.0 * w as f64 * h as f64)
}

#[test]
fn every_view_of_every_docs_session_is_whole_at_1x_and_2x() {
    let sessions = docs_sessions();
    assert!(sessions.len() >= 5, "{sessions:?}");
    let mut grids_seen = 0;
    let mut largest_move: f32 = 0.0;
    for path in &sessions {
        let ones = render_all(path, 1.0);
        let twos = render_all(path, 2.0);
        for ((target, one), (_, two)) in ones.iter().zip(&twos) {
            let at = format!("{} {target:?}", path.display());
            assert_grids_whole(&format!("{at} at 1x"), one, 1.0);
            assert_grids_whole(&format!("{at} at 2x"), two, 2.0);
            // Views with figures show them.
            if matches!(target, Target::Masks | Target::Attention) {
                assert!(!one.grids.is_empty(), "{at}: no grids drawn");
            }
            grids_seen += one.grids.len();
            // The same layout, doubled: the same window, the same grids at the same places
            // (in points), and an image with twice the pixels on each side. Growing the
            // window to fit rounds to whole pixels, so 2x may end a few points taller.
            assert_eq!(one.canvas.width, two.canvas.width, "{at}");
            assert!(
                (one.canvas.height - two.canvas.height).abs() <= 4.0,
                "{at}: {} vs {}",
                one.canvas.height,
                two.canvas.height
            );
            let names = |s: &Shot| s.grids.iter().map(|g| g.0.clone()).collect::<Vec<_>>();
            assert_eq!(names(one), names(two), "{at}");
            // Text lines are a whole number of points at both scales (see
            // `maskscope::app::fonts`); what is left is egui snapping widget edges to whole
            // pixels, at most one point.
            for ((name, a), (_, b)) in one.grids.iter().zip(&two.grids) {
                let moved = (a.min - b.min).length().max((a.max - b.max).length());
                largest_move = largest_move.max(moved);
                assert!(moved <= 1.0, "{at}: {name} at {a:?} (1x) vs {b:?} (2x)");
            }
            for (side, a, b) in [
                ("width", one.image.width(), two.image.width()),
                ("height", one.image.height(), two.image.height()),
            ] {
                assert!(
                    (2 * a).abs_diff(b) <= 8,
                    "{at}: {side} {a} px at 1x, {b} px at 2x"
                );
            }
            // Not a different picture: shrunk back to 1x it looks like the 1x image (text
            // edges differ a little, cells and panels not at all).
            let difference = mean_difference(&one.image, &two.image);
            println!(
                "{at}: {} grids, 2x shrunk differs by {difference:.2}/255",
                one.grids.len()
            );
            assert!(
                difference < 8.0,
                "{at}: the 2x image shrunk differs from 1x by {difference:.1} per channel"
            );
        }
    }
    println!("largest grid move between 1x and 2x: {largest_move} points");
    assert!(grids_seen >= 10, "only {grids_seen} grids in all sessions");
}
