//! Attention masks as plain data: which (query, key) cells are blocked, and why.
//!
//! Every grid is `(queries, keys)`. A cell is blocked because its key lies in the future
//! (causal mask), because its key is padding, or both. The reasons are kept so the UI can
//! explain each cell; [`MaskGrid::additive`] turns a grid into the form added to scores
//! before softmax.

use std::ops::Range;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// The large finite negative used for blocked cells before softmax. Finite (not -inf) so a
/// fully blocked row can never produce NaN; `exp(-1e9 - max)` is exactly 0.0 in f32.
pub const BLOCKED_SCORE: f32 = -1e9;

/// Why one attention cell is open or blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Cell {
    #[default]
    Open,
    /// The key is a later position than the query (look-ahead).
    Future,
    /// The key is a `<pad>` token.
    Padding,
    /// Both a future position and padding.
    Both,
}

impl Cell {
    pub fn is_blocked(self) -> bool {
        self != Cell::Open
    }

    fn from_flags(future: bool, padding: bool) -> Cell {
        match (future, padding) {
            (false, false) => Cell::Open,
            (true, false) => Cell::Future,
            (false, true) => Cell::Padding,
            (true, true) => Cell::Both,
        }
    }

    /// A short explanation for hover text.
    pub fn reason(self) -> &'static str {
        match self {
            Cell::Open => "open: the query may attend to this key",
            Cell::Future => "blocked: future token (causal mask)",
            Cell::Padding => "blocked: the key is padding",
            Cell::Both => "blocked: future token and padding",
        }
    }
}

/// How the mask is applied inside attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MaskMethod {
    /// Add a large negative to blocked scores before softmax (correct: rows renormalise).
    // The lowercase aliases are the names lessons use.
    #[default]
    #[serde(alias = "additive")]
    Additive,
    /// Softmax over all keys, then zero the blocked weights (a common mistake: rows no
    /// longer sum to one).
    #[serde(alias = "multiply")]
    Multiply,
    /// Ignore the mask entirely.
    #[serde(alias = "none")]
    None,
}

impl MaskMethod {
    pub const ALL: [MaskMethod; 3] = [MaskMethod::Additive, MaskMethod::Multiply, MaskMethod::None];

    pub fn label(self) -> &'static str {
        match self {
            MaskMethod::Additive => "additive before softmax",
            MaskMethod::Multiply => "multiply after softmax",
            MaskMethod::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<MaskMethod> {
        match text {
            "additive" => Some(MaskMethod::Additive),
            "multiply" => Some(MaskMethod::Multiply),
            "none" => Some(MaskMethod::None),
            _ => None,
        }
    }
}

/// Which end of a row a batch pads: right (pads after the real tokens, the default) or left
/// (pads before them, as decoder-only models batch prompts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PadSide {
    #[default]
    #[serde(alias = "right")]
    Right,
    #[serde(alias = "left")]
    Left,
}

impl PadSide {
    /// The columns of a row of `padded` cells that hold its `len` real tokens.
    pub fn real_range(self, len: usize, padded: usize) -> Range<usize> {
        let len = len.min(padded);
        match self {
            PadSide::Right => 0..len,
            PadSide::Left => padded - len..padded,
        }
    }

    /// How many pads come before the first real token.
    pub fn lead(self, len: usize, padded: usize) -> usize {
        self.real_range(len, padded).start
    }

    /// `ids` padded to `padded` with `pad` on this side.
    pub fn pad(self, ids: &[u32], padded: usize, pad: u32) -> Vec<u32> {
        let fill = std::iter::repeat_n(pad, padded.saturating_sub(ids.len()));
        match self {
            PadSide::Right => ids.iter().copied().chain(fill).collect(),
            PadSide::Left => fill.chain(ids.iter().copied()).collect(),
        }
    }
}

/// The teaching switches: which masks are built and how they are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskSettings {
    pub causal: bool,
    pub src_padding: bool,
    pub tgt_padding: bool,
    pub method: MaskMethod,
    /// Sessions saved before the switch existed padded on the right.
    #[serde(default)]
    pub pad_side: PadSide,
}

impl Default for MaskSettings {
    fn default() -> Self {
        Self {
            causal: true,
            src_padding: true,
            tgt_padding: true,
            method: MaskMethod::Additive,
            pad_side: PadSide::Right,
        }
    }
}

/// A `(queries, keys)` grid of cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaskGrid {
    pub cells: Array2<Cell>,
}

impl MaskGrid {
    /// A grid of `shape` with every cell open: what a mask looks like when no method applies it.
    pub fn all_open(shape: (usize, usize)) -> Self {
        Self {
            cells: Array2::from_elem(shape, Cell::Open),
        }
    }

