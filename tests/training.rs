//! Training: the loss falls, freezing and zero multipliers keep weights bit-identical,
//! non-finite runs fail cleanly with finite weights, the worker obeys its commands, and
//! checkpoints round-trip exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use candle_core::Tensor;
use maskscope::model::groups::Group;
use maskscope::model::training::{
    Schedule, TrainError, TrainEvent, TrainOptions, Trainer, TrainingRun, trainable_counts,
};
use maskscope::model::{Engine, Example, ModelConfig};
use maskscope::tokenizer::{TokenizerKind, Vocab};

fn config(norm_first: bool) -> ModelConfig {
    ModelConfig::tiny(norm_first, 8)
}

fn engine(norm_first: bool, seed: u64) -> Engine {
    Engine::new_random(
        config(norm_first),
        Vocab::build(TokenizerKind::Char, ["abcdef"]),
        seed,
    )
    .unwrap()
}

fn ids(text: &str) -> Vec<u32> {
    text.bytes().map(|b| 4 + u32::from(b - b'a')).collect()
}

/// A copy task over short strings.
fn copy_task() -> Vec<Example> {
    let words = [
        "ab", "ba", "cab", "fed", "dd", "ace", "bead", "fa", "cc", "deaf", "e", "abc", "fcd",
        "ebb", "ad", "cf",
    ];
    words
        .iter()
        .map(|w| Example {
            src: ids(w),
            tgt: ids(w),
        })
        .collect()
}

fn options(steps: usize) -> TrainOptions {
    TrainOptions {
        steps,
        batch_size: 8,
        learning_rate: 1e-2,
        schedule: Schedule::Constant,
        weight_decay: 0.0,
        clip_norm: Some(1.0),
        dropout: 0.0,
        seed: 5,
        eval_every: 1000,
        eval_size: 8,
        threads: 1,
        ..TrainOptions::default()
    }
}

fn bits(weights: &BTreeMap<String, Tensor>) -> BTreeMap<String, Vec<u32>> {
    weights
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                t.flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect(),
            )
        })
        .collect()
}

fn all_finite(weights: &BTreeMap<String, Tensor>) -> bool {
    weights.values().all(|t| {
        t.flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .all(|v| v.is_finite())
    })
}

#[test]
fn a_short_run_reduces_the_loss() {
    let mut trainer =
        Trainer::new(engine(false, 1), copy_task(), copy_task(), options(60)).unwrap();
    let mut losses = vec![];
    while !trainer.done() {
        let m = trainer.train_step().unwrap();
        assert_eq!(m.step, losses.len() + 1);
        assert!(m.train_loss.is_finite());
        losses.push(m.train_loss);
    }
    assert_eq!(losses.len(), 60);
    let mean = |xs: &[f32]| xs.iter().sum::<f32>() / xs.len() as f32;
    let (first, last) = (mean(&losses[..5]), mean(&losses[55..]));
    assert!(last < 0.75 * first, "loss went from {first} to {last}");
    let eval = trainer.evaluate().unwrap();
    assert!(
        eval.val_loss.is_finite() && eval.val_loss < first,
        "validation loss {} vs initial train loss {first}",
        eval.val_loss
    );
    assert!((0.0..=1.0).contains(&eval.token_accuracy) && (0.0..=1.0).contains(&eval.exact_match));
}

#[test]
fn frozen_groups_stay_bit_identical() {
    for norm_first in [false, true] {
        let engine = engine(norm_first, 2);
        let before = bits(&engine.weights());
        let frozen: BTreeSet<Group> = [
            Group::SourceEmbedding,
            Group::EncoderLayer(0),
            Group::DecoderCrossAttention(1),
            Group::Head,
        ]
        .into();
        let mut opts = options(4);
        opts.frozen = frozen.clone();
        opts.weight_decay = 0.01;
        opts.l2 = 1e-4;
        let mut trainer = Trainer::new(engine, copy_task(), vec![], opts).unwrap();
        for name in trainer.names() {
            assert!(
                !frozen.contains(&Group::of(name).unwrap()),
                "{name} is frozen but handed to the optimizer"
            );
        }
        while !trainer.done() {
            trainer.train_step().unwrap();
        }
        let after = bits(&trainer.engine().weights());
        let mut changed = 0;
        for (name, values) in &before {
            let group = Group::of(name).unwrap_or_else(|| panic!("{name} has no group"));
            if frozen.contains(&group) {
                assert_eq!(&after[name], values, "frozen {name} changed");
            } else {
                assert_ne!(&after[name], values, "unfrozen {name} did not change");
                changed += 1;
            }
        }
        assert!(changed > 0);
    }
}

