//! The two live leak tests of the masks view, run on the real model: does padding change a
//! row's outputs, and does a future token change earlier outputs? With the masks on, both
//! differences must be 0 (or float rounding).

use super::batch::Example;
use super::engine::{Engine, ModelResult};
use crate::masks::MaskSettings;

/// How much padding to add on each side for the padding test.
const PADDING_ADDED: usize = 3;

/// The two leak tests for one example.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeakReadouts {
    /// Max |delta| of the example's logits at its real positions: alone vs padded in a batch.
    pub padding_delta: Option<f32>,
    /// How many (source, target) positions of padding the comparison added.
    pub padding_added: (usize, usize),
    /// Max |delta| of the logits at earlier positions when the last target token changes.
    pub future_delta: Option<f32>,
    /// Why a readout is missing.
    pub problem: Option<LeakProblem>,
}

/// Why [`LeakReadouts`] lacks a number.
#[derive(Clone, Debug, PartialEq)]
pub enum LeakProblem {
    /// The forward pass of the example alone failed (the message).
    Failed(String),
    /// The example is already at the model's maximum length on both sides.
    CannotPad,
    PaddingFailed(String),
    FutureFailed(String),
    /// The model's outputs hold NaN or infinite values: no difference means anything.
    NonFinite,
}

/// Largest |a - b| over the first `rows` rows; NaN when any value compared is not finite
/// (`f32::max` alone would skip a NaN and report 0, "no leak").
fn max_abs_delta(a: &[Vec<f32>], b: &[Vec<f32>], rows: usize) -> f32 {
    a.iter()
        .zip(b)
        .take(rows)
        .flat_map(|(x, y)| x.iter().zip(y))
        .try_fold(0.0, |max: f32, (p, q)| {
            (p.is_finite() && q.is_finite()).then(|| max.max((p - q).abs()))
        })
        .unwrap_or(f32::NAN)
}

/// Runs both leak tests for `example` under `settings`.
pub fn leak_readouts(engine: &Engine, example: &Example, settings: &MaskSettings) -> LeakReadouts {
    let mut out = LeakReadouts::default();
    let alone = match engine.logits(std::slice::from_ref(example), settings) {
        Ok(l) => l,
        Err(e) => {
            out.problem = Some(LeakProblem::Failed(e.to_string()));
            return out;
        }
    };
    match padding_test(engine, example, settings, &alone[0]) {
        Ok(Some((delta, added))) => {
            out.padding_delta = Some(delta);
            out.padding_added = added;
        }
        Ok(None) => out.problem = Some(LeakProblem::CannotPad),
        Err(e) => out.problem = Some(LeakProblem::PaddingFailed(e.to_string())),
    }
    match future_test(engine, example, settings, &alone[0]) {
        Ok(delta) => out.future_delta = delta,
        Err(e) => out.problem = Some(LeakProblem::FutureFailed(e.to_string())),
    }
    let non_finite = |d: Option<f32>| d.is_some_and(|d| !d.is_finite());
    if non_finite(out.padding_delta) || non_finite(out.future_delta) {
        out.padding_delta = None;
        out.future_delta = None;
        out.problem = Some(LeakProblem::NonFinite);
    }
    out
}

/// The example alone vs next to a longer partner that forces padding on both sides:
/// `(max |delta| at the real positions, padding added)`, or `None` when it cannot be padded.
fn padding_test(
    engine: &Engine,
    example: &Example,
    settings: &MaskSettings,
    alone: &[Vec<f32>],
) -> ModelResult<Option<(f32, (usize, usize))>> {
    let max_len = engine.max_len();
    // The partner repeats the example's tokens (or an ordinary token) to the longer length.
    let filler = |seq: &[u32], len: usize| -> Vec<u32> {
        if seq.is_empty() {
            vec![next_ordinary(engine, 0).unwrap_or(0); len]
        } else {
            seq.iter().copied().cycle().take(len).collect()
        }
    };
    let src_len = (example.src.len() + PADDING_ADDED).min(max_len.max(example.src.len()));
    let tgt_len = (example.tgt.len() + PADDING_ADDED).min(max_len.max(example.tgt.len()));
    let added = (src_len - example.src.len(), tgt_len - example.tgt.len());
    if added == (0, 0) {
        return Ok(None);
    }
    let partner = Example {
        src: filler(&example.src, src_len),
        tgt: filler(&example.tgt, tgt_len),
    };
    let batch = engine.logits(&[example.clone(), partner], settings)?;
    // The real positions: every target token and `<eos>`; left-padded, they are the last ones.
    let real = example.tgt.len() + 1;
    let lead = settings.pad_side.lead(real, tgt_len + 1);
    Ok(Some((max_abs_delta(alone, &batch[0][lead..], real), added)))
}

