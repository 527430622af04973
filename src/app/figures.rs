//! The grids and matrices the views draw, as plain data: the masks of a batch, one head's
//! scores and weights, the enlarged attention matrix, the decoder's step-by-step attention.
//! The views draw them and the exports write them ([`Figure::svg`] & co.), so a figure file
//! always shows what the window shows.

use std::path::{Path, PathBuf};

use egui::Color32;
use ndarray::{Array2, ArrayView2, Axis};

use super::colormap::{Colormap, Scale, open_fill};
use super::labels::attention_kind;
use super::settings::{AttentionSettings, Settings};
use crate::figure::{self, Matrix};
use crate::i18n::{tr, trf};
use crate::masks::{self, Cell, MaskGrid};
use crate::trace::{AttentionKind, BatchTrace, SequenceTrace, StepTrace};

/// `(query, key)` slice of a `(layer, head, query, key)` array.
pub fn head_slice(a: &ndarray::Array4<f32>, layer: usize, head: usize) -> ArrayView2<'_, f32> {
    a.index_axis(Axis(0), layer).index_axis_move(Axis(0), head)
}

/// The matrix shown for a selection: one head, or the mean over a layer's heads.
pub fn attention_matrix(
    seq: &SequenceTrace,
    kind: AttentionKind,
    layer: usize,
    head: usize,
    mean: bool,
) -> Array2<f32> {
    let att = seq.attention(kind);
    if mean {
        att.mean_over_heads(layer)
    } else {
        att.head(layer, head)
    }
}

/// A boolean "blocked" matrix as a mask grid whose blocked cells carry `blocked`'s reason.
pub fn bool_grid(m: Array2<bool>, blocked: Cell) -> MaskGrid {
    MaskGrid {
        cells: m.mapv(|b| if b { blocked } else { Cell::Open }),
    }
}

/// `0`, `1`, ... `n - 1` as axis labels.
pub fn positions(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

/// The three masks of a batch before they are combined, for the selected row: the causal
/// mask over its decoder positions, and the source and target padding of every row.
pub struct BatchMasks {
    pub causal: MaskGrid,
    pub src_padding: MaskGrid,
    pub tgt_padding: MaskGrid,
    /// `row 1`, `row 2`, ...: the rows of the padding grids.
    pub row_names: Vec<String>,
    pub src_positions: Vec<String>,
    pub tgt_positions: Vec<String>,
}

impl BatchMasks {
    pub fn new(batch: &BatchTrace, seq: &SequenceTrace) -> Self {
        let lens_src: Vec<usize> = batch.sequences.iter().map(|s| s.src_len).collect();
        let lens_tgt: Vec<usize> = batch.sequences.iter().map(|s| s.tgt_len).collect();
        let (src_padded, tgt_padded) = (seq.src_ids.len(), seq.tgt_input_ids.len());
        let side = batch.settings.pad_side;
        Self {
            causal: bool_grid(masks::causal(tgt_padded), Cell::Future),
            src_padding: bool_grid(
                masks::key_padding(&lens_src, src_padded, side),
                Cell::Padding,
            ),
            tgt_padding: bool_grid(
                masks::key_padding(&lens_tgt, tgt_padded, side),
                Cell::Padding,
            ),
            row_names: (1..=batch.sequences.len())
                .map(|i| trf("row {}", &[&i]))
                .collect(),
            src_positions: positions(src_padded),
            tgt_positions: positions(tgt_padded),
        }
    }
}

/// One head's way from scores to weights (the masks view's pipeline).
pub struct HeadPipeline<'a> {
    pub scores: ArrayView2<'a, f32>,
    pub masked: ArrayView2<'a, f32>,
    pub weights: ArrayView2<'a, f32>,
    pub raw_scale: Scale,
    pub masked_scale: Scale,
    pub weight_scale: Scale,
    /// The layer and head shown (the asked-for ones, clamped to the model).
    pub layer: usize,
    pub head: usize,
}

