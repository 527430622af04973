//! Incremental decoding against the teacher-forced pass, stepping back and forth, beam search
//! and the sampling filters.

use maskscope::masks::MaskSettings;
use maskscope::model::decoding::{DecodeSession, Strategy, filtered_probs};
use maskscope::model::{Engine, Example, ModelConfig};
use maskscope::tokenizer::{BOS, EOS, TokenizerKind, Vocab};
use maskscope::trace::StepTrace;

fn engine(norm_first: bool, seed: u64) -> Engine {
    let config = ModelConfig::tiny(norm_first, 10);
    Engine::new_random(
        config,
        Vocab::build(TokenizerKind::Char, ["abcdefgh"]),
        seed,
    )
    .unwrap()
}

fn ids(text: &str) -> Vec<u32> {
    text.bytes().map(|b| 4 + u32::from(b - b'a')).collect()
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f32 = exp.iter().sum();
    exp.iter().map(|e| e / total).collect()
}

fn close(what: &str, a: f32, b: f32) {
    assert!(
        (a - b).abs() <= 1e-5,
        "{what}: incremental {a} vs teacher-forced {b}"
    );
}

/// Every step of `session` against one teacher-forced pass over the same decoder input.
fn check_against_teacher_forcing(
    engine: &Engine,
    session: &DecodeSession,
    probs_are_softmax: bool,
) {
    let steps = &session.steps;
    assert!(!steps.is_empty());
    let output = session.output();
    // Decoder input of step k is <bos> + output[..k]: one pass over tgt = output[..n-1].
    let example = Example {
        src: session.src_ids.clone(),
        tgt: output[..output.len() - 1].to_vec(),
    };
    let trace = engine
        .trace(std::slice::from_ref(&example), &MaskSettings::default())
        .unwrap();
    let seq = &trace.sequences[0];
    assert_eq!(seq.tgt_len, steps.len());
    for (k, step) in steps.iter().enumerate() {
        assert_eq!(step.position, k);
        let expected_input: Vec<u32> = std::iter::once(BOS)
            .chain(output[..k].iter().copied())
            .collect();
        assert_eq!(step.input_ids, expected_input, "step {k} input");
        let (layers, heads, keys) = step.self_row.dim();
        assert_eq!(keys, k + 1, "step {k} sees {keys} decoder keys");
        assert_eq!(
            (layers, heads),
            (seq.decoder_self.layers(), seq.decoder_self.heads())
        );
        for l in 0..layers {
            for h in 0..heads {
                for key in 0..seq.decoder_self.weights.dim().3 {
                    let tf = seq.decoder_self.weights[[l, h, k, key]];
                    if key <= k {
                        close(
                            &format!("step {k} self [{l},{h},{key}]"),
                            step.self_row[[l, h, key]],
                            tf,
                        );
                    } else {
                        assert_eq!(tf, 0.0, "teacher-forced future weight");
                    }
                }
                assert_eq!(step.cross_row.dim().2, seq.cross.weights.dim().3);
                for s in 0..step.cross_row.dim().2 {
                    close(
                        &format!("step {k} cross [{l},{h},{s}]"),
                        step.cross_row[[l, h, s]],
                        seq.cross.weights[[l, h, k, s]],
                    );
                }
            }
        }
        let logits: Vec<f32> = seq.logits.row(k).to_vec();
        let expected = softmax(&logits);
        if probs_are_softmax {
            for (v, (&p, &e)) in step.probs.iter().zip(&expected).enumerate() {
                close(&format!("step {k} prob of {v}"), p, e);
            }
        }
        assert_eq!(step.probs.len(), expected.len());
        let sum: f32 = step.probs.iter().sum();
        assert!((sum - 1.0).abs() <= 1e-5);
    }
}

fn greedy_session(engine: &Engine, src: &[u32]) -> DecodeSession {
    let mut session = DecodeSession::new(engine, src, Strategy::Greedy).unwrap();
    session.run_to_end(engine).unwrap();
    session
}

fn sample(seed: u64) -> Strategy {
    Strategy::Sample {
        temperature: 1.0,
        top_k: None,
        top_p: None,
        seed,
    }
}