/// Changes the last target token to another ordinary token and compares the positions
/// before it; `None` without a target token or with too small a vocabulary.
fn future_test(
    engine: &Engine,
    example: &Example,
    settings: &MaskSettings,
    alone: &[Vec<f32>],
) -> ModelResult<Option<f32>> {
    let Some(&last) = example.tgt.last() else {
        return Ok(None);
    };
    let Some(other) = next_ordinary(engine, last.wrapping_add(1)).filter(|&id| id != last) else {
        return Ok(None);
    };
    let mut changed = example.clone();
    *changed.tgt.last_mut().expect("non-empty") = other;
    let logits = engine.logits(&[changed], settings)?;
    Ok(Some(max_abs_delta(alone, &logits[0], example.tgt.len())))
}

/// The first ordinary target token at or after `from`, wrapping around the vocabulary.
fn next_ordinary(engine: &Engine, from: u32) -> Option<u32> {
    let size = engine.target_vocab_size() as u32;
    (0..size)
        .map(|i| (from % size.max(1) + i) % size)
        .find(|&id| engine.is_ordinary(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use crate::tokenizer::{TokenizerKind, Vocab};

    fn engine(max_len: usize) -> Engine {
        let vocab = Vocab::build(TokenizerKind::Char, ["abcdefgh"]);
        Engine::new_random(ModelConfig::tiny(false, max_len), vocab, 3).unwrap()
    }

    fn example(engine: &Engine, src: &str, tgt: &str) -> Example {
        engine.tokenize(src, tgt).example
    }

    #[test]
    fn masks_on_leak_nothing_and_causal_off_leaks_the_future() {
        let engine = engine(12);
        let e = example(&engine, "abc", "defg");
        let on = leak_readouts(&engine, &e, &MaskSettings::default());
        assert_eq!(on.problem, None);
        assert_eq!(on.padding_added, (PADDING_ADDED, PADDING_ADDED));
        assert!(on.padding_delta.unwrap() < 1e-5, "{on:?}");
        assert!(on.future_delta.unwrap() < 1e-5, "{on:?}");
        let left = MaskSettings {
            pad_side: crate::masks::PadSide::Left,
            ..MaskSettings::default()
        };
        let on_left = leak_readouts(&engine, &e, &left);
        assert!(on_left.padding_delta.unwrap() < 1e-5, "{on_left:?}");
        let no_causal = MaskSettings {
            causal: false,
            ..MaskSettings::default()
        };
        let off = leak_readouts(&engine, &e, &no_causal);
        assert!(off.future_delta.unwrap() > 1e-5, "{off:?}");
    }

    /// A NaN weight makes every logit NaN: the readout must say so, never "0, no leak".
    #[test]
    fn non_finite_outputs_give_no_readout_and_say_why() {
        let engine = engine(12);
        let e = example(&engine, "abc", "defg");
        let (name, weight) = engine
            .weights()
            .into_iter()
            .find(|(n, _)| {
                n.contains("generator") || n.contains("out_proj") || n.contains("linear")
            })
            .expect("a weight matrix");
        let nan = (weight.ones_like().unwrap() * f64::NAN).unwrap();
        engine
            .set_weights(&std::collections::BTreeMap::from([(name, nan)]))
            .unwrap();
        let r = leak_readouts(&engine, &e, &MaskSettings::default());
        assert_eq!(r.problem, Some(LeakProblem::NonFinite), "{r:?}");
        assert_eq!((r.padding_delta, r.future_delta), (None, None));
        assert!(max_abs_delta(&[vec![f32::NAN, 1.0]], &[vec![f32::NAN, 1.0]], 1).is_nan());
        assert_eq!(max_abs_delta(&[vec![2.0, 1.0]], &[vec![1.0, 1.0]], 1), 1.0);
    }

    #[test]
    fn a_row_at_the_maximum_length_cannot_be_padded() {
        let engine = engine(4);
        let e = example(&engine, "abcd", "efgh");
        let r = leak_readouts(&engine, &e, &MaskSettings::default());
        assert_eq!(r.problem, Some(LeakProblem::CannotPad));
        assert_eq!(r.padding_delta, None);
        assert!(r.future_delta.is_some());
    }
}
