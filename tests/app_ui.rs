//! The real maskscope window driven through egui_kittest: widgets are found by their
//! accessible labels, and assertions read the app's state.

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable};
use maskscope::app::App;

mod common;
use maskscope::app::settings::DataSource;
use maskscope::app::state::runs::RunStatus;
use maskscope::tasks::Task;

fn harness() -> Harness<'static, App> {
    let mut harness = common::app();
    harness.run();
    harness
}

fn open_tab(harness: &mut Harness<'static, App>, title: &str) {
    harness.get_by_role_and_label(Role::Button, title).click();
    harness.run();
}

/// Number of ordinary-token chips on screen.
fn token_chips(harness: &Harness<'static, App>) -> usize {
    harness.query_all_by_label_contains("token '").count()
}

#[test]
fn typing_into_the_source_updates_chips_and_attention_size() {
    let mut harness = harness();
    let before_chips = token_chips(&harness);
    let (before_len, before_padded) = {
        let seq = &harness.state().state().trace.as_ref().unwrap().sequences[0];
        (seq.src_len, seq.encoder.weights.dim().2)
    };
    let runs_before = harness.state().state().inspect_runs;

    harness.get_by_label("Source text 1").focus();
    harness.run();
    harness.key_press(egui::Key::End);
    harness.run();
    harness.get_by_label("Source text 1").type_text(" 1234");
    harness.run();

    let state = harness.state().state();
    assert!(
        state.rows[0].src.ends_with(" 1234"),
        "typed text lands in row 1: {:?}",
        state.rows[0].src
    );
    assert!(state.inspect_runs > runs_before, "the forward pass re-ran");
    let seq = &state.trace.as_ref().unwrap().sequences[0];
    assert_eq!(seq.src_len, before_len + 5);
    let padded = seq.encoder.weights.dim().2;
    assert!(
        padded > before_padded,
        "the encoder attention matrix grew: {before_padded} -> {padded}"
    );
    assert_eq!(seq.encoder.weights.dim().3, padded);
    assert_eq!(
        seq.cross.weights.dim().3,
        padded,
        "cross-attention keys follow the source"
    );
    assert_eq!(
        token_chips(&harness),
        before_chips + 5,
        "one chip per typed character"
    );
}

#[test]
fn switching_the_causal_mask_off_opens_the_upper_triangle() {
    let mut harness = harness();
    let upper = |harness: &Harness<'static, App>| -> f32 {
        let seq = harness.state().state().sequence().unwrap().clone();
        let w = &seq.decoder_self.weights; // (layer, head, query, key)
        let (l, h, q, _) = w.dim();
        let mut max = 0f32;
        for layer in 0..l {
            for head in 0..h {
                for i in 0..q.min(seq.tgt_len) {
                    for j in (i + 1)..seq.tgt_len {
                        max = max.max(w[[layer, head, i, j]]);
                    }
                }
            }
        }
        max
    };
    assert_eq!(
        upper(&harness),
        0.0,
        "with the causal mask on, no weight above the diagonal"
    );
    assert!(harness.state().state().readouts.future_delta.unwrap() < 1e-5);

    harness.get_by_label("Causal mask").click();
    harness.run();
    assert!(!harness.state().state().settings.mask.causal);
    assert!(
        upper(&harness) > 1e-4,
        "with the causal mask off, future positions get weight"
    );
    assert!(
        harness.state().state().readouts.future_delta.unwrap() > 1e-5,
        "a future token now leaks into earlier outputs"
    );
    assert!(
        harness.query_by_label("LEAK").is_some(),
        "the readout says so"
    );
}

