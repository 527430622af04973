//! Drawing egui frames without a window: the GPU setup of headless renders, and
//! [`Offscreen`], which draws one frame of the running window a second time at a higher pixel
//! density for the window's 2x / 3x PNG exports.
//!
//! The window draws with OpenGL (eframe's glow renderer), and while its UI runs its GL context
//! is current on the UI thread. Its exports draw with that same context ([`Renderer::Gl`]), into
//! a framebuffer of their own, so they work wherever the window itself draws. wgpu must not be
//! started there: its OpenGL backend makes an EGL context of its own current on the thread
//! while listing adapters, EGL refuses (`BadAccess`: the thread has the window's GLX context)
//! and wgpu panics. Without a window (headless renders, tests) a wgpu device is used
//! ([`Renderer::Wgpu`]); without a GPU, Mesa's software Vulkan driver (lavapipe) works: on
//! Debian/Ubuntu `apt install mesa-vulkan-drivers libvulkan1`.

use std::sync::Arc;

use eframe::egui_glow;
use eframe::glow::{self, HasContext as _};
use egui_kittest::TestRenderer as _;
use egui_kittest::wgpu::WgpuTestRenderer;
use image::RgbaImage;

use super::png::color_image_to_rgba;
use crate::i18n::trf;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "no GPU adapter for headless rendering ({0}). On a machine without a GPU install Mesa's software Vulkan driver: `sudo apt install mesa-vulkan-drivers libvulkan1` (Debian/Ubuntu) or `dnf install mesa-vulkan-drivers vulkan-loader` (Fedora)"
    )]
    NoGpu(String),
    #[error("wgpu failed while looking for a GPU adapter: {0}")]
    GpuPanic(String),
    #[error("rendering failed: {0}")]
    Render(String),
    #[error("{0}")]
    Canvas(String),
    #[error("the {0} region was not drawn (nothing to crop)")]
    NotDrawn(&'static str),
}

