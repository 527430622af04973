//! maskscope: see how a transformer decoder is fed and masked.
//!
//! Layers, one direction: [`model`] (candle: tensors, training, decoding) produces
//! [`trace`] (plain ndarray data), which the `app` views draw. Views never touch candle and
//! the model never touches egui. [`masks`], [`tokenizer`], [`tasks`] and [`dataset`] are
//! plain Rust shared by both.

pub mod app;
pub mod bundled_models;
pub mod cli;
pub mod dataset;
pub mod figure;
pub mod fsio;
pub mod i18n;
pub mod inspect_json;
pub mod lessons;
pub mod masks;
pub mod memory;
pub mod model;
pub mod sentencepiece;
pub mod tasks;
pub mod tokenizer;
pub mod trace;
