//! PNG exports from the window at 2x and 3x. The window draws with OpenGL (eframe's glow
//! renderer; on X11 glutin picks GLX first), and while its UI runs its GL context is current on
//! the UI thread. These tests make a GLX context current on the test thread the same way, on an
//! Xvfb display they start, and drive the real app through an export. Without `Xvfb` they say
//! so and pass (tools/README.md: `apt install xvfb`).

use std::path::Path;
use std::process::{Child, Command};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use egui_kittest::Harness;
use glutin::api::glx::context::PossiblyCurrentContext;
use glutin::api::glx::display::Display;
use glutin::api::glx::surface::Surface;
use glutin::config::{ConfigSurfaceTypes, ConfigTemplateBuilder};
use glutin::context::ContextAttributesBuilder;
use glutin::prelude::*;
use glutin::surface::{PbufferSurface, SurfaceAttributesBuilder};
use maskscope::app::App;
use maskscope::app::export_jobs::ExportJob;
use maskscope::app::intents::FilePurpose;
use maskscope::app::regions::{Region, region_rect};
use maskscope::app::settings::ViewId;
use raw_window_handle::{RawDisplayHandle, XlibDisplayHandle};

mod common;

/// An Xvfb server for one test, stopped when dropped.
struct Xvfb(Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GLX context current on this thread, as the window has while its UI runs: the display
/// server, the context and its 1x1 pbuffer (kept alive together), and glow on the context.
/// One at a time: the app's language is global.
struct WindowLikeGl {
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
    _context: PossiblyCurrentContext,
    _surface: Surface<PbufferSurface>,
    gl: Arc<eframe::glow::Context>,
    _xvfb: Xvfb,
}

fn window_like_gl() -> Option<WindowLikeGl> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Xvfb picks a free display itself and writes its number to our pipe (-displayfd): a
    // fixed number collides with any other X server on the machine (a screenshot tool, a
    // parallel test run) or with the previous test's server still releasing its lock.
    let mut child = match Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "640x480x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("skipped: no Xvfb ({e})");
            return None;
        }
    };
    let mut number = String::new();
    {
        use std::io::BufRead;
        let stdout = child.stdout.take().expect("Xvfb's stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut number)
            .expect("Xvfb names its display");
    }
    let xvfb = Xvfb(child);
    let number = number.trim();
    assert!(!number.is_empty(), "Xvfb did not start");
    let xlib = x11_dl::xlib::Xlib::open().expect("libX11");
    let name = std::ffi::CString::new(format!(":{number}")).unwrap();
    let mut x_display = std::ptr::null_mut();
    for _ in 0..50 {
        x_display = unsafe { (xlib.XOpenDisplay)(name.as_ptr()) };
        if !x_display.is_null() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let x_display = NonNull::new(x_display.cast()).expect("Xvfb accepts connections");
    let raw = RawDisplayHandle::Xlib(XlibDisplayHandle::new(Some(x_display), 0));
    let display = unsafe { Display::new(raw, Box::new(|_| {})) }.expect("GLX on Xvfb");
    let template = ConfigTemplateBuilder::new()
        .with_surface_type(ConfigSurfaceTypes::PBUFFER)
        .build();
    let config = unsafe { display.find_configs(template) }
        .expect("GLX configs")
        .next()
        .expect("a GLX config with pbuffers");
    let one = std::num::NonZeroU32::new(1).unwrap();
    let surface = unsafe {
        display.create_pbuffer_surface(
            &config,
            &SurfaceAttributesBuilder::<PbufferSurface>::new().build(one, one),
        )
    }
    .expect("a pbuffer");
    let context =
        unsafe { display.create_context(&config, &ContextAttributesBuilder::new().build(None)) }
            .expect("a GLX context")
            .make_current(&surface)
            .expect("the context made current");
    let gl = unsafe {
        eframe::glow::Context::from_loader_function_cstr(|name| display.get_proc_address(name))
    };
    Some(WindowLikeGl {
        _one_at_a_time: guard,
        _context: context,
        _surface: surface,
        gl: Arc::new(gl),
        _xvfb: xvfb,
    })
}

/// Exports the masks view as PNG at `scale` to `path` as the path prompt would, and runs the
/// frames the export waits for.
fn export_view(harness: &mut Harness<'static, App>, scale: u8, path: &Path) {
    let job = ExportJob::Png {
        region: Region::View,
        view: ViewId::Masks,
        scale,
    };
    harness
        .state_mut()
        .handle_path(FilePurpose::Export(job), path);
    harness.run_steps(6);
}

#[test]
fn the_window_exports_at_2x_and_3x_while_its_gl_context_is_current() {
    let Some(window) = window_like_gl() else {
        return;
    };
    let mut harness = common::app();
    // What the window does every frame with eframe's `frame.gl()`.
    harness.state_mut().actions_mut().exports.window_gl = Some(window.gl.clone());
    harness.run_steps(2);
    let dir = tempfile::tempdir().unwrap();
    for scale in [2_u8, 3] {
        let path = dir.path().join(format!("masks-{scale}x.png"));
        export_view(&mut harness, scale, &path);
        let error = harness.state().actions().exports.last_error.clone();
        assert_eq!(error, None, "{scale}x");
        let image = image::open(&path).expect("the PNG was written").to_rgba8();
        let view = region_rect(&harness.ctx, Region::View).expect("the view was drawn");
        let expected = view.size() * f32::from(scale);
        assert!(
            (image.width() as f32 - expected.x).abs() <= 2.0
                && (image.height() as f32 - expected.y).abs() <= 2.0,
            "{scale}x: {}x{} for a view of {:?} points",
            image.width(),
            image.height(),
            view.size()
        );
        let mut colours: Vec<[u8; 4]> = image.pixels().map(|p| p.0).collect();
        colours.sort_unstable();
        colours.dedup();
        assert!(
            colours.len() > 50,
            "{scale}x looks blank: {} colours",
            colours.len()
        );
    }
}

/// Without the window's GL context an export falls back to wgpu, which fails while a GLX
/// context is current: the message names that cause, in the window's language, on screen
/// whole.
#[test]
fn an_export_error_names_its_cause_in_chinese_and_is_not_cut_off() {
    let Some(_window) = window_like_gl() else {
        return;
    };
    let mut harness = common::app_sized([420.0, 600.0]);
    harness.state_mut().state_mut().settings.language = maskscope::i18n::Language::Zh;
    harness.run_steps(2);
    let dir = tempfile::tempdir().unwrap();
    export_view(&mut harness, 2, &dir.path().join("masks-2x.png"));
    let error = harness.state().actions().exports.last_error.clone();
    let error = error.expect("the export failed");
    assert!(error.contains("BadAccess"), "the cause is named: {error}");
    assert!(
        error.contains("wgpu 查找 GPU 适配器时出错"),
        "in Chinese: {error}"
    );
    assert!(
        !error.contains("mesa-vulkan-drivers"),
        "no wrong advice: {error}"
    );
    harness.run_steps(2);
    let window = harness.ctx.content_rect();
    let cause = common::painted_text_containing(&harness, "BadAccess");
    assert!(
        window.contains_rect(cause.unclipped) && !cause.elided,
        "the whole message is in the {window:?} window: {cause:?}"
    );
}
