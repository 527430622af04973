//! Exports from the window: the current view, the inputs panel or the whole window as PNG
//! (1x, 2x or 3x), and each heatmap / mask grid of the current view as SVG (vector, token
//! labels as text), CSV or JSON. Files are written atomically; errors go to the status bar.
//!
//! How a PNG is made:
//! - **1x** is a viewport screenshot (`egui::Context::request_screenshot`) of a clean frame
//!   (one frame after the menu or the path prompt closed), cropped to the region's rect in
//!   physical pixels (`rect * pixels_per_point`): exactly what is on screen, at the current
//!   zoom.
//! - **2x / 3x** draw the same frame again offscreen with [`super::render::Gpu`] (wgpu):
//!   a second egui context with a copy of the window's memory (panel widths, scroll offsets,
//!   open sections, zoom, style) and fonts, the same size in points, and
//!   `pixels_per_point = window's * scale`. The layout is identical and text and lines are
//!   rasterised at the higher density, so the picture is sharp, not an upscaled screenshot.
//!   (Raising the zoom in the window instead would shrink the layout's size in points and
//!   re-wrap everything.)
//!
//! The figures ([`figures`]) are computed from the same state and settings the views draw,
//! with the view's colour scale, so SVG colours match the window.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};

use egui::{Color32, Rect, RichText, Ui};
use ndarray::{Array2, Axis};

use super::settings::ViewId;
use super::state::{AppState, FilePurpose};
use super::views::attention::matrix as attention_matrix;
use super::views::labels::attention_kind;
use super::views::masks::head_slice;
use super::widgets::heatmap::{Scale, open_fill};
use super::window::App;
use crate::figure::{self, Matrix};
use crate::i18n::{tr, trf};
use crate::masks::{self, Cell, MaskGrid};
use crate::model::checkpoint::write_atomically;

// -------------------------------------------------------------------------------------------
// Regions: where things were drawn in the last frame.

/// A part of the window that can be captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Region {
    /// The inputs panel on the left.
    Inputs,
    /// The current view in the central area (below the view tabs).
    View,
    /// Everything.
    Window,
}

impl Region {
    fn slug(self, view: ViewId) -> &'static str {
        match self {
            Region::Inputs => "inputs",
            Region::View => view_slug(view),
            Region::Window => "window",
        }
    }
}

/// `masks`, `attention`, ... (file names and the CLI's `--view`).
pub fn view_slug(view: ViewId) -> &'static str {
    match view {
        ViewId::Masks => "masks",
        ViewId::Attention => "attention",
        ViewId::Decoder => "decoder",
        ViewId::Finetune => "finetune",
    }
}

fn rect_id(region: Region) -> egui::Id {
    egui::Id::unique(("maskscope_export_rect", region))
}

/// Records where `region` was drawn this frame (in points). Called by the window.
pub fn remember_rect(ctx: &egui::Context, region: Region, rect: Rect) {
    ctx.data_mut(|d| d.insert_temp(rect_id(region), rect));
}

/// Records the rest of `ui` (the central panel below the view tabs) as the view's region,
/// with a few points of the panel's margin on the sides and bottom so nothing drawn at the
/// edge is cut.
pub fn remember_view_rect(ui: &Ui) {
    let r = ui.available_rect_before_wrap();
    let grown = Rect::from_min_max(
        egui::pos2(r.left() - 6.0, r.top()),
        egui::pos2(r.right() + 6.0, r.bottom() + 6.0),
    );
    remember_rect(ui.ctx(), Region::View, grown.intersect(ui.clip_rect()));
}

/// Where `region` was drawn in the last frame, in points.
pub fn region_rect(ctx: &egui::Context, region: Region) -> Option<Rect> {
    match region {
        Region::Window => Some(ctx.content_rect()),
        _ => ctx.data(|d| d.get_temp::<Rect>(rect_id(region))),
    }
}

/// `rect` (points) in the pixels of an image rendered at `pixels_per_point`, clamped to it.
/// Rounded outwards so a region's edge pixels are kept.
pub fn pixel_rect(rect: Rect, pixels_per_point: f32, image_size: [u32; 2]) -> Option<[u32; 4]> {
    let [w, h] = image_size.map(|v| v as f32);
    let x0 = (rect.min.x * pixels_per_point).floor().clamp(0.0, w);
    let y0 = (rect.min.y * pixels_per_point).floor().clamp(0.0, h);
    let x1 = (rect.max.x * pixels_per_point).ceil().clamp(0.0, w);
    let y1 = (rect.max.y * pixels_per_point).ceil().clamp(0.0, h);
    (x1 > x0 && y1 > y0).then_some([x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32])
}

