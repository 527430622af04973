//! What the window remembers between sessions (eframe storage): layout choices and settings,
//! never runtime data such as models, traces or training runs.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::colormap::Colormap;
use crate::bundled_models::{self, Bundled};
use crate::masks::MaskSettings;
use crate::model::decoding::Strategy;
use crate::model::training::Schedule;
use crate::tasks::Task;
use crate::trace::AttentionKind;

/// The views of the central area, each one click away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewId {
    #[default]
    Masks,
    Attention,
    Decoder,
    Finetune,
}

impl ViewId {
    pub const ALL: [ViewId; 4] = [
        ViewId::Masks,
        ViewId::Attention,
        ViewId::Decoder,
        ViewId::Finetune,
    ];

    /// `masks`, `attention`, ... (file names and the CLI's `--view`).
    pub fn slug(self) -> &'static str {
        match self {
            ViewId::Masks => "masks",
            ViewId::Attention => "attention",
            ViewId::Decoder => "decoder",
            ViewId::Finetune => "finetune",
        }
    }
}

/// Choices of the attention view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttentionSettings {
    pub kind: AttentionKind,
    pub layer: usize,
    pub head: usize,
    pub mean_over_heads: bool,
    /// Show current minus pinned.
    pub diff: bool,
    /// Colour range: fixed 0..1 (false) or the matrix's own min..max (true).
    pub auto_range: bool,
}

impl Default for AttentionSettings {
    fn default() -> Self {
        Self {
            kind: AttentionKind::DecoderSelf,
            layer: 0,
            head: 0,
            mean_over_heads: false,
            diff: false,
            auto_range: false,
        }
    }
}

/// Choices of the masks view (the scores -> weights pipeline).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MasksViewSettings {
    pub kind: AttentionKind,
    pub layer: usize,
    pub head: usize,
}

impl Default for MasksViewSettings {
    fn default() -> Self {
        Self {
            kind: AttentionKind::DecoderSelf,
            layer: 0,
            head: 0,
        }
    }
}

/// Which decoding strategy the stepper uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StrategyKind {
    #[default]
    Greedy,
    Temperature,
    TopK,
    TopP,
    Beam,
}

impl StrategyKind {
    pub const ALL: [StrategyKind; 5] = [
        StrategyKind::Greedy,
        StrategyKind::Temperature,
        StrategyKind::TopK,
        StrategyKind::TopP,
        StrategyKind::Beam,
    ];

    pub fn label(self) -> &'static str {
        match self {
            StrategyKind::Greedy => "greedy",
            StrategyKind::Temperature => "temperature sampling",
            StrategyKind::TopK => "top-k sampling",
            StrategyKind::TopP => "top-p (nucleus) sampling",
            StrategyKind::Beam => "beam search",
        }
    }
}

/// Choices of the decoder view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecoderSettings {
    pub strategy: StrategyKind,
    pub temperature: f32,
    pub top_k: usize,
    pub top_p: f32,
    pub seed: u64,
    pub beam_width: usize,
    /// Layer whose cross-attention is shown (mean over heads).
    pub layer: usize,
    /// Seconds between steps while playing.
    pub interval: f32,
    /// Bars in the next-token chart.
    pub top_n: usize,
}

impl Default for DecoderSettings {
    fn default() -> Self {
        Self {
            strategy: StrategyKind::Greedy,
            temperature: 1.0,
            top_k: 5,
            top_p: 0.9,
            seed: 0,
            beam_width: 3,
            layer: 0,
            interval: 0.6,
            top_n: 12,
        }
    }
}

impl DecoderSettings {
    pub fn strategy(&self) -> Strategy {
        let sample = |top_k, top_p| Strategy::Sample {
            temperature: self.temperature.max(0.01),
            top_k,
            top_p,
            seed: self.seed,
        };
        match self.strategy {
            StrategyKind::Greedy => Strategy::Greedy,
            StrategyKind::Temperature => sample(None, None),
            StrategyKind::TopK => sample(Some(self.top_k.max(1)), None),
            StrategyKind::TopP => sample(None, Some(self.top_p.clamp(0.01, 1.0))),
            StrategyKind::Beam => Strategy::Beam {
                width: self.beam_width.max(1),
            },
        }
    }
}

/// Where fine-tuning data comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DataSource {
    Task(Task),
    /// A TSV/CSV file of `source<TAB>target` lines.
    File(PathBuf),
}