#[test]
fn zero_learning_rate_multiplier_keeps_a_group_identical() {
    let engine = engine(false, 3);
    let before = bits(&engine.weights());
    let mut opts = options(4);
    opts.weight_decay = 0.05;
    opts.lr_multipliers = BTreeMap::from([
        (Group::DecoderFeedForward(0), 0.0),
        (Group::TargetEmbedding, 0.0),
        (Group::EncoderLayer(1), 0.5),
    ]);
    let mut trainer = Trainer::new(engine, copy_task(), vec![], opts).unwrap();
    while !trainer.done() {
        trainer.train_step().unwrap();
    }
    let after = bits(&trainer.engine().weights());
    for (name, values) in &before {
        match Group::of(name).unwrap() {
            Group::DecoderFeedForward(0) | Group::TargetEmbedding => {
                assert_eq!(&after[name], values, "{name} has multiplier 0 but changed")
            }
            _ => assert_ne!(&after[name], values, "{name} did not change"),
        }
    }
}

#[test]
fn trainable_counts_cover_every_parameter() {
    let engine = engine(false, 4);
    let sizes = engine.parameter_sizes();
    let total: usize = sizes.iter().map(|(_, n)| n).sum();
    for (name, _) in &sizes {
        assert!(Group::of(name).is_some(), "{name} belongs to no group");
    }
    let frozen: BTreeSet<Group> = [Group::EncoderLayer(1), Group::FinalNorms].into();
    let counts = trainable_counts(&engine, &frozen);
    assert_eq!(
        counts.len(),
        Group::all(engine.builtin_config().unwrap()).len()
    );
    assert_eq!(counts.iter().map(|(_, n, _)| n).sum::<usize>(), total);
    let frozen_size: usize = sizes
        .iter()
        .filter(|(n, _)| frozen.contains(&Group::of(n).unwrap()))
        .map(|(_, n)| n)
        .sum();
    assert!(frozen_size > 0);
    let trainable: usize = counts
        .iter()
        .filter(|(_, _, t)| *t)
        .map(|(_, n, _)| n)
        .sum();
    assert_eq!(trainable, total - frozen_size);
    for (g, n, t) in &counts {
        assert!(*n > 0, "{g:?} is empty");
        assert_eq!(*t, !frozen.contains(g));
    }
    let all: BTreeSet<Group> = Group::all(engine.builtin_config().unwrap())
        .into_iter()
        .collect();
    assert!(matches!(
        Trainer::new(
            engine,
            copy_task(),
            vec![],
            TrainOptions {
                frozen: all,
                ..options(1)
            }
        ),
        Err(TrainError::NothingToTrain)
    ));
    assert!(matches!(
        Trainer::new(self::engine(false, 4), vec![], vec![], options(1)),
        Err(TrainError::NoData)
    ));
}

/// Runs until the trainer fails; returns the error and its step.
fn run_until_failure(trainer: &mut Trainer, max: usize) -> TrainError {
    for _ in 0..max {
        if let Err(e) = trainer.train_step() {
            return e;
        }
    }
    panic!("training with an absurd learning rate did not fail within {max} steps");
}

#[test]
fn a_diverging_run_fails_and_leaves_finite_weights() {
    // 1e6 without clipping explodes; 1e39 overflows f32 in the very first update.
    for lr in [1e6, 1e39] {
        let mut opts = options(200);
        opts.learning_rate = lr;
        opts.clip_norm = None;
        opts.weight_decay = 0.01;
        let mut trainer = Trainer::new(engine(false, 6), copy_task(), vec![], opts).unwrap();
        let err = run_until_failure(&mut trainer, 200);
        assert!(
            matches!(err, TrainError::NonFinite { .. }),
            "lr {lr}: expected NonFinite, got {err}"
        );
        assert!(
            all_finite(&trainer.engine().weights()),
            "lr {lr}: weights are not finite after the failure"
        );
        // The engine is still usable: a forward pass gives finite logits.
        let logits = trainer
            .engine()
            .logits(&copy_task()[..2], &Default::default())
            .unwrap();
        assert!(
            logits.iter().flatten().flatten().all(|v| v.is_finite()),
            "lr {lr}: logits not finite"
        );
    }
}

