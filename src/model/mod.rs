//! The engine: a traced, trainable encoder-decoder in candle, pinned to PyTorch's
//! `nn.Transformer` math and checkpoint names.

pub mod attention;
pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod decoding;
pub mod engine;
pub mod family;
pub mod fast_ops;
mod few_rows;
pub mod groups;
pub mod layers;
pub mod leaks;
pub mod limits;
pub mod marian;
pub mod ops;
pub mod params;
pub mod pass;
pub mod seq2seq;
mod simd_level;
pub mod summary;
pub use simd_level::{kernel_path, narrower_levels};
pub mod tracing;
pub mod training;

use std::collections::BTreeMap;

pub use batch::{Batch, Example};
pub use checkpoint::CheckpointError;
pub use config::ModelConfig;
pub use engine::Engine;

/// Every parameter name and shape a config implies, without allocating the weights.
pub fn expected_shapes(
    config: &ModelConfig,
    vocab_size: usize,
) -> candle_core::Result<BTreeMap<String, Vec<usize>>> {
    params::shapes_of(|vb| seq2seq::Seq2Seq::new(config, vocab_size, vb).map(|_| ()))
}