/// Crops `image` to `rect` (points) drawn at `pixels_per_point`.
pub fn crop(
    image: &image::RgbaImage,
    rect: Rect,
    pixels_per_point: f32,
) -> Option<image::RgbaImage> {
    let [x, y, w, h] = pixel_rect(rect, pixels_per_point, [image.width(), image.height()])?;
    Some(image::imageops::crop_imm(image, x, y, w, h).to_image())
}

/// PNG bytes of an image (best compression: these are figures for documents).
pub fn png_bytes(image: &image::RgbaImage) -> Result<Vec<u8>, String> {
    use image::ImageEncoder as _;
    let mut bytes = vec![];
    image::codecs::png::PngEncoder::new_with_quality(
        &mut bytes,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgba8,
    )
    .map_err(|e| e.to_string())?;
    Ok(bytes)
}

fn color_image_to_rgba(image: &egui::ColorImage) -> image::RgbaImage {
    let [w, h] = image.size;
    let raw: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    image::RgbaImage::from_raw(w as u32, h as u32, raw).unwrap_or_default()
}

// -------------------------------------------------------------------------------------------
// Figures: the heatmaps and mask grids of a view as plain data.

/// How a figure's cells are coloured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// Values through the view's scale (colormap or diverging).
    Scale(Scale),
    /// A mask grid without values: open cells in the app's light "open" colour.
    Open,
}

/// One heatmap or mask grid of a view, ready for [`figure::heatmap_svg`] & co.
#[derive(Clone, Debug)]
pub struct Figure {
    /// File-name part: `weights`, `decoder-self-mask`, ...
    pub slug: &'static str,
    pub title: String,
    /// `(rows = queries, cols = keys)`; for mask grids 1 where open, 0 where blocked.
    pub values: Array2<f32>,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub mask: Option<MaskGrid>,
    pub fill: Fill,
}

/// An egui colour as SVG's `[r, g, b]`.
pub fn rgb(c: Color32) -> [u8; 3] {
    [c.r(), c.g(), c.b()]
}

impl Figure {
    fn color(&self, v: f32) -> [u8; 3] {
        match self.fill {
            Fill::Scale(scale) => rgb(scale.color(v)),
            // Figures go on white paper: the light theme's colour.
            Fill::Open => rgb(open_fill(false)),
        }
    }

    fn with_matrix<R>(&self, f: impl FnOnce(&Matrix) -> R) -> R {
        let color = |v: f32| self.color(v);
        f(&Matrix {
            title: &self.title,
            values: &self.values,
            row_labels: &self.rows,
            col_labels: &self.cols,
            mask: self.mask.as_ref(),
            color: &color,
        })
    }

    pub fn svg(&self) -> String {
        self.with_matrix(figure::heatmap_svg)
    }

    pub fn csv(&self) -> String {
        self.with_matrix(figure::matrix_csv)
    }

    pub fn json(&self) -> serde_json::Value {
        self.with_matrix(figure::matrix_json)
    }
}

fn mask_figure(
    slug: &'static str,
    title: String,
    grid: MaskGrid,
    rows: &[String],
    cols: &[String],
) -> Figure {
    Figure {
        slug,
        title,
        values: grid.cells.mapv(|c| if c.is_blocked() { 0.0 } else { 1.0 }),
        rows: rows.to_vec(),
        cols: cols.to_vec(),
        mask: Some(grid),
        fill: Fill::Open,
    }
}

fn bool_grid(m: Array2<bool>, blocked: Cell) -> MaskGrid {
    MaskGrid {
        cells: m.mapv(|b| if b { blocked } else { Cell::Open }),
    }
}

/// The heatmaps and mask grids `view` draws for the current state, main figure first (the
/// inputs panel and the fine-tune view have none). Mirrors the views' choices: kind, layer,
/// head, mean, diff and colour range.
pub fn figures(state: &AppState, view: ViewId) -> Vec<Figure> {
    match view {
        ViewId::Masks => masks_figures(state),
        ViewId::Attention => attention_figures(state),
        ViewId::Decoder => decoder_figures(state),
        ViewId::Finetune => vec![],
    }
}

