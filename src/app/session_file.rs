//! Saved sessions: a small JSON file that reproduces a view exactly (the model and its
//! SHA-256, the batch, the masks, the view and its selections, the decoding steps, the
//! theme, the language and the window size).
//!
//! This module is the file format only: the types, [`Session::load`] (untrusted input: size
//! limit, clear errors, no panics), validation and [`Session::save`]. Taking a session from
//! the app and applying one to it is `actions::session`.
//!
//! A session also carries the fine-tune view ([`FinetuneSession`]): the form, the freeze
//! choices and the finished runs with their full curves, so a figure of two runs can be drawn
//! again without training them again.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::colormap::Colormap;
use super::highlight::Highlight;
use super::settings::{
    AttentionSettings, DecoderSettings, FinetuneSettings, MasksViewSettings, Theme, ViewId,
};
use crate::fsio::{ReadError, open_regular, read_limited, write_atomically};
use crate::i18n::Language;
use crate::lessons::LessonBase;
use crate::masks::MaskSettings;
use crate::tasks::Task;

/// The `format` field of every session file this version writes and reads.
pub const FORMAT: &str = "maskscope-session-v1";
/// Larger files are refused before they are parsed (and not written).
pub const MAX_SESSION_BYTES: u64 = 16 << 20;
pub const MAX_ROWS: usize = 256;
/// Characters per source or target text.
pub const MAX_TEXT_CHARS: usize = 4096;
pub const MAX_DECODE_STEPS: usize = 4096;
/// Fine-tuning runs per session, and points per curve (the form allows 100,000 steps).
pub const MAX_RUNS: usize = 64;
pub const MAX_CURVE_POINTS: usize = 100_000;

/// The model a session was saved with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ModelRef {
    /// A model shipped with the app, by name, with the SHA-256 of its checkpoint bytes.
    Bundled { name: String, sha256: String },
    /// A checkpoint file and the SHA-256 of its bytes.
    File { path: PathBuf, sha256: String },
    /// The untrained stand-in for a missing bundled model (deterministic: seed 7).
    Untrained { task: String },
}

/// One batch row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRow {
    pub source: String,
    pub target: String,
}

/// Where the lessons panel was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonRef {
    pub id: String,
    pub step: usize,
}

/// Everything needed to show the same view again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Always [`FORMAT`].
    pub format: String,
    pub model: ModelRef,
    pub rows: Vec<SessionRow>,
    pub selected_row: usize,
    pub mask: MaskSettings,
    pub view: ViewId,
    /// Attention view: kind, layer, head, mean over heads, diff, colour range.
    pub attention: AttentionSettings,
    /// Masks view: the kind, layer and head of the scores pipeline.
    pub masks_view: MasksViewSettings,
    pub colormap: Colormap,
    pub show_values: bool,
    /// Decoding strategy and its parameters (seed included, so sampling replays exactly).
    pub decoder: DecoderSettings,
    /// Steps taken by the decoding stepper.
    pub decode_steps: usize,
    pub theme: Theme,
    pub language: Language,
    pub presenter: bool,
    /// Inner size of the window in points, if known.
    pub window_size: Option<[f32; 2]>,
    /// The lessons panel is open.
    #[serde(default)]
    pub lessons_open: bool,
    #[serde(default)]
    pub lesson: Option<LessonRef>,
    #[serde(default)]
    pub highlight: Option<Highlight>,
    /// The fine-tune view (absent in files from before runs were saved).
    #[serde(default)]
    pub finetune: Option<FinetuneSession>,
}

/// The fine-tune view: the form, the freeze choices and the finished runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneSession {
    pub form: FinetuneSettings,
    /// Frozen parameter groups by key (`src-embed`, `enc0`, `dec1-cross`, `head`, ...).
    pub frozen: Vec<String>,
    /// Learning-rate multipliers by group key (absent = 1).
    pub lr_multipliers: BTreeMap<String, f64>,
    pub runs: Vec<SessionRun>,
}