impl<'a> HeadPipeline<'a> {
    /// `None` when the model has no layer or head of `kind` to show.
    pub fn new(
        seq: &'a SequenceTrace,
        kind: AttentionKind,
        layer: usize,
        head: usize,
        colormap: Colormap,
    ) -> Option<Self> {
        let att = seq.attention(kind);
        if att.layers() == 0 || att.heads() == 0 {
            return None;
        }
        let layer = layer.min(att.layers() - 1);
        let head = head.min(att.heads() - 1);
        let scores = head_slice(&att.scores, layer, head);
        let masked = head_slice(&att.masked_scores, layer, head);
        let weights = head_slice(&att.weights, layer, head);
        Some(Self {
            raw_scale: Scale::auto(scores, None, colormap),
            masked_scale: Scale::auto(masked, Some(seq.mask(kind)), colormap),
            weight_scale: Scale::unit(colormap),
            scores,
            masked,
            weights,
            layer,
            head,
        })
    }
}

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

/// The masks view's figures: the combined masks, the three separate masks, and one head's
/// scores, masked scores and weights (kind, layer and head from `settings.masks_view`).
pub fn masks_figures(batch: &BatchTrace, seq: &SequenceTrace, settings: &Settings) -> Vec<Figure> {
    let grids = BatchMasks::new(batch, seq);
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
            grids.causal,
            tgt,
            tgt,
        ),
        mask_figure(
            "source-padding-mask",
            tr("Source padding mask (rows: batch rows)").to_owned(),
            grids.src_padding,
            &grids.row_names,
            &grids.src_positions,
        ),
        mask_figure(
            "target-padding-mask",
            tr("Target padding mask (rows: batch rows)").to_owned(),
            grids.tgt_padding,
            &grids.row_names,
            &grids.tgt_positions,
        ),
    ];
    let vs = &settings.masks_view;
    let Some(p) = HeadPipeline::new(seq, vs.kind, vs.layer, vs.head, settings.colormap) else {
        return out;
    };
    let (q, k) = seq.axis_tokens(vs.kind);
    let mask = seq.mask(vs.kind);
    let which = trf(
        "{}, layer {}, head {}",
        &[&attention_kind(vs.kind), &p.layer, &p.head],
    );
    for (slug, title, values, scale, with_mask) in [
        (
            "scores",
            trf("Scores = QK^T / sqrt(d_k): {}", &[&which]),
            p.scores,
            p.raw_scale,
            false,
        ),
        (
            "masked-scores",
            trf("Masked scores (what softmax sees): {}", &[&which]),
            p.masked,
            p.masked_scale,
            true,
        ),
        (
            "weights",
            trf("Attention weights: {}", &[&which]),
            p.weights,
            p.weight_scale,
            true,
        ),
    ] {
        out.push(Figure {
            slug,
            title,
            values: values.to_owned(),
            rows: q.to_vec(),
            cols: k.to_vec(),
            // Raw scores are drawn before masking: their cells keep their values.
            mask: with_mask.then(|| mask.clone()),
            fill: Fill::Scale(scale),
        });
    }
    out
}

/// The colour scale of attention weights: `0..=1` so matrices compare, or with `auto_range`
/// the open cells' own min..max.
pub fn weights_scale(
    values: &Array2<f32>,
    mask: &MaskGrid,
    auto_range: bool,
    colormap: Colormap,
) -> Scale {
    if auto_range {
        Scale::auto(values.view(), Some(mask), colormap)
    } else {
        Scale::unit(colormap)
    }
}

/// `current - pinned` on a diverging scale, or `None` when the shapes differ (the tokens
/// changed since the pin).
pub fn difference(current: &Array2<f32>, pinned: &Array2<f32>) -> Option<(Array2<f32>, Scale)> {
    if current.dim() != pinned.dim() {
        return None;
    }
    let diff = current - pinned;
    let abs_max = diff.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    Some((diff, Scale::Diverging { abs_max }))
}