/// No later loss can catch what the very last update does: the weights themselves are
/// checked after it, and restored to those before it.
#[test]
fn weights_that_turn_non_finite_on_the_last_step_are_caught() {
    let mut opts = options(1);
    opts.learning_rate = 1e39;
    opts.clip_norm = None;
    let start = engine(false, 6);
    let before = bits(&start.weights());
    let mut trainer = Trainer::new(start, copy_task(), vec![], opts).unwrap();
    let err = trainer.train_step().unwrap_err();
    assert!(
        matches!(err, TrainError::NonFiniteWeights { step: 1 }),
        "expected NonFiniteWeights, got {err}"
    );
    assert_eq!(bits(&trainer.engine().weights()), before, "restored");
}

/// A run whose validation set is empty (too few pairs) trains without evaluations, and
/// evaluating nothing is an error, never NaN figures.
#[test]
fn a_run_without_validation_pairs_reports_no_figures() {
    let run = TrainingRun::spawn(
        &engine(false, 2),
        copy_task()[..2].to_vec(),
        vec![],
        options(3),
        Duration::from_secs(60),
    )
    .unwrap();
    let mut finished = false;
    while let Ok(event) = run.events.recv_timeout(Duration::from_secs(60)) {
        match event {
            TrainEvent::Eval(m) => panic!("no validation pairs, yet an evaluation: {m:?}"),
            TrainEvent::Step(m) => assert!(m.train_loss.is_finite()),
            TrainEvent::Failed { message, .. } => panic!("failed: {message}"),
            TrainEvent::Finished { .. } => {
                finished = true;
                break;
            }
            _ => {}
        }
    }
    assert!(finished);
    let err = maskscope::model::training::evaluate(&engine(false, 2), &[], Default::default(), 0)
        .unwrap_err();
    assert!(matches!(err, TrainError::NothingToEvaluate), "{err}");
}

fn recv(run: &TrainingRun, within: Duration) -> TrainEvent {
    match run.events.recv_timeout(within) {
        Ok(e) => e,
        Err(RecvTimeoutError::Timeout) => panic!("no training event within {within:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("the worker ended without a final event"),
    }
}

fn name(e: &TrainEvent) -> &'static str {
    match e {
        TrainEvent::Started { .. } => "started",
        TrainEvent::Step(_) => "step",
        TrainEvent::Eval(_) => "eval",
        TrainEvent::Best { .. } => "best",
        TrainEvent::Weights(_) => "weights",
        TrainEvent::Paused => "paused",
        TrainEvent::Resumed => "resumed",
        TrainEvent::Finished { .. } => "finished",
        TrainEvent::Failed { .. } => "failed",
    }
}

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn worker_reports_nonfinite_as_failed_with_finite_weights() {
    for lr in [1e6, 1e39] {
        let mut opts = options(200);
        opts.learning_rate = lr;
        opts.clip_norm = None;
        opts.weight_decay = 0.01;
        let source = engine(false, 6);
        let run = TrainingRun::spawn(
            &source,
            copy_task(),
            vec![],
            opts,
            Duration::from_secs(3600),
        )
        .unwrap();
        assert!(matches!(recv(&run, WAIT), TrainEvent::Started { .. }));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "no failure");
            match recv(&run, WAIT) {
                TrainEvent::Step(m) => assert!(m.train_loss.is_finite()),
                TrainEvent::Failed { message, weights } => {
                    assert!(message.contains("loss became"), "{message}");
                    let weights = weights.expect("the last good weights come back");
                    let target = engine(false, 99);
                    weights.apply_to(&target).unwrap();
                    assert!(
                        all_finite(&target.weights()),
                        "lr {lr}: the restored weights are not finite"
                    );
                    let logits = target
                        .logits(&copy_task()[..2], &Default::default())
                        .unwrap();
                    assert!(
                        logits.iter().flatten().flatten().all(|v| v.is_finite()),
                        "lr {lr}: the restored model gives non-finite logits"
                    );
                    break;
                }
                TrainEvent::Finished { .. } => {
                    panic!("lr {lr}: the run finished instead of failing")
                }
                _ => {}
            }
        }
        // The source engine itself was never touched.
        assert_eq!(bits(&source.weights()), bits(&engine(false, 6).weights()));
    }
    // No data: Failed without weights.
    let run = TrainingRun::spawn(
        &engine(false, 1),
        vec![],
        vec![],
        options(5),
        Duration::from_secs(1),
    )
    .unwrap();
    assert!(matches!(
        recv(&run, WAIT),
        TrainEvent::Failed { weights: None, .. }
    ));
}