/// A finished fine-tuning run: what it was and its full curves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRun {
    pub name: String,
    pub visible: bool,
    /// `finished`, `stopped` or `failed: why`.
    pub status: String,
    /// One line: the model, the data, the learning rate, the batch, what was frozen.
    pub summary: String,
    /// The form the run was started with.
    pub settings: FinetuneSettings,
    pub frozen: Vec<String>,
    pub lr_multipliers: BTreeMap<String, f64>,
    pub trainable_parameters: usize,
    pub total_steps: usize,
    /// Index into the run colours.
    pub color: usize,
    /// One point per optimisation step.
    pub steps: StepCurves,
    /// One point per evaluation on the validation pairs.
    pub evals: EvalCurves,
    /// For a run a lesson step's preset started: the model it names and whether the run
    /// started from it (absent for other runs and in older sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson_base: Option<LessonBase>,
}

/// The per-step curves of a run, column by column (equal lengths).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepCurves {
    pub step: Column<usize>,
    pub train_loss: Column<f32>,
    pub learning_rate: Column<f64>,
}

/// The per-evaluation curves of a run, column by column (equal lengths).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalCurves {
    pub step: Column<usize>,
    pub val_loss: Column<f32>,
    pub token_accuracy: Column<f32>,
    pub exact_match: Column<f32>,
    /// The trainable weights' norm at each evaluation; empty in sessions saved before it was
    /// measured.
    #[serde(default)]
    pub weight_norm: Column<f32>,
}

/// One curve as one JSON string of numbers separated by spaces, each the shortest decimal
/// that reads back to the same bits. Why not a JSON array: serde_json (without its
/// `float_roundtrip` feature) reads numbers through `f64` arithmetic that can be off by one
/// bit for 17-digit values, so curves would not come back point for point; and pretty JSON
/// puts each array element on a line of its own, ten times the size.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Column<T>(pub Vec<T>);

impl<T: Display> Serialize for Column<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text: Vec<String> = self.0.iter().map(T::to_string).collect();
        serializer.serialize_str(&text.join(" "))
    }
}

impl<'de, T: FromStr> Deserialize<'de> for Column<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut values = vec![];
        for (i, word) in text.split_whitespace().enumerate() {
            if i >= MAX_CURVE_POINTS {
                return Err(serde::de::Error::custom(format!(
                    "a curve holds more than {MAX_CURVE_POINTS} points"
                )));
            }
            let value = word.parse().map_err(|_| {
                let shown: String = word.chars().take(24).collect();
                serde::de::Error::custom(format!(
                    "point {} of a curve ({shown:?}) is not a number of the expected kind",
                    i + 1
                ))
            })?;
            values.push(value);
        }
        Ok(Column(values))
    }
}

/// How a run's status is written: `finished`, `stopped` or `failed: why`.
pub const RUN_FINISHED: &str = "finished";
pub const RUN_STOPPED: &str = "stopped";
pub const RUN_FAILED_PREFIX: &str = "failed: ";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("could not read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("could not write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is {size} bytes; a session file is at most {limit} bytes")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{path} is not a maskscope session: {reason}")]
    NotASession { path: PathBuf, reason: String },
    #[error("{path} is a session of an unsupported format {found:?} (expected {FORMAT:?})")]
    Format { path: PathBuf, found: String },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

/// SHA-256 of bytes as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Most bytes hashed per file: the largest model file maskscope opens (a Marian folder's
/// weights). A device such as `/dev/zero` is refused before it is read.
const MAX_HASHED_BYTES: u64 = 4 << 30;

