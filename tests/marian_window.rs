//! The window on a Marian model folder (the small en-zh fixture of `tools/marian_fixtures.py`),
//! driven through egui_kittest as a user would: Open model... > Model folder, a typed path,
//! then the masks, all three kinds of attention, the decoder stepper (greedy and beam), a
//! two-step fine-tune on TSV pairs with the encoder and embeddings frozen, and saving a
//! folder. A hostile folder leaves the previous model in place with a message on screen.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use maskscope::app::App;
use maskscope::app::settings::{DataSource, StrategyKind};
use maskscope::app::state::InputRow;
use maskscope::app::state::runs::RunStatus;
use maskscope::masks::MaskSettings;
use maskscope::model::engine::ModelKind;
use maskscope::model::groups::Group;
use maskscope::model::marian::MarianModel;
use maskscope::trace::AttentionKind;

mod common;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marian/en-zh")
}

fn example_pairs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/data/en-zh.tsv")
}

fn open_tab(harness: &mut Harness<'static, App>, title: &str) {
    harness.get_by_role_and_label(Role::Button, title).click();
    harness.run();
}

/// Open model... > Model folder..., then the folder typed into the path window.
fn open_folder(harness: &mut Harness<'static, App>, folder: &Path) {
    harness.get_by_label("Open model...").click();
    harness.run();
    harness
        .get_by_label("Model folder (Marian / opus-mt)...")
        .click();
    harness.run();
    common::answer_path_prompt(harness, "Folder path", folder, "Open");
}

fn opened_on_the_fixture() -> Harness<'static, App> {
    let mut harness = common::app();
    harness.run();
    open_folder(&mut harness, &fixture());
    let state = harness.state().state();
    assert_eq!(
        state.engine.kind(),
        ModelKind::Marian,
        "{:?}",
        state.messages
    );
    assert_eq!(state.model.name, "en-zh");
    // The dates rows mean nothing to a translator: it starts on English-Chinese pairs from
    // the example data instead.
    let pairs = std::fs::read_to_string(example_pairs()).unwrap();
    assert_eq!(state.rows.len(), 3);
    for row in &state.rows {
        assert!(
            pairs.contains(&format!("{}\t{}", row.src, row.tgt)),
            "{row:?}"
        );
    }
    harness
}