fn masks_figures(state: &AppState) -> Vec<Figure> {
    let (Some(batch), Some(seq)) = (state.trace.as_ref(), state.sequence()) else {
        return vec![];
    };
    let colormap = state.settings.colormap;
    let lens_src: Vec<usize> = batch.sequences.iter().map(|s| s.src_len).collect();
    let lens_tgt: Vec<usize> = batch.sequences.iter().map(|s| s.tgt_len).collect();
    let (src_padded, tgt_padded) = (seq.src_ids.len(), seq.tgt_input_ids.len());
    let positions = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
    let row_names: Vec<String> = (1..=batch.sequences.len())
        .map(|i| trf("row {}", &[&i]))
        .collect();
    let tgt = &seq.tgt_input_tokens;
    let mut out = vec![
        mask_figure(
            "decoder-self-mask",
            tr("Decoder self-attention mask = causal + target padding").to_owned(),
            seq.masks.decoder_self.clone(),
            tgt,
            tgt,
        ),
        mask_figure(
            "cross-mask",
            tr("Cross-attention mask = source padding").to_owned(),
            seq.masks.cross.clone(),
            tgt,
            &seq.src_tokens,
        ),
        mask_figure(
            "encoder-self-mask",
            tr("Encoder self-attention mask = source padding").to_owned(),
            seq.masks.encoder_self.clone(),
            &seq.src_tokens,
            &seq.src_tokens,
        ),
        mask_figure(
            "causal-mask",
            tr("Causal (look-ahead) mask").to_owned(),
            bool_grid(masks::causal(tgt_padded), Cell::Future),
            tgt,
            tgt,
        ),
        mask_figure(
            "source-padding-mask",
            tr("Source padding mask (rows: batch rows)").to_owned(),
            bool_grid(masks::key_padding(&lens_src, src_padded), Cell::Padding),
            &row_names,
            &positions(src_padded),
        ),
        mask_figure(
            "target-padding-mask",
            tr("Target padding mask (rows: batch rows)").to_owned(),
            bool_grid(masks::key_padding(&lens_tgt, tgt_padded), Cell::Padding),
            &row_names,
            &positions(tgt_padded),
        ),
    ];
    let vs = &state.settings.masks_view;
    let att = seq.attention(vs.kind);
    if att.layers() == 0 || att.heads() == 0 {
        return out;
    }
    let layer = vs.layer.min(att.layers() - 1);
    let head = vs.head.min(att.heads() - 1);
    let (q, k) = seq.axis_tokens(vs.kind);
    let mask = seq.mask(vs.kind);
    let which = trf(
        "{}, layer {}, head {}",
        &[&attention_kind(vs.kind), &layer, &head],
    );
    let scores = head_slice(&att.scores, layer, head).to_owned();
    let masked = head_slice(&att.masked_scores, layer, head).to_owned();
    let weights = head_slice(&att.weights, layer, head).to_owned();
    let raw_scale = Scale::auto(scores.view(), None, colormap);
    let masked_scale = Scale::auto(masked.view(), Some(mask), colormap);
    let weight_scale = Scale::Sequential {
        min: 0.0,
        max: 1.0,
        colormap,
    };
    for (slug, title, values, scale, with_mask) in [
        (
            "scores",
            trf("Scores = QK^T / sqrt(d_k): {}", &[&which]),
            scores,
            raw_scale,
            false,
        ),
        (
            "masked-scores",
            trf("Masked scores (what softmax sees): {}", &[&which]),
            masked,
            masked_scale,
            true,
        ),
        (
            "weights",
            trf("Attention weights: {}", &[&which]),
            weights,
            weight_scale,
            true,
        ),
    ] {
        out.push(Figure {
            slug,
            title,
            values,
            rows: q.to_vec(),
            cols: k.to_vec(),
            // Raw scores are drawn before masking: their cells keep their values.
            mask: with_mask.then(|| mask.clone()),
            fill: Fill::Scale(scale),
        });
    }
    out
}

