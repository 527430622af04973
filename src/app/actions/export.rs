//! Exports from the window: the current view, the inputs panel or the whole window as PNG
//! (1x, 2x or 3x), and each heatmap / mask grid of the current view as SVG (vector, token
//! labels as text), CSV or JSON. Files are written atomically; errors go to the status bar.
//!
//! How a PNG is made:
//! - **1x** is a viewport screenshot (`egui::Context::request_screenshot`) of a clean frame
//!   (one frame after the menu or the path prompt closed), cropped to the region's rect in
//!   physical pixels (`rect * pixels_per_point`): exactly what is on screen, at the current
//!   zoom.
//! - **2x / 3x** draw the same frame again offscreen with [`Offscreen`], with the window's own
//!   OpenGL context ([`Exports::window_gl`]; wgpu only where there is no window): a second
//!   egui context with a copy of the window's memory (panel widths, scroll offsets,
//!   open sections, zoom, style) and fonts, the same size in points, and
//!   `pixels_per_point = window's * scale`. The layout is identical and text and lines are
//!   rasterised at the higher density, so the picture is sharp, not an upscaled screenshot.
//!   (Raising the zoom in the window instead would shrink the layout's size in points and
//!   re-wrap everything.)
//!
//! The figures come from [`crate::app::figures`], from the same state and settings the views
//! draw, with the view's colour scale, so SVG colours match the window. The menus that start
//! exports are in [`super::export_menu`].

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};

use egui::Rect;

use crate::app::export_jobs::{ExportJob, Format};
use crate::app::figures::{self, Figure};
use crate::app::offscreen::{Offscreen, Renderer};
use crate::app::png::{color_image_to_rgba, crop, png_bytes};
use crate::app::regions::{Region, region_rect};
use crate::app::settings::ViewId;
use crate::app::state::AppState;
use crate::fsio::write_atomically;
use crate::i18n::{tr, trf};
use crate::model::tracing::TokenSide;

/// The heatmaps and mask grids `view` draws for the current state, main figure first (the
/// inputs panel and the fine-tune view have none). Mirrors the views' choices: kind, layer,
/// head, mean, diff and colour range.
pub fn view_figures(state: &AppState, view: ViewId) -> Vec<Figure> {
    let settings = &state.settings;
    match view {
        ViewId::Masks => match (state.trace.as_ref(), state.sequence()) {
            (Some(batch), Some(seq)) => figures::masks_figures(batch, seq, settings),
            _ => vec![],
        },
        ViewId::Attention => state.sequence().map_or(vec![], |seq| {
            let pinned = state.pinned.as_ref().map(|p| &p.sequence);
            figures::attention_figures(seq, pinned, &settings.attention, settings.colormap)
        }),
        ViewId::Decoder => {
            let src_tokens = state
                .engine
                .token_names(&state.selected_source_ids(), TokenSide::Source);
            figures::decoder_figures(
                state.stepper.steps(),
                src_tokens,
                settings.decoder.layer,
                settings.colormap,
            )
        }
        ViewId::Finetune => vec![],
    }
}

/// A file name to start from for `job`, e.g. `maskscope-attention-2x.png`.
pub fn file_name(state: &AppState, job: ExportJob) -> String {
    let slug = match job {
        ExportJob::Figure { view, index, .. } => {
            view_figures(state, view).get(index).map(|f| f.slug)
        }
        ExportJob::Png { .. } => None,
    };
    job.file_name(slug)
}

struct PendingPng {
    region: Region,
    scale: u8,
    path: PathBuf,
    /// Frames to let pass before capturing, so menus and the path prompt are gone.
    wait: u8,
}

struct Screenshot {
    path: PathBuf,
    receiver: Receiver<std::sync::Arc<egui::ColorImage>>,
    /// Where the region was, in points, and the scale of the captured frame.
    rect: Rect,
    pixels_per_point: f32,
    frames: u32,
}

/// How an export ended, for the status bar.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Done(String),
    Failed(String),
}

/// Export state kept between frames. Not persisted.
#[derive(Default)]
pub struct Exports {
    pending: Option<PendingPng>,
    screenshot: Option<Screenshot>,
    offscreen: Offscreen,
    /// The OpenGL context the window draws with: eframe hands it to the window every frame,
    /// and 2x / 3x exports draw with it. `None` without a window (tests, headless renders):
    /// they draw with wgpu.
    pub window_gl: Option<std::sync::Arc<eframe::glow::Context>>,
    /// The last export error, shown in the window until the next export.
    pub last_error: Option<String>,
}

impl Exports {
    /// Whether a PNG export is waiting for its frame.
    pub fn busy(&self) -> bool {
        self.pending.is_some() || self.screenshot.is_some()
    }

    /// Starts `job` at `path` (the file dialog's answer): figures are written at once, PNGs
    /// after the next clean frame ([`Exports::end_frame`]).
    pub fn start(&mut self, state: &mut AppState, job: ExportJob, path: &Path) {
        self.last_error = None;
        match job {
            ExportJob::Png {
                region,
                scale,
                view,
            } => {
                if state.settings.view != view && region == Region::View {
                    state.settings.view = view;
                }
                self.pending = Some(PendingPng {
                    region,
                    scale: scale.clamp(1, 3),
                    path: path.to_owned(),
                    wait: 2,
                });
            }
            ExportJob::Figure {
                view,
                index,
                format,
            } => {
                let outcome = write_figure(state, view, index, format, path);
                self.report(state, outcome);
            }
        }
    }

