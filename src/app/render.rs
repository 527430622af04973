//! Headless rendering: the real [`App`] drawn by wgpu without a window or a display server.
//!
//! - [`Headless`] drives the app with egui_kittest's [`Harness`] (the same way the snapshot
//!   tests do) at `pixels_per_point = scale`, renders a frame to an image and crops it to a
//!   view. `maskscope render` ([`render_to_files`]) and `tests/render.rs` use it.
//! - A figure is never cut off silently: without `--size` the virtual window grows until the
//!   view's scroll areas show everything ([`Headless::capture_whole`]); with `--size` the image
//!   is that size and a note names the grids that did not fit ([`Headless::cut_off`]).
//!
//! It needs a wgpu adapter (see [`super::offscreen`]); without a GPU, Mesa's software Vulkan
//! driver (lavapipe) works.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use egui::accesskit::Role;
use egui::{Rect, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _, by};
use egui_kittest::wgpu::WgpuTestRenderer;
use image::RgbaImage;

use super::actions::{export, session};
use super::figures::{Figure, figure_paths};
pub use super::offscreen::RenderError;
use super::offscreen::gpu;
use super::png::{crop, png_bytes};
use super::regions::{Region, region_rect, view_overflow};
use super::session_file::{ProblemKind, Session};
use super::settings::{Settings, ViewId};
use super::state::AppState;
use super::window::App;
use crate::fsio::write_atomically;

/// What to render: one view, the inputs panel, or the whole window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    Inputs,
    Masks,
    Attention,
    Decoder,
    Finetune,
    Window,
}

impl Target {
    pub const ALL: [Target; 6] = [
        Target::Inputs,
        Target::Masks,
        Target::Attention,
        Target::Decoder,
        Target::Finetune,
        Target::Window,
    ];

    /// The central view this target shows (none for the inputs panel and the window, which
    /// show whatever view the session chose).
    pub fn view(self) -> Option<ViewId> {
        match self {
            Target::Masks => Some(ViewId::Masks),
            Target::Attention => Some(ViewId::Attention),
            Target::Decoder => Some(ViewId::Decoder),
            Target::Finetune => Some(ViewId::Finetune),
            Target::Inputs | Target::Window => None,
        }
    }

    pub fn region(self) -> Region {
        match self {
            Target::Inputs => Region::Inputs,
            Target::Window => Region::Window,
            _ => Region::View,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Target::Inputs => "inputs",
            Target::Masks => "masks",
            Target::Attention => "attention",
            Target::Decoder => "decoder",
            Target::Finetune => "finetune",
            Target::Window => "window",
        }
    }
}

/// Size of the virtual window in points, and pixels per point of the image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Canvas {
    pub width: f32,
    pub height: f32,
    pub scale: f32,
}

impl Default for Canvas {
    fn default() -> Self {
        Self {
            width: 1366.0,
            height: 768.0,
            scale: 1.0,
        }
    }
}

impl Canvas {
    /// Checks the numbers a user typed.
    pub fn validate(&self) -> Result<(), RenderError> {
        let ok = (200.0..=8000.0).contains(&self.width)
            && (200.0..=8000.0).contains(&self.height)
            && (0.25..=8.0).contains(&self.scale);
        let pixels = self.width * self.height * self.scale * self.scale;
        if !ok || pixels > 64e6 {
            return Err(RenderError::Canvas(format!(
                "{} x {} points at scale {} is out of range (width and height 200..=8000, scale 0.25..=8, at most 64 million pixels)",
                self.width, self.height, self.scale
            )));
        }
        Ok(())
    }
}

// -------------------------------------------------------------------------------------------
// The headless app (CLI and tests).

/// The app in a kittest [`Harness`] with a wgpu renderer: no window, no display.
pub struct Headless {
    harness: Harness<'static, App>,
    canvas: Canvas,
}

/// A heatmap or mask grid the last frame drew, by its accessible name, in points.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawnGrid {
    pub name: String,
    pub rect: Rect,
}