#[test]
fn worker_pauses_resumes_and_cancels_in_order() {
    let source = engine(false, 7);
    let run = TrainingRun::spawn(
        &source,
        copy_task(),
        copy_task(),
        options(1_000_000),
        Duration::from_secs(3600),
    )
    .unwrap();
    match recv(&run, WAIT) {
        TrainEvent::Started { trainable } => {
            assert!(trainable.iter().all(|(_, n, t)| *n > 0 && *t))
        }
        e => panic!("first event is {}", name(&e)),
    }
    let mut last_step = 0;
    let expect_step = |e: &TrainEvent, last: &mut usize| {
        if let TrainEvent::Step(m) = e {
            assert_eq!(m.step, *last + 1, "steps arrive in order");
            *last = m.step;
        }
    };
    // Receives progress events (and nothing else) until `until` steps have run.
    let run_until = |until: usize, last_step: &mut usize| {
        while *last_step < until {
            let e = recv(&run, WAIT);
            assert!(
                matches!(
                    e,
                    TrainEvent::Step(_) | TrainEvent::Eval(_) | TrainEvent::Weights(_)
                ),
                "unexpected {}",
                name(&e)
            );
            expect_step(&e, last_step);
        }
    };
    // A few steps run.
    run_until(3, &mut last_step);
    run.send(maskscope::model::training::TrainCommand::Pause);
    loop {
        let e = recv(&run, WAIT);
        expect_step(&e, &mut last_step);
        match e {
            TrainEvent::Paused => break,
            TrainEvent::Step(_) | TrainEvent::Eval(_) | TrainEvent::Weights(_) => {}
            e => panic!("unexpected {} while pausing", name(&e)),
        }
    }
    // Paused: nothing arrives.
    match run.events.recv_timeout(Duration::from_millis(300)) {
        Err(RecvTimeoutError::Timeout) => {}
        Ok(e) => panic!("event {} while paused", name(&e)),
        Err(e) => panic!("{e}"),
    }
    assert!(run.is_running());
    run.send(maskscope::model::training::TrainCommand::Resume);
    assert!(matches!(recv(&run, WAIT), TrainEvent::Resumed));
    let resumed_at = last_step;
    run_until(resumed_at + 2, &mut last_step);
    run.send(maskscope::model::training::TrainCommand::Cancel);
    loop {
        let e = recv(&run, WAIT);
        expect_step(&e, &mut last_step);
        match e {
            TrainEvent::Finished { cancelled, weights } => {
                assert!(cancelled);
                let target = engine(false, 99);
                weights.apply_to(&target).unwrap();
                assert!(all_finite(&target.weights()));
                assert_ne!(
                    bits(&target.weights()),
                    bits(&source.weights()),
                    "the cancelled run's weights were trained"
                );
                break;
            }
            TrainEvent::Step(_) | TrainEvent::Eval(_) | TrainEvent::Weights(_) => {}
            e => panic!("unexpected {} while cancelling", name(&e)),
        }
    }
    // The worker ends: the channel disconnects, with nothing after Finished.
    match run.events.recv_timeout(WAIT) {
        Err(RecvTimeoutError::Disconnected) => {}
        Ok(e) => panic!("event {} after Finished", name(&e)),
        Err(RecvTimeoutError::Timeout) => panic!("the worker did not stop"),
    }
    assert!(
        !run.is_running() || {
            std::thread::sleep(Duration::from_millis(200));
            !run.is_running()
        }
    );
    // Cancel while paused works too.
    let run = TrainingRun::spawn(
        &source,
        copy_task(),
        vec![],
        options(1_000_000),
        Duration::from_secs(3600),
    )
    .unwrap();
    assert!(matches!(recv(&run, WAIT), TrainEvent::Started { .. }));
    run.send(maskscope::model::training::TrainCommand::Pause);
    while !matches!(recv(&run, WAIT), TrainEvent::Paused) {}
    run.send(maskscope::model::training::TrainCommand::Cancel);
    assert!(matches!(
        recv(&run, WAIT),
        TrainEvent::Finished {
            cancelled: true,
            ..
        }
    ));
}

