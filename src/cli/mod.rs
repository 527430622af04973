//! The command line: `train`, `eval`, `decode`, `inspect` and `render`. Plain
//! `maskscope` opens the window.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::bundled_models as bundled;
use crate::dataset;
use crate::masks::MaskSettings;
use crate::model::decoding::Strategy;
use crate::model::groups::Group;
use crate::model::tracing::TokenSide;
use crate::model::training::{
    Schedule, TrainEvent, TrainOptions, TrainingRun, evaluate, trainable_counts,
};
use crate::model::{Engine, ModelConfig};
use crate::tasks::{self, Splits, Task};
use crate::tokenizer::{TokenizerKind, Vocab};

mod args;
pub mod marian;

pub use args::*;

fn render(args: RenderArgs) -> Result<()> {
    let request = crate::app::render::RenderRequest {
        session: args.session,
        target: args.view,
        out: args.out,
        size: args.size,
        scale: args.scale,
        svg: args.svg,
        presenter: args.presenter,
    };
    let rendered = crate::app::render::render_to_files(&request)?;
    for note in &rendered.notes {
        eprintln!("note: {note}");
    }
    println!(
        "wrote {} ({} x {} pixels)",
        rendered.png.display(),
        rendered.size[0],
        rendered.size[1]
    );
    for svg in &rendered.svgs {
        println!("wrote {}", svg.display());
    }
    Ok(())
}

/// Opens a checkpoint or a model folder by path, or one of the bundled models by name.
pub fn open_model(name_or_path: &str) -> Result<Engine> {
    if let Some(bytes) = bundled::bytes(name_or_path) {
        return Engine::from_bytes(bytes)
            .with_context(|| format!("bundled model `{name_or_path}`"));
    }
    let path = Path::new(name_or_path);
    // Only nothing at all is "missing": a link loop, a pipe or a folder is opened and
    // reported for what it is.
    if path.symlink_metadata().is_err() {
        bail!(
            "no checkpoint at `{name_or_path}` and no bundled model of that name (bundled: {})",
            bundled::names().join(", ")
        );
    }
    Engine::open(path).with_context(|| format!("loading {}", path.display()))
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Train(args) => train(*args),
        Command::Eval(args) => eval(args),
        Command::Decode(args) => decode(args),
        Command::Inspect(args) => inspect(args),
        Command::Render(args) => render(args),
    }
}

/// Train / validation / test pairs from a task or a file; file errors are reported, not dropped.
fn load_splits(
    data: &DataArgs,
    train: usize,
    validation: usize,
    test: usize,
) -> Result<(Splits, String)> {
    if let Some(path) = &data.data {
        let parsed = dataset::load(path).with_context(|| format!("reading {}", path.display()))?;
        eprintln!("{}: {}", path.display(), parsed.summary());
        for e in parsed.errors.iter().take(20) {
            eprintln!("  line {}: {}", e.line, e.message);
        }
        if parsed.pairs.is_empty() {
            bail!("{} holds no usable source/target pairs", path.display());
        }
        return Ok((
            tasks::split_pairs(parsed.pairs, 0.1, 0.1, data.data_seed),
            path.display().to_string(),
        ));
    }
    let name = data.task.as_deref().unwrap_or("dates");
    let task = Task::parse(name).with_context(|| {
        format!(
            "unknown task `{name}`; tasks: {}",
            Task::ALL.map(|t| t.name()).join(", ")
        )
    })?;
    let splits = tasks::splits(task, train, validation, test, data.data_seed);
    if splits.test.len() < test || splits.validation.len() < validation {
        eprintln!(
            "note: task `{name}` yielded only {} validation and {} test examples distinct from training",
            splits.validation.len(),
            splits.test.len()
        );
    }
    Ok((splits, task.name().to_string()))
}

/// Why a validation or test set is empty: too few pairs, or too few distinct sources (a
/// source's pairs stay in one set, so none leaks into the held-out figures).
fn held_out_note(splits: &Splits) -> String {
    let all = || {
        splits
            .train
            .iter()
            .chain(&splits.validation)
            .chain(&splits.test)
    };
    let pairs = all().count();
    let sources = all().map(|p| &p.src).collect::<BTreeSet<_>>().len();
    if pairs < 5 {
        return format!(
            "{pairs} pairs are too few to hold any out for validation and test (each takes 10%, so at least 5 pairs are needed); training on them without held-out figures"
        );
    }
    format!(
        "the {pairs} pairs have only {sources} distinct source(s); all pairs of a source stay in one set so none leaks into the held-out figures, and a source's group did not fit in the 10% held out for validation or test: {} train / {} validation / {} test",
        splits.train.len(),
        splits.validation.len(),
        splits.test.len()
    )
}

