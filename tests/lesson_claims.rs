//! Every number a lesson states, checked against the model's real forward pass.
//!
//! Each test enters a lesson step through the app's own `apply_step` (the same code the
//! lessons panel runs), then reads what the views would show: the trace, the leak readouts,
//! the decoding stepper, and the curves of a fine-tune started from the step's preset. The
//! fine-tune checks run the preset with a reduced step budget; they compare runs with each
//! other, never against the clock.

use maskscope::app::AppState;
use maskscope::app::actions::lessons::apply_step;
use maskscope::app::settings::Settings;
use maskscope::app::state::classroom::step_body_text;
use maskscope::app::state::runs::RunRecord;
use maskscope::lessons::run_figures::late_val_loss_range;
use maskscope::masks::{BLOCKED_SCORE, Cell, PadSide};
use maskscope::trace::{AttentionKind, SequenceTrace};
use ndarray::Array2;

/// The app after entering step `step` (0-based) of lesson `id`.
fn enter(id: &str, step: usize) -> AppState {
    let mut state = AppState::new(Settings::default());
    let lesson = state
        .classroom
        .lessons
        .iter()
        .position(|l| l.id == id)
        .unwrap_or_else(|| panic!("no lesson {id}"));
    let notes = apply_step(&mut state, lesson, step);
    assert!(notes.is_empty(), "{id} step {step}: {notes:?}");
    state
}

fn sequence(state: &AppState) -> &SequenceTrace {
    state.sequence().expect("the step has a trace")
}

/// The heatmap the step shows: `kind` at the step's layer, mean over heads or its head.
fn shown(state: &AppState, kind: AttentionKind) -> Array2<f32> {
    let a = &state.settings.attention;
    let trace = sequence(state).attention(kind);
    if a.mean_over_heads {
        trace.mean_over_heads(a.layer)
    } else {
        trace.head(a.layer, a.head)
    }
}

/// Index of the largest weight in row `query`.
fn brightest(weights: &Array2<f32>, query: usize) -> usize {
    let row = weights.row(query);
    (0..row.len())
        .max_by(|&a, &b| row[a].total_cmp(&row[b]))
        .expect("a non-empty row")
}

fn future_delta(state: &AppState) -> f32 {
    state.readouts.future_delta.expect("a future-token readout")
}

fn padding_delta(state: &AppState) -> f32 {
    state.readouts.padding_delta.expect("a padding readout")
}

fn output(state: &AppState) -> Vec<String> {
    state
        .stepper
        .steps()
        .iter()
        .map(|s| s.chosen_token.clone())
        .collect()
}

/// Below this a readout is rounding (different summation order), not a leak.
const ROUNDING: f32 = 1e-5;

// ---------------------------------------------------------------------------------------------
// decoder-inputs

#[test]
fn decoder_inputs_shift_right_and_teacher_forcing_feeds_the_truth() {
    let state = enter("decoder-inputs", 0);
    let seq = sequence(&state);
    let target: Vec<String> = "28 Nov 2026".chars().map(String::from).collect();
    assert_eq!(seq.tgt_input_tokens[0], "<bos>");
    assert_eq!(seq.tgt_input_tokens[1..], target[..]);
    assert_eq!(seq.label_tokens[..target.len()], target[..]);
    assert_eq!(seq.label_tokens[target.len()], "<eos>");

    // Step 2: the wrong target "28 Dec 2026". Label 3 is D, the model still predicts N, and
    // the decoder input of the next column is the D of the label, not the guess.
    let state = enter("decoder-inputs", 2);
    let seq = sequence(&state);
    assert_eq!(seq.label_tokens[3], "D");
    assert_eq!(seq.predicted_tokens[3], "N");
    assert_eq!(seq.tgt_input_tokens[4], "D");
}

#[test]
fn decoder_inputs_generation_writes_the_date_then_stops() {
    let state = enter("decoder-inputs", 3);
    assert_eq!(output(&state), ["2", "8", " "]);
    let step = state.stepper.steps().last().expect("three steps");
    assert_eq!(step.input_tokens, ["<bos>", "2", "8"]);

    let state = enter("decoder-inputs", 4);
    assert_eq!(output(&state).concat(), "28 Nov 2026<eos>");
    assert_eq!(state.stepper.steps().len(), 12);
    assert!(state.stepper.finished());

    // Step 6: beam search with width 3, whatever width was set before; the table after the
    // last step: the winner's log-probability is near 0, the others' between -11.1 and -13.7,
    // their scores between about -0.93 and -1.14 (as the table prints them, rounded).
    let mut state = AppState::new(Settings::default());
    state.settings.decoder.beam_width = 4;
    let lesson = state
        .classroom
        .lessons
        .iter()
        .position(|l| l.id == "decoder-inputs")
        .unwrap();
    apply_step(&mut state, lesson, 5);
    assert_eq!(state.settings.decoder.beam_width, 3);
    let table = beams(&state);
    assert_eq!(table[0].0, "28 Nov 2026<eos>");
    assert!(table[0].1 > -0.01, "{table:?}");
    let others = &table[1..];
    let range = |pick: fn(&(String, f32, f32)) -> f32| {
        others
            .iter()
            .map(pick)
            .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
    };
    let (low, high) = range(|b| b.1);
    assert!(reads(high, -11.1, 1) && reads(low, -13.7, 1), "{table:?}");
    let (low, high) = range(|b| b.2);
    assert!(reads(high, -0.93, 2) && reads(low, -1.14, 2), "{table:?}");
}

