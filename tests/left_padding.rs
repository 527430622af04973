//! Left padding: the real tokens of a left-padded row get the same outputs (logits and
//! attention on real cells) as the same row right-padded or alone, because positions count
//! from each row's first real token; and the decoder's "empty rows" (pad queries whose every
//! key is blocked) come out as all-zero weights, never NaN.

use std::path::Path;

use maskscope::masks::{MaskSettings, PadSide};
use maskscope::model::marian::MarianModel;
use maskscope::model::{Engine, Example, ModelConfig};
use maskscope::tokenizer::{TokenizerKind, Vocab};
use maskscope::trace::{AttentionKind, BatchTrace, SequenceTrace};

const LETTERS: &str = "abcdefgh";

fn engine(norm_first: bool, seed: u64) -> Engine {
    let vocab = Vocab::build(TokenizerKind::Char, [LETTERS]);
    Engine::new_random(ModelConfig::tiny(norm_first, 12), vocab, seed).expect("tiny model builds")
}

fn ex(src: &str, tgt: &str) -> Example {
    let ids = |t: &str| t.bytes().map(|b| 4 + u32::from(b - b'a')).collect();
    Example {
        src: ids(src),
        tgt: ids(tgt),
    }
}

fn left() -> MaskSettings {
    MaskSettings {
        pad_side: PadSide::Left,
        ..MaskSettings::default()
    }
}

/// Largest difference between the real cells of two traces of the same pair: logits on real
/// decoder rows, and every attention weight whose query and key are both real.
fn real_cell_diff(a: &SequenceTrace, b: &SequenceTrace) -> f32 {
    assert_eq!((a.src_len, a.tgt_len), (b.src_len, b.tgt_len));
    let mut worst = 0f32;
    for (i, j) in a.tgt_real().zip(b.tgt_real()) {
        for (x, y) in a.logits.row(i).iter().zip(b.logits.row(j)) {
            worst = worst.max((x - y).abs());
        }
    }
    for kind in AttentionKind::ALL {
        let ((qa, ka), (qb, kb)) = (a.real_ranges(kind), b.real_ranges(kind));
        let (wa, wb) = (&a.attention(kind).weights, &b.attention(kind).weights);
        for l in 0..wa.dim().0 {
            for h in 0..wa.dim().1 {
                for (qi, qj) in qa.clone().zip(qb.clone()) {
                    for (ki, kj) in ka.clone().zip(kb.clone()) {
                        worst = worst.max((wa[[l, h, qi, ki]] - wb[[l, h, qj, kj]]).abs());
                    }
                }
            }
        }
    }
    worst
}

fn assert_finite(trace: &BatchTrace) {
    for (b, seq) in trace.sequences.iter().enumerate() {
        for kind in AttentionKind::ALL {
            let att = seq.attention(kind);
            for (what, values) in [
                ("scores", &att.scores),
                ("masked scores", &att.masked_scores),
                ("weights", &att.weights),
            ] {
                assert!(
                    values.iter().all(|v| v.is_finite()),
                    "seq {b} {kind:?} {what} has a NaN or inf"
                );
            }
        }
        assert!(seq.logits.iter().all(|v| v.is_finite()), "seq {b} logits");
        assert!(seq.probs.iter().all(|v| v.is_finite()), "seq {b} probs");
        assert!(
            seq.loss.iter().flatten().all(|v| v.is_finite()),
            "seq {b} loss"
        );
    }
}

#[test]
fn left_right_and_unpadded_rows_agree_on_real_cells() {
    for norm_first in [false, true] {
        let engine = engine(norm_first, 11);
        let short = ex("abc", "de");
        let long = ex("hgfedcba", "abcdefg");
        let batch = [short.clone(), long.clone()];
        let alone = engine
            .trace(std::slice::from_ref(&short), &MaskSettings::default())
            .unwrap();
        let right = engine.trace(&batch, &MaskSettings::default()).unwrap();
        let left_trace = engine.trace(&batch, &left()).unwrap();
        // The short row really is padded on the side asked for.
        let seq = &left_trace.sequences[0];
        assert_eq!(seq.src_real(), 5..8);
        assert_eq!(seq.tgt_real(), 5..8);
        assert_eq!(&seq.src_ids[..5], &[0; 5], "left pads first");
        for (name, other) in [("right-padded", &right), ("left-padded", &left_trace)] {
            let d = real_cell_diff(&alone.sequences[0], &other.sequences[0]);
            assert!(
                d <= 1e-5,
                "norm_first {norm_first}: {name} changed real cells by {d}"
            );
            let d = real_cell_diff(&right.sequences[1], &other.sequences[1]);
            assert!(d <= 1e-5, "the longest row must not change ({name}): {d}");
        }
        // The mean loss counts the same real labels either way.
        let (a, l) = (
            alone.sequences[0].mean_loss().unwrap(),
            left_trace.sequences[0].mean_loss().unwrap(),
        );
        assert!((a - l).abs() < 1e-5, "loss {a} alone vs {l} left-padded");
        assert_finite(&left_trace);
    }
}

