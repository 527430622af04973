//! The classroom features in the real window (egui_kittest): keyboard shortcuts, presenter
//! mode, the shortcut list, lessons applied to the app's state, and sessions saved with Ctrl+S.

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use maskscope::app::App;

mod common;
use maskscope::app::actions::presenter::PRESENTER_ZOOM;
use maskscope::app::highlight::Highlight;
use maskscope::app::settings::{StrategyKind, ViewId};
use maskscope::app::state::ModelOrigin;
use maskscope::masks::MaskMethod;
use maskscope::trace::AttentionKind;

fn harness() -> Harness<'static, App> {
    let mut harness = common::app();
    harness.run_steps(3);
    harness
}

fn press(harness: &mut Harness<'static, App>, key: Key) {
    harness.key_press(key);
    harness.run_steps(3);
}

fn lesson_index(harness: &Harness<'static, App>, id: &str) -> usize {
    harness
        .state()
        .state()
        .classroom
        .lessons
        .iter()
        .position(|l| l.id == id)
        .expect("the lesson exists")
}

#[test]
fn m_toggles_the_causal_mask() {
    let mut harness = harness();
    assert!(harness.state().state().settings.mask.causal);
    press(&mut harness, Key::M);
    assert!(!harness.state().state().settings.mask.causal);
    press(&mut harness, Key::M);
    assert!(harness.state().state().settings.mask.causal);
}

#[test]
fn arrows_step_the_decoder_from_any_view_once_per_press() {
    let mut harness = harness();
    assert_eq!(harness.state().state().settings.view, ViewId::Masks);
    press(&mut harness, Key::ArrowRight);
    assert_eq!(harness.state().state().stepper.steps().len(), 1);
    // In the decoder view too, a press is one step (the view no longer reads keys itself).
    press(&mut harness, Key::Num4);
    assert_eq!(harness.state().state().settings.view, ViewId::Decoder);
    press(&mut harness, Key::Space);
    assert_eq!(harness.state().state().stepper.steps().len(), 2);
    press(&mut harness, Key::ArrowLeft);
    assert_eq!(harness.state().state().stepper.steps().len(), 1);
    press(&mut harness, Key::ArrowRight);
    press(&mut harness, Key::R);
    assert!(harness.state().state().stepper.steps().is_empty());
}

#[test]
fn number_keys_switch_views_and_1_focuses_the_source() {
    let mut harness = harness();
    press(&mut harness, Key::Num3);
    assert_eq!(harness.state().state().settings.view, ViewId::Attention);
    press(&mut harness, Key::Num5);
    assert_eq!(harness.state().state().settings.view, ViewId::Finetune);
    press(&mut harness, Key::Num2);
    assert_eq!(harness.state().state().settings.view, ViewId::Masks);
    press(&mut harness, Key::Num1);
    assert!(harness.get_by_label("Source text 1").is_focused());
    // Typing now goes into the box: M is a letter, not the causal switch.
    harness.get_by_label("Source text 1").type_text("m");
    harness.run_steps(2);
    harness.key_press(Key::M);
    harness.run_steps(2);
    assert!(harness.state().state().settings.mask.causal);
    assert!(harness.state().state().rows[0].src.contains('m'));
}

#[test]
fn question_mark_opens_the_shortcut_list_and_escape_closes_it() {
    let mut harness = harness();
    assert!(harness.query_by_label("Keyboard shortcuts").is_none());
    press(&mut harness, Key::Questionmark);
    assert!(harness.state().state().shortcuts_open);
    assert!(harness.query_by_label("Keyboard shortcuts").is_some());
    assert!(
        harness
            .query_by_label_contains("Causal mask on / off")
            .is_some()
    );
    press(&mut harness, Key::Escape);
    assert!(!harness.state().state().shortcuts_open);
    // Shift + / (how a US keyboard sends it) toggles too.
    harness.key_press_modifiers(Modifiers::SHIFT, Key::Slash);
    harness.run_steps(3);
    assert!(harness.state().state().shortcuts_open);
}

