//! A model's family and size as plain numbers: what the window's model line shows and what the
//! limits ([`super::limits`]) estimate memory from. Both families fill it in.

use crate::tokenizer::TokenizerKind;

/// Which family a model belongs to (for labels; behaviour goes through [`super::Engine`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    BuiltIn,
    Marian,
}

/// A model's size and shape in plain numbers, for the window's model line.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSummary {
    pub kind: ModelKind,
    pub d_model: usize,
    /// (encoder, decoder)
    pub heads: (usize, usize),
    pub layers: (usize, usize),
    pub d_ff: (usize, usize),
    pub norm_first: bool,
    /// The built-in tokenizer's kind; `None` for SentencePiece.
    pub tokenizer: Option<TokenizerKind>,
    /// (source, target)
    pub vocab: (usize, usize),
    /// Tokens per side.
    pub max_len: usize,
    pub parameters: usize,
}