/// What a capture at a fixed size could not show.
#[derive(Clone, Debug, PartialEq)]
pub struct CutOff {
    /// The canvas, in points, that would show the whole view.
    pub needed: [f32; 2],
    /// The view's grids that are not (wholly) inside the image.
    pub hidden: Vec<String>,
}

impl Headless {
    /// Builds the app around `state` at `canvas` (size in points, `pixels_per_point = scale`).
    pub fn new(state: AppState, canvas: Canvas) -> Result<Self, RenderError> {
        canvas.validate()?;
        let renderer = WgpuTestRenderer::from_render_state(gpu()?);
        let harness = Harness::builder()
            .with_size([canvas.width, canvas.height])
            .with_pixels_per_point(canvas.scale)
            .with_accessibility_check(false)
            .with_max_steps(12)
            .renderer(renderer)
            .build_eframe(move |_cc| {
                let mut app = App::with_state(state);
                app.actions_mut().files.native_dialogs = false;
                app
            });
        let mut headless = Self { harness, canvas };
        headless.settle();
        Ok(headless)
    }

    /// The virtual window's size in points and the scale (after any growth).
    pub fn canvas(&self) -> Canvas {
        self.canvas
    }

    pub fn app(&self) -> &App {
        self.harness.state()
    }

    /// Change the state, then [`capture`](Self::capture) again.
    pub fn app_mut(&mut self) -> &mut App {
        self.harness.state_mut()
    }

    pub fn state(&self) -> &AppState {
        self.app().state()
    }

    /// The kittest harness, to click and type before a capture.
    pub fn harness_mut(&mut self) -> &mut Harness<'static, App> {
        &mut self.harness
    }

    pub fn ctx(&self) -> &egui::Context {
        &self.harness.ctx
    }

    /// Runs frames until the app is idle (or a few frames if it animates, e.g. a playing
    /// stepper or a live training run).
    pub fn settle(&mut self) {
        let _ = self.harness.try_run();
    }

    /// Switches to `target`'s view and draws it.
    fn show(&mut self, target: Target) {
        if let Some(view) = target.view()
            && self.state().settings.view != view
        {
            self.harness.state_mut().state_mut().settings.view = view;
        }
        self.settle();
    }

    /// Like [`capture`](Self::capture), but first makes the virtual window as tall as the
    /// view needs to show everything without scrolling (the width stays: the views lay out
    /// by width). Stops at the canvas limits; [`cut_off`](Self::cut_off) then says what is
    /// still missing.
    pub fn capture_whole(&mut self, target: Target) -> Result<RgbaImage, RenderError> {
        self.show(target);
        if target != Target::Inputs {
            // Plots and enlarged heatmaps take some of the height they are given, so growing
            // can ask for a little more: a few rounds settle it.
            for _ in 0..6 {
                let missing = self.missing_height();
                if missing < 1.0 {
                    break;
                }
                let grown = Canvas {
                    height: (self.canvas.height + missing).ceil(),
                    ..self.canvas
                };
                if grown.validate().is_err() {
                    break;
                }
                self.canvas = grown;
                self.harness.set_size(vec2(grown.width, grown.height));
                self.settle();
            }
        }
        self.capture(target)
    }

    /// Canvas points (before presenter zoom) the current view's content lacked last frame.
    fn missing_height(&self) -> f32 {
        view_overflow(self.ctx()).y * self.ctx().zoom_factor()
    }

    /// The heatmaps and mask grids of the central view drawn in the last frame (their
    /// accessible names and rects in points), including any that a scroll area clipped.
    pub fn drawn_grids(&self) -> Vec<DrawnGrid> {
        let Some(view) = region_rect(self.ctx(), Region::View) else {
            return vec![];
        };
        self.harness
            .query_all(by().role(Role::Image))
            .map(|node| DrawnGrid {
                name: node.accesskit_node().label().unwrap_or_default(),
                rect: node.rect(),
            })
            // The central view's column, from its top down (clipped ones lie further down).
            .filter(|g| {
                let x = g.rect.center().x;
                x >= view.left() && x <= view.right() && g.rect.top() >= view.top() - 1.0
            })
            .collect()
    }

    /// What the last frame of `target` did not show: `None` when its whole view is in the
    /// image.
    pub fn cut_off(&self, target: Target) -> Option<CutOff> {
        if target == Target::Inputs {
            return None;
        }
        let shown = match target.region() {
            Region::Window => self.ctx().content_rect(),
            region => region_rect(self.ctx(), region)?,
        };
        let hidden: Vec<String> = self
            .drawn_grids()
            .into_iter()
            .filter(|g| !shown.expand(0.5).contains_rect(g.rect))
            .map(|g| g.name)
            .collect();
        let missing = self.missing_height();
        (missing >= 1.0 || !hidden.is_empty()).then(|| CutOff {
            needed: [self.canvas.width, (self.canvas.height + missing).ceil()],
            hidden,
        })
    }

    /// Switches to `target`'s view, draws, and returns the image of the target's region.
    pub fn capture(&mut self, target: Target) -> Result<RgbaImage, RenderError> {
        self.show(target);
        let image = self.harness.render().map_err(RenderError::Render)?;
        let region = target.region();
        if region == Region::Window {
            return Ok(image);
        }
        let rect =
            region_rect(&self.harness.ctx, region).ok_or(RenderError::NotDrawn(target.name()))?;
        crop(&image, rect, self.harness.ctx.pixels_per_point())
            .ok_or(RenderError::NotDrawn(target.name()))
    }

    /// The heatmaps and mask grids the target shows (the window: its current view's).
    pub fn figures(&self, target: Target) -> Vec<Figure> {
        match target {
            Target::Inputs => vec![],
            Target::Window => export::view_figures(self.state(), self.state().settings.view),
            t => t
                .view()
                .map(|v| export::view_figures(self.state(), v))
                .unwrap_or_default(),
        }
    }
}