#[test]
fn incremental_steps_equal_the_teacher_forced_pass() {
    for norm_first in [false, true] {
        let engine = engine(norm_first, 4);
        let src = ids("abcdef");
        let greedy = greedy_session(&engine, &src);
        check_against_teacher_forcing(&engine, &greedy, true);
        // Greedy picks the argmax of the teacher-forced logits at every position.
        for (k, step) in greedy.steps.iter().enumerate() {
            let p = &step.probs;
            let best = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(p[step.chosen as usize], best, "step {k} is not the argmax");
        }
        // Sampling at temperature 1 wanders through more positions; find a run of several steps.
        let mut long = None;
        for seed in 0..50 {
            let mut s = DecodeSession::new(&engine, &src, sample(seed)).unwrap();
            s.run_to_end(&engine).unwrap();
            if s.steps.len() >= 5 {
                long = Some(s);
                break;
            }
        }
        let long = long.expect("some seed samples at least five steps");
        check_against_teacher_forcing(&engine, &long, true);
    }
}

#[test]
fn empty_source_decodes_without_nan() {
    let engine = engine(false, 8);
    let session = greedy_session(&engine, &[]);
    for step in &session.steps {
        assert!(step.probs.iter().all(|p| p.is_finite()));
        assert!(step.self_row.iter().all(|p| p.is_finite()));
        assert!(
            step.cross_row.iter().all(|&p| p == 0.0),
            "no source key is open"
        );
    }
}

#[test]
fn greedy_batch_matches_single_sessions() {
    let engine = engine(false, 6);
    let sources = vec![ids("abc"), ids("hgfedcba"), ids("d"), vec![]];
    let max_steps = engine.builtin_config().unwrap().max_len + 1;
    let batched = engine.greedy_batch(&sources, max_steps).unwrap();
    for (src, out) in sources.iter().zip(&batched) {
        let single = greedy_session(&engine, src).output();
        assert_eq!(out, &single, "source {src:?}");
    }
}

fn assert_same_step(a: &StepTrace, b: &StepTrace) {
    assert_eq!(a, b, "stepping again must reproduce the step exactly");
}

#[test]
fn back_then_step_is_exact_and_reset_clears() {
    let engine = engine(false, 4);
    let src = ids("abcdef");
    for strategy in [Strategy::Greedy, sample(3), Strategy::Beam { width: 3 }] {
        let mut session = DecodeSession::new(&engine, &src, strategy).unwrap();
        assert!(!session.back(), "nothing to undo yet");
        for _ in 0..3 {
            if !session.step(&engine).unwrap() {
                break;
            }
        }
        let n = session.steps.len();
        assert!(n >= 1);
        let before = session.steps.clone();
        assert!(session.back());
        assert_eq!(session.steps.len(), n - 1);
        assert!(session.step(&engine).unwrap());
        assert_eq!(session.steps.len(), n);
        assert_same_step(&session.steps[n - 1], &before[n - 1]);
        // Back twice and forward twice.
        if n >= 2 {
            session.back();
            session.back();
            session.step(&engine).unwrap();
            session.step(&engine).unwrap();
            for (a, b) in session.steps.iter().zip(&before) {
                assert_same_step(a, b);
            }
        }
        session.reset();
        assert!(session.steps.is_empty() && session.output().is_empty() && !session.finished());
        assert!(!session.back());
        session.step(&engine).unwrap();
        assert_same_step(&session.steps[0], &before[0]);
    }
}

#[test]
fn beam_width_one_equals_greedy() {
    for seed in [1, 2, 3] {
        let engine = engine(seed % 2 == 0, seed);
        for src in [ids("abc"), ids("hgfedcba"), vec![]] {
            let greedy = greedy_session(&engine, &src);
            let mut beam = DecodeSession::new(&engine, &src, Strategy::Beam { width: 1 }).unwrap();
            beam.run_to_end(&engine).unwrap();
            assert_eq!(beam.output(), greedy.output(), "seed {seed} source {src:?}");
            assert_eq!(beam.steps, greedy.steps);
        }
    }
}

#[test]
fn beam_search_ends_at_eos_or_the_limit() {
    let engine = engine(false, 5);
    let mut beam = DecodeSession::new(&engine, &ids("abcd"), Strategy::Beam { width: 4 }).unwrap();
    beam.run_to_end(&engine).unwrap();
    let out = beam.output();
    assert!(!out.is_empty());
    assert!(out.last() == Some(&EOS) || out.len() == engine.builtin_config().unwrap().max_len + 1);
    assert!(out[..out.len() - 1].iter().all(|&t| t != EOS));
}