#[test]
fn f5_toggles_presenter_mode_with_its_zoom() {
    let mut harness = harness();
    let zoom = harness.ctx.zoom_factor();
    press(&mut harness, Key::F5);
    assert!(harness.state().state().settings.presenter);
    assert!((harness.ctx.zoom_factor() - zoom * PRESENTER_ZOOM).abs() < 1e-4);
    // Advanced items are hidden.
    assert!(harness.query_by_label_contains("Log (").is_none());
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Plus);
    harness.run_steps(3);
    assert!(harness.ctx.zoom_factor() > zoom * PRESENTER_ZOOM);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Num0);
    harness.run_steps(3);
    assert!(
        (harness.ctx.zoom_factor() - PRESENTER_ZOOM).abs() < 1e-4,
        "reset to presenter size"
    );
    press(&mut harness, Key::F5);
    assert!(!harness.state().state().settings.presenter);
    assert!((harness.ctx.zoom_factor() - 1.0).abs() < 1e-4);
    assert!(harness.query_by_label_contains("Log (").is_some());
}

#[test]
fn a_lesson_step_sets_the_app_state() {
    let mut harness = harness();
    press(&mut harness, Key::L);
    assert!(harness.state().state().settings.lessons_open);
    let index = lesson_index(&harness, "causal-mask");
    harness.state_mut().state_mut().classroom.lesson = index;
    harness.run_steps(2);
    // Start the lesson, then three steps on: "Switch it off".
    for _ in 0..4 {
        press(&mut harness, Key::N);
    }
    let state = harness.state().state();
    assert_eq!(state.classroom.step, 3);
    assert!(
        !state.settings.mask.causal,
        "the step switched the causal mask off"
    );
    assert_eq!(state.settings.view, ViewId::Masks);
    assert_eq!(state.settings.attention.kind, AttentionKind::DecoderSelf);
    assert_eq!(state.settings.masks_view.kind, AttentionKind::DecoderSelf);
    assert_eq!(state.settings.attention.layer, 1);
    assert!(state.settings.attention.mean_over_heads);
    assert_eq!(
        state.classroom.highlight,
        Some(Highlight {
            kind: AttentionKind::DecoderSelf,
            query: 2,
            key: 5
        })
    );
    assert_eq!(state.rows.len(), 1);
    assert_eq!(state.rows[0].src, "November 28, 2026");
    assert!(
        harness.query_by_label("Switch it off").is_some(),
        "the step's title is shown"
    );

    // Back (B) goes to the previous step: the mask is on again, and the view is the masks
    // view, whose future-token readout that step is about.
    press(&mut harness, Key::B);
    let state = harness.state().state();
    assert_eq!(state.classroom.step, 2);
    assert!(state.settings.mask.causal);
    assert_eq!(state.settings.view, ViewId::Masks);
    // The lesson text quotes the readout's label, and the readout itself is drawn.
    let quoted = "Changing a future token changes earlier outputs by";
    assert!(harness.query_all_by_label_contains(quoted).count() >= 2);

    // Closing the panel (L) removes the lesson's highlight.
    press(&mut harness, Key::L);
    assert!(harness.state().state().classroom.highlight.is_none());
}

#[test]
fn lesson_steps_decode_and_fill_the_finetune_form() {
    let mut harness = harness();
    let decoder = lesson_index(&harness, "decoder-inputs");
    {
        let state = harness.state_mut().state_mut();
        state.settings.lessons_open = true;
        maskscope::app::actions::lessons::apply_step(state, decoder, 5);
    }
    harness.run_steps(2);
    let state = harness.state().state();
    assert_eq!(state.settings.view, ViewId::Decoder);
    assert_eq!(state.settings.decoder.strategy, StrategyKind::Beam);
    assert!(!state.stepper.steps().is_empty(), "the step decoded");

    let finetune = lesson_index(&harness, "finetuning-strategies");
    {
        let state = harness.state_mut().state_mut();
        let notes = maskscope::app::actions::lessons::apply_step(state, finetune, 2);
        assert!(
            notes.is_empty() || state.model.origin != ModelOrigin::Bundled("copy"),
            "{notes:?}"
        );
    }
    harness.run_steps(2);
    let state = harness.state().state();
    assert_eq!(state.settings.view, ViewId::Finetune);
    assert_eq!(state.settings.finetune.steps, 300);
    assert_eq!(state.settings.finetune.learning_rate, 0.001);
    assert_eq!(state.settings.mask.method, MaskMethod::Additive);
    assert!(
        !state.training.is_running(),
        "presets are filled in, not started"
    );
    if state.model.origin == ModelOrigin::Bundled("copy") {
        assert!(!state.training.frozen.is_empty(), "the encoder is frozen");
    }
    assert_eq!(
        state.classroom.run_name.as_ref().map(|t| t.en.as_str()),
        Some("frozen encoder")
    );
}