#[test]
fn worker_runs_to_completion_like_the_trainer() {
    let source = engine(true, 8);
    let mut opts = options(6);
    opts.eval_every = 3;
    let run = TrainingRun::spawn(
        &source,
        copy_task(),
        copy_task()[..4].to_vec(),
        opts.clone(),
        Duration::ZERO,
    )
    .unwrap();
    let mut names = vec![];
    let finished = loop {
        let e = recv(&run, WAIT);
        names.push(name(&e));
        if let TrainEvent::Finished { cancelled, weights } = e {
            assert!(!cancelled);
            break weights;
        }
        assert!(!matches!(e, TrainEvent::Failed { .. }));
    };
    let steps: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| *n == "step" || *n == "eval" || *n == "started" || *n == "finished")
        .collect();
    assert_eq!(
        steps,
        [
            "started", "step", "step", "step", "eval", "step", "step", "step", "eval", "finished"
        ]
    );
    let target = engine(true, 99);
    finished.apply_to(&target).unwrap();
    // The same run, synchronously, ends at the same weights.
    let mut trainer = Trainer::new(source.duplicate().unwrap(), copy_task(), vec![], opts).unwrap();
    while !trainer.done() {
        trainer.train_step().unwrap();
    }
    assert_eq!(bits(&target.weights()), bits(&trainer.engine().weights()));
}

#[test]
fn save_and_load_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut trainer = Trainer::new(engine(true, 11), copy_task(), vec![], options(3)).unwrap();
    while !trainer.done() {
        trainer.train_step().unwrap();
    }
    let mut engine = trainer.into_engine();
    engine.history =
        Some(serde_json::json!({"steps": 3, "losses": [2.5, 2.25, 2.0], "note": "round trip ü"}));
    let path = dir.path().join("model.safetensors");
    engine.save(&path).unwrap();
    let loaded = Engine::load(&path).unwrap();
    assert_eq!(
        loaded.builtin_config().unwrap(),
        engine.builtin_config().unwrap()
    );
    assert_eq!(
        loaded.builtin_vocab().unwrap(),
        engine.builtin_vocab().unwrap()
    );
    assert_eq!(loaded.history, engine.history);
    assert_eq!(bits(&loaded.weights()), bits(&engine.weights()));
    assert_eq!(loaded.parameter_sizes(), engine.parameter_sizes());
    // Same bytes through from_bytes, and a second save is byte-identical.
    let bytes = std::fs::read(&path).unwrap();
    let again = Engine::from_bytes(&bytes).unwrap();
    assert_eq!(bits(&again.weights()), bits(&engine.weights()));
    let path2 = dir.path().join("again.safetensors");
    loaded.save(&path2).unwrap();
    let reloaded = Engine::load(&path2).unwrap();
    assert_eq!(bits(&reloaded.weights()), bits(&engine.weights()));
    // Same outputs.
    let examples = copy_task();
    assert_eq!(
        loaded.logits(&examples, &Default::default()).unwrap(),
        engine.logits(&examples, &Default::default()).unwrap()
    );
    // No history survives as None; no temp files are left behind.
    let mut plain = engine.duplicate().unwrap();
    plain.history = None;
    let path3 = dir.path().join("plain.safetensors");
    plain.save(&path3).unwrap();
    assert_eq!(Engine::load(&path3).unwrap().history, None);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Overwriting an existing checkpoint works (atomic rename).
    engine.save(&path3).unwrap();
    assert_eq!(Engine::load(&path3).unwrap().history, engine.history);
}