/// A trained model's beam search ends its answer with <eos> (it once returned the unfinished
/// "eight h" for 820, because finished junk hypotheses filled the quota and stopped the search).
#[test]
fn beam_search_on_a_trained_model_finishes_its_answer() {
    let engine = Engine::from_bytes(maskscope::bundled_models::bytes("numbers").unwrap()).unwrap();
    for (src, words) in [
        ("820", "eight hundred twenty"),
        ("270", "two hundred seventy"),
    ] {
        let (text, session) = engine.decode(src, Strategy::Beam { width: 3 }).unwrap();
        assert_eq!(session.output().last(), Some(&EOS), "{src}: {text:?}");
        assert_eq!(text, words);
    }
}

/// The beams kept at every step: ranked by score, scores are log-probabilities over length,
/// each log-probability is the teacher-forced pass's for those tokens, and the best finished
/// beam is what the stepper replays.
#[test]
fn beam_search_shows_every_beam_with_its_scores() {
    let width = 3;
    for seed in [5, 6] {
        let engine = engine(seed % 2 == 0, seed);
        let src = ids("abcd");
        let mut beam = DecodeSession::new(&engine, &src, Strategy::Beam { width }).unwrap();
        beam.run_to_end(&engine).unwrap();
        assert!(!beam.beams.is_empty());
        for (step, hyps) in beam.beams.iter().enumerate() {
            assert!(
                hyps.windows(2).all(|w| w[0].score >= w[1].score),
                "step {step}"
            );
            let alive = hyps.iter().filter(|h| !h.finished);
            assert!(alive.clone().count() <= width);
            for h in alive {
                assert_eq!(h.ids.len(), step + 1, "a live beam grows one token a step");
            }
            for h in hyps {
                assert_eq!(h.finished, h.ids.last() == Some(&EOS));
                close("score", h.score, h.log_prob / h.ids.len() as f32);
                let example = Example {
                    src: src.clone(),
                    tgt: h.ids[..h.ids.len() - 1].to_vec(),
                };
                let logits = engine
                    .logits(std::slice::from_ref(&example), &MaskSettings::default())
                    .unwrap();
                let log_prob: f32 = h
                    .ids
                    .iter()
                    .enumerate()
                    .map(|(t, &id)| softmax(&logits[0][t])[id as usize].ln())
                    .sum();
                assert!(
                    (h.log_prob - log_prob).abs() < 1e-3,
                    "{} vs {log_prob}",
                    h.log_prob
                );
            }
        }
        // The best finished beam is the answer (the best unfinished one only if none ended).
        let last = beam.beams.last().unwrap();
        let best = last
            .iter()
            .filter(|h| h.finished)
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .or_else(|| last.iter().max_by(|a, b| a.score.total_cmp(&b.score)))
            .unwrap();
        assert_eq!(best.ids, beam.output());
    }
}

#[test]
fn sampling_with_a_fixed_seed_is_deterministic() {
    let engine = engine(false, 9);
    let src = ids("bad");
    let strategy = Strategy::Sample {
        temperature: 1.5,
        top_k: Some(5),
        top_p: Some(0.9),
        seed: 42,
    };
    let run = |strategy| {
        let mut s = DecodeSession::new(&engine, &src, strategy).unwrap();
        s.run_to_end(&engine).unwrap();
        s
    };
    let (a, b) = (run(strategy), run(strategy));
    assert_eq!(a.output(), b.output());
    assert_eq!(a.steps, b.steps);
    // Filtered probabilities: at most 5 tokens kept, and the chosen token is one of them.
    for step in &a.steps {
        assert!(step.probs.iter().filter(|&&p| p > 0.0).count() <= 5);
        assert!(step.probs[step.chosen as usize] > 0.0);
    }
    // Different seeds give different runs for at least one of several seeds.
    let outputs: Vec<Vec<u32>> = (0..6)
        .map(|seed| {
            run(Strategy::Sample {
                temperature: 1.5,
                top_k: None,
                top_p: None,
                seed,
            })
            .output()
        })
        .collect();
    assert!(
        outputs.iter().any(|o| o != &outputs[0]),
        "sampling ignores its seed"
    );
}

const LOGITS: [f32; 8] = [0.3, 2.0, -1.0, 1.1, 0.0, 1.7, -0.4, 0.9];

fn sorted_desc(p: &[f32]) -> Vec<f32> {
    let mut v = p.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    v
}