#[test]
fn ctrl_s_saves_a_session_through_the_path_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("class.json");
    let mut harness = harness();
    press(&mut harness, Key::M);
    press(&mut harness, Key::ArrowRight);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::S);
    harness.run_steps(3);
    let prompt = harness
        .state()
        .actions()
        .files
        .prompt
        .clone()
        .expect("a path prompt");
    assert_eq!(
        prompt.purpose,
        maskscope::app::intents::FilePurpose::SaveSession
    );
    harness
        .state_mut()
        .actions_mut()
        .files
        .prompt
        .as_mut()
        .unwrap()
        .text = path.display().to_string();
    harness.run_steps(2);
    harness.get_by_label("Save").click();
    harness.run_steps(3);
    let session = maskscope::app::session_file::Session::load(&path).expect("saved");
    assert!(!session.mask.causal);
    assert_eq!(session.decode_steps, 1);
    // Ctrl+S again saves to the same file without asking.
    press(&mut harness, Key::ArrowRight);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::S);
    harness.run_steps(3);
    assert!(harness.state().actions().files.prompt.is_none());
    let session = maskscope::app::session_file::Session::load(&path).unwrap();
    assert_eq!(session.decode_steps, 2);
}

#[test]
fn t_starts_then_pauses_and_resumes_fine_tuning() {
    let mut harness = harness();
    assert!(!harness.state().state().training.is_running());
    press(&mut harness, Key::T);
    assert!(
        harness.state().state().training.is_running(),
        "T starts a run"
    );
    press(&mut harness, Key::T);
    // The worker answers the pause command asynchronously; poll the real event stream.
    let mut paused = false;
    for _ in 0..200 {
        harness.run_steps(1);
        if harness
            .state()
            .state()
            .training
            .live_status()
            .is_some_and(|s| *s == maskscope::app::state::runs::RunStatus::Paused)
        {
            paused = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(paused, "a second T pauses the run");
    harness
        .state_mut()
        .state_mut()
        .training
        .send(maskscope::model::training::TrainCommand::Cancel);
}

/// The window at 1366x768 with the lessons panel open on `lesson`, no step entered yet.
fn lesson_open_1366(lesson: &str) -> Harness<'static, App> {
    let mut harness = common::app_sized([1366.0, 768.0]);
    harness.run_steps(3);
    press(&mut harness, Key::L);
    let index = lesson_index(&harness, lesson);
    harness.state_mut().state_mut().classroom.lesson = index;
    harness.run_steps(2);
    harness
}

/// Asserts `rect` is inside the window with at least `room_below` points under it.
fn assert_in_sight(harness: &Harness<'static, App>, rect: egui::Rect, room_below: f32, what: &str) {
    let window = harness.ctx.content_rect();
    assert!(
        window.contains_rect(rect) && rect.bottom() < window.bottom() - room_below,
        "{what} at {rect:?}, out of sight in {window:?}"
    );
}

#[test]
fn a_step_about_row_sums_scrolls_them_into_sight_at_1366x768() {
    let mut harness = lesson_open_1366("padding-side");
    // Start the lesson at "Key side and query side", then on to "The empty row".
    let window = harness.ctx.content_rect();
    let weights_in_sight = |harness: &Harness<'static, App>| {
        let rect = harness.get_by_label("Weights heatmap").rect();
        window.contains_rect(rect) && rect.top() < 700.0
    };
    for step in 0..4 {
        press(&mut harness, Key::N);
        if step == 0 || step == 3 {
            harness.run_steps(3);
            assert!(
                weights_in_sight(&harness),
                "step {}: the weights with row sums are out of sight",
                step + 1
            );
        }
    }
    // Scrolled once: a reader who scrolls back up is not pulled down again.
    assert!(harness.state().state().classroom.scroll_to.is_none());
}

/// Enters `lesson` at its first step and goes on to the 0-based `step`, at 1366x768.
fn at_step_1366(lesson: &str, step: usize) -> Harness<'static, App> {
    let mut harness = lesson_open_1366(lesson);
    for _ in 0..=step {
        press(&mut harness, Key::N);
    }
    harness.run_steps(3);
    harness
}