/// SHA-256 of a file's bytes (of a model folder's config and weights) as lowercase hex
/// (streamed, bounded). Anything but a regular file or a folder is refused unopened.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut add = |file: &Path| -> std::io::Result<()> {
        let (file, _) = open_regular(file).map_err(ReadError::into_io)?;
        let read = std::io::copy(&mut file.take(MAX_HASHED_BYTES + 1), &mut hasher)?;
        if read > MAX_HASHED_BYTES {
            return Err(ReadError::TooLarge {
                size: read,
                limit: MAX_HASHED_BYTES,
            }
            .into_io());
        }
        Ok(())
    };
    if path.is_dir() {
        // A model folder: what changes the views is its config and weights.
        for name in ["config.json", "model.safetensors", "pytorch_model.bin"] {
            let file = path.join(name);
            if file.symlink_metadata().is_ok() {
                add(&file)?;
            }
        }
    } else {
        add(path)?;
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Session {
    /// Reads and checks a session file (untrusted input: never panics).
    pub fn load(path: &Path) -> Result<Session, SessionError> {
        let bytes = read_limited(path, MAX_SESSION_BYTES).map_err(|e| match e {
            ReadError::TooLarge { size, limit } => SessionError::TooLarge {
                path: path.to_owned(),
                size,
                limit,
            },
            other => SessionError::Read {
                path: path.to_owned(),
                error: other.into_io(),
            },
        })?;
        Self::from_json(&bytes, path)
    }

    /// Parses and checks session JSON; `path` only names the source in errors.
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<Session, SessionError> {
        let not_a_session = |reason: String| SessionError::NotASession {
            path: path.to_owned(),
            reason,
        };
        // Editors on Windows may start UTF-8 with a byte-order mark; JSON has no use for it.
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| not_a_session(format!("not JSON ({e})")))?;
        let Some(object) = value.as_object() else {
            return Err(not_a_session("the top level is not a JSON object".into()));
        };
        match object.get("format") {
            Some(serde_json::Value::String(f)) if f == FORMAT => {}
            Some(serde_json::Value::String(f)) => {
                return Err(SessionError::Format {
                    path: path.to_owned(),
                    found: f.clone(),
                });
            }
            _ => return Err(not_a_session("it has no \"format\" field".into())),
        }
        let session: Session =
            serde_json::from_value(value).map_err(|e| SessionError::Invalid {
                path: path.to_owned(),
                problem: e.to_string(),
            })?;
        session
            .validate()
            .map_err(|problem| SessionError::Invalid {
                path: path.to_owned(),
                problem,
            })?;
        Ok(session)
    }

    fn validate(&self) -> Result<(), String> {
        if self.rows.is_empty() {
            return Err("the session has no input rows".into());
        }
        if self.rows.len() > MAX_ROWS {
            return Err(format!(
                "{} input rows (at most {MAX_ROWS})",
                self.rows.len()
            ));
        }
        for (i, r) in self.rows.iter().enumerate() {
            if r.source.chars().count() > MAX_TEXT_CHARS
                || r.target.chars().count() > MAX_TEXT_CHARS
            {
                return Err(format!(
                    "row {} is longer than {MAX_TEXT_CHARS} characters",
                    i + 1
                ));
            }
        }
        if self.selected_row >= self.rows.len() {
            return Err(format!(
                "selected_row {} but there are {} rows",
                self.selected_row,
                self.rows.len()
            ));
        }
        if self.decode_steps > MAX_DECODE_STEPS {
            return Err(format!(
                "decode_steps {} (at most {MAX_DECODE_STEPS})",
                self.decode_steps
            ));
        }
        if let Some([w, h]) = self.window_size
            && !(w.is_finite()
                && h.is_finite()
                && (100.0..=16384.0).contains(&w)
                && (100.0..=16384.0).contains(&h))
        {
            return Err(format!("window_size {w} x {h} is out of range"));
        }
        let d = &self.decoder;
        if !(d.temperature.is_finite() && d.top_p.is_finite() && d.interval.is_finite()) {
            return Err("the decoder settings hold a non-finite number".into());
        }
        if d.beam_width > crate::model::limits::MAX_BEAM_WIDTH
            || d.top_k > 100_000
            || d.top_n > 10_000
        {
            return Err("the decoder settings are out of range".into());
        }
        if let Some(f) = &self.finetune {
            f.validate()?;
        }
        let a = &self.attention;
        let m = &self.masks_view;
        if a.layer > 1024 || a.head > 1024 || m.layer > 1024 || m.head > 1024 || d.layer > 1024 {
            return Err("a layer or head index is out of range".into());
        }
        match &self.model {
            ModelRef::Bundled { name, .. } if name.is_empty() || name.len() > 64 => {
                Err("the bundled model name is invalid".into())
            }
            ModelRef::File { path, .. } if path.as_os_str().is_empty() => {
                Err("the model path is empty".into())
            }
            ModelRef::Untrained { task } if Task::parse(task).is_none() => {
                Err(format!("unknown task {task:?} for the untrained model"))
            }
            _ => Ok(()),
        }
    }

    /// Writes the session as pretty JSON, atomically (a crash never leaves half a file).
    pub fn save(&self, path: &Path) -> Result<(), SessionError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| SessionError::Write {
            path: path.to_owned(),
            error: std::io::Error::other(e),
        })?;
        if json.len() as u64 > MAX_SESSION_BYTES {
            // It could not be opened again: say so now, while the runs are still in the window.
            return Err(SessionError::Write {
                path: path.to_owned(),
                error: std::io::Error::other(format!(
                    "the session would be {} bytes, more than the {MAX_SESSION_BYTES} a session may have; delete some fine-tuning runs first",
                    json.len()
                )),
            });
        }
        write_atomically(path, &json).map_err(|error| SessionError::Write {
            path: path.to_owned(),
            error,
        })
    }

    /// The same session with its model replaced by the checkpoint at `path` (accepting
    /// that file's current hash). Used after the user located a missing or changed file.
    pub fn with_model_file(&self, path: &Path) -> std::io::Result<Session> {
        let sha256 = sha256_file(path)?;
        Ok(Session {
            model: ModelRef::File {
                path: path.to_owned(),
                sha256,
            },
            ..self.clone()
        })
    }
}