#[test]
fn stepping_the_decoder_adds_one_token_and_one_mask_row() {
    let mut harness = harness();
    open_tab(&mut harness, "Decoder");
    assert_eq!(harness.state().state().stepper.steps().len(), 0);

    harness.get_by_label("Step").click();
    harness.run();
    let stepper = &harness.state().state().stepper;
    assert_eq!(stepper.steps().len(), 1);
    assert_eq!(stepper.mask_rows(), 1, "the first step feeds only <bos>");

    harness.get_by_label("Step").click();
    harness.run();
    let stepper = &harness.state().state().stepper;
    assert_eq!(stepper.steps().len(), 2);
    assert_eq!(stepper.mask_rows(), 2);
    assert_eq!(
        stepper.steps()[1].input_ids.len(),
        2,
        "<bos> + the first chosen token"
    );

    harness.key_press(egui::Key::ArrowRight);
    harness.run();
    assert_eq!(
        harness.state().state().stepper.mask_rows(),
        3,
        "Right arrow steps too"
    );
    harness.key_press(egui::Key::ArrowLeft);
    harness.run();
    assert_eq!(
        harness.state().state().stepper.mask_rows(),
        2,
        "Left arrow steps back"
    );
    harness.get_by_label("Reset").click();
    harness.run();
    assert_eq!(harness.state().state().stepper.steps().len(), 0);
}

#[test]
fn unticking_a_freeze_box_changes_the_trainable_count() {
    let mut harness = harness();
    open_tab(&mut harness, "Fine-tune");
    let (all, total) = {
        let s = harness.state().state();
        s.training.counts(&s.engine)
    };
    assert_eq!(all, total, "everything trains by default");
    harness.get_by_label("encoder layer 0").click();
    harness.run();
    let (fewer, _) = {
        let s = harness.state().state();
        s.training.counts(&s.engine)
    };
    assert!(
        fewer < all,
        "freezing encoder layer 0 lowers the count: {all} -> {fewer}"
    );
    assert!(
        harness
            .query_by_label_contains(&format!(
                "Trainable parameters: {}",
                maskscope::app::widgets::thousands(fewer)
            ))
            .is_some()
    );
    harness.get_by_label("encoder layer 0").click();
    harness.run();
    let s = harness.state().state();
    assert_eq!(s.training.counts(&s.engine).0, all);
}

#[test]
fn a_short_fine_tune_adds_points_to_the_loss_curve() {
    let mut harness = harness();
    open_tab(&mut harness, "Fine-tune");
    {
        let f = &mut harness.state_mut().state_mut().settings.finetune;
        f.source = DataSource::Task(Task::Dates);
        f.train_size = 64;
        f.val_size = 8;
        f.eval_size = 8;
        f.steps = 6;
        f.batch_size = 4;
        f.eval_every = 3;
        f.warmup = 2;
    }
    let generation = harness.state().state().engine_generation;
    harness.get_by_label("Start training").click();
    harness.run_steps(2);
    assert!(
        harness.state().state().training.is_running(),
        "the run started: {:?}",
        harness.state().state().messages.last()
    );

    // Training runs on its own thread: keep drawing frames (never `run()`, which would see
    // the repaint requests of a live run) until it ends.
    let started = Instant::now();
    while harness.state().state().training.is_running() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "training did not finish in time"
        );
        harness.run_steps(1);
        std::thread::sleep(Duration::from_millis(50));
    }
    harness.run_steps(2);
    let state = harness.state().state();
    let run = &state.training.runs[0];
    assert_eq!(run.status, RunStatus::Finished, "{:?}", state.messages);
    assert_eq!(run.steps.len(), 6, "one loss point per step");
    assert!(run.steps.iter().all(|s| s.train_loss.is_finite()));
    assert!(!run.evals.is_empty(), "validation points too");
    assert!(
        state.engine_generation > generation,
        "the trained weights reached the views"
    );
    assert!(state.model.modified);
}