#[test]
fn fine_tune_steps_scroll_the_form_to_what_they_name_at_1366x768() {
    for (lesson, step, named) in [
        ("finetuning-strategies", 2, "Trainable parameters:"),
        ("lr-schedules", 1, "Warmup + cosine"),
        ("regularisation", 2, "L1 penalty"),
        ("course-words", 3, "Re-initialise the output head first"),
    ] {
        let harness = at_step_1366(lesson, step);
        let window = harness.ctx.content_rect();
        let rect = harness
            .query_all_by_label_contains(named)
            // The form's own widget, not a quote of it in the lesson text.
            .map(|n| n.rect())
            .find(|r| r.right() < 0.8 * window.width())
            .unwrap_or_else(|| panic!("{lesson} {step}: no {named} in the form"));
        assert_in_sight(
            &harness,
            rect,
            20.0,
            &format!("{lesson} step {step}: {named}"),
        );
    }
}

#[test]
fn a_step_pointing_at_the_inputs_brings_its_selected_row_into_sight() {
    // padding-masks step 0 selects the third of three rows, below the panel's first screen.
    let harness = at_step_1366("padding-masks", 0);
    assert_eq!(harness.state().state().selected_row, 2);
    for label in ["Source text 3", "Target text 3"] {
        assert_in_sight(&harness, harness.get_by_label(label).rect(), 20.0, label);
    }
}

#[test]
fn a_step_that_decodes_brings_the_stepper_into_sight() {
    // greedy-vs-beam step 2: eight beam-search steps; the beams table and the next-token
    // chart sit under the teacher-forcing table.
    let harness = at_step_1366("greedy-vs-beam", 2);
    for label in [
        "Beams after step 8 (best score first)",
        "Next-token distribution (chosen in orange)",
    ] {
        // Room under it for the chart (at least 140 points tall).
        assert_in_sight(&harness, harness.get_by_label(label).rect(), 150.0, label);
    }
}

#[test]
fn with_the_causal_mask_off_the_attention_view_says_so() {
    // causal-mask step 4: the causal mask is off and the attention view shows decoder self.
    let harness = at_step_1366("causal-mask", 4);
    assert!(!harness.state().state().settings.mask.causal);
    assert!(
        harness
            .query_by_label_contains("decoder self-attention (causal mask off)")
            .is_some()
    );
    assert!(
        harness
            .query_by_label_contains("later ones included: the causal mask is off")
            .is_some()
    );
    assert!(
        harness
            .query_by_label_contains("may only attend to itself and earlier positions")
            .is_none()
    );
}