    pub fn shape(&self) -> (usize, usize) {
        self.cells.dim()
    }

    pub fn is_blocked(&self, query: usize, key: usize) -> bool {
        self.cells[[query, key]].is_blocked()
    }

    /// 0.0 for open cells, [`BLOCKED_SCORE`] for blocked ones: added to scores before softmax.
    pub fn additive(&self) -> Array2<f32> {
        self.cells
            .mapv(|c| if c.is_blocked() { BLOCKED_SCORE } else { 0.0 })
    }

    /// 1.0 for open cells, 0.0 for blocked ones: multiplied into weights after softmax.
    pub fn keep(&self) -> Array2<f32> {
        self.cells.mapv(|c| if c.is_blocked() { 0.0 } else { 1.0 })
    }

    /// True where every key of the query row is blocked: a query over an all-padding
    /// sequence, or (left padding) a pad query of the decoder, whose causal mask leaves it only
    /// earlier pads. Such "empty rows" get all-zero weights, never NaN (see `attention`).
    pub fn fully_blocked_rows(&self) -> Vec<bool> {
        self.cells
            .rows()
            .into_iter()
            .map(|row| row.iter().all(|c| c.is_blocked()))
            .collect()
    }

    pub fn blocked_count(&self) -> usize {
        self.cells.iter().filter(|c| c.is_blocked()).count()
    }
}

/// `true` where key `j` is later than query `i`: the look-ahead cells.
pub fn causal(len: usize) -> Array2<bool> {
    Array2::from_shape_fn((len, len), |(i, j)| j > i)
}

/// `true` at padding positions: one row per sequence, `padded_len` columns, pads on `side`.
pub fn key_padding(lengths: &[usize], padded_len: usize, side: PadSide) -> Array2<bool> {
    Array2::from_shape_fn((lengths.len(), padded_len), |(b, j)| {
        !side.real_range(lengths[b], padded_len).contains(&j)
    })
}

fn grid(
    queries: usize,
    keys: usize,
    future: impl Fn(usize, usize) -> bool,
    pad_key: impl Fn(usize) -> bool,
) -> MaskGrid {
    MaskGrid {
        cells: Array2::from_shape_fn((queries, keys), |(i, j)| {
            Cell::from_flags(future(i, j), pad_key(j))
        }),
    }
}

/// True when column `j` of a row with `len` real tokens padded to `padded` is padding.
fn is_pad(side: PadSide, len: usize, padded: usize) -> impl Fn(usize) -> bool {
    let real = side.real_range(len, padded);
    move |j| !real.contains(&j)
}

/// Encoder self-attention for one sequence of `src_len` real tokens padded to `src_padded`.
pub fn encoder_self(src_len: usize, src_padded: usize, settings: &MaskSettings) -> MaskGrid {
    let pad = is_pad(settings.pad_side, src_len, src_padded);
    grid(
        src_padded,
        src_padded,
        |_, _| false,
        |j| settings.src_padding && pad(j),
    )
}

/// Decoder self-attention: causal mask combined with target padding.
pub fn decoder_self(tgt_len: usize, tgt_padded: usize, settings: &MaskSettings) -> MaskGrid {
    let pad = is_pad(settings.pad_side, tgt_len, tgt_padded);
    grid(
        tgt_padded,
        tgt_padded,
        |i, j| settings.causal && j > i,
        |j| settings.tgt_padding && pad(j),
    )
}

/// Cross-attention: decoder queries over encoder keys; only source padding blocks.
pub fn cross(
    src_len: usize,
    src_padded: usize,
    tgt_padded: usize,
    settings: &MaskSettings,
) -> MaskGrid {
    let pad = is_pad(settings.pad_side, src_len, src_padded);
    grid(
        tgt_padded,
        src_padded,
        |_, _| false,
        |j| settings.src_padding && pad(j),
    )
}

/// The three grids one sequence of a batch uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceMasks {
    pub encoder_self: MaskGrid,
    pub decoder_self: MaskGrid,
    pub cross: MaskGrid,
}