#[test]
fn a_marian_folder_opens_in_the_window_and_every_view_works_on_it() {
    let mut harness = opened_on_the_fixture();
    {
        let state = harness.state_mut().state_mut();
        state.rows = vec![
            InputRow {
                src: "She sees the small elephant.".into(),
                tgt: "她看见小象。".into(),
            },
            InputRow {
                src: "I like green tea.".into(),
                tgt: "我喜欢绿茶。".into(),
            },
        ];
        state.selected_row = 0;
        state.invalidate();
    }
    harness.run();

    // The chips show SentencePiece pieces with the word-start mark, and Marian's own ids.
    let (src_tokens, src_ids, tgt_input, tgt_input_ids) = {
        let seq = harness.state().state().sequence().expect("a trace").clone();
        (
            seq.src_tokens,
            seq.src_ids,
            seq.tgt_input_tokens,
            seq.tgt_input_ids,
        )
    };
    assert!(
        src_tokens.iter().any(|t| t.starts_with('▁')),
        "{src_tokens:?}"
    );
    assert_eq!(src_tokens.last().map(String::as_str), Some("</s>"));
    assert_eq!(
        tgt_input[0], "<pad>",
        "Marian's decoder starts from its pad id"
    );
    let marian = MarianModel::load(&fixture()).unwrap();
    let expected = marian.tokenizer.encode(
        "She sees the small elephant.",
        maskscope::sentencepiece::Side::Source,
    );
    assert_eq!(
        src_ids, expected.ids,
        "the window tokenizes as the CLI does"
    );
    // A lone word-start mark is an ordinary piece, not a special token, in the chips too.
    let first_piece = src_tokens.iter().find(|t| t.starts_with('▁')).unwrap();
    let first_id = src_ids[src_tokens.iter().position(|t| t == first_piece).unwrap()];
    assert!(
        harness
            .query_all_by_label_contains(&format!("token '{first_piece}' (id {first_id})"))
            .next()
            .is_some(),
        "a chip shows {first_piece}"
    );
    assert!(
        harness
            .query_all_by_label_contains(&format!("special token <pad> (id {})", tgt_input_ids[0]))
            .next()
            .is_some(),
        "the decoder's start token is shown as special, not as filler"
    );

    // Masks: the live leak tests read 0 with the masks on, on this model too.
    open_tab(&mut harness, "Masks");
    let readouts = harness.state().state().readouts.clone();
    assert_eq!(readouts.problem, None);
    assert!(readouts.padding_delta.unwrap() < 1e-4, "{readouts:?}");
    assert!(readouts.future_delta.unwrap() < 1e-4, "{readouts:?}");
    harness.get_by_label("Causal mask").click();
    harness.run();
    assert!(
        harness.state().state().readouts.future_delta.unwrap() > 1e-4,
        "with the causal mask off the future leaks"
    );
    harness.get_by_label("Causal mask").click();
    harness.run();
    assert_eq!(
        harness.state().state().settings.mask,
        MaskSettings::default()
    );

    // Attention: every kind, a layer x head grid the size of the model, rows summing to 1.
    open_tab(&mut harness, "Attention");
    for (label, kind) in [
        ("Encoder self", AttentionKind::EncoderSelf),
        ("Decoder self (masked)", AttentionKind::DecoderSelf),
        ("Cross (decoder -> encoder)", AttentionKind::Cross),
    ] {
        harness.get_by_label(label).click();
        harness.run();
        assert_eq!(harness.state().state().settings.attention.kind, kind);
        assert!(harness.query_by_label("Layer 1 head 3").is_some());
        assert!(harness.query_by_label("Layer 2 head 0").is_none());
        let seq = harness.state().state().sequence().unwrap().clone();
        let att = seq.attention(kind);
        assert_eq!((att.layers(), att.heads()), (2, 4));
        let rows = match kind {
            AttentionKind::EncoderSelf => seq.src_len,
            _ => seq.tgt_len,
        };
        for q in 0..rows {
            let sum: f32 = att.head(1, 3).row(q).sum();
            assert!((sum - 1.0).abs() < 1e-4, "{kind:?} row {q} sums to {sum}");
        }
    }
    harness.get_by_label("Layer 1 head 2").click();
    harness.run();
    let a = &harness.state().state().settings.attention;
    assert_eq!((a.layer, a.head, a.mean_over_heads), (1, 2, false));

    // Decoder: greedy steps equal the model's own greedy decoding (pad never chosen).
    open_tab(&mut harness, "Decoder");
    harness.state_mut().state_mut().settings.decoder.strategy = StrategyKind::Greedy;
    for _ in 0..3 {
        harness.get_by_label("Step").click();
        harness.run();
    }
    let greedy = marian.greedy(&expected.ids).unwrap();
    {
        let state = harness.state().state();
        let steps = state.stepper.steps();
        assert_eq!(steps.len(), 3.min(greedy.len() - 1));
        for (i, step) in steps.iter().enumerate() {
            assert_eq!(step.chosen, greedy[i + 1], "step {i}");
            assert_eq!(step.input_ids[0], 282, "the decoder start token");
            assert_eq!(step.top.len(), 20, "the chart's candidates");
            assert_eq!(step.top[0].id, step.chosen, "greedy takes the most likely");
            assert!(step.top.windows(2).all(|w| w[0].prob >= w[1].prob));
            assert!(
                step.top.iter().all(|c| c.id != 282),
                "<pad> is never offered"
            );
            assert_eq!(step.cross_row.dim(), (2, 4, expected.ids.len()));
        }
    }
    // Beam search: the stepper replays the best beam and lists the beams.
    harness.state_mut().state_mut().settings.decoder.strategy = StrategyKind::Beam;
    harness.run();
    harness.get_by_label("Step").click();
    harness.run();
    let state = harness.state().state();
    let session = state.stepper.session().expect("a beam session");
    assert!(!session.beams.is_empty() && !session.beams[0].is_empty());
    assert_eq!(state.stepper.steps().len(), 1);
}