/// Every step whose text quotes a leak readout shows that readout's value at 1366x768
/// without a scroll, together with the heatmap it outlines a cell in: padding-masks 5-6
/// (attention view), causal-mask 3-4, padding-side 3 and 5 and masking-pitfalls 1-3 (score
/// pipeline). Entered step by step, so a scroll left by the step before counts too.
#[test]
fn a_step_quoting_a_readout_shows_it_beside_its_cells_at_1366x768() {
    let readouts = [
        "Padding changes real outputs by",
        "Changing a future token changes earlier outputs by",
    ];
    let lessons = maskscope::lessons::builtin().unwrap();
    let mut checked = 0;
    for lesson in &lessons {
        for (step, s) in lesson.steps.iter().enumerate() {
            // Quoted by name, or as "the readout" by a step that names it in its state.
            let named = s.state.readout.map(|r| match r {
                maskscope::lessons::Readout::Padding => &readouts[0],
                maskscope::lessons::Readout::FutureToken => &readouts[1],
            });
            let Some(quoted) = readouts.iter().find(|r| s.body.en.contains(*r)).or(named) else {
                continue;
            };
            let harness = at_step_1366(&lesson.id, step);
            let what = format!("{} step {}", lesson.id, step + 1);
            let window = harness.ctx.content_rect();
            let readout = harness
                .query_all_by_label(quoted)
                .map(|n| n.rect())
                .find(|r| window.contains_rect(*r) && r.bottom() < window.bottom() - 20.0)
                .unwrap_or_else(|| panic!("{what}: {quoted} is out of sight"));
            assert!(
                harness
                    .query_all_by_label_contains("max |delta| = ")
                    .any(|n| (n.rect().center().y - readout.center().y).abs() < 12.0
                        && window.contains_rect(n.rect())),
                "{what}: no value beside {quoted}"
            );
            let view = harness.state().state().settings.view;
            let heatmap = match view {
                ViewId::Attention => Some("Attention heatmap"),
                ViewId::Masks if s.state.scroll_to.is_some() => Some("Weights heatmap"),
                _ => None,
            };
            if let Some(name) = heatmap {
                let rect = harness.get_by_label(name).rect();
                assert!(
                    window.contains_rect(rect),
                    "{what}: {name} at {rect:?} out of sight"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 9, "{checked} steps quote a readout");
}

#[test]
fn with_the_mask_method_none_the_mask_grids_say_nothing_is_applied() {
    // masking-pitfalls step 3: the method "none" blocks nothing, so no grid may read as
    // blocked; each says so in its title.
    let harness = at_step_1366("masking-pitfalls", 2);
    assert_eq!(
        harness.state().state().settings.mask.method,
        MaskMethod::None
    );
    assert!(
        harness
            .query_by_label_contains("Not applied: with the mask method “none” nothing is blocked")
            .is_some()
    );
    assert_eq!(
        harness
            .query_all_by_label_contains("(not applied: method none)")
            .count(),
        5
    );
    // The presenter figure's mask grid too.
    let mut harness = harness;
    press(&mut harness, Key::F5);
    assert!(harness.state().state().settings.presenter);
    assert!(
        harness
            .query_by_label_contains("mask (not applied: method none)")
            .is_some()
    );
}

#[test]
fn a_step_quoting_several_cells_outlines_each() {
    // cross-attention step 3 quotes "N", "o" and "v" of one row.
    let harness = at_step_1366("cross-attention", 2);
    let c = &harness.state().state().classroom;
    assert_eq!(
        c.outlined_for(AttentionKind::Cross),
        [(3, 2), (3, 0), (3, 1)]
    );
}

#[test]
fn the_runs_table_shows_the_numbers_a_step_quotes_at_1366x768() {
    // masking-pitfalls step 6 quotes each run's validation loss and exact match (about 0.22
    // and 70 %, 0.07 and 0.5 %): the runs table shows them inside the fine-tune view, left of
    // the lessons panel, to the one decimal 200 validation examples give.
    let mut harness = at_step_1366("masking-pitfalls", 5);
    let run = |name: &str, color: usize, val_loss: f32, exact_match: f32| {
        let steps = (1..=300)
            .map(|step| maskscope::trace::StepMetrics {
                step,
                train_loss: 3.0 / step as f32,
                learning_rate: 1e-3,
            })
            .collect();
        let evals = vec![maskscope::trace::EvalMetrics {
            step: 300,
            val_loss,
            token_accuracy: 0.9,
            exact_match,
            weight_norm: None,
        }];
        common::finished_run(name, color, steps, evals)
    };
    {
        let runs = &mut harness.state_mut().state_mut().training.runs;
        runs.push(run("masked (correct)", 0, 0.2251, 0.70));
        runs.push(run("no causal mask (leaks)", 1, 0.0731, 0.005));
    }
    harness.run_steps(3);
    let panel_left = harness.get_by_label("Where the leak shows").rect().left();
    for quoted in ["0.225 / 70.0 %", "0.073 / 0.5 %"] {
        let rect = harness.get_by_label(quoted).rect();
        assert_in_sight(&harness, rect, 0.0, quoted);
        assert!(
            rect.right() < panel_left,
            "{quoted} at {rect:?} runs under the lessons panel (from x = {panel_left})"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A lesson step's preset always starts from the model it names (issue 17, part 2)

/// Sums of the bundled `name` model's weights, and of the engine's: equal when the engine
/// holds the shipped weights.
fn weight_sum(engine: &maskscope::model::Engine) -> f64 {
    engine
        .weights()
        .values()
        .map(|t| {
            t.flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .map(|v| f64::from(*v).abs())
                .sum::<f64>()
        })
        .sum()
}

fn shipped_weight_sum(name: &str) -> f64 {
    let bytes = maskscope::bundled_models::bytes(name).expect("the bundled model");
    weight_sum(&maskscope::model::Engine::from_bytes(bytes).unwrap())
}

/// Polls the live run (as the window does each frame) until it has taken `steps` steps.
fn train_until(state: &mut maskscope::app::AppState, steps: usize) {
    for _ in 0..3000 {
        state.poll_training();
        let live = state.training.live_index().expect("a live run");
        if state.training.runs[live].steps.len() >= steps && state.model.modified {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the run did not take {steps} steps in 30 s");
}

#[test]
fn entering_a_preset_step_during_a_live_run_stops_it_and_reloads_the_base() {
    use maskscope::app::actions::lessons::apply_step;
    use maskscope::app::state::runs::{LessonBase, RunStatus};
    let mut state = maskscope::app::AppState::new(maskscope::app::settings::Settings::default());
    let lesson = state
        .classroom
        .lessons
        .iter()
        .position(|l| l.id == "finetuning-strategies")
        .unwrap();
    assert!(apply_step(&mut state, lesson, 1).is_empty());
    if state.model.origin != ModelOrigin::Bundled("copy") {
        eprintln!("skipped: the bundled copy model is not in this build");
        return;
    }
    let shipped = shipped_weight_sum("copy");
    assert_eq!(weight_sum(&state.engine), shipped);
    // Full fine-tuning, live (a budget it will not reach while the test runs).
    state.settings.finetune.steps = 100_000;
    state.start_training();
    train_until(&mut state, 3);
    assert_ne!(
        weight_sum(&state.engine),
        shipped,
        "the run changed the weights"
    );

    // Next: the frozen-encoder preset.
    let notes = apply_step(&mut state, lesson, 2);
    assert!(!state.training.is_running(), "the live run was stopped");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("\"full fine-tune\" was stopped"),
        "{notes:?}"
    );
    let first = &state.training.runs[0];
    assert_eq!(state.training.runs.len(), 1, "kept in the runs table");
    assert_eq!(first.status, RunStatus::Cancelled);
    assert!(first.steps.len() >= 3);
    assert_eq!(
        first.lesson_base,
        Some(LessonBase {
            model: "copy".into(),
            from_base: true
        })
    );
    assert_eq!(state.model.origin, ModelOrigin::Bundled("copy"));
    assert!(!state.model.modified);
    assert_eq!(
        weight_sum(&state.engine),
        shipped,
        "the shipped weights again"
    );
    assert!(
        !state.training.frozen.is_empty(),
        "the step's preset applies"
    );

    // Its run starts from the lesson's base...
    state.start_training();
    train_until(&mut state, 2);
    assert_eq!(
        state.training.runs[1].lesson_base,
        Some(LessonBase {
            model: "copy".into(),
            from_base: true
        })
    );
    // ...and a second run of the same preset, on the weights the first one changed, is marked.
    state.stop_training();
    assert_eq!(state.training.runs[1].status, RunStatus::Cancelled);
    state.start_training();
    let third = state.training.runs[2].lesson_base.clone();
    state.stop_training();
    assert_eq!(
        third,
        Some(LessonBase {
            model: "copy".into(),
            from_base: false
        })
    );
}

#[test]
fn a_step_that_only_watches_the_curves_leaves_the_live_run_going() {
    use maskscope::app::actions::lessons::apply_step;
    let mut state = maskscope::app::AppState::new(maskscope::app::settings::Settings::default());
    let lesson = state
        .classroom
        .lessons
        .iter()
        .position(|l| l.id == "masking-pitfalls")
        .unwrap();
    assert!(apply_step(&mut state, lesson, 4).is_empty());
    if state.model.origin != ModelOrigin::Bundled("copy") {
        eprintln!("skipped: the bundled copy model is not in this build");
        return;
    }
    state.settings.finetune.steps = 100_000;
    state.start_training();
    train_until(&mut state, 2);
    // Step 6 compares the runs' curves in the fine-tune view: the run goes on.
    let notes = apply_step(&mut state, lesson, 5);
    assert!(notes.is_empty(), "{notes:?}");
    assert!(state.training.is_running());
    assert!(state.model.modified, "the model the run trains stays");
    // Back on a step that shows attention weights (step 3), the run stops.
    let notes = apply_step(&mut state, lesson, 2);
    assert!(!state.training.is_running());
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(!state.model.modified);
}

#[test]
fn next_during_a_live_run_starts_the_next_preset_from_the_lesson_s_base() {
    let mut harness = harness();
    press(&mut harness, Key::L);
    let index = lesson_index(&harness, "finetuning-strategies");
    harness.state_mut().state_mut().classroom.lesson = index;
    harness.run_steps(2);
    harness.get_by_label("Start lesson").click();
    harness.run_steps(3);
    harness.get_by_label("Next >").click();
    harness.run_steps(3);
    if harness.state().state().model.origin != ModelOrigin::Bundled("copy") {
        eprintln!("skipped: the bundled copy model is not in this build");
        return;
    }
    assert_eq!(harness.state().state().classroom.step, 1);
    harness.state_mut().state_mut().settings.finetune.steps = 100_000;
    harness.get_by_label("Start training").click();
    // Training is live: the app keeps repainting, so step frames by hand.
    let mut trained = 0;
    for _ in 0..3000 {
        harness.run_steps(1);
        let state = harness.state().state();
        trained = state.training.runs.first().map_or(0, |r| r.steps.len());
        if trained >= 3 && state.model.modified {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(trained >= 3, "the run took {trained} steps");
    assert!(harness.state().state().training.is_running());

    harness.get_by_label("Next >").click();
    harness.run_steps(3);
    let state = harness.state().state();
    assert_eq!(state.classroom.step, 2);
    assert!(!state.training.is_running(), "Next stopped the live run");
    assert_eq!(
        state.training.runs.len(),
        1,
        "the stopped run stays in the table"
    );
    assert_eq!(state.training.runs[0].name, "full fine-tune");
    assert!(!state.model.modified, "the copy model was reloaded");
    assert!(!state.training.frozen.is_empty(), "the encoder is frozen");
    assert!(
        harness
            .query_by_label_contains("\"full fine-tune\" was stopped")
            .is_some(),
        "the step says why the run stopped"
    );
    assert_eq!(
        weight_sum(&harness.state().state().engine),
        shipped_weight_sum("copy")
    );

    // The frozen-encoder run starts from the shipped copy model: not marked.
    harness.get_by_label("Start training").click();
    harness.run_steps(3);
    let state = harness.state().state();
    assert_eq!(state.training.runs.len(), 2);
    assert_eq!(state.training.runs[1].name, "frozen encoder");
    assert!(
        state.training.runs[1]
            .lesson_base
            .as_ref()
            .is_some_and(|b| b.from_base)
    );
    assert!(
        harness
            .query_by_label_contains("did not start from the lesson's base")
            .is_none()
    );
    // Stopped and started again on the same step, it trains the already fine-tuned weights:
    // the runs table marks that run.
    harness.get_by_label("Stop").click();
    for _ in 0..3000 {
        harness.run_steps(1);
        if !harness.state().state().training.is_running() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    harness.get_by_label("Start training").click();
    harness.run_steps(3);
    assert!(
        harness
            .query_by_label_contains("frozen encoder did not start from the lesson's base")
            .is_some(),
        "the third run is marked"
    );
    harness.state_mut().state_mut().stop_training();
    harness.run_steps(2);
}

#[test]
fn a_run_not_started_from_the_lesson_s_base_is_not_quoted() {
    use maskscope::app::state::classroom::step_body_text;
    use maskscope::app::state::runs::LessonBase;
    let mut state = maskscope::app::AppState::new(maskscope::app::settings::Settings::default());
    let lesson = state
        .classroom
        .lessons
        .iter()
        .position(|l| l.id == "masks-not-regularisers")
        .unwrap();
    maskscope::app::actions::lessons::apply_step(&mut state, lesson, 0);
    let run = |val_loss: f32, from_base: bool| {
        let steps = vec![maskscope::trace::StepMetrics {
            step: 300,
            train_loss: 0.3,
            learning_rate: 1e-3,
        }];
        let evals = vec![maskscope::trace::EvalMetrics {
            step: 300,
            val_loss,
            token_accuracy: 0.9,
            exact_match: 0.7,
            weight_norm: None,
        }];
        let mut r = common::finished_run("causal mask on", 0, steps, evals);
        r.lesson_base = Some(LessonBase {
            model: "copy".into(),
            from_base,
        });
        r
    };
    let text = |state: &maskscope::app::AppState| {
        step_body_text(&state.classroom.lessons[lesson], 0, &state.training.runs)
    };
    state.training.runs.push(run(0.2251, true));
    state.training.runs.push(run(0.0512, false));
    let shown = text(&state);
    assert!(shown.contains("0.23"), "{shown}");
    assert!(!shown.contains("0.05"), "{shown}");
    // With only the marked run, the text asks for the run again.
    state.training.runs.remove(0);
    let shown = text(&state);
    assert!(!shown.contains("0.05") && shown.contains('['), "{shown}");
}