impl FinetuneSession {
    fn validate(&self) -> Result<(), String> {
        check_form(&self.form).map_err(|p| format!("the fine-tune form: {p}"))?;
        check_groups(&self.frozen, &self.lr_multipliers)
            .map_err(|p| format!("the fine-tune form: {p}"))?;
        if self.runs.len() > MAX_RUNS {
            return Err(format!(
                "{} fine-tuning runs (at most {MAX_RUNS})",
                self.runs.len()
            ));
        }
        for (i, run) in self.runs.iter().enumerate() {
            run.validate()
                .map_err(|p| format!("fine-tuning run {} ({:?}): {p}", i + 1, short(&run.name)))?;
        }
        Ok(())
    }
}

impl SessionRun {
    fn validate(&self) -> Result<(), String> {
        if self.name.chars().count() > 200 || self.summary.chars().count() > 2000 {
            return Err("its name or summary is too long".into());
        }
        let status_ok = self.status == RUN_FINISHED
            || self.status == RUN_STOPPED
            || (self.status.starts_with(RUN_FAILED_PREFIX) && self.status.chars().count() < 2000);
        if !status_ok {
            return Err(format!(
                "status {:?} is not {RUN_FINISHED:?}, {RUN_STOPPED:?} or \"{RUN_FAILED_PREFIX}...\"",
                short(&self.status)
            ));
        }
        check_form(&self.settings).map_err(|p| format!("its settings: {p}"))?;
        check_groups(&self.frozen, &self.lr_multipliers)?;
        if self.total_steps > MAX_CURVE_POINTS || self.color > 10_000 {
            return Err("total_steps or color is out of range".into());
        }
        let s = &self.steps;
        let n = s.step.0.len();
        if s.train_loss.0.len() != n || s.learning_rate.0.len() != n {
            return Err(format!(
                "the step curves differ in length (step {n}, train_loss {}, learning_rate {})",
                s.train_loss.0.len(),
                s.learning_rate.0.len()
            ));
        }
        let e = &self.evals;
        let m = e.step.0.len();
        if e.val_loss.0.len() != m || e.token_accuracy.0.len() != m || e.exact_match.0.len() != m {
            return Err(format!(
                "the evaluation curves differ in length (step {m}, val_loss {}, token_accuracy {}, exact_match {})",
                e.val_loss.0.len(),
                e.token_accuracy.0.len(),
                e.exact_match.0.len()
            ));
        }
        let norms = e.weight_norm.0.len();
        if norms != 0 && norms != m {
            return Err(format!(
                "the evaluation curves differ in length (step {m}, weight_norm {norms})"
            ));
        }
        increasing("steps.step", &s.step.0)?;
        increasing("evals.step", &e.step.0)?;
        finite(
            "steps.train_loss",
            s.train_loss.0.iter().map(|v| f64::from(*v)),
            0.0,
            1e6,
        )?;
        finite(
            "steps.learning_rate",
            s.learning_rate.0.iter().copied(),
            0.0,
            10.0,
        )?;
        finite(
            "evals.val_loss",
            e.val_loss.0.iter().map(|v| f64::from(*v)),
            0.0,
            1e6,
        )?;
        finite(
            "evals.token_accuracy",
            e.token_accuracy.0.iter().map(|v| f64::from(*v)),
            0.0,
            1.0,
        )?;
        finite(
            "evals.exact_match",
            e.exact_match.0.iter().map(|v| f64::from(*v)),
            0.0,
            1.0,
        )?;
        finite(
            "evals.weight_norm",
            e.weight_norm.0.iter().map(|v| f64::from(*v)),
            0.0,
            1e9,
        )?;
        Ok(())
    }
}

