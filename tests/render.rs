//! Headless figures: `maskscope render` draws the real app with wgpu (lavapipe on CI), with no
//! window and no display. These call the library functions the CLI uses.

use maskscope::app::actions::session;
use maskscope::app::regions::{Region, region_rect};
use maskscope::app::render::{
    Canvas, Headless, RenderError, RenderRequest, Target, render_to_files, session_state,
};
use maskscope::app::settings::ViewId;
use maskscope::trace::AttentionKind;

/// An image that is more than a flat fill: some hundreds of distinct colours.
fn distinct_colours(image: &image::RgbaImage) -> usize {
    let mut seen: Vec<[u8; 4]> = image.pixels().map(|p| p.0).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

fn headless(canvas: Canvas) -> Headless {
    let (state, _, warnings) = session_state(None).expect("the default state");
    assert!(warnings.is_empty(), "{warnings:?}");
    Headless::new(state, canvas).expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)")
}

/// One wgpu setup and one app for every target: the window is the canvas, each view is the
/// rect the window recorded for it, in pixels.
#[test]
fn every_target_renders_at_its_size() {
    let canvas = Canvas {
        width: 1200.0,
        height: 720.0,
        scale: 1.0,
    };
    let mut headless = headless(canvas);
    for target in Target::ALL {
        let image = headless
            .capture(target)
            .unwrap_or_else(|e| panic!("{target:?}: {e}"));
        let expected = match target.region() {
            Region::Window => egui::vec2(1200.0, 720.0),
            region => region_rect(headless.ctx(), region)
                .expect("the region was drawn")
                .size(),
        };
        assert_eq!(
            (image.width(), image.height()),
            (expected.x.ceil() as u32, expected.y.ceil() as u32),
            "{target:?}"
        );
        assert!(
            image.width() > 200 && image.height() > 200,
            "{target:?}: {}x{}",
            image.width(),
            image.height()
        );
        let colours = distinct_colours(&image);
        assert!(colours > 20, "{target:?} looks blank ({colours} colours)");
        if let Some(view) = target.view() {
            assert_eq!(
                headless.state().settings.view,
                view,
                "capturing {target:?} switches to its view"
            );
        }
    }
}

/// `--scale 2` doubles the pixels of the same layout (not an upscaled image).
#[test]
fn scale_two_doubles_every_side() {
    let mut headless = headless(Canvas {
        width: 1000.0,
        height: 640.0,
        scale: 2.0,
    });
    let window = headless.capture(Target::Window).unwrap();
    assert_eq!((window.width(), window.height()), (2000, 1280));
    let view = headless.capture(Target::Masks).unwrap();
    let rect = region_rect(headless.ctx(), Region::View).unwrap();
    assert_eq!(view.width(), (rect.width() * 2.0).ceil() as u32);
    // Text at 2x has anti-aliased edges of its own: many more colours than a flat upscale.
    assert!(distinct_colours(&view) > 200);
}

/// The CLI's function: a session in, a PNG of the right size and an SVG with the tokens as
/// text out.
#[test]
fn render_writes_png_and_svg_with_token_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (mut state, _, _) = session_state(None).unwrap();
    state.settings.view = ViewId::Attention;
    state.settings.attention.kind = AttentionKind::Cross;
    let session_path = dir.path().join("cross.json");
    session::capture(&state, Some([1100.0, 700.0]))
        .save(&session_path)
        .unwrap();

    let out = dir.path().join("figs").join("cross.png");
    let request = RenderRequest {
        session: Some(session_path),
        target: Target::Attention,
        out: out.clone(),
        size: None,
        scale: 1.0,
        svg: true,
        presenter: false,
    };
    let rendered = render_to_files(&request).unwrap();
    assert_eq!(rendered.png, out);
    let png = image::open(&out).expect("a readable PNG").to_rgba8();
    assert_eq!(
        (png.width(), png.height()),
        (rendered.size[0], rendered.size[1])
    );
    assert!(
        png.width() > 400 && png.width() < 1100 && png.height() > 300 && png.height() <= 700,
        "cropped to the view within the session's 1100x700 window: {:?}",
        rendered.size
    );

    assert_eq!(
        rendered.svgs,
        vec![dir.path().join("figs").join("cross.svg")]
    );
    let svg = std::fs::read_to_string(&rendered.svgs[0]).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    // Decoder queries start with <bos>; the source of the first dates example is 2026-11-28.
    assert!(svg.contains(">&lt;bos&gt;</text>"), "query labels are text");
    for token in ["2", "-", "8"] {
        assert!(
            svg.contains(&format!(">{token}</text>")),
            "source token {token:?} is a text label"
        );
    }
    assert!(
        svg.contains("cross-attention"),
        "the title names the attention kind"
    );
}