/// Vocabulary covering every character the task can produce (sampled generously).
pub fn task_vocab(splits: &Splits, task: Option<Task>) -> Vocab {
    let mut texts: Vec<String> = splits
        .train
        .iter()
        .chain(&splits.validation)
        .chain(&splits.test)
        .flat_map(|p| [p.src.clone(), p.tgt.clone()])
        .collect();
    if let Some(task) = task {
        texts.extend(
            task.generate(20_000, 12345)
                .into_iter()
                .flat_map(|p| [p.src, p.tgt]),
        );
    }
    Vocab::build(TokenizerKind::Char, texts.iter().map(String::as_str))
}

fn parse_groups(keys: &[String], engine: &Engine) -> Result<BTreeSet<Group>> {
    let all = engine.groups();
    let mut groups = BTreeSet::new();
    for key in keys.iter().filter(|k| !k.is_empty()) {
        groups.extend(
            Group::parse_many(key, &all)
                .with_context(|| format!("unknown parameter group `{key}`"))?,
        );
    }
    Ok(groups)
}

/// Learning-rate multipliers from `GROUP=MULTIPLIER` specs.
fn parse_lr_multipliers(specs: &[String], engine: &Engine) -> Result<BTreeMap<Group, f64>> {
    let mut lr_multipliers = BTreeMap::new();
    for spec in specs.iter().filter(|s| !s.is_empty()) {
        let (key, value) = spec
            .split_once('=')
            .with_context(|| format!("`{spec}`: expected GROUP=MULTIPLIER"))?;
        let value: f64 = value
            .parse()
            .with_context(|| format!("`{spec}`: multiplier is not a number"))?;
        for g in parse_groups(&[key.to_string()], engine)? {
            lr_multipliers.insert(g, value);
        }
    }
    Ok(lr_multipliers)
}

/// What `train` runs with, checked before any data is made or model built; the parameter
/// groups (frozen, multipliers) are filled in once the model is known.
fn train_options(args: &TrainArgs) -> Result<TrainOptions> {
    use crate::model::limits::{self, MAX_HELD_OUT_PAIRS, MAX_TRAIN_PAIRS};
    limits::at_most("--train-size", args.train_size, MAX_TRAIN_PAIRS)?;
    limits::at_most(
        "--validation-size",
        args.validation_size,
        MAX_HELD_OUT_PAIRS,
    )?;
    limits::at_most("--test-size", args.test_size, MAX_HELD_OUT_PAIRS)?;
    let options = TrainOptions {
        steps: args.steps,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        schedule: match args.schedule.as_str() {
            "constant" => Schedule::Constant,
            "cosine" => Schedule::WarmupCosine {
                warmup: args.warmup,
            },
            other => bail!("unknown schedule `{other}` (constant or cosine)"),
        },
        weight_decay: args.weight_decay,
        l1: args.l1,
        l2: args.l2,
        clip_norm: (args.clip != 0.0).then_some(args.clip),
        dropout: args.dropout,
        seed: args.seed,
        eval_every: args.eval_every,
        eval_size: args.validation_size,
        mask: args.masks.settings(),
        frozen: BTreeSet::new(),
        lr_multipliers: BTreeMap::new(),
        reinit_head: args.new_head,
        threads: args
            .threads
            .unwrap_or_else(crate::model::training::default_threads),
    };
    options.check()?;
    Ok(options)
}