fn attention_figures(state: &AppState) -> Vec<Figure> {
    let Some(seq) = state.sequence() else {
        return vec![];
    };
    let a = &state.settings.attention;
    let att = seq.attention(a.kind);
    if att.layers() == 0 || att.heads() == 0 {
        return vec![];
    }
    let layer = a.layer.min(att.layers() - 1);
    let head = a.head.min(att.heads() - 1);
    let colormap = state.settings.colormap;
    let (q, k) = seq.axis_tokens(a.kind);
    let mask = seq.mask(a.kind).clone();
    let which = if a.mean_over_heads {
        trf("layer {}, mean over {} heads", &[&layer, &att.heads()])
    } else {
        trf("layer {}, head {}", &[&layer, &head])
    };
    let current = attention_matrix(seq, a.kind, layer, head, a.mean_over_heads);
    let pinned = state
        .pinned
        .as_ref()
        .map(|p| attention_matrix(&p.sequence, a.kind, layer, head, a.mean_over_heads))
        .filter(|p| p.dim() == current.dim());
    let figure = match pinned {
        Some(pinned) if a.diff => {
            let diff = &current - &pinned;
            let abs_max = diff.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
            Figure {
                slug: "attention-diff",
                title: trf(
                    "{} - {}: current minus pinned",
                    &[&attention_kind(a.kind), &which],
                ),
                values: diff,
                rows: q.to_vec(),
                cols: k.to_vec(),
                mask: Some(mask),
                fill: Fill::Scale(Scale::Diverging { abs_max }),
            }
        }
        _ => {
            let fixed = Scale::Sequential {
                min: 0.0,
                max: 1.0,
                colormap,
            };
            let scale = if a.auto_range {
                Scale::auto(current.view(), Some(&mask), colormap)
            } else {
                fixed
            };
            Figure {
                slug: "attention",
                title: format!("{} - {which}", attention_kind(a.kind)),
                values: current,
                rows: q.to_vec(),
                cols: k.to_vec(),
                mask: Some(mask),
                fill: Fill::Scale(scale),
            }
        }
    };
    vec![figure]
}

fn decoder_figures(state: &AppState) -> Vec<Figure> {
    let steps = state.stepper.steps();
    let Some(last) = steps.last() else {
        return vec![];
    };
    let layers = last.cross_row.dim().0;
    if layers == 0 {
        return vec![];
    }
    let layer = state.settings.decoder.layer.min(layers - 1);
    let scale = Scale::Sequential {
        min: 0.0,
        max: 1.0,
        colormap: state.settings.colormap,
    };
    let n = last.input_ids.len();
    let src_ids = state.selected_source_ids();
    let src_tokens = state.engine.vocab().tokens_of(&src_ids);
    let src_len = last.cross_row.dim().2;
    let cross = Array2::from_shape_fn((n, src_len), |(i, j)| {
        steps
            .get(i)
            .and_then(|s| s.cross_row.index_axis(Axis(0), layer).mean_axis(Axis(0)))
            .map_or(0.0, |r| r[j])
    });
    let self_rows = Array2::from_shape_fn((n, n), |(i, j)| {
        steps
            .get(i)
            .and_then(|s| s.self_row.index_axis(Axis(0), layer).mean_axis(Axis(0)))
            .and_then(|r| r.get(j).copied())
            .unwrap_or(0.0)
    });
    let causal = bool_grid(masks::causal(n), Cell::Future);
    vec![
        Figure {
            slug: "cross-attention",
            title: trf(
                "Cross-attention of each decoding step (layer {}, mean over heads)",
                &[&layer],
            ),
            values: cross,
            rows: last.input_tokens.clone(),
            cols: src_tokens,
            mask: None,
            fill: Fill::Scale(scale),
        },
        Figure {
            slug: "self-attention",
            title: trf(
                "Decoder self-attention so far (layer {}, mean over heads)",
                &[&layer],
            ),
            values: self_rows,
            rows: last.input_tokens.clone(),
            cols: last.input_tokens.clone(),
            mask: Some(causal),
            fill: Fill::Scale(scale),
        },
    ]
}

/// Where the figures of one view go beside `main` (e.g. `fig.png`): the first figure as
/// `fig.svg`, the others as `fig-<slug>.svg`.
pub fn figure_paths(main: &Path, figures: &[Figure], extension: &str) -> Vec<PathBuf> {
    let stem = main
        .file_stem()
        .map_or_else(|| "figure".into(), |s| s.to_string_lossy().into_owned());
    let dir = main.parent().unwrap_or(Path::new(""));
    figures
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i == 0 {
                dir.join(format!("{stem}.{extension}"))
            } else {
                dir.join(format!("{stem}-{}.{extension}", f.slug))
            }
        })
        .collect()
}