#[test]
fn decoder_inputs_each_column_sees_the_whole_prefix() {
    // Step 1: the label of column t is predicted from the decoder inputs of columns 0 to t.
    let state = enter("decoder-inputs", 0);
    let seq = sequence(&state);
    let mask = &seq.masks.decoder_self;
    for q in 0..seq.tgt_len {
        for k in 0..seq.tgt_len {
            assert_eq!(mask.is_blocked(q, k), k > q, "({q}, {k})");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// cross-attention

#[test]
fn cross_attention_outlined_cells_carry_the_weight() {
    // Step 0: the <bos> query reads the first digit of the day, "2" at column 8.
    let state = enter("cross-attention", 0);
    let w = shown(&state, AttentionKind::Cross);
    assert_eq!(brightest(&w, 0), 8);

    // Step 1: the query predicting "N" reads the month digits; the year queries (labels 7 to
    // 10 are the digits of 2026) read the first four columns.
    let state = enter("cross-attention", 1);
    let w = shown(&state, AttentionKind::Cross);
    let (q, k) = state.classroom.highlight.map(|h| (h.query, h.key)).unwrap();
    assert_eq!(sequence(&state).label_tokens[q], "N");
    assert_eq!(brightest(&w, q), k);
    for query in 7..=10 {
        assert!(brightest(&w, query) < 4, "year query {query}");
    }

    // Step 2: "November 28, 2026": the "N" query's weight sits on "v" and "o", not on "N".
    let state = enter("cross-attention", 2);
    let w = shown(&state, AttentionKind::Cross);
    let (q, k) = state.classroom.highlight.map(|h| (h.query, h.key)).unwrap();
    assert_eq!(sequence(&state).label_tokens[q], "N");
    assert_eq!(brightest(&w, q), k);
    assert_eq!(sequence(&state).src_tokens[k], "v");
    let month_word: f32 = (0..8).map(|key| w[[q, key]]).sum();
    assert!(month_word > 0.9, "{month_word}");
    // The day queries read the "28" after the month name (columns 9 and 10).
    for query in [0, 1] {
        assert!(
            (9..=10).contains(&brightest(&w, query)),
            "day query {query}"
        );
    }
}

#[test]
fn numbers_cross_attention_reads_each_word_s_digit() {
    let state = enter("cross-attention", 4);
    let w = shown(&state, AttentionKind::Cross);
    let labels = &sequence(&state).label_tokens;
    let (q, k) = state.classroom.highlight.map(|h| (h.query, h.key)).unwrap();
    assert_eq!(labels[q], "f");
    assert_eq!(k, 1);
    assert!(w[[q, k]] >= 0.975, "{}", w[[q, k]]);
    // three (rows 0-4) on the 3, two (rows 20-22) on the 2.
    for (rows, digit, least) in [(0..5, 0, 0.895), (20..23, 2, 0.995)] {
        for row in rows {
            assert!(
                w[[row, digit]] >= least,
                "row {row} ({}): {}",
                labels[row],
                w[[row, digit]]
            );
        }
    }
    // hundred (rows 6-12) and the end of forty (rows 16-18) spread over several digits.
    for row in (6..13).chain(16..19) {
        let top = w.row(row).iter().copied().fold(0.0, f32::max);
        assert!(
            top < 0.8,
            "row {row} ({}) puts {top} on one digit",
            labels[row]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// causal-mask

#[test]
fn causal_mask_blocks_exactly_and_the_readout_jumps_when_off() {
    let state = enter("causal-mask", 1);
    let w = shown(&state, AttentionKind::DecoderSelf);
    let n = sequence(&state).tgt_len;
    for q in 0..n {
        for k in q + 1..n {
            assert_eq!(w[[q, k]], 0.0, "({q}, {k})");
        }
        let sum: f32 = w.row(q).sum();
        assert!((sum - 1.0).abs() < 1e-5, "row {q} sums to {sum}");
    }
    assert_eq!(w[[0, 0]], 1.0);

    assert_eq!(future_delta(&enter("causal-mask", 2)), 0.0);

    let off = enter("causal-mask", 4);
    assert!(future_delta(&off) > 0.01, "{}", future_delta(&off));
    let w = shown(&off, AttentionKind::DecoderSelf);
    assert!(w[[2, 5]] > 0.0);
}

// ---------------------------------------------------------------------------------------------
// padding-masks

#[test]
fn padding_batch_has_the_stated_pads() {
    let state = enter("padding-masks", 0);
    let seq = sequence(&state);
    assert_eq!(seq.src_tokens.len(), "November 28, 2026".len());
    let pads = |tokens: &[String]| tokens.iter().filter(|t| *t == "<pad>").count();
    assert_eq!(pads(&seq.src_tokens), 7);
    assert_eq!(pads(&seq.tgt_input_tokens), 1);
    assert_eq!(
        seq.tgt_input_tokens.last().map(String::as_str),
        Some("<pad>")
    );
}

#[test]
fn pad_encoder_outputs_read_the_real_tokens() {
    // Step 2: a pad query of the encoder attends to the ten real characters, so its output is
    // not empty: it depends on the real tokens and on how long the batch happens to be.
    let state = enter("padding-masks", 2);
    let seq = sequence(&state);
    let weights = seq.encoder.mean_over_heads(1);
    for pad_query in seq.src_len..seq.src_tokens.len() {
        let on_real: f32 = (0..seq.src_len).map(|k| weights[[pad_query, k]]).sum();
        assert!(
            (on_real - 1.0).abs() < 1e-5,
            "pad query {pad_query}: {on_real}"
        );
    }
}

#[test]
fn padding_changes_nothing_with_masks_and_something_without() {
    assert!(padding_delta(&enter("padding-masks", 4)) < ROUNDING);

    let mut state = enter("padding-masks", 5);
    assert!(padding_delta(&state) > 0.01, "{}", padding_delta(&state));
    // The outlined cell: the "6" puts 0.18 on the last pad (its tag shows the claim).
    let w = shown(&state, AttentionKind::EncoderSelf);
    let (q, k) = state.classroom.highlight.map(|h| (h.query, h.key)).unwrap();
    let seq = sequence(&state);
    assert_eq!(
        (seq.src_tokens[q].as_str(), seq.src_tokens[k].as_str()),
        ("6", "<pad>")
    );
    assert_eq!(k, seq.src_tokens.len() - 1, "the last pad");
    assert!(reads(w[[q, k]], 0.18, 2), "{}", w[[q, k]]);

    // Source padding back on, target padding still off: with right padding the causal mask
    // already hides the target pads from real queries, so the readout returns to 0.
    state.settings.mask.src_padding = true;
    state.invalidate();
    state.refresh();
    assert!(
        padding_delta(&state) < ROUNDING,
        "{}",
        padding_delta(&state)
    );
}

// ---------------------------------------------------------------------------------------------
// padding-side

/// The `(query, key)` weights of the masks view's scores pipeline: its kind, layer and head.
fn pipeline_weights(state: &AppState) -> Array2<f32> {
    let m = &state.settings.masks_view;
    sequence(state).attention(m.kind).head(m.layer, m.head)
}

#[test]
fn padding_side_key_side_masks_and_pad_rows_that_still_sum_to_one() {
    // Step 0 (right padding): the seven pad columns are blocked for every query; the pad
    // query of row 12 reading "6" (column 3) is open and its row sums to 1.
    let state = enter("padding-side", 0);
    let seq = sequence(&state);
    assert_eq!(state.settings.mask.pad_side, PadSide::Right);
    let mask = &seq.masks.encoder_self;
    assert_eq!(seq.src_tokens[3], "6");
    assert_eq!(seq.src_tokens[12], "<pad>");
    assert!(!mask.is_blocked(12, 3));
    for q in 0..17 {
        assert!((10..17).all(|k| mask.is_blocked(q, k)), "query {q}");
    }
    let w = pipeline_weights(&state);
    assert!((w.row(12).sum() - 1.0).abs() < 1e-5, "{}", w.row(12).sum());
    assert!(w[[12, 3]] > 0.0);
    // On the decoder side the loss skips the pad positions.
    assert_eq!(seq.loss.iter().filter(|l| l.is_none()).count(), 1);
    assert!(seq.loss[11].is_none());
}

#[test]
fn padding_side_left_moves_the_pads_before_the_real_tokens() {
    let state = enter("padding-side", 1);
    let seq = sequence(&state);
    assert_eq!(state.settings.mask.pad_side, PadSide::Left);
    assert!(seq.src_tokens[..7].iter().all(|t| t == "<pad>"));
    assert_eq!(seq.src_tokens[7..].concat(), "2026-03-09");
    assert_eq!(seq.tgt_input_tokens[..2], ["<pad>", "<bos>"]);
    // Labels move with the decoder input: the loss skips exactly the first position.
    assert!(seq.loss[0].is_none());
    assert!(seq.loss[1..].iter().all(Option::is_some));
    // The real tokens are the same as right-padded ones, only in other columns.
    let right = enter("padding-side", 0);
    let r = sequence(&right);
    assert_eq!(r.src_tokens[r.src_real()], seq.src_tokens[seq.src_real()]);
    assert_eq!(
        r.tgt_input_tokens[r.tgt_real()],
        seq.tgt_input_tokens[seq.tgt_real()]
    );
}

#[test]
fn padding_side_left_padding_changes_no_real_output() {
    // Step 2: the readout is 0 (the column-counted alternative is checked in
    // model::batch::tests), and the outlined first real query cannot read the pad key.
    let state = enter("padding-side", 2);
    assert!(
        padding_delta(&state) < ROUNDING,
        "{}",
        padding_delta(&state)
    );
    let seq = sequence(&state);
    assert_eq!(seq.src_tokens[7], "2");
    assert!(seq.masks.encoder_self.is_blocked(7, 0));
    assert_eq!(pipeline_weights(&state)[[7, 0]], 0.0);
    // Same real logits as the right-padded batch of step 0.
    let right = enter("padding-side", 0);
    let r = sequence(&right);
    let worst = r
        .tgt_real()
        .zip(seq.tgt_real())
        .flat_map(|(i, j)| {
            r.logits
                .row(i)
                .iter()
                .zip(seq.logits.row(j))
                .map(|(a, b)| (a - b).abs())
                .collect::<Vec<_>>()
        })
        .fold(0f32, f32::max);
    assert!(worst < 1e-4, "{worst}");
}

#[test]
fn padding_side_the_empty_row_is_zero_not_nan() {
    let state = enter("padding-side", 3);
    let seq = sequence(&state);
    assert_eq!(state.settings.masks_view.kind, AttentionKind::DecoderSelf);
    let att = &seq.decoder_self;
    let keys = att.weights.dim().3;
    assert_eq!(keys, 12, "twelve scores in the row");
    let empty = seq.masks.decoder_self.fully_blocked_rows();
    assert!(empty[0] && empty[1..].iter().all(|e| !e), "{empty:?}");
    assert_eq!(seq.masks.decoder_self.cells[[0, 0]], Cell::Padding);
    // Softmax saw -1e9 everywhere in the row: it would give 1/12 to every blocked key.
    let masked: Vec<f32> = (0..keys).map(|k| att.masked_scores[[0, 0, 0, k]]).collect();
    assert!(masked.iter().all(|&s| s == BLOCKED_SCORE), "{masked:?}");
    let exp: Vec<f32> = masked.iter().map(|s| (s - masked[0]).exp()).collect();
    let total: f32 = exp.iter().sum();
    assert!(exp.iter().all(|e| (e / total - 1.0 / 12.0).abs() < 1e-7));
    // With -inf, softmax's max subtraction gives -inf - -inf = NaN in every cell.
    let inf_row = vec![f32::NEG_INFINITY; keys];
    let max = inf_row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert!(inf_row.iter().all(|s| (s - max).exp().is_nan()));
    // What the app shows: a zero row, real rows summing to one, no NaN anywhere.
    let w = pipeline_weights(&state);
    assert_eq!(w.row(0).sum(), 0.0);
    for q in 1..keys {
        assert!((w.row(q).sum() - 1.0).abs() < 1e-5, "row {q}");
    }
    for kind in AttentionKind::ALL {
        let a = seq.attention(kind);
        assert!(
            a.weights
                .iter()
                .chain(a.scores.iter())
                .all(|v| v.is_finite())
        );
    }
    assert!(seq.loss.iter().flatten().all(|l| l.is_finite()));
    assert!(seq.logits.iter().all(|l| l.is_finite()));
}

#[test]
fn padding_side_left_padding_needs_the_target_padding_mask() {
    let state = enter("padding-side", 4);
    assert_eq!(state.settings.mask.pad_side, PadSide::Left);
    assert!(!state.settings.mask.tgt_padding);
    assert!(
        reads(padding_delta(&state), 3.8, 1),
        "{}",
        padding_delta(&state)
    );
    let seq = sequence(&state);
    assert!(
        seq.masks
            .decoder_self
            .fully_blocked_rows()
            .iter()
            .all(|e| !e)
    );
    assert_eq!(seq.tgt_input_tokens[..2], ["<pad>", "<bos>"]);
    assert!(!seq.masks.decoder_self.is_blocked(1, 0));
    // "A large share of the row's weight".
    let w = pipeline_weights(&state);
    assert!(w[[1, 0]] > 0.3, "{}", w[[1, 0]]);
    // Right padding, same switch: nothing changes.
    let mut right = enter("padding-side", 4);
    right.settings.mask.pad_side = PadSide::Right;
    right.invalidate();
    right.refresh();
    assert!(
        padding_delta(&right) < ROUNDING,
        "{}",
        padding_delta(&right)
    );
}

// ---------------------------------------------------------------------------------------------
// masking-pitfalls

#[test]
fn multiplying_after_softmax_leaks_the_future_and_adding_does_not() {
    let multiply = enter("masking-pitfalls", 0);
    let w = shown(&multiply, AttentionKind::DecoderSelf);
    let delta = future_delta(&multiply);
    assert!((0.05..0.15).contains(&delta), "multiply leaks {delta}");
    assert!(w.row(0).sum() < 0.5, "<bos> row keeps {}", w.row(0).sum());
    // Every row that has a blocked key loses weight; the last row blocks nothing.
    let last = sequence(&multiply).tgt_len - 1;
    for q in 0..last {
        assert!(w.row(q).sum() < 1.0 - 1e-4, "row {q}");
    }
    assert!((w.row(last).sum() - 1.0).abs() < 1e-5);

    let additive = enter("masking-pitfalls", 1);
    assert_eq!(future_delta(&additive), 0.0);
    assert_eq!(shown(&additive, AttentionKind::DecoderSelf)[[0, 0]], 1.0);

    let none = enter("masking-pitfalls", 2);
    let w = shown(&none, AttentionKind::DecoderSelf);
    assert!(w[[0, 5]] > 0.0);
    assert!((w.row(0).sum() - 1.0).abs() < 1e-5);
    assert!(future_delta(&none) > 0.01);
}

// ---------------------------------------------------------------------------------------------
// Fine-tuning

/// Starts the step's preset with `steps` optimisation steps and waits for it to finish.
fn train(id: &str, step: usize, steps: usize) -> RunRecord {
    let mut state = enter(id, step);
    run_preset(&mut state, steps, &format!("{id} step {step}"))
}

/// Starts the preset the app shows with `steps` optimisation steps and waits for it;
/// `what` names the step in messages.
fn run_preset(state: &mut AppState, steps: usize, what: &str) -> RunRecord {
    assert!(state.classroom.run_name.is_some(), "{what} has no preset");
    state.settings.finetune.steps = steps;
    state.start_training();
    assert!(state.training.is_running(), "{:?}", state.last_error());
    while state.poll_training() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let run = state.training.runs.last().expect("a run").clone();
    assert_eq!(run.steps.len(), steps, "{what}: {:?}", run.status);
    // Shown with --nocapture: the numbers behind the assertions.
    println!(
        "{what} ({steps} steps, {}): first train loss {:.4}, last {:.4}, evals {:?}",
        maskscope::model::kernel_path(),
        run.steps[0].train_loss,
        run.steps[steps - 1].train_loss,
        run.evals
            .iter()
            .map(|e| (e.step, e.val_loss, e.exact_match))
            .collect::<Vec<_>>()
    );
    run
}

fn mean_train_loss(run: &RunRecord, last: usize) -> f32 {
    let tail = &run.steps[run.steps.len() - last..];
    tail.iter().map(|s| s.train_loss).sum::<f32>() / last as f32
}

fn last_eval(run: &RunRecord) -> maskscope::trace::EvalMetrics {
    *run.evals.last().expect("an evaluation")
}

/// masking-pitfalls 3-5 and masks-not-regularisers: the run with the causal mask off while
/// training reaches a lower (leaking, teacher-forced) validation loss than the honest run,
/// with no gap to its train loss, yet generates almost nothing right.
#[test]
fn a_leaking_run_lowers_the_loss_but_not_exact_match() {
    // The full 300 steps: at half the budget the honest run has not learnt enough yet.
    let honest = train("masking-pitfalls", 3, 300);
    let leak = train("masking-pitfalls", 4, 300);
    let (h, l) = (last_eval(&honest), last_eval(&leak));
    assert!(
        l.val_loss < 0.6 * h.val_loss,
        "val loss: leaking {} vs honest {}",
        l.val_loss,
        h.val_loss
    );
    assert!(
        l.exact_match < 0.05,
        "leaking exact match {}",
        l.exact_match
    );
    assert!(h.exact_match > 0.3, "honest exact match {}", h.exact_match);
    // No overfitting gap: the leaking validation loss is below its own train loss.
    assert!(l.val_loss < mean_train_loss(&leak, 20));
    // The second lesson runs the same presets (only the names differ).
    let preset = |id: &str, step: usize| {
        let mut state = enter(id, step);
        state.settings.finetune.steps = 0;
        (state.settings.finetune.clone(), state.settings.mask)
    };
    assert_eq!(
        preset("masks-not-regularisers", 0),
        preset("masking-pitfalls", 3)
    );
    assert_eq!(
        preset("masks-not-regularisers", 1),
        preset("masking-pitfalls", 4)
    );
}

#[test]
fn head_only_levels_off_high_and_a_new_head_starts_lower() {
    let full = train("finetuning-strategies", 1, 120);
    let head_only = train("finetuning-strategies", 3, 120);
    let new_head = train("finetuning-strategies", 5, 120);
    let (f, h) = (last_eval(&full).val_loss, last_eval(&head_only).val_loss);
    assert!(h > 2.0 * f, "head only {h} vs full {f}");
    assert_fresh_head_starts_between_an_even_guess_and_the_copy_head(&new_head, &full);
}

/// finetuning-strategies 6 and course-words 4: a fresh (random, not uniform) head starts
/// above an even guess over the copy model's 14 tokens, and below the copy head, which is
/// confidently wrong for reversal.
fn assert_fresh_head_starts_between_an_even_guess_and_the_copy_head(
    fresh: &RunRecord,
    copy_head: &RunRecord,
) {
    let (n, c) = (fresh.steps[0].train_loss, copy_head.steps[0].train_loss);
    let even_guess = 14f32.ln();
    assert!(
        even_guess + 0.1 < n && n + 1.0 < c,
        "new head {n}, copy head {c}, even guess {even_guess}"
    );
}

#[test]
fn a_shorter_rerun_of_a_constant_rate_run_retraces_it() {
    // overfitting 5: the first run's validation loss is lowest at step 50, and the step's
    // preset (the first run with a budget of 50 steps) retraces it exactly up to there.
    let long = train("overfitting", 0, 150);
    let best = lowest_eval(&long);
    assert_eq!(best.step, 50, "{:?}", long.evals);
    let short = train("overfitting", 4, 50);
    assert_eq!(short.steps[..], long.steps[..50]);
    assert_eq!(last_eval(&short), best);
    // Only the budget differs from the first run's preset.
    let form = |step: usize| {
        let mut state = enter("overfitting", step);
        state.settings.finetune.steps = 0;
        state.settings.finetune.clone()
    };
    assert_eq!(form(4), form(0));
}

/// The sum of squares and of absolute values of every weight of the bundled copy model.
fn copy_weight_sums() -> (f64, f64) {
    let engine =
        maskscope::model::Engine::from_bytes(maskscope::bundled_models::bytes("copy").unwrap())
            .unwrap();
    let (mut squares, mut absolute) = (0.0, 0.0);
    for tensor in engine.weights().values() {
        for v in tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap() {
            squares += f64::from(v * v);
            absolute += f64::from(v.abs());
        }
    }
    (squares, absolute)
}

#[test]
fn penalties_raise_the_train_curve_and_weight_decay_does_not() {
    let plain = train("regularisation", 0, 2);
    let l2 = train("regularisation", 1, 2);
    let l1 = train("regularisation", 2, 2);
    let decay = train("regularisation", 3, 2);
    let (squares, absolute) = copy_weight_sums();
    let first = |run: &RunRecord| f64::from(run.steps[0].train_loss);
    let close = |what: &str, got: f64, want: f64| {
        assert!(
            (got - want).abs() < 1e-3 * want.max(1.0),
            "{what}: {got} vs {want}"
        );
    };
    close("L2 offset", first(&l2) - first(&plain), 1e-4 * squares);
    close("L1 offset", first(&l1) - first(&plain), 1e-4 * absolute);
    // regularisation 2 and 3 quote the offsets: about 0.26 and 1.81.
    assert!(reads((1e-4 * squares) as f32, 0.26, 2), "{squares}");
    assert!(reads((1e-4 * absolute) as f32, 1.81, 2), "{absolute}");
    assert_eq!(decay.steps[0].train_loss, plain.steps[0].train_loss);
    println!(
        "L2 offset {:.3}, L1 offset {:.3}",
        1e-4 * squares,
        1e-4 * absolute
    );
}

// ---------------------------------------------------------------------------------------------
// chinese-numerals

#[test]
fn chinese_numerals_one_character_per_token_shifted_as_in_english() {
    let state = enter("chinese-numerals", 0);
    let seq = sequence(&state);
    assert_eq!(seq.src_tokens.concat(), "342");
    assert_eq!(seq.tgt_len, 6, "five characters and <eos>");
    assert_eq!(seq.tgt_input_tokens.concat(), "<bos>三百四十二");
    assert_eq!(seq.label_tokens.concat(), "三百四十二<eos>");
}

#[test]
fn chinese_numerals_digits_read_their_digits() {
    // Step 2: the query predicting 四 (decoder input 百) reads the "4".
    let state = enter("chinese-numerals", 1);
    let seq = sequence(&state);
    let w = shown(&state, AttentionKind::Cross);
    let (q, k) = state.classroom.highlight.map(|h| (h.query, h.key)).unwrap();
    assert_eq!(
        (
            seq.label_tokens[q].as_str(),
            seq.tgt_input_tokens[q].as_str()
        ),
        ("四", "百")
    );
    assert_eq!(seq.src_tokens[k], "4");
    assert_eq!(brightest(&w, q), k);
    // The units spread wider than the digits: no unit row puts 0.9 on one digit.
    for (row, label) in seq.label_tokens.iter().enumerate() {
        let top = w.row(row).iter().copied().fold(0.0, f32::max);
        match label.as_str() {
            "百" | "十" => assert!(top < 0.9, "{label}: {top}"),
            "三" | "四" | "二" => assert!(top > 0.95, "{label}: {top}"),
            _ => {}
        }
    }

    // Step 3: 10010 is 一万零一十; the 一 after 零 reads the second "1" of the source.
    let state = enter("chinese-numerals", 2);
    let seq = sequence(&state);
    assert_eq!(seq.label_tokens.concat(), "一万零一十<eos>");
    let w = shown(&state, AttentionKind::Cross);
    let (q, k) = state.classroom.highlight.map(|h| (h.query, h.key)).unwrap();
    assert_eq!(
        (
            seq.tgt_input_tokens[q].as_str(),
            seq.label_tokens[q].as_str()
        ),
        ("零", "一")
    );
    assert_eq!((k, seq.src_tokens[k].as_str()), (3, "1"));
    assert_eq!(brightest(&w, q), k);
}

#[test]
fn chinese_numerals_six_steps_write_the_number() {
    // Step 4: the step has taken the six steps.
    let state = enter("chinese-numerals", 3);
    assert_eq!(output(&state).concat(), "三百四十二<eos>");
    assert_eq!(state.stepper.steps().len(), 6);
    assert!(state.stepper.finished());
}

#[test]
fn english_numbers_rows_of_a_digit_word_do_not_all_read_its_digit() {
    // Step 5: the English numbers model is loaded; 23 characters; "three" and "two" read
    // their digits (0.90 to 1.00), the end of "forty" puts only 0.44 to 0.64 on the "4", and
    // its "y" row more on the "2" (0.53).
    let state = enter("chinese-numerals", 4);
    assert_eq!(
        state.model.origin,
        maskscope::app::state::ModelOrigin::Bundled("numbers")
    );
    let seq = sequence(&state);
    assert_eq!(seq.tgt_len - 1, 23);
    assert_eq!(seq.label_tokens[..23].concat(), "three hundred forty two");
    let w = shown(&state, AttentionKind::Cross);
    let (q, k) = state.classroom.highlight.map(|h| (h.query, h.key)).unwrap();
    assert_eq!((seq.label_tokens[q].as_str(), k), ("t", 2));
    assert!(reads(w[[q, k]], 1.0, 2));
    for (rows, digit) in [(0..5, 0), (20..23, 2)] {
        for row in rows {
            assert!(w[[row, digit]] >= 0.895, "row {row}: {}", w[[row, digit]]);
        }
    }
    let forty: Vec<&str> = (16..19).map(|r| seq.label_tokens[r].as_str()).collect();
    assert_eq!(forty, ["r", "t", "y"]);
    let on_four: Vec<f32> = (16..19).map(|r| w[[r, 1]]).collect();
    let (low, high) = on_four
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(reads(low, 0.44, 2) && reads(high, 0.64, 2), "{on_four:?}");
    assert!(reads(w[[17, 1]], 0.64, 2), "the outlined t row");
    assert!(
        reads(w[[18, 2]], 0.53, 2) && w[[18, 2]] > w[[18, 1]],
        "the y row"
    );
    assert_eq!(state.classroom.quoted_cells, [(17, 1), (18, 2)]);
}

// ---------------------------------------------------------------------------------------------
// course-words

#[test]
fn course_words_point_at_what_they_name() {
    let state = enter("course-words", 0);
    let seq = sequence(&state);
    assert_eq!(seq.tgt_input_tokens[0], "<bos>");
    assert_eq!(seq.tgt_input_tokens[1..=11].concat(), "28 Nov 2026");

    let state = enter("course-words", 1);
    let (q, k) = state.classroom.highlight.map(|h| (h.query, h.key)).unwrap();
    assert_eq!(state.settings.attention.layer, 0);
    assert_eq!(brightest(&shown(&state, AttentionKind::Cross), q), k);

    let state = enter("course-words", 2);
    let multipliers: Vec<f64> = state.training.multipliers.values().copied().collect();
    assert!(!multipliers.is_empty() && multipliers.iter().all(|&m| m == 0.1));
    assert!(state.training.frozen.is_empty());
}

#[test]
fn the_encoder_s_final_norm_stays_trainable_and_at_full_rate() {
    // finetuning-strategies 3 freezes the source embedding and the encoder layers, not the
    // final norms; 5 slows the embeddings and the encoder layers, not the final norms.
    use maskscope::model::groups::Group;
    let frozen = enter("finetuning-strategies", 2).training.frozen;
    assert!(frozen.contains(&Group::SourceEmbedding));
    assert!(frozen.iter().any(|g| matches!(g, Group::EncoderLayer(_))));
    assert!(!frozen.contains(&Group::FinalNorms), "{frozen:?}");
    let layer_wise = enter("finetuning-strategies", 4).training.multipliers;
    assert!(
        layer_wise
            .keys()
            .any(|g| matches!(g, Group::EncoderLayer(_)))
    );
    assert!(
        !layer_wise.contains_key(&Group::FinalNorms),
        "{layer_wise:?}"
    );
}

#[test]
fn a_new_head_starts_lower_than_the_copy_head_but_above_an_even_guess() {
    let layer_wise = train("course-words", 2, 1);
    let new_head = train("course-words", 3, 1);
    assert_fresh_head_starts_between_an_even_guess_and_the_copy_head(&new_head, &layer_wise);
}

// ---------------------------------------------------------------------------------------------
// lr-schedules

#[test]
fn the_learning_rate_plots_are_a_line_and_a_warmup_then_cosine() {
    let constant = train("lr-schedules", 0, 60);
    assert!(constant.steps.iter().all(|s| s.learning_rate == 0.003));
    let cosine = train("lr-schedules", 1, 60);
    let lr: Vec<f64> = cosine.steps.iter().map(|s| s.learning_rate).collect();
    assert!(lr[..30].windows(2).all(|w| w[0] < w[1]), "warmup climbs");
    assert!(
        (lr[29] - 0.003).abs() < 1e-12,
        "warmup ends at the base rate"
    );
    assert!(lr[30..].windows(2).all(|w| w[0] > w[1]), "cosine falls");
    assert!(*lr.last().unwrap() < 0.0001);
}

#[test]
fn warmup_and_cosine_settle_lower_than_a_constant_rate() {
    // The full 300 steps: the difference is in where the runs end.
    let constant = train("lr-schedules", 0, 300);
    let cosine = train("lr-schedules", 1, 300);
    let (c, w) = (last_eval(&constant), last_eval(&cosine));
    assert!(
        w.val_loss < c.val_loss,
        "cosine {} vs constant {}",
        w.val_loss,
        c.val_loss
    );
    assert!(w.exact_match > c.exact_match);
    // The constant run bounces: its validation loss goes up between evaluations.
    assert!(
        constant
            .evals
            .windows(2)
            .any(|e| e[1].val_loss > e[0].val_loss + 0.05)
    );
    // "keeps bouncing" over the second half, which lr-schedules 3 quotes as a range.
    let (lo, hi) = late_val_loss_range(&constant.evals).expect("evaluations");
    println!("constant second half: {lo} to {hi}; ends {c:?}; cosine ends {w:?}");
    assert!(hi > lo + 0.05, "{lo} to {hi}");
}

// ---------------------------------------------------------------------------------------------
// regularisation and overfitting (constant learning rate: a shorter run is the start of the
// full one)

fn lowest_eval(run: &RunRecord) -> maskscope::trace::EvalMetrics {
    *run.evals
        .iter()
        .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
        .expect("an evaluation")
}

/// regularisation 1 and 5, over the full 400 steps: every run is lowest early (by step 75 of
/// 400), then climbs; every regularised run ends below the unregularised one, and none gets
/// back down to its lowest point. The numbers themselves are filled in from the runs.
#[test]
fn with_64_examples_every_run_overfits_and_regularisation_slows_it() {
    let plain = train("regularisation", 0, 400);
    let lowest = lowest_eval(&plain);
    assert!((25..=75).contains(&lowest.step), "{lowest:?}");
    assert!(mean_train_loss(&plain, 20) < 0.01);
    // Step 1: "then climbs".
    assert!(last_eval(&plain).val_loss > lowest.val_loss + 0.3);
    let mut ends = vec![("none", last_eval(&plain).val_loss)];
    for (step, name) in [(1, "L2"), (2, "L1"), (3, "weight decay")] {
        let run = train("regularisation", step, 400);
        let best = lowest_eval(&run);
        assert!((25..=75).contains(&best.step), "{name}: {best:?}");
        assert!(
            last_eval(&run).val_loss < last_eval(&plain).val_loss,
            "{name} climbs as fast as no regularisation"
        );
        assert!(
            last_eval(&run).val_loss > best.val_loss + 0.05,
            "{name} gets back to its lowest point"
        );
        ends.push((name, last_eval(&run).val_loss));
    }
    println!("val loss at step 400: {ends:?}");
}

/// overfitting 3 and 4: weight decay narrows the gap between the curves, and dropout makes
/// the train curve noisier and higher than the unregularised run's.
#[test]
fn weight_decay_narrows_the_gap_and_dropout_raises_a_noisier_train_curve() {
    let steps = 300;
    let plain = train("overfitting", 0, steps);
    let decay = train("overfitting", 2, steps);
    let dropout = train("overfitting", 3, steps);
    let tail = 100;
    let gap = |run: &RunRecord| last_eval(run).val_loss - mean_train_loss(run, 20);
    assert!(
        gap(&decay) < gap(&plain),
        "gap: weight decay {} vs none {}",
        gap(&decay),
        gap(&plain)
    );
    let (high, low) = (
        mean_train_loss(&dropout, tail),
        mean_train_loss(&plain, tail),
    );
    assert!(high > low, "train loss: dropout {high} vs none {low}");
    // Noise: the mean jump between consecutive steps.
    let noise = |run: &RunRecord| {
        let t = &run.steps[run.steps.len() - tail..];
        t.windows(2)
            .map(|w| (w[1].train_loss - w[0].train_loss).abs())
            .sum::<f32>()
            / (tail - 1) as f32
    };
    assert!(
        noise(&dropout) > noise(&plain),
        "noise: dropout {} vs none {}",
        noise(&dropout),
        noise(&plain)
    );
}

#[test]
fn overfitting_curves_part_ways_and_more_data_closes_the_gap() {
    let small = train("overfitting", 0, 150);
    let lowest = lowest_eval(&small);
    assert!(lowest.step < 150);
    assert!(last_eval(&small).val_loss > lowest.val_loss + 0.2);
    assert!(mean_train_loss(&small, 20) < 0.1);
    let more = train("overfitting", 5, 150);
    assert!(last_eval(&more).val_loss < 0.5 * last_eval(&small).val_loss);
}

// ---------------------------------------------------------------------------------------------
// sampling and exposure bias

#[test]
fn sampling_draws_are_fixed_by_the_seed_and_cut_by_top_k_and_top_p() {
    assert_eq!(output(&enter("sampling", 0)).concat(), "28 Nov 2026<eos>");
    assert_eq!(output(&enter("sampling", 1)).concat(), "28 No 2056<eos>");
    let top_k = enter("sampling", 2);
    assert_eq!(output(&top_k).concat(), "28 Non 2026<eos>");
    for step in top_k.stepper.steps() {
        assert!(step.probs.iter().filter(|&&p| p > 0.0).count() <= 3);
    }
    let top_p = enter("sampling", 3);
    assert_eq!(output(&top_p).concat(), "28 No 2026<eos>");
    let kept: Vec<usize> = top_p
        .stepper
        .steps()
        .iter()
        .map(|s| s.probs.iter().filter(|&&p| p > 0.0).count())
        .collect();
    let (fewest, most) = (kept.iter().min().unwrap(), kept.iter().max().unwrap());
    assert!((*fewest, *most) == (12, 21), "kept {kept:?}");
    assert_eq!(output(&enter("sampling", 4)).concat(), "28 No 2056<eos>");
    let mut other_seed = enter("sampling", 4);
    other_seed.settings.decoder.seed = 1;
    other_seed.redecode(12);
    assert_eq!(output(&other_seed).concat(), "2s-n 2026<eos>");
}

#[test]
fn a_high_temperature_lowers_the_top_bar_and_spreads_a_thin_tail() {
    // sampling 2: at temperature 3 the most likely token keeps 0.66 to 0.82 at every step; the
    // rest (roughly a fifth to a third) is spread so thinly that no other bar reaches 0.05.
    let state = enter("sampling", 1);
    assert_eq!(state.settings.decoder.temperature, 3.0);
    let (mut lowest, mut highest) = (f32::MAX, f32::MIN);
    for (i, step) in state.stepper.steps().iter().enumerate() {
        let mut p = step.probs.clone();
        p.sort_by(|a, b| b.total_cmp(a));
        lowest = lowest.min(p[0]);
        highest = highest.max(p[0]);
        assert!(p[1] < 0.05, "step {i}: second bar {}", p[1]);
        assert!(
            (0.17..0.35).contains(&(1.0 - p[0])),
            "step {i}: tail {}",
            1.0 - p[0]
        );
    }
    assert!(
        reads(lowest, 0.66, 2) && reads(highest, 0.82, 2),
        "{lowest} to {highest}"
    );
    // At temperature 1 (step 1) the chosen bars are close to 1.
    let cold = enter("sampling", 0);
    assert!(
        cold.stepper
            .steps()
            .iter()
            .all(|s| s.probs.iter().copied().fold(0.0, f32::max) > 0.99)
    );
}

#[test]
fn one_sampled_mistake_is_carried_to_the_end() {
    let forced = enter("exposure-bias", 0);
    let seq = sequence(&forced);
    assert_eq!(seq.tgt_len, 26);
    assert_eq!(seq.predicted_tokens[..26], seq.label_tokens[..26]);
    let greedy = enter("exposure-bias", 1);
    assert_eq!(output(&greedy).concat(), "seven thousand eighty one<eos>");
    let mistake = enter("exposure-bias", 2);
    let written = output(&mistake);
    assert_eq!(written.len(), 15);
    assert_eq!(written[..14].concat(), "seven thousand");
    assert_eq!(written[14], "t");
    assert_eq!(
        output(&enter("exposure-bias", 3)).concat(),
        "seven thousandthirty one<eos>"
    );
}

// ---------------------------------------------------------------------------------------------
// greedy vs beam

/// Probability the newest step gave to `token`.
fn prob_of(state: &AppState, token: &str) -> f32 {
    let step = state.stepper.steps().last().expect("a step");
    let vocab = state.engine.builtin_vocab().expect("a bundled model");
    let id = vocab.id(token).expect("a known token");
    step.probs[id as usize]
}

/// The beams after the newest step, as (text, log-probability, score).
fn beams(state: &AppState) -> Vec<(String, f32, f32)> {
    let session = state.stepper.session().expect("a session");
    let after = state.stepper.steps().len() - 1;
    session
        .beams
        .get(after)
        .or(session.beams.last())
        .expect("beams")
        .iter()
        .map(|b| (b.tokens.concat(), b.log_prob, b.score))
        .collect()
}

/// `value` rounded to `places` decimals is `stated`.
fn reads(value: f32, stated: f32, places: i32) -> bool {
    let scale = 10f32.powi(places);
    (value * scale).round() == (stated * scale).round()
}

#[test]
fn greedy_and_beam_search_part_ways_on_an_unseen_date_format() {
    let greedy = enter("greedy-vs-beam", 0);
    assert_eq!(output(&greedy).concat(), "20 Aug 158<eos>");

    let hesitating = enter("greedy-vs-beam", 1);
    assert_eq!(output(&hesitating).concat(), "20 Aug 1");
    let [one, five, two] = ["1", "5", "2"].map(|t| prob_of(&hesitating, t));
    assert!(
        reads(one, 0.34, 2) && reads(five, 0.34, 2) && reads(two, 0.31, 2),
        "{one} {five} {two}"
    );
    let mut next = hesitating;
    next.redecode(9);
    assert!(reads(prob_of(&next, "5"), 0.94, 2));

    let kept = beams(&enter("greedy-vs-beam", 2));
    assert_eq!(kept.len(), 4);
    for (text, stated) in [
        ("20 Aug 1", -1.07),
        ("20 Aug 5", -1.08),
        ("20 Aug 2", -1.16),
    ] {
        let beam = kept.iter().find(|b| b.0 == text).expect(text);
        assert!(reads(beam.1, stated, 2), "{beam:?}");
    }

    let done = enter("greedy-vs-beam", 3);
    assert_eq!(output(&done).concat(), "20 Aug 2018<eos>");
    let ranked = beams(&done);
    let (best, second) = (&ranked[0], &ranked[1]);
    assert_eq!(best.0, "20 Aug 2018<eos>");
    assert_eq!(second.0, "20 Aug 158<eos>");
    assert!(
        reads(best.1, -1.166, 3) && reads(best.2, -0.097, 3),
        "{best:?}"
    );
    assert!(
        reads(second.1, -1.171, 3) && reads(second.2, -0.106, 3),
        "{second:?}"
    );

    let narrow = enter("greedy-vs-beam", 4);
    assert_eq!(output(&narrow).concat(), "20 Aug 158<eos>");
}

#[test]
fn a_step_that_only_compares_runs_shows_the_latest_preset_when_opened_directly() {
    // overfitting step 1 talks about the 64-example run of step 0; regularisation step 4
    // compares the runs of steps 0-3; lr-schedules step 2 the runs of steps 0-1.
    for (id, step, train_size, steps) in [
        ("overfitting", 1, 64, 800),
        ("regularisation", 4, 64, 400),
        ("lr-schedules", 2, 2000, 300),
    ] {
        let state = enter(id, step);
        let form = &state.settings.finetune;
        assert_eq!(
            (form.train_size, form.steps),
            (train_size, steps),
            "{id} step {step}"
        );
        // Only a step's own preset names the next run.
        assert!(state.classroom.run_name.is_none(), "{id} step {step}");
    }
}

/// A step that quotes several cells outlines each, and the text quotes each value as the
/// window prints it (two decimals, on the cell or on its tag): cross-attention 3 and 5.
#[test]
fn every_quoted_cell_is_outlined_and_its_value_is_in_the_text() {
    let lessons = maskscope::lessons::builtin().unwrap();
    let mut checked = 0;
    for lesson in &lessons {
        for (index, step) in lesson.steps.iter().enumerate() {
            if step.state.quoted_cells.is_none() {
                continue;
            }
            let state = enter(&lesson.id, index);
            assert_eq!(
                state.settings.view,
                maskscope::app::settings::ViewId::Attention,
                "{} {index}: quoted cells are checked in the attention view",
                lesson.id
            );
            let kind = state.settings.attention.kind;
            let outlined = state.classroom.outlined_for(kind);
            assert!(outlined.len() >= 2, "{} {index}: {outlined:?}", lesson.id);
            let w = shown(&state, kind);
            for (q, k) in outlined {
                let value = format!("{:.2}", w[[q, k]]);
                for lang in maskscope::i18n::Language::ALL {
                    assert!(
                        step.body.get(lang).contains(&value),
                        "{} step {}: cell ({q}, {k}) shows {value}, not in the {lang:?} text",
                        lesson.id,
                        index + 1
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 7, "{checked} cells checked");
}

// ---------------------------------------------------------------------------------------------
// Numbers read off training runs, and every kernel path

/// The text of step `step` of lesson `id` as the lessons panel shows it now.
fn step_text(state: &AppState, id: &str, step: usize) -> String {
    let lesson = state
        .classroom
        .lessons
        .iter()
        .find(|l| l.id == id)
        .expect("the lesson");
    step_body_text(lesson, step, &state.training.runs)
}

/// A step quotes a run's numbers from the run on screen: before the run exists it says which
/// step's Start training fills them in, afterwards it prints what the runs table prints.
#[test]
fn run_figures_in_a_step_text_come_from_the_run_on_screen() {
    let id = "masks-not-regularisers";
    let mut state = enter(id, 0);
    let before = step_text(&state, id, 0);
    assert!(
        before.contains("is [run of step 1] and its exact match [run of step 1]."),
        "{before}"
    );
    let run = run_preset(&mut state, 25, "masks-not-regularisers step 0");
    let e = last_eval(&run);
    let after = step_text(&state, id, 0);
    assert!(!after.contains('['), "{after}");
    assert!(
        after.contains(&format!("is {:.2} and", e.val_loss)),
        "{after}"
    );
    assert!(
        after.contains(&format!("{:.1} %.", 100.0 * e.exact_match)),
        "{after}"
    );
    // Step 3 also quotes the leaking run of step 2, which does not exist yet.
    let third = step_text(&state, id, 2);
    assert!(
        third.contains(&format!("against {:.1} %", 100.0 * e.exact_match))
            && third.contains("near 0 % ([run of step 2])"),
        "{third}"
    );
}

/// Every claim of this file again on the kernel paths of narrower CPUs (AVX2 + FMA, then the
/// portable baseline, as far as this CPU is wider): this test binary once per path, with
/// `MASKSCOPE_SIMD_LEVEL` capping every kernel, gemm's included. A claim that holds only on
/// the widest path fails here, on any CI machine.
#[test]
fn every_claim_holds_on_every_narrower_kernel_path() {
    if std::env::var_os("MASKSCOPE_SIMD_LEVEL").is_some() {
        return; // a child run on one path
    }
    let exe = std::env::current_exe().expect("this test binary");
    for level in maskscope::model::narrower_levels() {
        let out = std::process::Command::new(&exe)
            .env("MASKSCOPE_SIMD_LEVEL", level.to_string())
            .output()
            .expect("the test binary runs");
        assert!(
            out.status.success(),
            "claims fail with MASKSCOPE_SIMD_LEVEL={level}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