/// Without per-row positions a left-padded row's tokens would sit at shifted sinusoidal
/// positions; this shows the comparison above can fail: shifting the real tokens' positions
/// (here by prepending real tokens instead of pads) changes their outputs.
#[test]
fn shifted_positions_would_change_the_outputs() {
    let engine = engine(false, 11);
    let settings = MaskSettings {
        causal: false,
        ..MaskSettings::default()
    };
    let plain = engine.trace(&[ex("abc", "de")], &settings).unwrap();
    let shifted = engine.trace(&[ex("hhhhhabc", "de")], &settings).unwrap();
    let (a, b) = (
        &plain.sequences[0].encoder.weights,
        &shifted.sequences[0].encoder.weights,
    );
    let worst = (0..3)
        .flat_map(|q| (0..3).map(move |k| (q, k)))
        .map(|(q, k)| (a[[0, 0, q, k]] - b[[0, 0, q + 5, k + 5]]).abs())
        .fold(0f32, f32::max);
    assert!(
        worst > 1e-3,
        "positions must matter for the check to mean anything: {worst}"
    );
}

/// The empty row: with left padding and the causal mask, a pad query of the decoder has no
/// open key. The app gives it all-zero weights (not a uniform row over blocked keys, not NaN).
#[test]
fn empty_decoder_rows_are_zero_and_real_rows_sum_to_one() {
    let engine = engine(false, 3);
    let trace = engine
        .trace(&[ex("abc", "de"), ex("hgfedcba", "abcdefg")], &left())
        .unwrap();
    assert_finite(&trace);
    let seq = &trace.sequences[0];
    let empty = seq.masks.decoder_self.fully_blocked_rows();
    assert_eq!(
        empty,
        vec![true, true, true, true, true, false, false, false]
    );
    let w = &seq.decoder_self.weights;
    for l in 0..w.dim().0 {
        for h in 0..w.dim().1 {
            for (q, is_empty) in empty.iter().enumerate() {
                let sum: f32 = (0..w.dim().3).map(|k| w[[l, h, q, k]]).sum();
                if *is_empty {
                    assert_eq!(sum, 0.0, "empty row {q} must be all zero");
                } else {
                    assert!((sum - 1.0).abs() < 1e-5, "real row {q} sums to {sum}");
                }
            }
        }
    }
    // Softmax saw every cell of an empty row at the blocked score.
    let masked = &seq.decoder_self.masked_scores;
    assert!((0..8).all(|k| masked[[0, 0, 0, k]] <= -1e8));
    // Pad positions never count towards the loss.
    assert!(seq.loss[..5].iter().all(Option::is_none));
    assert!(seq.loss[5..].iter().all(Option::is_some));
}

/// With left padding the target padding mask matters: switched off, real decoder queries
/// attend to the pads before them (with right padding the causal mask hides pads anyway).
#[test]
fn left_padding_needs_the_target_padding_mask() {
    let engine = engine(false, 5);
    let batch = [ex("abc", "de"), ex("hgfedcba", "abcdefg")];
    let alone = engine.trace(&batch[..1], &MaskSettings::default()).unwrap();
    let no_tgt_pad = |side| MaskSettings {
        tgt_padding: false,
        pad_side: side,
        ..MaskSettings::default()
    };
    let right = engine.trace(&batch, &no_tgt_pad(PadSide::Right)).unwrap();
    let left_trace = engine.trace(&batch, &no_tgt_pad(PadSide::Left)).unwrap();
    let d_right = real_cell_diff(&alone.sequences[0], &right.sequences[0]);
    let d_left = real_cell_diff(&alone.sequences[0], &left_trace.sequences[0]);
    assert!(
        d_right <= 1e-5,
        "right padding: causal already hides pads ({d_right})"
    );
    assert!(
        d_left > 1e-3,
        "left padding without the target mask must leak ({d_left})"
    );
}

/// Marian models share the forward pass, so left padding works there the same way.
#[test]
fn marian_left_padding_keeps_real_outputs() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marian/wide");
    let model = MarianModel::load(&folder).unwrap();
    let short = model.tokenize("Tea.", "Tee.").0;
    let long = model
        .tokenize(
            "The weather is cold today, my brother reads.",
            "Das Wetter ist heute kalt.",
        )
        .0;
    let alone = model
        .trace(std::slice::from_ref(&short), &MaskSettings::default())
        .unwrap();
    let left_trace = model.trace(&[short, long], &left()).unwrap();
    assert_finite(&left_trace);
    let d = real_cell_diff(&alone.sequences[0], &left_trace.sequences[0]);
    assert!(d <= 1e-4, "Marian left padding changed real cells by {d}");
}