#[test]
fn top_k_keeps_exactly_k() {
    for k in 1..=LOGITS.len() {
        let p = filtered_probs(&LOGITS, 1.0, Some(k), None);
        let kept: Vec<usize> = (0..p.len()).filter(|&i| p[i] > 0.0).collect();
        assert_eq!(kept.len(), k, "top-{k}");
        // The kept ones are the k largest logits.
        let mut order: Vec<usize> = (0..LOGITS.len()).collect();
        order.sort_by(|&a, &b| LOGITS[b].total_cmp(&LOGITS[a]));
        let mut top: Vec<usize> = order[..k].to_vec();
        top.sort();
        assert_eq!(kept, top);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // Relative proportions are softmax's.
        let full = softmax(&LOGITS);
        let mass: f32 = top.iter().map(|&i| full[i]).sum();
        for &i in &top {
            assert!((p[i] - full[i] / mass).abs() < 1e-6);
        }
    }
    // top-k of 0 is treated as 1 (never an empty distribution).
    let p = filtered_probs(&LOGITS, 1.0, Some(0), None);
    assert_eq!(p.iter().filter(|&&x| x > 0.0).count(), 1);
}

#[test]
fn top_p_keeps_the_smallest_set_reaching_p() {
    let full = softmax(&LOGITS);
    let sorted = sorted_desc(&full);
    for p in [0.05f32, 0.3, 0.5, 0.62, 0.8, 0.95, 0.999] {
        let mut mass = 0.0;
        let mut expected = sorted.len();
        for (rank, q) in sorted.iter().enumerate() {
            mass += q;
            if mass >= p {
                expected = rank + 1;
                break;
            }
        }
        let filtered = filtered_probs(&LOGITS, 1.0, None, Some(p));
        let kept = filtered.iter().filter(|&&x| x > 0.0).count();
        assert_eq!(kept, expected, "top-p {p}");
        // The kept set reaches p, and without its smallest member it would not.
        let kept_mass: f32 = sorted[..kept].iter().sum();
        assert!(kept_mass >= p - 1e-6);
        assert!(kept == 1 || kept_mass - sorted[kept - 1] < p);
        assert!((filtered.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
    // p = 1 keeps everything; combining with top-k takes the smaller set.
    assert_eq!(
        filtered_probs(&LOGITS, 1.0, None, Some(1.0))
            .iter()
            .filter(|&&x| x > 0.0)
            .count(),
        LOGITS.len()
    );
    assert_eq!(
        filtered_probs(&LOGITS, 1.0, Some(2), Some(0.999))
            .iter()
            .filter(|&&x| x > 0.0)
            .count(),
        2
    );
}

#[test]
fn low_temperature_approaches_one_hot_and_high_flattens() {
    let argmax = 1;
    let mut previous = 0.0;
    for t in [2.0f32, 1.0, 0.5, 0.1, 0.01, 1e-3, 0.0] {
        let p = filtered_probs(&LOGITS, t, None, None);
        assert!(p.iter().all(|x| x.is_finite()), "temperature {t}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(
            p[argmax] >= previous,
            "the top token's probability grows as T falls"
        );
        previous = p[argmax];
    }
    assert!(
        previous > 0.999,
        "T -> 0 must be (nearly) one-hot, got {previous}"
    );
    let cold = filtered_probs(&LOGITS, 1e-3, None, None);
    assert!(
        cold.iter()
            .enumerate()
            .all(|(i, &x)| i == argmax || x < 1e-6)
    );
    let hot = filtered_probs(&LOGITS, 1e4, None, None);
    assert!(
        hot.iter()
            .all(|&x| (x - 1.0 / LOGITS.len() as f32).abs() < 1e-3),
        "T -> inf is uniform"
    );
    let identity = filtered_probs(&LOGITS, 1.0, None, None);
    for (a, b) in identity.iter().zip(softmax(&LOGITS)) {
        assert!((a - b).abs() < 1e-6);
    }
}

/// One beam-width cap for every family (issue 21: a width of 100,000 ran for minutes):
/// refused with the limit named, before the search allocates anything.
#[test]
fn a_beam_wider_than_the_cap_is_refused() {
    use maskscope::model::limits::MAX_BEAM_WIDTH;
    let engine = engine(false, 1);
    for width in [0, MAX_BEAM_WIDTH + 1, 1_000_000_000] {
        let err = DecodeSession::new(&engine, &ids("abcd"), Strategy::Beam { width })
            .err()
            .unwrap_or_else(|| panic!("width {width} accepted"))
            .to_string();
        assert!(err.contains("--beam-width") && err.contains("64"), "{err}");
    }
    assert!(DecodeSession::new(&engine, &ids("abcd"), Strategy::Beam { width: 64 }).is_ok());
}
