//! Drawing egui frames with wgpu, without a window: the GPU setup shared by headless renders
//! and the window's 2x / 3x PNG exports, and [`Offscreen`], which draws one frame of the
//! running window a second time at a higher pixel density.
//!
//! Both need a wgpu adapter. Without a GPU, Mesa's software Vulkan driver (lavapipe) works:
//! on Debian/Ubuntu `apt install mesa-vulkan-drivers libvulkan1`.

use egui_kittest::TestRenderer as _;
use egui_kittest::wgpu::WgpuTestRenderer;
use image::RgbaImage;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "no GPU adapter for headless rendering ({0}). On a machine without a GPU install Mesa's software Vulkan driver: `sudo apt install mesa-vulkan-drivers libvulkan1` (Debian/Ubuntu) or `dnf install mesa-vulkan-drivers vulkan-loader` (Fedora)"
    )]
    NoGpu(String),
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
    // Broken drivers can panic inside wgpu rather than return an error.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(create)) {
        Ok(Ok(state)) => Ok(state),
        Ok(Err(e)) => Err(RenderError::NoGpu(e.to_string())),
        Err(_) => Err(RenderError::NoGpu(
            "wgpu panicked while looking for an adapter".into(),
        )),
    }
}

/// A second egui context and a wgpu renderer, kept for the window's lifetime once used.
pub struct Offscreen {
    ctx: egui::Context,
    renderer: WgpuTestRenderer,
}

impl Offscreen {
    pub fn new() -> Result<Self, RenderError> {
        Ok(Self {
            ctx: egui::Context::default(),
            renderer: WgpuTestRenderer::from_render_state(gpu()?),
        })
    }

    /// Draws `draw` (the window's UI) with the memory, fonts and size of `live` at
    /// `scale` times its pixel density. Returns the image and the context it was drawn in
    /// (to look up where regions went).
    pub fn capture(
        &mut self,
        live: &egui::Context,
        scale: f32,
        mut draw: impl FnMut(&mut egui::Ui),
    ) -> Result<(RgbaImage, egui::Context), String> {
        let memory = live.memory(|m| m.clone());
        self.ctx.memory_mut(|m| *m = memory);
        self.ctx.set_fonts(live.fonts(|f| f.definitions().clone()));
        let native = live.native_pixels_per_point().unwrap_or(1.0);
        let mut input = egui::RawInput {
            screen_rect: Some(live.content_rect()),
            time: Some(live.input(|i| i.time)),
            ..Default::default()
        };
        if let Some(viewport) = input.viewports.get_mut(&egui::ViewportId::ROOT) {
            viewport.native_pixels_per_point = Some(native * scale);
        }
        // Two passes: the first installs the fonts and lets sizing passes settle.
        let mut output = self.ctx.run_ui(input.clone(), &mut draw);
        self.renderer.handle_delta(&mut output.textures_delta);
        let mut output = self.ctx.run_ui(input, &mut draw);
        self.renderer.handle_delta(&mut output.textures_delta);
        let image = self.renderer.render(&self.ctx, &output)?;
        Ok((image, self.ctx.clone()))
    }
}