/// The worker sends the weights of every new lowest validation loss, right after that
/// evaluation: the last of them are the run's best weights, equal to the weights a synchronous
/// run has after that many steps.
#[test]
fn worker_keeps_the_best_validation_weights() {
    let source = engine(false, 8);
    let mut opts = options(12);
    opts.eval_every = 2;
    let validation = copy_task()[..4].to_vec();
    let run = TrainingRun::spawn(
        &source,
        copy_task(),
        validation.clone(),
        opts.clone(),
        Duration::ZERO,
    )
    .unwrap();
    let (mut evals, mut best, mut previous) = (vec![], None, "");
    loop {
        let e = recv(&run, WAIT);
        let this = name(&e);
        match e {
            TrainEvent::Eval(m) => evals.push(m),
            TrainEvent::Best {
                step,
                val_loss,
                weights,
            } => {
                assert_eq!(previous, "eval", "Best follows its evaluation");
                let eval = evals.last().unwrap();
                assert_eq!((step, val_loss), (eval.step, eval.val_loss));
                let lowest = evals
                    .iter()
                    .map(|m| m.val_loss)
                    .fold(f32::INFINITY, f32::min);
                assert_eq!(val_loss, lowest, "only a new lowest loss is sent");
                best = Some((step, weights));
            }
            TrainEvent::Finished { .. } => break,
            TrainEvent::Failed { message, .. } => panic!("{message}"),
            _ => {}
        }
        previous = this;
    }
    let (step, weights) = best.expect("at least the first evaluation is a best");
    let lowest = evals
        .iter()
        .map(|m| m.val_loss)
        .fold(f32::INFINITY, f32::min);
    assert!(evals.iter().any(|m| m.step == step && m.val_loss == lowest));
    let kept = engine(false, 99);
    weights.apply_to(&kept).unwrap();
    let mut trainer = Trainer::new(source.duplicate().unwrap(), copy_task(), vec![], opts).unwrap();
    while trainer.step < step {
        trainer.train_step().unwrap();
    }
    assert_eq!(bits(&kept.weights()), bits(&trainer.engine().weights()));
}

/// The fine-tune the window offers on the bundled `copy` model (`copy` -> `reverse`, issue 7
/// section 3), trained headless with exactly the form's defaults and the options the window
/// builds from them: the train loss starts above 1 (the model copies) and falls below 0.1
/// within the form's own step budget. Counts steps, never seconds.
#[test]
fn the_default_copy_fine_tune_falls_below_a_tenth_within_its_step_budget() {
    use maskscope::app::settings::{DataSource, FinetuneSettings};
    use maskscope::app::state::runs::{Training, train_options};
    use maskscope::bundled_models::COPY;
    use maskscope::masks::MaskSettings;
    use maskscope::tasks::Task;

    let form = FinetuneSettings::default_for(COPY);
    assert_eq!(form.source, DataSource::Task(Task::Reverse));
    let engine = maskscope::cli::open_model(COPY.name).expect("the bundled copy model");
    let (train, validation, _) = Training::default().pairs(&form).unwrap();
    let (train, _) = engine.tokenize_pairs(&train);
    let (validation, _) = engine.tokenize_pairs(&validation);
    let options = train_options(
        &form,
        MaskSettings::default(),
        &BTreeSet::new(),
        &BTreeMap::new(),
    );
    let budget = options.steps;
    let mut trainer = Trainer::new(engine, train, validation, options).unwrap();
    let mut losses = vec![];
    while !trainer.done() {
        losses.push(trainer.train_step().unwrap().train_loss);
    }
    assert_eq!(losses.len(), budget);
    // Single batches are noisy: judge the mean of ten consecutive steps.
    let window = 10;
    let smoothed: Vec<f32> = losses
        .windows(window)
        .map(|w| w.iter().sum::<f32>() / window as f32)
        .collect();
    let below = smoothed.iter().position(|l| *l < 0.1).map(|i| i + window);
    println!(
        "copy -> reverse: first loss {:.3}, first ten {:.3}, last ten {:.4}, below 0.1 from step {below:?} of {budget}",
        losses[0],
        smoothed[0],
        smoothed[smoothed.len() - 1]
    );
    assert!(
        smoothed[0] > 1.0,
        "starts at {} (the copy model should not reverse yet)",
        smoothed[0]
    );
    assert!(
        below.is_some(),
        "never below 0.1 in {budget} steps: last ten {}",
        smoothed[smoothed.len() - 1]
    );
    assert!(
        smoothed[smoothed.len() - 1] < 0.1,
        "ends at {}",
        smoothed[smoothed.len() - 1]
    );
}