fn train(args: TrainArgs) -> Result<()> {
    let mut options = train_options(&args)?;
    let fine_tunes_folder = args.base.as_deref().is_some_and(marian::is_model_folder);
    // Checked (its folder made) now, not after a run of thousands of steps.
    crate::fsio::prepare_destination(&args.out, fine_tunes_folder)
        .map_err(|e| anyhow::anyhow!("--out: {e}"))?;
    if let Some(base) = args.base.as_deref()
        && fine_tunes_folder
    {
        return marian::fine_tune(base, &args);
    }
    let (splits, source) = load_splits(
        &args.data,
        args.train_size,
        args.validation_size,
        args.test_size,
    )?;
    let task = args
        .data
        .task
        .as_deref()
        .and_then(Task::parse)
        .or(if args.data.data.is_none() {
            Some(Task::Dates)
        } else {
            None
        });
    let engine = match &args.base {
        Some(base) => open_model(base)?,
        None => {
            let max_len = task.map_or_else(
                || {
                    splits
                        .train
                        .iter()
                        .flat_map(|p| [p.src.chars().count(), p.tgt.chars().count()])
                        .max()
                        .unwrap_or(16)
                },
                Task::max_len,
            );
            let config = ModelConfig {
                d_model: args.d_model,
                n_heads: args.heads,
                n_encoder_layers: args.encoder_layers,
                n_decoder_layers: args.decoder_layers,
                d_ff: args.d_ff,
                dropout: args.dropout,
                norm_first: args.norm_first,
                max_len,
                tokenizer: TokenizerKind::Char,
            };
            Engine::new_random(config, task_vocab(&splits, task), args.seed)?
        }
    };
    let (train, warned) = engine.tokenize_pairs(&splits.train);
    if warned > 0 {
        eprintln!("note: {warned} training pairs had unknown characters or were truncated");
    }
    let (validation, _) = engine.tokenize_pairs(&splits.validation);
    let (test, _) = engine.tokenize_pairs(&splits.test);
    if validation.is_empty() || test.is_empty() {
        eprintln!("note: {}", held_out_note(&splits));
    }
    options.frozen = parse_groups(&args.freeze, &engine)?;
    options.lr_multipliers = parse_lr_multipliers(&args.lr_mult, &engine)?;
    options.check()?;
    let counts = trainable_counts(&engine, &options.frozen);
    let trainable: usize = counts.iter().filter(|c| c.2).map(|c| c.1).sum();
    let total: usize = counts.iter().map(|c| c.1).sum();
    eprintln!(
        "training on {source}: {} train / {} validation / {} test pairs; {trainable} of {total} parameters trainable",
        train.len(),
        validation.len(),
        test.len()
    );
    let started = Instant::now();
    let run = TrainingRun::spawn(
        &engine,
        train,
        validation,
        options.clone(),
        Duration::from_secs(3600),
    )?;
    let mut last_loss = f32::NAN;
    let mut last_eval = None;
    let weights = loop {
        let Ok(event) = run.events.recv() else {
            bail!("the training thread stopped unexpectedly")
        };
        match event {
            TrainEvent::Step(m) => {
                last_loss = m.train_loss;
                if m.step % 50 == 0 {
                    eprintln!(
                        "step {:>6}  loss {:.4}  lr {:.2e}  {:.1}s",
                        m.step,
                        m.train_loss,
                        m.learning_rate,
                        started.elapsed().as_secs_f32()
                    );
                }
            }
            TrainEvent::Eval(m) => {
                eprintln!(
                    "  eval @ {}: val loss {:.4}  token acc {:.2}%  exact {:.2}%",
                    m.step,
                    m.val_loss,
                    100.0 * m.token_accuracy,
                    100.0 * m.exact_match
                );
                last_eval = Some(m);
            }
            TrainEvent::Finished { weights, .. } => break weights,
            TrainEvent::Failed { message, .. } => bail!("training failed: {message}"),
            _ => {}
        }
    };
    weights.apply_to(&engine)?;
    let seconds = started.elapsed().as_secs_f64();
    let test_metrics = if test.is_empty() {
        eprintln!("no held-out test pairs: no test figures ({seconds:.0}s training)");
        None
    } else {
        let m = evaluate(&engine, &test, MaskSettings::default(), options.steps)?;
        eprintln!(
            "test ({} held-out): loss {:.4}  token acc {:.2}%  exact match {:.2}%  ({seconds:.0}s training)",
            test.len(),
            m.val_loss,
            100.0 * m.token_accuracy,
            100.0 * m.exact_match
        );
        Some(m)
    };
    let mut engine = engine;
    engine.history = Some(json!({
        "data": source,
        "options": options_summary(&options),
        "train_seconds": seconds,
        "final_train_loss": last_loss,
        "validation": last_eval,
        "test": test_metrics.map(|m| json!({ "n": test.len(), "loss": m.val_loss, "token_accuracy": m.token_accuracy, "exact_match": m.exact_match })),
        "base": args.base,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
    }));
    engine.save(&args.out)?;
    eprintln!("saved {}", args.out.display());
    Ok(())
}

fn options_summary(o: &TrainOptions) -> serde_json::Value {
    json!({
        "steps": o.steps, "batch_size": o.batch_size, "learning_rate": o.learning_rate, "schedule": format!("{:?}", o.schedule),
        "weight_decay": o.weight_decay, "l1": o.l1, "l2": o.l2, "clip_norm": o.clip_norm, "dropout": o.dropout, "seed": o.seed,
        "frozen": o.frozen.iter().map(Group::key).collect::<Vec<_>>(),
        "lr_multipliers": o.lr_multipliers.iter().map(|(g, m)| (g.key(), *m)).collect::<BTreeMap<_, _>>(),
        "new_head": o.reinit_head, "mask": o.mask,
    })
}