#[test]
fn a_corrupt_checkpoint_shows_an_error_and_keeps_the_model() {
    let mut harness = harness();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.safetensors");
    std::fs::write(&bad, b"this is not a checkpoint at all").unwrap();
    let name_before = harness.state().state().model.name.clone();
    let generation = harness.state().state().engine_generation;

    harness.get_by_label("Open model...").click();
    harness.run();
    harness
        .get_by_label("Checkpoint file (.safetensors)...")
        .click();
    harness.run();
    common::answer_path_prompt(&mut harness, "File path", &bad, "Open");

    let state = harness.state().state();
    let error = state.last_error().expect("an error message");
    assert!(error.contains("could not open"), "{error}");
    assert!(error.contains("broken.safetensors"), "{error}");
    assert_eq!(
        state.model.name, name_before,
        "the previous model stays loaded"
    );
    assert_eq!(state.engine_generation, generation);
    assert!(state.trace.is_some(), "and the views still work");
    assert!(
        harness.query_by_label_contains("could not open").is_some(),
        "the error is on screen"
    );
}

#[test]
fn switching_source_padding_off_lets_padding_leak() {
    let mut harness = harness();
    assert!(harness.state().state().readouts.padding_delta.unwrap() < 1e-5);
    harness.get_by_label("Source padding mask").click();
    harness.run();
    let state = harness.state().state();
    assert!(!state.settings.mask.src_padding);
    assert!(
        state.readouts.padding_delta.unwrap() > 1e-5,
        "padded source keys now change real outputs"
    );
}

#[test]
fn multiplying_the_mask_after_softmax_breaks_row_sums() {
    let mut harness = harness();
    let mut mask = harness.state().state().settings.mask;
    mask.method = maskscope::masks::MaskMethod::Multiply;
    harness.state_mut().state_mut().set_mask(mask);
    harness.run();
    let seq = harness.state().state().sequence().unwrap().clone();
    let sums = maskscope::trace::row_sums(&seq.decoder_self.head(0, 0));
    // Row 0 sees only itself: its lone open weight is < 1 once the others were zeroed.
    assert!(sums[0] < 0.999, "row sums no longer reach 1: {sums:?}");
    assert!(
        harness
            .query_by_label_contains("rows no longer sum to 1")
            .is_some(),
        "the view explains it"
    );
}

#[test]
fn a_bad_tsv_line_is_reported_and_the_good_lines_are_kept() {
    let mut harness = harness();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pairs.tsv");
    std::fs::write(
        &data,
        "2026-11-28\t28 Nov 2026\nthis line has no tab\n1999-05-03\t3 May 1999\n",
    )
    .unwrap();
    open_tab(&mut harness, "Fine-tune");

    harness.get_by_label("Data source").click();
    harness.run();
    harness.get_by_label("TSV/CSV file").click();
    harness.run();
    common::answer_path_prompt(&mut harness, "File path", &data, "Open");

    let state = harness.state().state();
    let loaded = state.training.data.as_ref().expect("the file loaded");
    assert_eq!(loaded.pairs.len(), 2);
    assert_eq!(loaded.errors.len(), 1);
    assert_eq!(loaded.errors[0].line, 2);
    assert!(
        harness.query_all_by_label_contains("line 2:").count() >= 1,
        "the bad line is named on screen"
    );
}

#[test]
fn rows_can_be_added_and_removed() {
    let mut harness = harness();
    harness.get_by_label("Add row").click();
    harness.run();
    let state = harness.state().state();
    assert_eq!(state.rows.len(), 4);
    assert_eq!(
        state.trace.as_ref().unwrap().sequences.len(),
        4,
        "the new row is in the batch"
    );
    assert_eq!(state.selected_row, 3);
    // The new row is below the fold of the inputs panel: scroll to it like a user would.
    harness.get_by_label("Remove row 4").scroll_to_me();
    harness.run();
    harness.get_by_label("Remove row 4").click();
    harness.run();
    let state = harness.state().state();
    assert_eq!(state.rows.len(), 3);
    assert_eq!(state.trace.as_ref().unwrap().sequences.len(), 3);
}