/// The attention view's enlarged heatmap (kind, layer, head or mean from `a`): the weights,
/// or with `a.diff` and a pinned trace of the same shape, current minus pinned.
pub fn attention_figures(
    seq: &SequenceTrace,
    pinned: Option<&SequenceTrace>,
    a: &AttentionSettings,
    colormap: Colormap,
) -> Vec<Figure> {
    let att = seq.attention(a.kind);
    if att.layers() == 0 || att.heads() == 0 {
        return vec![];
    }
    let layer = a.layer.min(att.layers() - 1);
    let head = a.head.min(att.heads() - 1);
    let (q, k) = seq.axis_tokens(a.kind);
    let mask = seq.mask(a.kind).clone();
    let which = if a.mean_over_heads {
        trf("layer {}, mean over {} heads", &[&layer, &att.heads()])
    } else {
        trf("layer {}, head {}", &[&layer, &head])
    };
    let current = attention_matrix(seq, a.kind, layer, head, a.mean_over_heads);
    let diff = pinned
        .filter(|_| a.diff)
        .map(|p| attention_matrix(p, a.kind, layer, head, a.mean_over_heads))
        .and_then(|p| difference(&current, &p));
    let figure = match diff {
        Some((values, scale)) => Figure {
            slug: "attention-diff",
            title: trf(
                "{} - {}: current minus pinned",
                &[&attention_kind(a.kind), &which],
            ),
            values,
            rows: q.to_vec(),
            cols: k.to_vec(),
            mask: Some(mask),
            fill: Fill::Scale(scale),
        },
        None => Figure {
            slug: "attention",
            title: format!("{} - {which}", attention_kind(a.kind)),
            fill: Fill::Scale(weights_scale(&current, &mask, a.auto_range, colormap)),
            values: current,
            rows: q.to_vec(),
            cols: k.to_vec(),
            mask: Some(mask),
        },
    };
    vec![figure]
}

/// The decoding steps so far as matrices, mean over the heads of one layer: one row per
/// step (each step adds one decoder position).
pub struct DecodingGrids {
    /// The layer shown (the asked-for one, clamped to the model).
    pub layer: usize,
    /// `(steps, steps)`: each step's self-attention row, over the positions so far.
    pub self_rows: Array2<f32>,
    /// `(steps, source)`: each step's cross-attention row.
    pub cross_rows: Array2<f32>,
    /// The causal mask the steps used.
    pub causal: MaskGrid,
}

impl DecodingGrids {
    /// `None` before the first step (or for a model without decoder layers).
    pub fn new(steps: &[StepTrace], layer: usize) -> Option<Self> {
        let last = steps.last()?;
        let layers = last.cross_row.dim().0;
        if layers == 0 {
            return None;
        }
        let layer = layer.min(layers - 1);
        let n = last.input_ids.len();
        let src_len = last.cross_row.dim().2;
        let cross_rows = Array2::from_shape_fn((n, src_len), |(i, j)| {
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
        Some(Self {
            layer,
            self_rows,
            cross_rows,
            causal: bool_grid(masks::causal(n), Cell::Future),
        })
    }
}

/// The decoder view's figures: each decoding step's cross-attention and the decoder
/// self-attention so far, mean over heads of `layer`; `src_tokens` label the source axis.
pub fn decoder_figures(
    steps: &[StepTrace],
    src_tokens: Vec<String>,
    layer: usize,
    colormap: Colormap,
) -> Vec<Figure> {
    let (Some(last), Some(grids)) = (steps.last(), DecodingGrids::new(steps, layer)) else {
        return vec![];
    };
    let scale = Scale::unit(colormap);
    vec![
        Figure {
            slug: "cross-attention",
            title: trf(
                "Cross-attention of each decoding step (layer {}, mean over heads)",
                &[&grids.layer],
            ),
            values: grids.cross_rows,
            rows: last.input_tokens.clone(),
            cols: src_tokens,
            mask: None,
            fill: Fill::Scale(scale),
        },
        Figure {
            slug: "self-attention",
            title: trf(
                "Decoder self-attention so far (layer {}, mean over heads)",
                &[&grids.layer],
            ),
            values: grids.self_rows,
            rows: last.input_tokens.clone(),
            cols: last.input_tokens.clone(),
            mask: Some(grids.causal),
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

#[cfg(test)]
mod tests {
    use super::*;

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
            colormap: Colormap::Viridis,
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