/// A wgpu device and queue for offscreen rendering, preferring a CPU adapter (lavapipe), as
/// egui_kittest does, so figures look the same on every machine.
pub fn gpu() -> Result<egui_wgpu::RenderState, RenderError> {
    let create = || {
        let setup = egui_kittest::wgpu::default_wgpu_setup();
        let instance = pollster::block_on(setup.new_instance());
        let config = egui_wgpu::WgpuConfiguration {
            wgpu_setup: setup,
            ..Default::default()
        };
        pollster::block_on(egui_wgpu::RenderState::create(
            &config,
            &instance,
            None,
            egui_wgpu::RendererOptions::PREDICTABLE,
        ))
    };
    // Broken drivers (and an OpenGL context current on this thread) make wgpu panic rather
    // than return an error: the panic's message is the cause.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(create)) {
        Ok(Ok(state)) => Ok(state),
        Ok(Err(e)) => Err(RenderError::NoGpu(e.to_string())),
        Err(payload) => Err(RenderError::GpuPanic(panic_message(payload.as_ref()))),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// What draws an export's frame.
pub enum Renderer {
    /// The window's own OpenGL context, current on this thread.
    Gl(Arc<glow::Context>),
    /// A wgpu device of its own (no window: tests, headless renders).
    Wgpu,
}

/// A second egui context, and the wgpu renderer once one was needed (kept for the window's
/// lifetime: its textures follow the context's).
#[derive(Default)]
pub struct Offscreen {
    wgpu: Option<(egui::Context, WgpuTestRenderer)>,
}

impl Offscreen {
    /// Draws `draw` (the window's UI) with the memory, fonts and size of `live` at `scale`
    /// times its pixel density, with `renderer`. Returns the image and the context it was
    /// drawn in (to look up where regions went). Errors are translated sentences.
    pub fn capture(
        &mut self,
        renderer: &Renderer,
        live: &egui::Context,
        scale: f32,
        draw: impl FnMut(&mut egui::Ui),
    ) -> Result<(RgbaImage, egui::Context), String> {
        match renderer {
            Renderer::Gl(gl) => {
                // A fresh context and painter each time: no GL objects outlive the export.
                let ctx = egui::Context::default();
                let image = capture_gl(gl, &ctx, live, scale, draw)?;
                Ok((image, ctx))
            }
            Renderer::Wgpu => {
                if self.wgpu.is_none() {
                    let state = gpu().map_err(|e| wgpu_error(&e))?;
                    let renderer = WgpuTestRenderer::from_render_state(state);
                    self.wgpu = Some((egui::Context::default(), renderer));
                }
                let (ctx, renderer) = self.wgpu.as_mut().expect("set above");
                let output = run_twice(ctx, live, scale, draw, |delta| {
                    renderer.handle_delta(delta);
                });
                let image = renderer.render(ctx, &output)?;
                Ok((image, ctx.clone()))
            }
        }
    }
}

/// The wgpu error in the current language.
fn wgpu_error(error: &RenderError) -> String {
    match error {
        RenderError::NoGpu(cause) => trf(
            "no GPU adapter for the export ({}). Install Mesa's software Vulkan driver (mesa-vulkan-drivers, libvulkan1)",
            &[cause],
        ),
        RenderError::GpuPanic(cause) => {
            trf("wgpu failed while looking for a GPU adapter: {}", &[cause])
        }
        other => other.to_string(),
    }
}

/// Runs `draw` twice in `ctx` with the memory, fonts and size of `live` at `scale` times its
/// pixel density (the first pass installs the fonts and lets sizing passes settle); hands
/// each pass's texture changes to `textures`. Returns the second pass's output.
fn run_twice(
    ctx: &egui::Context,
    live: &egui::Context,
    scale: f32,
    mut draw: impl FnMut(&mut egui::Ui),
    mut textures: impl FnMut(&mut egui::TexturesDelta),
) -> egui::FullOutput {
    let memory = live.memory(|m| m.clone());
    ctx.memory_mut(|m| *m = memory);
    ctx.set_fonts(live.fonts(|f| f.definitions().clone()));
    let native = live.native_pixels_per_point().unwrap_or(1.0);
    let mut input = egui::RawInput {
        screen_rect: Some(live.content_rect()),
        time: Some(live.input(|i| i.time)),
        ..Default::default()
    };
    if let Some(viewport) = input.viewports.get_mut(&egui::ViewportId::ROOT) {
        viewport.native_pixels_per_point = Some(native * scale);
    }
    let mut output = ctx.run_ui(input.clone(), &mut draw);
    textures(&mut output.textures_delta);
    let mut output = ctx.run_ui(input, &mut draw);
    textures(&mut output.textures_delta);
    output
}

/// Draws the frame with the window's GL context into a framebuffer of its own and reads it
/// back; the window's framebuffer is bound again afterwards.
fn capture_gl(
    gl: &Arc<glow::Context>,
    ctx: &egui::Context,
    live: &egui::Context,
    scale: f32,
    draw: impl FnMut(&mut egui::Ui),
) -> Result<RgbaImage, String> {
    let mut painter = egui_glow::Painter::new(gl.clone(), "", None, false)
        .map_err(|e| trf("OpenGL could not draw the export: {}", &[&e]))?;
    let mut deltas = vec![];
    let output = run_twice(ctx, live, scale, draw, |delta| {
        deltas.push(std::mem::take(delta));
    });
    let pixels_per_point = output.pixels_per_point;
    let size = (live.content_rect().size() * pixels_per_point).round();
    let size_px = [size.x as u32, size.y as u32];
    let largest = painter.max_texture_side() as u32;
    let result = if size_px[0].max(size_px[1]) > largest {
        Err(trf(
            "the image would be {} x {} pixels, more than this graphics driver's limit of {}: export at a lower scale",
            &[&size_px[0], &size_px[1], &largest],
        ))
    } else {
        let primitives = ctx.tessellate(output.shapes, pixels_per_point);
        // SAFETY: the window's context is current on this thread while its UI runs.
        unsafe {
            paint_into_framebuffer(
                gl,
                &mut painter,
                size_px,
                pixels_per_point,
                &primitives,
                &mut deltas,
            )
        }
    };
    painter.destroy();
    result
}

/// Paints `primitives` into a new framebuffer of `size` pixels, reads it back and deletes it.
unsafe fn paint_into_framebuffer(
    gl: &glow::Context,
    painter: &mut egui_glow::Painter,
    size: [u32; 2],
    pixels_per_point: f32,
    primitives: &[egui::ClippedPrimitive],
    deltas: &mut [egui::TexturesDelta],
) -> Result<RgbaImage, String> {
    let failed = |e: String| trf("OpenGL could not draw the export: {}", &[&e]);
    unsafe {
        let texture = gl.create_texture().map_err(failed)?;
        gl.bind_texture(glow::TEXTURE_2D, Some(texture));
        gl.tex_image_2d(
            glow::TEXTURE_2D,
            0,
            glow::RGBA8 as i32,
            size[0] as i32,
            size[1] as i32,
            0,
            glow::RGBA,
            glow::UNSIGNED_BYTE,
            glow::PixelUnpackData::Slice(None),
        );
        let framebuffer = gl.create_framebuffer().map_err(failed)?;
        gl.bind_framebuffer(glow::FRAMEBUFFER, Some(framebuffer));
        gl.framebuffer_texture_2d(
            glow::FRAMEBUFFER,
            glow::COLOR_ATTACHMENT0,
            glow::TEXTURE_2D,
            Some(texture),
            0,
        );
        let status = gl.check_framebuffer_status(glow::FRAMEBUFFER);
        let result = if status == glow::FRAMEBUFFER_COMPLETE {
            painter.clear(size, [0.0, 0.0, 0.0, 1.0]);
            for delta in deltas.iter_mut() {
                painter.paint_and_update_textures(size, pixels_per_point, &[], delta);
            }
            painter.paint_primitives(size, pixels_per_point, primitives);
            Ok(color_image_to_rgba(&painter.read_screen_rgba(size)))
        } else {
            Err(failed(format!(
                "framebuffer incomplete (status 0x{status:x})"
            )))
        };
        gl.bind_framebuffer(glow::FRAMEBUFFER, None);
        gl.delete_framebuffer(framebuffer);
        gl.delete_texture(texture);
        result
    }
}