/// A typed source with a target left over from another source is marked, and one click makes
/// the target the model's own output (first contact: teacher forcing against an unrelated
/// target shows an unrelated computation).
#[test]
fn a_typed_source_offers_the_model_s_output_as_its_target() {
    let mut harness = harness();
    let matching = harness
        .query_all_by_label("The target is the model's own output.")
        .count();
    assert_eq!(
        matching, 3,
        "every example row starts with the model's output"
    );
    {
        let state = harness.state_mut().state_mut();
        state.rows.truncate(1);
        state.rows[0].src = "Dec 3, 2025".into();
        state.invalidate();
    }
    harness.run();
    let stale = harness.state().state().rows[0].tgt.clone();
    assert_eq!(stale, "28 Nov 2026");
    harness.get_by_label_contains("Not the model's output: it writes “3 Dec 2025”");
    harness
        .get_by_role_and_label(Role::Button, "Use the model's output as the target")
        .click();
    harness.run();
    let state = harness.state().state();
    assert_eq!(state.rows[0].tgt, "3 Dec 2025");
    assert_eq!(
        state.sequence().unwrap().tgt_input_tokens[1..=10].concat(),
        "3 Dec 2025",
        "teacher forcing now feeds the model's own output"
    );
    harness.get_by_label("The target is the model's own output.");
}

/// Opens the Bundled menu and picks the `numbers` model.
fn pick_bundled_numbers(harness: &mut Harness<'static, App>) {
    harness.get_by_label("Bundled").click();
    harness.run();
    harness.get_by_label_contains("numbers: ").click();
    harness.run();
}

/// A fine-tuned, unsaved model is never thrown away silently (issue 19): opening another
/// model asks Save / Discard / Cancel; Cancel keeps it, Save writes it and then opens the other
/// model, Discard opens it at once.
#[test]
fn a_fine_tuned_model_is_kept_unless_the_user_discards_or_saves_it() {
    let mut harness = harness();
    let question = "Keep the fine-tuned model?";
    harness.state_mut().state_mut().model.modified = true;

    pick_bundled_numbers(&mut harness);
    harness.get_by_label(question);
    harness
        .get_by_role_and_label(Role::Button, "Cancel")
        .click();
    harness.run();
    let state = harness.state().state();
    assert_eq!(state.model.name, "dates", "Cancel keeps the model");
    assert!(state.model.modified);
    assert!(harness.query_by_label(question).is_none());

    pick_bundled_numbers(&mut harness);
    harness
        .get_by_role_and_label(Role::Button, "Save it first...")
        .click();
    harness.run();
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("fine-tuned-dates.safetensors");
    // The suggested path is in the working folder: the test's replaces it.
    common::answer_path_prompt(&mut harness, "File path", &saved, "Save");
    harness.run();
    assert!(saved.is_file(), "Save wrote the fine-tuned model first");
    let state = harness.state().state();
    assert_eq!(state.model.name, "numbers", "then the waiting switch ran");
    assert!(harness.query_by_label(question).is_none());

    harness.state_mut().state_mut().model.modified = true;
    harness.get_by_label("Bundled").click();
    harness.run();
    harness.get_by_label_contains("dates: ").click();
    harness.run();
    harness
        .get_by_role_and_label(Role::Button, "Discard")
        .click();
    harness.run();
    let state = harness.state().state();
    assert_eq!(state.model.name, "dates", "Discard opens the other model");
    assert!(!state.model.modified);
}

#[test]
fn the_bundled_menu_says_what_each_model_does() {
    let mut harness = harness();
    harness.get_by_label("Bundled").click();
    harness.run();
    for name in ["dates", "numbers", "copy", "chinese"] {
        let prefix = format!("{name}: ");
        let item = harness.get_by_label_contains(&prefix);
        let label = item.accesskit_node().label().unwrap_or_default();
        assert!(label.contains(" -> "), "{label:?} shows an example");
    }
    assert!(harness.query_by_label("dates (dates)").is_none());
}