impl SequenceMasks {
    pub fn new(
        src_len: usize,
        src_padded: usize,
        tgt_len: usize,
        tgt_padded: usize,
        settings: &MaskSettings,
    ) -> Self {
        Self {
            encoder_self: encoder_self(src_len, src_padded, settings),
            decoder_self: decoder_self(tgt_len, tgt_padded, settings),
            cross: cross(src_len, src_padded, tgt_padded, settings),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn causal_blocks_exactly_the_upper_triangle() {
        let m = causal(4);
        assert!(!m[[2, 2]] && m[[1, 2]] && !m[[2, 1]]);
        assert_eq!(m.iter().filter(|b| **b).count(), 6);
    }

    #[test]
    fn decoder_reasons_combine() {
        let g = decoder_self(2, 4, &MaskSettings::default());
        assert_eq!(g.cells[[0, 0]], Cell::Open);
        assert_eq!(g.cells[[0, 1]], Cell::Future);
        assert_eq!(g.cells[[3, 2]], Cell::Padding);
        assert_eq!(g.cells[[0, 3]], Cell::Both);
    }

    #[test]
    fn switches_turn_masks_off() {
        let off = MaskSettings {
            causal: false,
            src_padding: false,
            tgt_padding: false,
            ..Default::default()
        };
        assert_eq!(decoder_self(2, 4, &off).blocked_count(), 0);
        assert_eq!(cross(1, 3, 4, &off).blocked_count(), 0);
    }

    #[test]
    fn empty_source_rows_are_fully_blocked() {
        let g = encoder_self(0, 3, &MaskSettings::default());
        assert!(g.fully_blocked_rows().iter().all(|b| *b));
    }

    fn left() -> MaskSettings {
        MaskSettings {
            pad_side: PadSide::Left,
            ..Default::default()
        }
    }

    #[test]
    fn left_padding_blocks_the_leading_columns() {
        // 2 real tokens in 4 columns: pads at 0 and 1.
        let g = decoder_self(2, 4, &left());
        assert_eq!(g.cells[[3, 0]], Cell::Padding);
        assert_eq!(g.cells[[3, 2]], Cell::Open);
        assert_eq!(g.cells[[2, 3]], Cell::Future);
        assert_eq!(g.cells[[0, 1]], Cell::Both);
        let e = encoder_self(3, 5, &left());
        assert!(e.is_blocked(4, 1) && !e.is_blocked(0, 2));
        assert_eq!(PadSide::Left.pad(&[7, 8], 4, 0), vec![0, 0, 7, 8]);
        assert_eq!(PadSide::Right.pad(&[7, 8], 4, 0), vec![7, 8, 0, 0]);
    }

    /// Left padding with the causal mask leaves every leading pad query with no open key.
    #[test]
    fn left_padded_decoder_pad_rows_are_empty() {
        let g = decoder_self(2, 5, &left());
        assert_eq!(g.fully_blocked_rows(), vec![true, true, true, false, false]);
        let right = decoder_self(2, 5, &MaskSettings::default());
        assert!(right.fully_blocked_rows().iter().all(|b| !*b));
    }

    #[test]
    fn old_settings_without_a_pad_side_load_as_right() {
        let json = r#"{"causal":true,"src_padding":true,"tgt_padding":false,"method":"Additive"}"#;
        let s: MaskSettings = serde_json::from_str(json).unwrap();
        assert_eq!(s.pad_side, PadSide::Right);
        assert!(!s.tgt_padding);
    }

    proptest! {
        #[test]
        fn left_and_right_real_ranges_hold_len_columns(len in 0usize..10, extra in 0usize..6, left_side: bool) {
            let side = if left_side { PadSide::Left } else { PadSide::Right };
            let padded = len + extra;
            let range = side.real_range(len, padded);
            prop_assert_eq!(range.len(), len);
            prop_assert!(range.end <= padded);
            let row = side.pad(&vec![1; len], padded, 0);
            for (j, id) in row.iter().enumerate() {
                prop_assert_eq!(*id == 1, range.contains(&j));
            }
        }

        #[test]
        fn decoder_mask_matches_its_definition(len in 0usize..12, extra in 0usize..6, causal_on: bool, pad_on: bool) {
            let settings = MaskSettings { causal: causal_on, tgt_padding: pad_on, ..Default::default() };
            let padded = len + extra;
            let g = decoder_self(len, padded, &settings);
            let additive = g.additive();
            for i in 0..padded {
                for j in 0..padded {
                    let blocked = (causal_on && j > i) || (pad_on && j >= len);
                    prop_assert_eq!(g.is_blocked(i, j), blocked);
                    prop_assert_eq!(additive[[i, j]], if blocked { BLOCKED_SCORE } else { 0.0 });
                }
            }
            // With at least one real token, no row is ever fully blocked: position 0 is real.
            if len > 0 {
                prop_assert!(g.fully_blocked_rows().iter().all(|b| !*b));
            }
        }

        #[test]
        fn key_padding_marks_positions_past_each_length(lengths in proptest::collection::vec(0usize..10, 1..5)) {
            let padded = *lengths.iter().max().unwrap();
            let m = key_padding(&lengths, padded, PadSide::Right);
            for (b, len) in lengths.iter().enumerate() {
                prop_assert_eq!(m.row(b).iter().filter(|p| !**p).count(), *len);
            }
        }
    }
}
