//! The command line: `train`, `eval`, `decode`, `inspect` and `render`. Plain
//! `maskscope` opens the window.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::bundled_models as bundled;
use crate::dataset;
use crate::masks::{MaskMethod, MaskSettings};
use crate::model::decoding::Strategy;
use crate::model::groups::Group;
use crate::model::training::{
    Schedule, TrainEvent, TrainOptions, TrainingRun, evaluate, trainable_counts,
};
use crate::model::{Engine, Example, ModelConfig};
use crate::tasks::{self, Pair, Splits, Task};
use crate::tokenizer::{TokenizerKind, Vocab};

/// `maskscope --version`: the version and the commit it was built from (see `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("MASKSCOPE_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "maskscope",
    version = VERSION,
    about = "See how a transformer decoder is fed and masked. Without a subcommand, opens the window."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model from scratch or fine-tune a checkpoint.
    Train(Box<TrainArgs>),
    /// Evaluate a model on held-out generated examples or a TSV/CSV file.
    Eval(EvalArgs),
    /// Decode one source autoregressively.
    Decode(DecodeArgs),
    /// Run teacher-forced passes and print tokens, masks, logits and attention as JSON.
    Inspect(InspectArgs),
    /// Render a view of the app to PNG (and its heatmaps to SVG) without a display.
    Render(RenderArgs),
}

/// Where data comes from: a built-in task or a file of source/target pairs.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Built-in task: copy, reverse, sort, dates, numbers, chinese-numbers.
    #[arg(long, conflicts_with = "data")]
    pub task: Option<String>,
    /// TSV or CSV file of source/target pairs.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Seed for generated data and splits.
    #[arg(long, default_value_t = 0)]
    pub data_seed: u64,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Start from this checkpoint (path or bundled name) instead of a fresh model.
    #[arg(long)]
    pub base: Option<String>,
    /// Where to write the trained checkpoint.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 20_000)]
    pub train_size: usize,
    #[arg(long, default_value_t = 500)]
    pub validation_size: usize,
    #[arg(long, default_value_t = 1000)]
    pub test_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// constant | cosine (linear warmup then cosine decay)
    #[arg(long, default_value = "cosine")]
    pub schedule: String,
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 0.0)]
    pub l1: f64,
    #[arg(long, default_value_t = 0.0)]
    pub l2: f64,
    /// Clip the global gradient norm (0 disables).
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    #[arg(long, default_value_t = 0.1)]
    pub dropout: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 250)]
    pub eval_every: usize,
    /// Groups to freeze, comma separated: src-embed, tgt-embed, embeddings, enc0, encoder,
    /// dec0-self, dec0-cross, dec0-ff, dec0, decoder, norms, head.
    #[arg(long, value_delimiter = ',')]
    pub freeze: Vec<String>,
    /// Learning-rate multipliers, e.g. `encoder=0.1,head=2`.
    #[arg(long, value_delimiter = ',')]
    pub lr_mult: Vec<String>,
    /// Reinitialise the output head before fine-tuning.
    #[arg(long)]
    pub new_head: bool,
    #[arg(long, default_value_t = 64)]
    pub d_model: usize,
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    #[arg(long, default_value_t = 2)]
    pub encoder_layers: usize,
    #[arg(long, default_value_t = 2)]
    pub decoder_layers: usize,
    #[arg(long, default_value_t = 256)]
    pub d_ff: usize,
    /// Pre-LN layers (norm_first=True) instead of post-LN.
    #[arg(long)]
    pub norm_first: bool,
    #[command(flatten)]
    pub masks: MaskArgs,
    /// Training threads (default: all cores but one).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct MaskArgs {
    /// Turn the causal (look-ahead) mask off.
    #[arg(long)]
    pub no_causal: bool,
    /// Turn source and target padding masks off.
    #[arg(long)]
    pub no_padding: bool,
    /// How masks are applied: additive (correct), multiply (after softmax), none.
    #[arg(long, value_enum, default_value_t = MethodArg::Additive)]
    pub mask_method: MethodArg,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum MethodArg {
    #[default]
    Additive,
    Multiply,
    None,
}