fn eval(args: EvalArgs) -> Result<()> {
    use crate::model::limits::{self, MAX_HELD_OUT_PAIRS};
    limits::at_most("--n", args.n, MAX_HELD_OUT_PAIRS)?;
    let engine = open_model(&args.model)?;
    // Held-out examples: a different data seed from training's default, and distinct sources.
    let (splits, source) = load_splits(&args.data, 0, 0, args.n)?;
    let pairs = if args.data.data.is_some() {
        [splits.train, splits.validation, splits.test].concat()
    } else {
        splits.test
    };
    let (examples, warned) = engine.tokenize_pairs(&pairs);
    let m = evaluate(&engine, &examples, MaskSettings::default(), 0)?;
    if args.json {
        println!(
            "{}",
            json!({ "data": source, "n": examples.len(), "loss": m.val_loss, "token_accuracy": m.token_accuracy, "exact_match": m.exact_match, "pairs_with_tokenizer_warnings": warned })
        );
    } else {
        println!(
            "{source}: {} examples  loss {:.4}  token accuracy {:.2}%  exact match {:.2}%",
            examples.len(),
            m.val_loss,
            100.0 * m.token_accuracy,
            100.0 * m.exact_match
        );
        if warned > 0 {
            println!("note: {warned} pairs had unknown characters or were truncated");
        }
    }
    Ok(())
}

fn decode(args: DecodeArgs) -> Result<()> {
    use crate::model::limits::{self, MAX_BEAM_WIDTH};
    limits::count("--beam-width", args.beam_width, MAX_BEAM_WIDTH)?;
    limits::non_negative("--temperature", f64::from(args.temperature))?;
    if let Some(p) = args.top_p {
        limits::probability("--top-p", f64::from(p))?;
    }
    if marian::is_model_folder(&args.model) {
        use marian::MarianStrategy;
        let strategy = match args.strategy {
            StrategyArg::Greedy => MarianStrategy::Greedy,
            StrategyArg::Beam => MarianStrategy::Beam(args.beam_width),
            StrategyArg::Sample => bail!("sampling is not available for model folders yet"),
        };
        return marian::decode(&args.model, &args.src, strategy, args.json);
    }
    let engine = open_model(&args.model)?;
    let strategy = match args.strategy {
        StrategyArg::Greedy => Strategy::Greedy,
        StrategyArg::Sample => Strategy::Sample {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            seed: args.seed,
        },
        StrategyArg::Beam => Strategy::Beam {
            width: args.beam_width,
        },
    };
    for w in engine.tokenize(&args.src, "").warnings {
        eprintln!("warning: {w}");
    }
    let src_tokens = engine.typed_pieces(&args.src, TokenSide::Source);
    let (text, session) = engine.decode(&args.src, strategy)?;
    if args.json {
        let steps: Vec<_> = session
            .steps
            .iter()
            .map(|s| {
                json!({
                    "position": s.position,
                    "input_tokens": s.input_tokens,
                    "chosen": s.chosen,
                    "chosen_token": s.chosen_token,
                    "chosen_prob": s.probs.get(s.chosen as usize),
                    "top": s.top.iter().take(5).map(|c| json!({"token": c.token, "prob": c.prob})).collect::<Vec<_>>(),
                    "cross_attention_mean_over_heads_last_layer": s.cross_row.index_axis(ndarray::Axis(0), s.cross_row.dim().0 - 1).mean_axis(ndarray::Axis(0)).map(|a| a.to_vec()),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "src": args.src, "src_tokens": src_tokens, "strategy": strategy.label(), "output": text, "steps": steps })
            )?
        );
    } else {
        println!("{text}");
    }
    Ok(())
}

fn inspect(args: InspectArgs) -> Result<()> {
    if args.src.len() != args.tgt.len() {
        bail!(
            "give one --tgt per --src ({} sources, {} targets)",
            args.src.len(),
            args.tgt.len()
        );
    }
    let pairs: Vec<(&str, &str)> = args
        .src
        .iter()
        .zip(&args.tgt)
        .map(|(s, t)| (s.as_str(), t.as_str()))
        .collect();
    if marian::is_model_folder(&args.model) {
        return marian::inspect(&args.model, &pairs, &args.masks.settings());
    }
    let engine = open_model(&args.model)?;
    let (trace, warnings) = engine.inspect(&pairs, &args.masks.settings())?;
    println!(
        "{}",
        serde_json::to_string(&crate::inspect_json::batch_json(&trace, &warnings))?
    );
    Ok(())
}
