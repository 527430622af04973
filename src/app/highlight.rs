//! The cell a lesson step (or a saved session) outlines in the heatmaps and mask grids.

use serde::{Deserialize, Serialize};

use crate::trace::AttentionKind;

/// A cell outlined in the heatmaps and mask grids of one attention kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Highlight {
    pub kind: AttentionKind,
    pub query: usize,
    pub key: usize,
}