impl MaskArgs {
    pub fn settings(&self) -> MaskSettings {
        MaskSettings {
            causal: !self.no_causal,
            src_padding: !self.no_padding,
            tgt_padding: !self.no_padding,
            method: match self.mask_method {
                MethodArg::Additive => MaskMethod::Additive,
                MethodArg::Multiply => MaskMethod::Multiply,
                MethodArg::None => MaskMethod::None,
            },
        }
    }
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Checkpoint path or bundled name (dates, numbers, copy).
    #[arg(long)]
    pub model: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of held-out examples.
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DecodeArgs {
    #[arg(long)]
    pub model: String,
    #[arg(long)]
    pub src: String,
    #[arg(long, value_enum, default_value_t = StrategyArg::Greedy)]
    pub strategy: StrategyArg,
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    #[arg(long)]
    pub top_k: Option<usize>,
    #[arg(long)]
    pub top_p: Option<f32>,
    #[arg(long, default_value_t = 4)]
    pub beam_width: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print every step (tokens, probabilities, attention rows) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum StrategyArg {
    Greedy,
    Sample,
    Beam,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(long)]
    pub model: String,
    /// Source text; repeat `--src A --tgt B` for a batch.
    #[arg(long, required = true)]
    pub src: Vec<String>,
    /// Target text, one per `--src`.
    #[arg(long, required = true)]
    pub tgt: Vec<String>,
    #[command(flatten)]
    pub masks: MaskArgs,
    /// Print JSON (the only output format; kept for explicitness).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// A saved session (model, inputs, masks, view settings, decoding steps); without one,
    /// the app's defaults on the bundled dates model.
    #[arg(long)]
    pub session: Option<PathBuf>,
    /// What to draw: one view, the inputs panel, or the whole window.
    #[arg(long, value_enum)]
    pub view: crate::app::render::Target,
    /// The PNG to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Pixels per point (2 for a sharp figure on a high-density screen or in print).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f32,
    /// Also write the view's heatmaps / mask grids as SVG beside the PNG (same stem).
    #[arg(long)]
    pub svg: bool,
    /// Window width in points (default: the session's window size, else 1366).
    #[arg(long, requires = "height")]
    pub width: Option<f32>,
    /// Window height in points (default: the session's window size, else 768).
    #[arg(long, requires = "width")]
    pub height: Option<f32>,
}

fn render(args: RenderArgs) -> Result<()> {
    let request = crate::app::render::RenderRequest {
        session: args.session,
        target: args.view,
        out: args.out,
        size: args.width.zip(args.height).map(|(w, h)| [w, h]),
        scale: args.scale,
        svg: args.svg,
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

/// Opens a checkpoint by path, or one of the bundled models by name.
pub fn open_model(name_or_path: &str) -> Result<Engine> {
    if let Some(bytes) = bundled::bytes(name_or_path) {
        return Engine::from_bytes(bytes)
            .with_context(|| format!("bundled model `{name_or_path}`"));
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        bail!(
            "no checkpoint at `{name_or_path}` and no bundled model of that name (bundled: {})",
            bundled::names().join(", ")
        );
    }
    Engine::load(path).with_context(|| format!("loading {}", path.display()))
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

fn to_examples(engine: &Engine, pairs: &[Pair]) -> (Vec<Example>, usize) {
    let mut warned = 0;
    let examples = pairs
        .iter()
        .map(|p| {
            let t = engine.tokenize(&p.src, &p.tgt);
            warned += usize::from(!t.warnings.is_empty());
            t.example
        })
        .collect();
    (examples, warned)
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

fn parse_groups(keys: &[String], config: &ModelConfig) -> Result<BTreeSet<Group>> {
    let mut groups = BTreeSet::new();
    for key in keys.iter().filter(|k| !k.is_empty()) {
        groups.extend(
            Group::parse_many(key, config)
                .with_context(|| format!("unknown parameter group `{key}`"))?,
        );
    }
    Ok(groups)
}

fn train(args: TrainArgs) -> Result<()> {
    if let Some(base) = args.base.as_deref()
        && crate::marian_cli::is_model_folder(base)
    {
        return crate::marian_cli::fine_tune(base, &args);
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
    let (train, warned) = to_examples(&engine, &splits.train);
    if warned > 0 {
        eprintln!("note: {warned} training pairs had unknown characters or were truncated");
    }
    let (validation, _) = to_examples(&engine, &splits.validation);
    let (test, _) = to_examples(&engine, &splits.test);
    let mut lr_multipliers = BTreeMap::new();
    for spec in args.lr_mult.iter().filter(|s| !s.is_empty()) {
        let (key, value) = spec
            .split_once('=')
            .with_context(|| format!("`{spec}`: expected GROUP=MULTIPLIER"))?;
        let value: f64 = value
            .parse()
            .with_context(|| format!("`{spec}`: multiplier is not a number"))?;
        for g in parse_groups(&[key.to_string()], engine.config())? {
            lr_multipliers.insert(g, value);
        }
    }
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
        clip_norm: (args.clip > 0.0).then_some(args.clip),
        dropout: args.dropout,
        seed: args.seed,
        eval_every: args.eval_every,
        eval_size: args.validation_size,
        mask: args.masks.settings(),
        frozen: parse_groups(&args.freeze, engine.config())?,
        lr_multipliers,
        reinit_head: args.new_head,
        threads: args
            .threads
            .unwrap_or_else(crate::model::training::default_threads),
    };
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
    let test_metrics = evaluate(&engine, &test, MaskSettings::default(), options.steps)?;
    eprintln!(
        "test ({} held-out): loss {:.4}  token acc {:.2}%  exact match {:.2}%  ({seconds:.0}s training)",
        test.len(),
        test_metrics.val_loss,
        100.0 * test_metrics.token_accuracy,
        100.0 * test_metrics.exact_match
    );
    let mut engine = engine;
    engine.history = Some(json!({
        "data": source,
        "options": options_summary(&options),
        "train_seconds": seconds,
        "final_train_loss": last_loss,
        "validation": last_eval,
        "test": { "n": test.len(), "loss": test_metrics.val_loss, "token_accuracy": test_metrics.token_accuracy, "exact_match": test_metrics.exact_match },
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
    let engine = open_model(&args.model)?;
    // Held-out examples: a different data seed from training's default, and distinct sources.
    let (splits, source) = load_splits(&args.data, 0, 0, args.n)?;
    let pairs = if args.data.data.is_some() {
        [splits.train, splits.validation, splits.test].concat()
    } else {
        splits.test
    };
    let (examples, warned) = to_examples(&engine, &pairs);
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
    if crate::marian_cli::is_model_folder(&args.model) {
        use crate::marian_cli::MarianStrategy;
        let strategy = match args.strategy {
            StrategyArg::Greedy => MarianStrategy::Greedy,
            StrategyArg::Beam => MarianStrategy::Beam(args.beam_width),
            StrategyArg::Sample => bail!("sampling is not available for model folders yet"),
        };
        return crate::marian_cli::decode(&args.model, &args.src, strategy, args.json);
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
    let encoding = engine.vocab().encode(&args.src, engine.config().max_len);
    for w in encoding.warnings() {
        eprintln!("warning: {w}");
    }
    let (text, session) = engine.decode(&args.src, strategy)?;
    if args.json {
        let steps: Vec<_> = session
            .steps
            .iter()
            .map(|s| {
                let mut top: Vec<(usize, f32)> = s.probs.iter().copied().enumerate().collect();
                top.sort_by(|a, b| b.1.total_cmp(&a.1));
                json!({
                    "position": s.position,
                    "input_tokens": s.input_tokens,
                    "chosen": s.chosen,
                    "chosen_token": s.chosen_token,
                    "chosen_prob": s.probs.get(s.chosen as usize),
                    "top": top.iter().take(5).map(|(i, p)| json!({"token": engine.vocab().token(*i as u32), "prob": p})).collect::<Vec<_>>(),
                    "cross_attention_mean_over_heads_last_layer": s.cross_row.index_axis(ndarray::Axis(0), s.cross_row.dim().0 - 1).mean_axis(ndarray::Axis(0)).map(|a| a.to_vec()),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "src": args.src, "src_tokens": encoding.tokens, "strategy": strategy.label(), "output": text, "steps": steps })
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
    if crate::marian_cli::is_model_folder(&args.model) {
        return crate::marian_cli::inspect(&args.model, &pairs, &args.masks.settings());
    }
    let engine = open_model(&args.model)?;
    let (trace, warnings) = engine.inspect(&pairs, &args.masks.settings())?;
    println!(
        "{}",
        serde_json::to_string(&crate::inspect_json::batch_json(&trace, &warnings))?
    );
    Ok(())
}