#[test]
fn a_translator_fine_tunes_two_steps_with_its_encoder_frozen_and_saves_a_folder() {
    let mut harness = opened_on_the_fixture();
    open_tab(&mut harness, "Fine-tune");
    // The generated character tasks do not fit a translator: the view says so, and a run on
    // one is refused with a message.
    harness.state_mut().state_mut().settings.finetune.source =
        DataSource::Task(maskscope::tasks::Task::Dates);
    harness.run();
    assert!(
        harness
            .query_by_label_contains("do not apply to a translator")
            .is_some()
    );
    harness.get_by_label("Start training").click();
    harness.run();
    let error = harness.state().state().last_error().unwrap_or_default();
    assert!(error.contains("choose a TSV/CSV file"), "{error}");
    assert!(!harness.state().state().training.is_running());

    // The freeze tree is Marian's parts.
    let groups = harness.state().state().engine.groups();
    assert_eq!(groups[0], Group::SourceEmbedding, "shared embeddings");
    assert!(!groups.contains(&Group::TargetEmbedding));
    assert!(
        !groups.contains(&Group::FinalNorms),
        "Marian has no final norms"
    );
    assert!(groups.contains(&Group::DecoderCrossAttention(1)));
    assert!(
        harness
            .query_by_label("decoder layer 1: cross-attention")
            .is_some()
    );

    {
        let state = harness.state_mut().state_mut();
        state.training.load_data(&example_pairs()).unwrap();
        let f = &mut state.settings.finetune;
        f.source = DataSource::File(example_pairs());
        f.steps = 2;
        f.batch_size = 4;
        f.eval_every = 1;
        f.eval_size = 4;
        f.learning_rate = 1e-3;
    }
    harness.run();
    // A translator's freeze tree is long: the preset buttons sit below the fold.
    harness
        .get_by_label("Freeze encoder + embeddings")
        .scroll_to_me();
    harness.run();
    harness.get_by_label("Freeze encoder + embeddings").click();
    harness.run();
    assert!(
        harness
            .state()
            .state()
            .training
            .frozen
            .contains(&Group::SourceEmbedding)
    );
    let before = harness.state().state().engine.weights();
    let generation = harness.state().state().engine_generation;
    harness.get_by_label("Start training").click();
    harness.run_steps(2);
    assert!(
        harness.state().state().training.is_running(),
        "{:?}",
        harness.state().state().messages
    );
    let started = Instant::now();
    while harness.state().state().training.is_running() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "training did not finish"
        );
        harness.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(2);

    let state = harness.state().state();
    let run = &state.training.runs[0];
    assert_eq!(run.status, RunStatus::Finished, "{:?}", state.messages);
    assert_eq!(run.steps.len(), 2);
    assert!(run.steps.iter().all(|s| s.train_loss.is_finite()));
    assert!(
        state.engine_generation > generation,
        "the views follow the weights"
    );
    let after = state.engine.weights();
    let changed = |name: &str| {
        let diff = (&before[name] - &after[name]).unwrap().abs().unwrap();
        diff.max_all().unwrap().to_scalar::<f32>().unwrap()
    };
    assert_eq!(changed("model.shared.weight"), 0.0, "embeddings frozen");
    assert_eq!(
        changed("model.encoder.layers.0.fc1.weight"),
        0.0,
        "encoder frozen"
    );
    assert!(
        changed("model.decoder.layers.1.fc1.weight") > 0.0,
        "the decoder trained"
    );
    assert!(state.model.modified);

    // Saving writes a folder that opens again with the trained weights.
    let out = tempfile::tempdir().unwrap();
    let folder = out.path().join("en-zh-finetuned");
    assert!(harness.state_mut().state_mut().save_model(&folder));
    let reloaded = MarianModel::load(&folder).unwrap();
    let saved: std::collections::BTreeMap<_, _> = reloaded.weights().into_iter().collect();
    let trained = harness.state().state().engine.weights();
    let w = "model.decoder.layers.1.fc1.weight";
    let diff = (&saved[w] - &trained[w]).unwrap().abs().unwrap();
    assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
}

#[test]
fn a_hostile_folder_shows_a_message_and_keeps_the_previous_model() {
    let mut harness = common::app();
    harness.run();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a-translator");
    std::fs::create_dir(&bad).unwrap();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), bad.join(entry.file_name())).unwrap();
    }
    let config = std::fs::read_to_string(bad.join("config.json")).unwrap();
    std::fs::write(
        bad.join("config.json"),
        config.replace("\"model_type\": \"marian\"", "\"model_type\": \"bert\""),
    )
    .unwrap();
    let name_before = harness.state().state().model.name.clone();
    let generation = harness.state().state().engine_generation;

    open_folder(&mut harness, &bad);

    let state = harness.state().state();
    let error = state.last_error().expect("an error message");
    assert!(error.contains("could not open"), "{error}");
    assert!(error.contains("model_type"), "{error}");
    assert_eq!(state.model.name, name_before, "the previous model stays");
    assert_eq!(state.engine.kind(), ModelKind::BuiltIn);
    assert_eq!(state.engine_generation, generation);
    assert!(state.trace.is_some(), "and the views still work");
    assert!(harness.query_by_label_contains("could not open").is_some());
}