/// The masks view exports every grid it draws; blocked cells are hatched in the SVG.
#[test]
fn masks_view_exports_every_grid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("masks.png");
    let request = RenderRequest {
        session: None,
        target: Target::Masks,
        out: out.clone(),
        size: Some([1000.0, 700.0]),
        scale: 1.0,
        svg: true,
        presenter: false,
    };
    let rendered = render_to_files(&request).unwrap();
    let names: Vec<String> = rendered
        .svgs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names[0], "masks.svg");
    for slug in [
        "cross-mask",
        "causal-mask",
        "scores",
        "masked-scores",
        "weights",
    ] {
        assert!(
            names.contains(&format!("masks-{slug}.svg")),
            "{slug} in {names:?}"
        );
    }
    let decoder_self = std::fs::read_to_string(&rendered.svgs[0]).unwrap();
    assert!(
        decoder_self.contains("url(#future)"),
        "future cells hatched"
    );
    let cross = std::fs::read_to_string(dir.path().join("masks-cross-mask.svg")).unwrap();
    assert!(
        cross.contains("url(#padding)"),
        "the batch pads the first row's shorter source"
    );
}

#[test]
fn views_without_heatmaps_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let request = RenderRequest {
        session: None,
        target: Target::Inputs,
        out: dir.path().join("in.png"),
        size: Some([900.0, 600.0]),
        scale: 1.0,
        svg: true,
        presenter: false,
    };
    let rendered = render_to_files(&request).unwrap();
    assert!(rendered.svgs.is_empty());
    assert!(
        rendered.notes.iter().any(|n| n.contains("no heatmaps")),
        "{:?}",
        rendered.notes
    );
}

#[test]
fn a_missing_session_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.png");
    let request = RenderRequest {
        session: Some(dir.path().join("nope.json")),
        target: Target::Masks,
        out: out.clone(),
        size: None,
        scale: 1.0,
        svg: false,
        presenter: false,
    };
    let message = format!("{:#}", render_to_files(&request).unwrap_err());
    assert!(message.contains("nope.json"), "{message}");
    assert!(!out.exists());
}

#[test]
fn bad_canvases_and_missing_gpus_explain_themselves() {
    let canvas = Canvas {
        width: 1366.0,
        height: 768.0,
        scale: 100.0,
    };
    assert!(canvas.validate().unwrap_err().to_string().contains("scale"));
    let no_gpu = RenderError::NoGpu("No adapter found".into()).to_string();
    assert!(
        no_gpu.contains("mesa-vulkan-drivers") && no_gpu.contains("libvulkan1"),
        "{no_gpu}"
    );
}

/// The window's export menu, driven headless: 1x is the frame's screenshot cropped to the
/// view, 2x the same frame drawn again offscreen at twice the density; figures go to SVG.
#[test]
fn the_export_menu_writes_pngs_at_1x_and_2x_and_figures() {
    use maskscope::app::export_jobs::{ExportJob, Format};
    use maskscope::app::intents::FilePurpose;
    let dir = tempfile::tempdir().unwrap();
    let mut headless = headless(Canvas {
        width: 1100.0,
        height: 700.0,
        scale: 1.0,
    });
    headless.capture(Target::Attention).unwrap();
    let rect = region_rect(headless.ctx(), Region::View).unwrap();
    for scale in [1u8, 2] {
        let path = dir.path().join(format!("view-{scale}x.png"));
        let job = ExportJob::Png {
            region: Region::View,
            view: ViewId::Attention,
            scale,
        };
        headless
            .app_mut()
            .handle_path(FilePurpose::Export(job), &path);
        headless.settle();
        let state = headless.state();
        let exports = &headless.app().actions().exports;
        assert!(!exports.busy(), "the export finished");
        assert_eq!(exports.last_error, None);
        let png = image::open(&path)
            .unwrap_or_else(|e| panic!("{scale}x: {e}; messages {:?}", state.messages))
            .to_rgba8();
        let s = scale as f32;
        assert_eq!(
            (png.width(), png.height()),
            (
                (rect.width() * s).ceil() as u32,
                (rect.height() * s).ceil() as u32
            ),
            "{scale}x"
        );
        assert!(distinct_colours(&png) > 50);
    }
    let svg = dir.path().join("attention.svg");
    headless.app_mut().handle_path(
        FilePurpose::Export(ExportJob::Figure {
            view: ViewId::Attention,
            index: 0,
            format: Format::Svg,
        }),
        &svg,
    );
    assert!(
        std::fs::read_to_string(&svg)
            .unwrap()
            .contains("&lt;bos&gt;")
    );
    let csv = dir.path().join("attention.csv");
    headless.app_mut().handle_path(
        FilePurpose::Export(ExportJob::Figure {
            view: ViewId::Attention,
            index: 0,
            format: Format::Csv,
        }),
        &csv,
    );
    assert!(std::fs::read_to_string(&csv).unwrap().starts_with("query,"));

    // A path that cannot be written is an error in the window, not a panic.
    let bad = dir.path().join("no-such-dir").join("x.png");
    headless.app_mut().handle_path(
        FilePurpose::Export(ExportJob::Png {
            region: Region::View,
            view: ViewId::Attention,
            scale: 1,
        }),
        &bad,
    );
    headless.settle();
    let error = headless
        .app()
        .actions()
        .exports
        .last_error
        .clone()
        .expect("an error");
    assert!(error.contains("x.png"), "{error}");
}
