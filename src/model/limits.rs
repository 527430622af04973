//! Every size a user can type (on the command line, in the window, in a file) has a limit
//! here, checked before anything is allocated; the message names the option and the limit.
//! The README's reliability paragraph lists the same numbers.

use super::summary::ModelSummary;

/// Examples per training batch.
pub const MAX_BATCH_SIZE: usize = 4096;
/// Generated training pairs (`train --train-size`): 200,000 train in about 13 s at ~180 MB,
/// so a million stays well inside a laptop's memory.
pub const MAX_TRAIN_PAIRS: usize = 1_000_000;
/// Generated validation or test pairs (`--validation-size`, `--test-size`, `eval --n`).
pub const MAX_HELD_OUT_PAIRS: usize = 100_000;
/// Beam width, for every model family, in the window and on the command line.
pub const MAX_BEAM_WIDTH: usize = 64;
/// Training threads (`--threads`).
pub const MAX_THREADS: usize = 256;
/// Parameters of a built-in model (4 bytes each): 64 Mi is a "base" transformer with room to
/// spare; the bundled models have about 0.1 M.
pub const MAX_PARAMETERS: usize = 64 << 20;
/// What one training step may be estimated to need (see [`training_bytes`]).
pub const MAX_TRAINING_BYTES: u64 = 8 << 30;

/// A value outside its limit: the option, what it was, and the rule.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{option} {value}: {rule}")]
pub struct LimitError {
    pub option: String,
    pub value: String,
    pub rule: String,
}

impl LimitError {
    pub fn new(option: &str, value: impl ToString, rule: impl Into<String>) -> Self {
        Self {
            option: option.to_string(),
            value: value.to_string(),
            rule: rule.into(),
        }
    }
}

/// `1 <= value <= max`.
pub fn count(option: &str, value: usize, max: usize) -> Result<(), LimitError> {
    if value == 0 || value > max {
        return Err(LimitError::new(
            option,
            value,
            format!("must be between 1 and {}", thousands(max)),
        ));
    }
    Ok(())
}

/// `value <= max` (0 allowed).
pub fn at_most(option: &str, value: usize, max: usize) -> Result<(), LimitError> {
    if value > max {
        return Err(LimitError::new(
            option,
            value,
            format!("must be at most {}", thousands(max)),
        ));
    }
    Ok(())
}

/// A finite number `>= 0` (learning rates, penalties, clipping, temperature).
pub fn non_negative(option: &str, value: f64) -> Result<(), LimitError> {
    if !value.is_finite() || value < 0.0 {
        return Err(LimitError::new(
            option,
            value,
            "must be a finite number of 0 or more",
        ));
    }
    Ok(())
}

/// A probability mass in `(0, 1]` (top-p).
pub fn probability(option: &str, value: f64) -> Result<(), LimitError> {
    if !(value > 0.0 && value <= 1.0) {
        return Err(LimitError::new(
            option,
            value,
            "must be above 0 and at most 1",
        ));
    }
    Ok(())
}

/// A rough upper estimate of the bytes one training step of `model` needs at `batch`
/// examples of `len` tokens: the weights six times (values, gradients, two AdamW moments, the
/// last good copy and a snapshot), the logits four times (values, softmax, gradient, loss
/// terms), sixteen `d_model`-wide and three `d_ff`-wide activations per layer and position,
/// and four `len x len` attention maps per head and layer.
pub fn training_bytes(model: &ModelSummary, batch: usize, len: usize) -> u64 {
    // In f64: the estimate of an absurd request is huge, never a wrapped small number.
    let (b, l) = (batch as f64, len as f64);
    let layers = (model.layers.0 + model.layers.1) as f64;
    let heads = model.heads.0.max(model.heads.1) as f64;
    let d_ff = model.d_ff.0.max(model.d_ff.1) as f64;
    let per_position =
        4.0 * model.vocab.1 as f64 + layers * (16.0 * model.d_model as f64 + 3.0 * d_ff);
    let floats =
        6.0 * model.parameters as f64 + b * l * per_position + b * heads * layers * 4.0 * l * l;
    // `as` saturates at u64::MAX.
    (floats * 4.0) as u64
}

/// Refuses a run whose [`training_bytes`] estimate is above [`MAX_TRAINING_BYTES`].
pub fn check_training_memory(
    model: &ModelSummary,
    batch: usize,
    len: usize,
) -> Result<(), LimitError> {
    let bytes = training_bytes(model, batch, len);
    if bytes > MAX_TRAINING_BYTES {
        return Err(LimitError::new(
            "batch size",
            batch,
            format!(
                "with sequences of {len} tokens this model would need about {} per training step, more than the {} limit; use a smaller batch",
                gib(bytes),
                gib(MAX_TRAINING_BYTES)
            ),
        ));
    }
    Ok(())
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as GiB with one decimal.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::summary::ModelKind;

    fn summary(parameters: usize, vocab: usize) -> ModelSummary {
        ModelSummary {
            kind: ModelKind::Marian,
            d_model: 512,
            heads: (8, 8),
            layers: (6, 6),
            d_ff: (2048, 2048),
            norm_first: false,
            tokenizer: None,
            vocab: (vocab, vocab),
            max_len: 512,
            parameters,
        }
    }

    #[test]
    fn counts_name_the_option_and_the_limit() {
        assert!(count("--batch-size", 64, MAX_BATCH_SIZE).is_ok());
        let e = count("--batch-size", 0, MAX_BATCH_SIZE).unwrap_err();
        assert_eq!(e.to_string(), "--batch-size 0: must be between 1 and 4,096");
        let e = count("--batch-size", 1_000_000_000, MAX_BATCH_SIZE).unwrap_err();
        assert!(e.to_string().contains("4,096"), "{e}");
        assert!(at_most("--train-size", 0, 10).is_ok());
        assert!(at_most("--train-size", 11, 10).is_err());
    }

    #[test]
    fn nan_negative_and_infinite_numbers_are_refused() {
        for bad in [f64::NAN, -1e-9, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(non_negative("--lr", bad).is_err(), "{bad}");
            assert!(probability("--top-p", bad).is_err(), "{bad}");
        }
        assert!(non_negative("--lr", 0.0).is_ok());
        assert!(probability("--top-p", 0.0).is_err());
        assert!(probability("--top-p", 1.0).is_ok());
        assert!(probability("--top-p", 1.01).is_err());
    }

    /// An opus-mt-size translator (77 M parameters, 65,001 tokens) fine-tunes at batch 16 of
    /// 64 tokens, and not at batch 4,096.
    #[test]
    fn the_memory_estimate_allows_real_runs_and_refuses_absurd_ones() {
        let opus = summary(77_000_000, 65_001);
        assert!(check_training_memory(&opus, 16, 64).is_ok());
        let e = check_training_memory(&opus, 4096, 64).unwrap_err();
        assert!(e.to_string().contains("8.0 GiB limit"), "{e}");
        // Never overflows.
        let huge = summary(usize::MAX / 8, usize::MAX / 8);
        assert!(check_training_memory(&huge, usize::MAX, usize::MAX).is_err());
    }
}