// -------------------------------------------------------------------------------------------
// `maskscope render`

/// One `maskscope render` call.
#[derive(Clone, Debug)]
pub struct RenderRequest {
    /// A saved session (model, inputs, masks, view settings); none: the app's defaults.
    pub session: Option<PathBuf>,
    pub target: Target,
    pub out: PathBuf,
    /// The virtual window's size in points, kept even if the view does not fit (a note then
    /// says what was cut off). `None`: the session's window size (else 1366 x 768), made
    /// taller until the whole view fits.
    pub size: Option<[f32; 2]>,
    pub scale: f32,
    /// Also write the target's heatmaps / mask grids as SVG beside the PNG.
    pub svg: bool,
    /// Turn the app's presenter mode on (whatever the session says).
    pub presenter: bool,
}

impl RenderRequest {
    /// A request for `target` of `session` with the defaults of `maskscope render`.
    pub fn new(session: Option<PathBuf>, target: Target, out: PathBuf) -> Self {
        Self {
            session,
            target,
            out,
            size: None,
            scale: 1.0,
            svg: false,
            presenter: false,
        }
    }
}

/// `1280x720` (also `1280X720` or `1280*720`) as width and height in points.
pub fn parse_size(text: &str) -> Result<[f32; 2], String> {
    let parts: Vec<&str> = text.trim().split(['x', 'X', '*']).collect();
    let number = |s: &str| {
        s.trim()
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    match parts.as_slice() {
        [w, h] => match (number(w), number(h)) {
            (Some(w), Some(h)) => Ok([w, h]),
            _ => Err(format!(
                "{text:?}: width and height must be positive numbers, as in 1280x720"
            )),
        },
        _ => Err(format!(
            "{text:?} is not a size; write WIDTHxHEIGHT in points, as in 1280x720"
        )),
    }
}

/// What [`render_to_files`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub png: PathBuf,
    /// Pixels.
    pub size: [u32; 2],
    pub svgs: Vec<PathBuf>,
    /// Things the user should know (e.g. a view without heatmaps for `--svg`).
    pub notes: Vec<String>,
}