/// The first 40 characters of an untrusted string, for a message.
fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

fn increasing(name: &str, steps: &[usize]) -> Result<(), String> {
    match steps.windows(2).position(|w| w[0] >= w[1]) {
        Some(i) => Err(format!(
            "{name} is not increasing (point {} is {}, point {} is {})",
            i + 1,
            steps[i],
            i + 2,
            steps[i + 1]
        )),
        None if steps.last().is_some_and(|s| *s > MAX_CURVE_POINTS) => {
            Err(format!("{name} goes past {MAX_CURVE_POINTS}"))
        }
        None => Ok(()),
    }
}

fn finite(name: &str, values: impl Iterator<Item = f64>, min: f64, max: f64) -> Result<(), String> {
    for (i, v) in values.enumerate() {
        if !(v.is_finite() && (min..=max).contains(&v)) {
            return Err(format!(
                "point {} of {name} is {v}, outside {min}..={max}",
                i + 1
            ));
        }
    }
    Ok(())
}

/// The ranges the fine-tune form's own controls allow.
fn check_form(f: &FinetuneSettings) -> Result<(), String> {
    let in_range = |v: f64, lo: f64, hi: f64| v.is_finite() && (lo..=hi).contains(&v);
    let checks = [
        ("train_size", (1..=200_000).contains(&f.train_size)),
        ("val_size", f.val_size <= 20_000),
        (
            "val_fraction",
            in_range(f64::from(f.val_fraction), 0.0, 0.5),
        ),
        ("steps", (1..=100_000).contains(&f.steps)),
        ("batch_size", (1..=512).contains(&f.batch_size)),
        ("learning_rate", in_range(f.learning_rate, 1e-6, 1.0)),
        ("warmup", f.warmup <= 10_000),
        ("weight_decay", in_range(f.weight_decay, 0.0, 1.0)),
        ("l1", in_range(f.l1, 0.0, 1.0)),
        ("l2", in_range(f.l2, 0.0, 1.0)),
        ("clip_norm", in_range(f.clip_norm, 0.01, 100.0)),
        ("dropout", in_range(f64::from(f.dropout), 0.0, 0.5)),
        ("eval_every", (1..=10_000).contains(&f.eval_every)),
        ("eval_size", (1..=20_000).contains(&f.eval_size)),
    ];
    match checks.iter().find(|(_, ok)| !ok) {
        Some((name, _)) => Err(format!("{name} is out of range")),
        None => Ok(()),
    }
}

fn check_groups(frozen: &[String], multipliers: &BTreeMap<String, f64>) -> Result<(), String> {
    if frozen.len() > 1024 || multipliers.len() > 1024 {
        return Err("too many parameter groups".into());
    }
    let key_ok = |k: &str| {
        !k.is_empty() && k.len() <= 32 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if let Some(k) = frozen.iter().chain(multipliers.keys()).find(|k| !key_ok(k)) {
        return Err(format!("{:?} is not a parameter group key", short(k)));
    }
    if let Some((k, m)) = multipliers
        .iter()
        .find(|(_, m)| !(m.is_finite() && (0.0..=10.0).contains(*m)))
    {
        return Err(format!(
            "the learning-rate multiplier of {k} is {m}, outside 0..=10"
        ));
    }
    Ok(())
}

/// Why a session's checkpoint could not be used as saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The file (or bundled model) is not there.
    Missing,
    /// The file is there but its SHA-256 differs from the one saved in the session.
    Changed,
}

/// A session waiting for the user to locate its checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionProblem {
    pub kind: ProblemKind,
    /// What the session named (a path or a bundled model name).
    pub wanted: String,
    pub session: Session,
}

/// The window's link to session files, kept between frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionStatus {
    /// Where Ctrl+S saves again without asking.
    pub path: Option<PathBuf>,
    /// A session whose checkpoint is missing or changed, waiting for the user.
    pub problem: Option<SessionProblem>,
    /// The window's size in points, updated every frame (saved in sessions).
    pub window_size: Option<[f32; 2]>,
    /// A size a session asked for; the window applies it on its next frame.
    pub pending_window_size: Option<[f32; 2]>,
}