/// The fine-tuning form (hyper-parameters; freezing and multipliers depend on the model and
/// live in the runtime state).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FinetuneSettings {
    pub source: DataSource,
    pub train_size: usize,
    pub val_size: usize,
    /// Share of a file's pairs held out for validation.
    pub val_fraction: f32,
    pub data_seed: u64,
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub warmup_cosine: bool,
    pub warmup: usize,
    pub weight_decay: f64,
    pub l1: f64,
    pub l2: f64,
    pub clip: bool,
    pub clip_norm: f64,
    pub dropout: f32,
    pub seed: u64,
    pub eval_every: usize,
    pub eval_size: usize,
    pub reinit_head: bool,
}

impl Default for FinetuneSettings {
    /// The form for the model the window starts with (the bundled dates model).
    fn default() -> Self {
        Self::default_for(bundled_models::DATES)
    }
}

impl FinetuneSettings {
    /// The fine-tune the form offers for a bundled model: something the model cannot do yet,
    /// so pressing T shows a curve that falls (from above 1 to below 0.1 within the step
    /// budget; `tests/training.rs` checks `copy` on the same defaults). The one place these
    /// defaults live; the README's table of bundled models repeats them.
    /// - `copy` -> `reverse`: the cross-attention turns from the diagonal to the anti-diagonal.
    /// - `dates`, `numbers`, `chinese`: their own task with the output head re-initialised
    ///   (their vocabularies hold no second task: `numbers` has no Chinese characters and
    ///   `chinese` no letters).
    pub fn default_for(model: Bundled) -> Self {
        let (task, reinit_head) = match model.task {
            Task::Copy => (Task::Reverse, false),
            own => (own, true),
        };
        Self {
            source: DataSource::Task(task),
            train_size: 2000,
            val_size: 200,
            val_fraction: 0.1,
            data_seed: 1,
            steps: 400,
            batch_size: 32,
            learning_rate: 2e-3,
            warmup_cosine: true,
            warmup: 20,
            weight_decay: 0.01,
            l1: 0.0,
            l2: 0.0,
            clip: true,
            clip_norm: 1.0,
            dropout: 0.0,
            seed: 0,
            eval_every: 25,
            eval_size: 200,
            reinit_head,
        }
    }

    /// Settings a pretrained translator survives: a small learning rate, small batches, a
    /// short run (a step of a 77 M-parameter model takes seconds, not milliseconds).
    pub fn suit_translator(&mut self) {
        self.steps = 20;
        self.batch_size = 8;
        self.learning_rate = 5e-5;
        self.warmup = 2;
        self.eval_every = 10;
        self.eval_size = 32;
        self.reinit_head = false;
    }

    /// Whether this form would train `model` on what it already does (a flat curve at zero).
    pub fn is_the_models_own_task(&self, model: Bundled) -> bool {
        self.source == DataSource::Task(model.task) && !self.reinit_head
    }

    pub fn schedule(&self) -> Schedule {
        if self.warmup_cosine {
            Schedule::WarmupCosine {
                warmup: self.warmup,
            }
        } else {
            Schedule::Constant
        }
    }
}

/// Everything persisted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub view: ViewId,
    pub mask: MaskSettings,
    pub colormap: Colormap,
    pub attention: AttentionSettings,
    pub masks_view: MasksViewSettings,
    pub decoder: DecoderSettings,
    pub finetune: FinetuneSettings,
    /// Most recent first.
    pub recent: Vec<PathBuf>,
    /// Print values inside large heatmap cells.
    pub show_values: bool,
    /// Language of the window (English or Simplified Chinese), applied every frame.
    pub language: crate::i18n::Language,
    /// Light or dark colours.
    pub theme: Theme,
    /// Presenter mode: large text, high contrast, advanced controls hidden.
    pub presenter: bool,
    /// The lessons panel is open.
    pub lessons_open: bool,
    /// Id of the lesson chosen in the lessons panel.
    pub lesson: String,
}

/// The colour theme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    Dark,
    Light,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            view: ViewId::Masks,
            mask: MaskSettings::default(),
            colormap: Colormap::Viridis,
            attention: AttentionSettings::default(),
            masks_view: MasksViewSettings::default(),
            decoder: DecoderSettings::default(),
            finetune: FinetuneSettings::default(),
            recent: vec![],
            show_values: true,
            language: crate::i18n::Language::En,
            theme: Theme::Dark,
            presenter: false,
            lessons_open: false,
            lesson: String::new(),
        }
    }
}

pub const MAX_RECENT: usize = 8;

impl Settings {
    pub fn remember(&mut self, path: PathBuf) {
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(MAX_RECENT);
    }
}