/// The app's state for a render: the bundled dates model and its examples, then the
/// session (if any) applied on top with [`session::apply`]. Returns the session's window
/// size (if it saved one) and what could not be reproduced. A session whose model is
/// missing is an error: the figure would show another model.
pub fn session_state(
    session_file: Option<&Path>,
) -> anyhow::Result<(AppState, Option<[f32; 2]>, Vec<String>)> {
    let mut state = AppState::new(Settings::default());
    let Some(path) = session_file else {
        return Ok((state, None, vec![]));
    };
    let saved = Session::load(path)?;
    let warnings: Vec<String> = session::apply(&saved, &mut state)
        .iter()
        .map(|w| w.render())
        .collect();
    if let Some(problem) = &state.session.problem
        && problem.kind == ProblemKind::Missing
    {
        anyhow::bail!("{}: {}", path.display(), warnings.join("; "));
    }
    // The canvas takes the session's size (unless the caller overrides it); the window must
    // not resize itself to it on its first frame.
    state.session.pending_window_size = None;
    Ok((state, saved.window_size, warnings))
}

/// Renders `request` headless and writes the PNG (and SVGs), each file atomically.
pub fn render_to_files(request: &RenderRequest) -> anyhow::Result<Rendered> {
    let (mut state, session_size, mut notes) = session_state(request.session.as_deref())?;
    if request.presenter {
        state.settings.presenter = true;
    }
    let [width, height] = request.size.or(session_size).unwrap_or([1366.0, 768.0]);
    let canvas = Canvas {
        width,
        height,
        scale: request.scale,
    };
    let mut headless = Headless::new(state, canvas)?;
    let image = match request.size {
        Some(_) => headless.capture(request.target)?,
        None => headless.capture_whole(request.target)?,
    };
    if let Some(cut) = headless.cut_off(request.target) {
        notes.push(cut_off_note(request.target, headless.canvas(), &cut));
    }
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![];
    if request.svg {
        let figures = headless.figures(request.target);
        if figures.is_empty() {
            notes.push(format!(
                "the {} view has no heatmaps or mask grids: no SVG written",
                request.target.name()
            ));
        }
        for (path, fig) in figure_paths(&request.out, &figures, "svg")
            .into_iter()
            .zip(&figures)
        {
            files.push((path, fig.svg().into_bytes()));
        }
    }
    if let Some(parent) = request.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("could not create {}", parent.display()))?;
    }
    let png = png_bytes(&image).map_err(|e| anyhow::anyhow!("could not encode the PNG: {e}"))?;
    write_atomically(&request.out, &png)
        .with_context(|| format!("could not write {}", request.out.display()))?;
    let mut svgs = vec![];
    for (path, bytes) in files {
        write_atomically(&path, &bytes)
            .with_context(|| format!("could not write {}", path.display()))?;
        svgs.push(path);
    }
    Ok(Rendered {
        png: request.out.clone(),
        size: [image.width(), image.height()],
        svgs,
        notes,
    })
}

/// "at 1280 x 720 the masks view is cut off ...": what did not fit and the size that fits.
fn cut_off_note(target: Target, canvas: Canvas, cut: &CutOff) -> String {
    let hidden = if cut.hidden.is_empty() {
        String::new()
    } else {
        format!(" (not wholly in the image: {})", cut.hidden.join(", "))
    };
    format!(
        "at {} x {} points the {} view does not fit{hidden}; it needs {} x {} (--size {}x{}, or leave out --size to size the image to the view)",
        canvas.width,
        canvas.height,
        target.name(),
        cut.needed[0],
        cut.needed[1],
        cut.needed[0],
        cut.needed[1],
    )
}
