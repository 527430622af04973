//! Saved sessions: a small JSON file that reproduces a view exactly (the model and its
//! SHA-256, the batch, the masks, the view and its selections, the decoding steps, the
//! theme, the language and the window size).
//!
//! This module is the file format only: the types, [`Session::load`] (untrusted input: size
//! limit, clear errors, no panics), validation and [`Session::save`]. Taking a session from
//! the app and applying one to it is `actions::session`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::colormap::Colormap;
use super::highlight::Highlight;
use super::settings::{AttentionSettings, DecoderSettings, MasksViewSettings, Theme, ViewId};
use crate::fsio::{ReadError, read_limited, write_atomically};
use crate::i18n::Language;
use crate::masks::MaskSettings;
use crate::tasks::Task;

/// The `format` field of every session file this version writes and reads.
pub const FORMAT: &str = "maskscope-session-v1";
/// Larger files are refused before they are parsed.
pub const MAX_SESSION_BYTES: u64 = 1 << 20;
pub const MAX_ROWS: usize = 256;
/// Characters per source or target text.
pub const MAX_TEXT_CHARS: usize = 4096;
pub const MAX_DECODE_STEPS: usize = 4096;

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
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
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

/// SHA-256 of a file's bytes (of a model folder's config and weights) as lowercase hex
/// (streamed).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    if path.is_dir() {
        // A model folder: what changes the views is its config and weights.
        for name in ["config.json", "model.safetensors", "pytorch_model.bin"] {
            if let Ok(mut file) = std::fs::File::open(path.join(name)) {
                std::io::copy(&mut file, &mut hasher)?;
            }
        }
    } else {
        std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
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
            ReadError::Io(source) => SessionError::Read {
                path: path.to_owned(),
                source,
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
        if d.beam_width > 64 || d.top_k > 100_000 || d.top_n > 10_000 {
            return Err("the decoder settings are out of range".into());
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
            source: std::io::Error::other(e),
        })?;
        write_atomically(path, &json).map_err(|source| SessionError::Write {
            path: path.to_owned(),
            source,
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