    /// Shows `outcome` in the status bar (and errors in the export menu).
    pub fn report(&mut self, state: &mut AppState, outcome: Outcome) {
        match outcome {
            Outcome::Done(text) => state.info(text),
            Outcome::Failed(text) => {
                self.last_error = Some(text.clone());
                state.error(text);
            }
        }
    }

    /// Drives PNG exports; the window calls this at the end of every frame. `redraw` draws
    /// the window's frame again (into an offscreen context, for 2x and 3x). Returns how the
    /// exports that ended this frame went; pass each to [`Exports::report`].
    pub fn end_frame(
        &mut self,
        ctx: &egui::Context,
        redraw: impl FnMut(&mut egui::Ui),
    ) -> Vec<Outcome> {
        let mut outcomes: Vec<Outcome> = self.poll_screenshot(ctx).into_iter().collect();
        let Some(mut pending) = self.pending.take() else {
            return outcomes;
        };
        if pending.wait > 0 {
            pending.wait -= 1;
            self.pending = Some(pending);
            ctx.request_repaint();
            return outcomes;
        }
        let Some(rect) = region_rect(ctx, pending.region) else {
            outcomes.push(Outcome::Failed(
                tr("nothing to export: the region was not drawn").to_owned(),
            ));
            return outcomes;
        };
        if pending.scale <= 1 {
            let (sender, receiver) = channel();
            let repaint = ctx.clone();
            ctx.request_screenshot(move |image| {
                let _ = sender.send(image);
                repaint.request_repaint();
            });
            self.screenshot = Some(Screenshot {
                path: pending.path,
                receiver,
                rect,
                pixels_per_point: ctx.pixels_per_point(),
                frames: 0,
            });
        } else {
            let result = self.render_offscreen(ctx, pending.scale as f32, pending.region, redraw);
            outcomes.push(saved(
                result.and_then(|image| save_png(&image, &pending.path)),
                &pending.path,
            ));
        }
        outcomes
    }

    fn poll_screenshot(&mut self, ctx: &egui::Context) -> Option<Outcome> {
        let mut shot = self.screenshot.take()?;
        match shot.receiver.try_recv() {
            Ok(image) => {
                let full = color_image_to_rgba(&image);
                let result = crop(&full, shot.rect, shot.pixels_per_point)
                    .ok_or_else(|| tr("nothing to export: the region is empty").to_owned())
                    .and_then(|img| save_png(&img, &shot.path));
                Some(saved(result, &shot.path))
            }
            Err(_) if shot.frames > 120 => Some(Outcome::Failed(
                tr("the screenshot did not arrive; try 2x (rendered offscreen) instead").to_owned(),
            )),
            Err(_) => {
                shot.frames += 1;
                self.screenshot = Some(shot);
                ctx.request_repaint();
                None
            }
        }
    }

    /// Draws the window again offscreen at `scale` times its pixel density and crops `region`.
    fn render_offscreen(
        &mut self,
        live: &egui::Context,
        scale: f32,
        region: Region,
        redraw: impl FnMut(&mut egui::Ui),
    ) -> Result<image::RgbaImage, String> {
        let renderer = match &self.window_gl {
            Some(gl) => Renderer::Gl(gl.clone()),
            None => Renderer::Wgpu,
        };
        let result = self.offscreen.capture(&renderer, live, scale, redraw);
        let (image, ctx) = result?;
        let rect = region_rect(&ctx, region)
            .ok_or_else(|| tr("nothing to export: the region was not drawn").to_owned())?;
        crop(&image, rect, ctx.pixels_per_point())
            .ok_or_else(|| tr("nothing to export: the region is empty").to_owned())
    }
}

/// Writes figure `index` of `view` to `path` in `format`.
fn write_figure(
    state: &AppState,
    view: ViewId,
    index: usize,
    format: Format,
    path: &Path,
) -> Outcome {
    let figs = view_figures(state, view);
    let Some(fig) = figs.get(index) else {
        return Outcome::Failed(
            tr("that figure is no longer shown; nothing was exported").to_owned(),
        );
    };
    let bytes = match format {
        Format::Svg => fig.svg().into_bytes(),
        Format::Csv => fig.csv().into_bytes(),
        Format::Json => serde_json::to_vec_pretty(&fig.json()).unwrap_or_default(),
    };
    match write_atomically(path, &bytes) {
        Ok(()) => Outcome::Done(trf("exported {} to {}", &[&fig.title, &path.display()])),
        Err(e) => Outcome::Failed(trf("could not write {}: {}", &[&path.display(), &e])),
    }
}

/// The outcome of writing a PNG of `size` pixels to `path`.
fn saved(result: Result<[u32; 2], String>, path: &Path) -> Outcome {
    match result {
        Ok(size) => Outcome::Done(trf(
            "exported a {} x {} PNG to {}",
            &[&size[0], &size[1], &path.display()],
        )),
        Err(e) => Outcome::Failed(e),
    }
}

fn save_png(image: &image::RgbaImage, path: &Path) -> Result<[u32; 2], String> {
    let bytes = png_bytes(image).map_err(|e| trf("could not encode the PNG: {}", &[&e]))?;
    write_atomically(path, &bytes)
        .map_err(|e| trf("could not write {}: {}", &[&path.display(), &e]))?;
    Ok([image.width(), image.height()])
}
