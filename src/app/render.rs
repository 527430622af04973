//! Headless rendering: the real [`App`] drawn by wgpu without a window or a display server.
//!
//! - [`Headless`] drives the app with egui_kittest's [`Harness`] (the same way the snapshot
//!   tests do) at `pixels_per_point = scale`, renders a frame to an image and crops it to a
//!   view. `maskscope render` ([`render_to_files`]) and `tests/render.rs` use it.
//!
//! It needs a wgpu adapter (see [`super::offscreen`]); without a GPU, Mesa's software Vulkan
//! driver (lavapipe) works.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use egui_kittest::Harness;
use egui_kittest::wgpu::WgpuTestRenderer;
use image::RgbaImage;

use super::actions::{export, session};
use super::figures::{Figure, figure_paths};
pub use super::offscreen::RenderError;
use super::offscreen::gpu;
use super::png::{crop, png_bytes};
use super::regions::{Region, region_rect};
use super::session_file::{ProblemKind, Session};
use super::settings::{Settings, ViewId};
use super::state::AppState;
use super::window::App;
use crate::model::checkpoint::write_atomically;

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
        let mut headless = Self { harness };
        headless.settle();
        Ok(headless)
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

    /// Switches to `target`'s view, draws, and returns the image of the target's region.
    pub fn capture(&mut self, target: Target) -> Result<RgbaImage, RenderError> {
        if let Some(view) = target.view()
            && self.state().settings.view != view
        {
            self.harness.state_mut().state_mut().settings.view = view;
        }
        self.settle();
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
    /// Size in points; `None` takes the session's window size, else 1366 x 768.
    pub size: Option<[f32; 2]>,
    pub scale: f32,
    /// Also write the target's heatmaps / mask grids as SVG beside the PNG.
    pub svg: bool,
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
    let warnings = session::apply(&saved, &mut state);
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
    let (state, session_size, mut notes) = session_state(request.session.as_deref())?;
    let [width, height] = request.size.or(session_size).unwrap_or([1366.0, 768.0]);
    let canvas = Canvas {
        width,
        height,
        scale: request.scale,
    };
    let mut headless = Headless::new(state, canvas)?;
    let image = headless.capture(request.target)?;
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
