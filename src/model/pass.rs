//! How one forward pass runs: mask method, whether to record attention, dropout.

use std::cell::RefCell;

use candle_core::{Result, Tensor};
use rand::{SeedableRng, rngs::StdRng};

use super::ops;
use crate::masks::MaskMethod;

/// Dropout with its own seeded generator (training only).
pub struct Dropout {
    p: f32,
    rng: RefCell<StdRng>,
}

impl Dropout {
    pub fn new(p: f32, seed: u64) -> Self {
        Self {
            p,
            rng: RefCell::new(StdRng::seed_from_u64(seed)),
        }
    }

    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        ops::dropout(x, self.p, &self.rng)
    }
}

pub struct Pass {
    pub mask_method: MaskMethod,
    /// Keep scores and weights of every attention call for the trace.
    pub record: bool,
    /// `Some` while training with dropout > 0.
    pub dropout: Option<Dropout>,
}

impl Pass {
    /// Evaluation: no dropout.
    pub fn eval(mask_method: MaskMethod, record: bool) -> Self {
        Self {
            mask_method,
            record,
            dropout: None,
        }
    }

    pub fn train(mask_method: MaskMethod, dropout: f32, seed: u64) -> Self {
        Self {
            mask_method,
            record: false,
            dropout: (dropout > 0.0).then(|| Dropout::new(dropout, seed)),
        }
    }

    pub fn drop(&self, x: Tensor) -> Result<Tensor> {
        match &self.dropout {
            Some(d) => d.apply(&x),
            None => Ok(x),
        }
    }
}
