//! The command line's arguments, as clap parses them. The commands that act on them live in
//! [`super`] (built-in models) and [`super::marian`] (model folders).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::masks::{MaskMethod, MaskSettings, PadSide};

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
    about = "See how a transformer decoder is fed and masked. Without a subcommand, opens the window.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open the window on this model: a maskscope checkpoint (.safetensors) or a Marian
    /// (opus-mt) folder as the Hugging Face hub gives it.
    #[arg(long, value_name = "CHECKPOINT_OR_FOLDER")]
    pub model: Option<PathBuf>,
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
    /// Pad batches on the left (before the real tokens) instead of the right.
    #[arg(long)]
    pub pad_left: bool,
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
            pad_side: if self.pad_left {
                PadSide::Left
            } else {
                PadSide::Right
            },
        }
    }
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Checkpoint path or bundled name (dates, numbers, copy, chinese).
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
    /// The window's size in points, as in `1280x720`: the image is exactly that size, and a
    /// note names what of the view did not fit. Without it the window is the session's size
    /// (else 1366x768), made taller until the whole view fits.
    #[arg(long, value_name = "WxH", value_parser = crate::app::render::parse_size)]
    pub size: Option<[f32; 2]>,
    /// Turn the app's presenter mode on (large text, high contrast) for the render.
    #[arg(long)]
    pub presenter: bool,
}