// -------------------------------------------------------------------------------------------
// Jobs: what the menus ask for.

/// A file format for figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Csv,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Svg, Format::Csv, Format::Json];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// One export, chosen in a menu; the path comes from the file dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportJob {
    /// A region as PNG at 1, 2 or 3 pixels per point of the window.
    Png {
        region: Region,
        view: ViewId,
        scale: u8,
    },
    /// Figure `index` of [`figures`]`(view)`.
    Figure {
        view: ViewId,
        index: usize,
        format: Format,
    },
}

impl ExportJob {
    /// Title of the file dialog.
    pub fn title(self) -> &'static str {
        match self {
            ExportJob::Png { .. } => tr("Export image (PNG)"),
            ExportJob::Figure {
                format: Format::Svg,
                ..
            } => tr("Export figure (SVG)"),
            ExportJob::Figure {
                format: Format::Csv,
                ..
            } => tr("Export numbers (CSV)"),
            ExportJob::Figure {
                format: Format::Json,
                ..
            } => tr("Export numbers (JSON)"),
        }
    }

    /// `("PNG image", ["png"])` for the dialog's filter.
    pub fn filter(self) -> (&'static str, &'static str) {
        match self {
            ExportJob::Png { .. } => ("PNG", "png"),
            ExportJob::Figure { format, .. } => match format {
                Format::Svg => ("SVG", "svg"),
                Format::Csv => ("CSV", "csv"),
                Format::Json => ("JSON", "json"),
            },
        }
    }

    /// A file name to start from, e.g. `maskscope-attention-2x.png`.
    pub fn file_name(self, state: &AppState) -> String {
        match self {
            ExportJob::Png {
                region,
                view,
                scale,
            } => format!("maskscope-{}-{scale}x.png", region.slug(view)),
            ExportJob::Figure {
                view,
                index,
                format,
            } => {
                let slug = figures(state, view).get(index).map_or("figure", |f| f.slug);
                format!(
                    "maskscope-{}-{slug}.{}",
                    view_slug(view),
                    format.extension()
                )
            }
        }
    }
}

// -------------------------------------------------------------------------------------------
// Pending exports and the capture machinery (lives in `AppState::exports`).

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

/// Export state kept between frames. Not persisted.
#[derive(Default)]
pub struct Exports {
    pending: Option<PendingPng>,
    screenshot: Option<Screenshot>,
    offscreen: Option<super::render::Offscreen>,
    /// True while the window is drawn a second time offscreen (no exports from inside).
    in_offscreen_pass: bool,
    /// The last export error, shown in the window until the next export.
    pub last_error: Option<String>,
}

impl Exports {
    /// Whether a PNG export is waiting for its frame.
    pub fn busy(&self) -> bool {
        self.pending.is_some() || self.screenshot.is_some()
    }
}

/// Starts `job` at `path` (the file dialog's answer): figures are written at once, PNGs
/// after the next clean frame.
pub fn start(state: &mut AppState, job: ExportJob, path: &Path) {
    state.exports.last_error = None;
    match job {
        ExportJob::Png {
            region,
            scale,
            view,
        } => {
            if state.settings.view != view && region == Region::View {
                state.settings.view = view;
            }
            state.exports.pending = Some(PendingPng {
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
            let figs = figures(state, view);
            let Some(fig) = figs.get(index) else {
                fail(
                    state,
                    tr("that figure is no longer shown; nothing was exported").to_owned(),
                );
                return;
            };
            let bytes = match format {
                Format::Svg => fig.svg().into_bytes(),
                Format::Csv => fig.csv().into_bytes(),
                Format::Json => serde_json::to_vec_pretty(&fig.json()).unwrap_or_default(),
            };
            match write_atomically(path, &bytes) {
                Ok(()) => state.info(trf("exported {} to {}", &[&fig.title, &path.display()])),
                Err(e) => fail(state, trf("could not write {}: {}", &[&path.display(), &e])),
            }
        }
    }
}

fn fail(state: &mut AppState, text: String) {
    state.exports.last_error = Some(text.clone());
    state.error(text);
}

/// Drives PNG exports; the window calls this at the end of every frame.
pub fn end_frame(app: &mut App, ctx: &egui::Context, frame: &mut eframe::Frame) {
    if app.state().exports.in_offscreen_pass {
        return;
    }
    poll_screenshot(app.state_mut(), ctx);
    let Some(mut pending) = app.state_mut().exports.pending.take() else {
        return;
    };
    if pending.wait > 0 {
        pending.wait -= 1;
        app.state_mut().exports.pending = Some(pending);
        ctx.request_repaint();
        return;
    }
    let Some(rect) = region_rect(ctx, pending.region) else {
        fail(
            app.state_mut(),
            tr("nothing to export: the region was not drawn").to_owned(),
        );
        return;
    };
    if pending.scale <= 1 {
        let (sender, receiver) = channel();
        let repaint = ctx.clone();
        ctx.request_screenshot(move |image| {
            let _ = sender.send(image);
            repaint.request_repaint();
        });
        app.state_mut().exports.screenshot = Some(Screenshot {
            path: pending.path,
            receiver,
            rect,
            pixels_per_point: ctx.pixels_per_point(),
            frames: 0,
        });
    } else {
        let result = render_offscreen(app, ctx, frame, pending.scale as f32, pending.region);
        let state = app.state_mut();
        match result.and_then(|image| save_png(&image, &pending.path)) {
            Ok(size) => state.info(trf(
                "exported a {} x {} PNG to {}",
                &[&size[0], &size[1], &pending.path.display()],
            )),
            Err(e) => fail(state, e),
        }
    }
}

fn save_png(image: &image::RgbaImage, path: &Path) -> Result<[u32; 2], String> {
    let bytes = png_bytes(image).map_err(|e| trf("could not encode the PNG: {}", &[&e]))?;
    write_atomically(path, &bytes)
        .map_err(|e| trf("could not write {}: {}", &[&path.display(), &e]))?;
    Ok([image.width(), image.height()])
}

fn poll_screenshot(state: &mut AppState, ctx: &egui::Context) {
    let Some(mut shot) = state.exports.screenshot.take() else {
        return;
    };
    match shot.receiver.try_recv() {
        Ok(image) => {
            let full = color_image_to_rgba(&image);
            let result = crop(&full, shot.rect, shot.pixels_per_point)
                .ok_or_else(|| tr("nothing to export: the region is empty").to_owned())
                .and_then(|img| save_png(&img, &shot.path));
            match result {
                Ok(size) => state.info(trf(
                    "exported a {} x {} PNG to {}",
                    &[&size[0], &size[1], &shot.path.display()],
                )),
                Err(e) => fail(state, e),
            }
        }
        Err(_) if shot.frames > 120 => {
            fail(
                state,
                tr("the screenshot did not arrive; try 2x (rendered offscreen) instead").to_owned(),
            );
        }
        Err(_) => {
            shot.frames += 1;
            state.exports.screenshot = Some(shot);
            ctx.request_repaint();
        }
    }
}

/// Draws the window again offscreen at `scale` times its pixel density and crops `region`.
fn render_offscreen(
    app: &mut App,
    live: &egui::Context,
    frame: &mut eframe::Frame,
    scale: f32,
    region: Region,
) -> Result<image::RgbaImage, String> {
    let mut offscreen = match app.state_mut().exports.offscreen.take() {
        Some(o) => o,
        None => super::render::Offscreen::new().map_err(|e| e.to_string())?,
    };
    app.state_mut().exports.in_offscreen_pass = true;
    let result = offscreen.capture(live, scale, |ui| eframe::App::ui(app, ui, frame));
    let state = app.state_mut();
    state.exports.in_offscreen_pass = false;
    state.exports.offscreen = Some(offscreen);
    let (image, ctx) = result?;
    let rect = region_rect(&ctx, region)
        .ok_or_else(|| tr("nothing to export: the region was not drawn").to_owned())?;
    crop(&image, rect, ctx.pixels_per_point())
        .ok_or_else(|| tr("nothing to export: the region is empty").to_owned())
}

// -------------------------------------------------------------------------------------------
// Menus.

fn png_row(ui: &mut Ui, state: &mut AppState, label: &str, region: Region) {
    let view = state.settings.view;
    ui.horizontal(|ui| {
        ui.label(label);
        for scale in 1..=3u8 {
            let hover = if scale == 1 {
                tr("Exactly the pixels on screen")
            } else {
                tr("Drawn again offscreen at a higher pixel density: sharp text and lines")
            };
            if ui
                .button(format!("{scale}x"))
                .on_hover_text(hover)
                .clicked()
            {
                ui.close();
                state.request_file(FilePurpose::Export(ExportJob::Png {
                    region,
                    view,
                    scale,
                }));
            }
        }
    });
}

fn figure_rows(ui: &mut Ui, state: &mut AppState) {
    let view = state.settings.view;
    let figs = figures(state, view);
    if figs.is_empty() {
        ui.label(
            RichText::new(tr(
                "This view has no heatmaps to export as SVG, CSV or JSON.",
            ))
            .weak(),
        );
        return;
    }
    for (index, fig) in figs.iter().enumerate() {
        ui.horizontal(|ui| {
            for format in Format::ALL {
                let text = match format {
                    Format::Svg => "SVG",
                    Format::Csv => "CSV",
                    Format::Json => "JSON",
                };
                if ui.small_button(text).clicked() {
                    ui.close();
                    state.request_file(FilePurpose::Export(ExportJob::Figure {
                        view,
                        index,
                        format,
                    }));
                }
            }
            ui.label(&fig.title);
        });
    }
}

/// The top bar's "Export" menu: window, view or inputs as PNG, and the view's figures.
pub fn menu(ui: &mut Ui, state: &mut AppState) {
    ui.add_enabled_ui(!state.exports.busy(), |ui| {
        ui.menu_button(tr("Export"), |ui| {
            ui.label(RichText::new(tr("Image (PNG)")).strong());
            png_row(ui, state, tr("Current view"), Region::View);
            png_row(ui, state, tr("Whole window"), Region::Window);
            png_row(ui, state, tr("Inputs panel"), Region::Inputs);
            ui.separator();
            ui.label(
                RichText::new(tr(
                    "Figures of this view (vector SVG, numbers as CSV or JSON)",
                ))
                .strong(),
            );
            figure_rows(ui, state);
        })
        .response
        .on_hover_text(tr(
            "Save the view as a PNG (1x, 2x, 3x) or its heatmaps as SVG, CSV or JSON",
        ));
    });
}

/// The small per-view export button beside the view tabs.
pub fn view_button(ui: &mut Ui, state: &mut AppState) {
    ui.add_enabled_ui(!state.exports.busy(), |ui| {
        ui.menu_button(tr("Export view"), |ui| {
            png_row(ui, state, tr("PNG"), Region::View);
            ui.separator();
            figure_rows(ui, state);
        })
        .response
        .on_hover_text(tr(
            "Save this view as a PNG, or its heatmaps as SVG, CSV or JSON",
        ));
    });
}

/// Ctrl+E (or a presenter's request): the current view at 2x through the file dialog.
pub fn quick_export(state: &mut AppState) {
    if !state.exports.busy() {
        let view = state.settings.view;
        state.request_file(FilePurpose::Export(ExportJob::Png {
            region: Region::View,
            view,
            scale: 2,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_rects_scale_and_clamp() {
        let rect = Rect::from_min_max(egui::pos2(10.0, 20.0), egui::pos2(110.5, 70.0));
        assert_eq!(
            pixel_rect(rect, 2.0, [1000, 1000]),
            Some([20, 40, 201, 100])
        );
        assert_eq!(pixel_rect(rect, 1.0, [50, 50]), Some([10, 20, 40, 30]));
        assert_eq!(pixel_rect(rect, 1.0, [5, 5]), None);
    }

    #[test]
    fn figure_paths_put_the_main_figure_on_the_stem() {
        let fig = |slug| Figure {
            slug,
            title: String::new(),
            values: Array2::zeros((1, 1)),
            rows: vec![],
            cols: vec![],
            mask: None,
            fill: Fill::Open,
        };
        let paths = figure_paths(Path::new("out/fig.png"), &[fig("a"), fig("b")], "svg");
        assert_eq!(
            paths,
            vec![PathBuf::from("out/fig.svg"), PathBuf::from("out/fig-b.svg")]
        );
    }

    #[test]
    fn colours_match_the_app() {
        let scale = Scale::Sequential {
            min: 0.0,
            max: 1.0,
            colormap: crate::app::widgets::colormap::Colormap::Viridis,
        };
        let fig = Figure {
            slug: "x",
            title: "t".into(),
            values: Array2::from_elem((1, 1), 1.0),
            rows: vec!["a".into()],
            cols: vec!["b".into()],
            mask: None,
            fill: Fill::Scale(scale),
        };
        assert!(fig.svg().contains("rgb(253,231,37)"), "viridis' top colour");
    }
}
