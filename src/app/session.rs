//! Saved sessions: a small JSON file that reproduces a view exactly (the model and its
//! SHA-256, the batch, the masks, the view and its selections, the decoding steps, the
//! theme, the language and the window size).
//!
//! [`Session::load`] treats the file as untrusted (size limit, clear errors, no panics), and
//! neither it nor [`Session::apply`] needs a window: the headless `maskscope render` command
//! uses them on a fresh [`AppState`].

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bundled::{self, Bundled};
use super::classroom::{Highlight, ProblemKind, SessionProblem, redecode};
use super::settings::{AttentionSettings, DecoderSettings, MasksViewSettings, Theme, ViewId};
use super::state::{AppState, InputRow, ModelInfo, ModelOrigin};
use super::widgets::colormap::Colormap;
use crate::i18n::{Language, trf};
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

/// SHA-256 of a file's bytes as lowercase hex (streamed).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Session {
    /// The session of what `state` shows now. `window_size` is the window's inner size in
    /// points (`None` headless).
    pub fn capture(state: &AppState, window_size: Option<[f32; 2]>) -> Session {
        let s = &state.settings;
        let model = match &state.model.origin {
            ModelOrigin::Bundled(name) => ModelRef::Bundled {
                name: (*name).to_owned(),
                sha256: Bundled::by_name(name)
                    .and_then(Bundled::bytes)
                    .map(sha256_hex)
                    .unwrap_or_default(),
            },
            ModelOrigin::File(path) => ModelRef::File {
                path: path.clone(),
                sha256: sha256_file(path).unwrap_or_default(),
            },
            ModelOrigin::Random { .. } => ModelRef::Untrained {
                task: bundled::DATES.task.name().to_owned(),
            },
        };
        let lesson = state
            .classroom
            .applied
            .then(|| state.classroom.current_lesson())
            .flatten()
            .map(|l| LessonRef {
                id: l.id.clone(),
                step: state.classroom.step,
            });
        Session {
            format: FORMAT.to_owned(),
            model,
            rows: state
                .rows
                .iter()
                .map(|r| SessionRow {
                    source: r.src.clone(),
                    target: r.tgt.clone(),
                })
                .collect(),
            selected_row: state.selected_row,
            mask: s.mask,
            view: s.view,
            attention: s.attention.clone(),
            masks_view: s.masks_view.clone(),
            colormap: s.colormap,
            show_values: s.show_values,
            decoder: s.decoder.clone(),
            decode_steps: state.stepper.steps().len(),
            theme: s.theme,
            language: s.language,
            presenter: s.presenter,
            window_size,
            lessons_open: s.lessons_open,
            lesson,
            highlight: state.classroom.highlight,
        }
    }

    /// A warning to show when saving `state`: a fine-tuned model that is not saved cannot
    /// be reproduced from its file.
    pub fn capture_warning(state: &AppState) -> Option<String> {
        state.model.modified.then(|| {
            trf(
                "the model was fine-tuned and not saved; the session refers to {} as it is on disk, so save the model first to reproduce this view",
                &[&state.model.name],
            )
        })
    }

    /// Reads and checks a session file (untrusted input: never panics).
    pub fn load(path: &Path) -> Result<Session, SessionError> {
        let read_err = |source| SessionError::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let size = file.metadata().map_err(read_err)?.len();
        if size > MAX_SESSION_BYTES {
            return Err(SessionError::TooLarge {
                path: path.to_owned(),
                size,
                limit: MAX_SESSION_BYTES,
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(MAX_SESSION_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_SESSION_BYTES {
            return Err(SessionError::TooLarge {
                path: path.to_owned(),
                size: bytes.len() as u64,
                limit: MAX_SESSION_BYTES,
            });
        }
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
        crate::model::checkpoint::write_atomically(path, &json).map_err(|source| {
            SessionError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }

    /// Reproduces the session in `state`: re-opens the model if needed, replaces the batch,
    /// sets masks, view and selections, re-runs the forward pass and re-takes the decoding
    /// steps. Sets the language (process-wide). Returns what could not be reproduced; a
    /// missing or changed checkpoint also leaves a [`SessionProblem`] in
    /// `state.classroom.session_problem` for the window to offer locating the file.
    pub fn apply(&self, state: &mut AppState) -> Vec<String> {
        let mut warnings = vec![];
        state.classroom.session_problem = None;
        self.apply_model(state, &mut warnings);

        state.rows = self
            .rows
            .iter()
            .map(|r| InputRow {
                src: r.source.clone(),
                tgt: r.target.clone(),
            })
            .collect();
        state.selected_row = self.selected_row.min(state.rows.len().saturating_sub(1));
        let s = &mut state.settings;
        s.mask = self.mask;
        s.view = self.view;
        s.attention = self.attention.clone();
        s.masks_view = self.masks_view.clone();
        s.colormap = self.colormap;
        s.show_values = self.show_values;
        s.decoder = self.decoder.clone();
        s.theme = self.theme;
        s.presenter = self.presenter;
        s.lessons_open = self.lessons_open;
        s.language = self.language;
        crate::i18n::set_language(self.language);
        state.pinned = None;
        state.invalidate();
        state.refresh();
        if let Some(e) = &state.inspect_error {
            warnings.push(e.clone());
        }

        let taken = redecode(state, self.decode_steps);
        if taken < self.decode_steps {
            warnings.push(trf(
                "decoding stopped after {} of the session's {} steps",
                &[&taken, &self.decode_steps],
            ));
        }
        if let Some(e) = &state.stepper.error {
            warnings.push(e.clone());
        }

        let c = &mut state.classroom;
        c.highlight = self.highlight;
        c.applied = false;
        if let Some(l) = &self.lesson {
            match c.lessons.iter().position(|x| x.id == l.id) {
                Some(i) => {
                    c.lesson = i;
                    c.step = l.step.min(c.lessons[i].steps.len().saturating_sub(1));
                    c.applied = true;
                    state.settings.lesson = l.id.clone();
                }
                None => warnings.push(trf("unknown lesson {}", &[&l.id])),
            }
        }
        state.classroom.pending_window_size = self.window_size;
        warnings
    }

    fn apply_model(&self, state: &mut AppState, warnings: &mut Vec<String>) {
        let unchanged = |state: &AppState, origin: &ModelOrigin| {
            &state.model.origin == origin && !state.model.modified
        };
        match &self.model {
            ModelRef::Bundled { name, sha256 } => {
                let Some(b) = Bundled::by_name(name) else {
                    warnings.push(trf(
                        "the session's bundled model {} is unknown to this version",
                        &[name],
                    ));
                    self.problem(state, ProblemKind::Missing, name);
                    return;
                };
                let Some(bytes) = b.bytes() else {
                    warnings.push(trf(
                        "the bundled {} model is not available in this build",
                        &[name],
                    ));
                    self.problem(state, ProblemKind::Missing, name);
                    return;
                };
                if !sha256.is_empty() && &sha256_hex(bytes) != sha256 {
                    warnings.push(trf(
                        "the bundled {} model differs from the one the session was saved with (SHA-256 changed); the views may differ",
                        &[name],
                    ));
                }
                if !unchanged(state, &ModelOrigin::Bundled(b.name)) && !state.open_bundled(b) {
                    warnings.push(state.last_error().unwrap_or_default().to_owned());
                }
            }
            ModelRef::File { path, sha256 } => {
                let shown = path.display().to_string();
                if !path.is_file() {
                    warnings.push(trf("the model file {} was not found", &[&shown]));
                    self.problem(state, ProblemKind::Missing, &shown);
                    return;
                }
                match sha256_file(path) {
                    Err(e) => {
                        warnings.push(trf("could not read {}: {}", &[&shown, &e]));
                        self.problem(state, ProblemKind::Missing, &shown);
                        return;
                    }
                    Ok(actual) if &actual != sha256 => {
                        warnings.push(trf(
                            "the model file {} has changed since the session was saved (SHA-256 differs)",
                            &[&shown],
                        ));
                        self.problem(state, ProblemKind::Changed, &shown);
                        if !state.open_model(path) {
                            warnings.push(state.last_error().unwrap_or_default().to_owned());
                        }
                        return;
                    }
                    Ok(_) => {}
                }
                if !unchanged(state, &ModelOrigin::File(path.clone())) && !state.open_model(path) {
                    warnings.push(state.last_error().unwrap_or_default().to_owned());
                }
            }
            ModelRef::Untrained { task } => {
                let untrained = matches!(state.model.origin, ModelOrigin::Random { .. })
                    && !state.model.modified;
                if !untrained {
                    let task = Task::parse(task).unwrap_or(Task::Dates);
                    let engine = bundled::random_model(task);
                    let info = ModelInfo {
                        name: format!("untrained {} model", task.name()),
                        origin: ModelOrigin::Random {
                            reason: "requested by a session".into(),
                        },
                        modified: false,
                    };
                    if !state.set_model(engine, info, None) {
                        warnings.push(state.last_error().unwrap_or_default().to_owned());
                    }
                }
            }
        }
    }

    fn problem(&self, state: &mut AppState, kind: ProblemKind, wanted: &str) {
        state.classroom.session_problem = Some(SessionProblem {
            kind,
            wanted: wanted.to_owned(),
            session: self.clone(),
        });
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

// -------------------------------------------------------------------------------------------
// The window's actions (file dialogs land here via `AppState::handle_path`).

/// Saves what `state` shows to `path`; messages go to the status bar.
pub fn save_to(state: &mut AppState, path: &Path) -> bool {
    let session = Session::capture(state, state.classroom.window_size);
    if let Some(w) = Session::capture_warning(state) {
        state.error(w);
    }
    match session.save(path) {
        Ok(()) => {
            state.classroom.session_path = Some(path.to_owned());
            state.info(trf("saved the session to {}", &[&path.display()]));
            true
        }
        Err(e) => {
            state.error(e.to_string());
            false
        }
    }
}

/// Loads and applies the session at `path`; messages go to the status bar.
pub fn open_from(state: &mut AppState, path: &Path) -> bool {
    match Session::load(path) {
        Ok(session) => {
            let warnings = session.apply(state);
            state.classroom.session_path = Some(path.to_owned());
            state.info(trf("opened the session {}", &[&path.display()]));
            for w in warnings {
                state.error(w);
            }
            true
        }
        Err(e) => {
            state.error(e.to_string());
            false
        }
    }
}

/// The user picked `path` for the model of the session waiting in `session_problem`.
pub fn locate_model(state: &mut AppState, path: &Path) {
    let Some(problem) = state.classroom.session_problem.take() else {
        return;
    };
    let original = match &problem.session.model {
        ModelRef::File { sha256, .. } | ModelRef::Bundled { sha256, .. } => sha256.clone(),
        ModelRef::Untrained { .. } => String::new(),
    };
    match problem.session.with_model_file(path) {
        Ok(session) => {
            if let ModelRef::File { sha256, .. } = &session.model
                && !original.is_empty()
                && *sha256 != original
            {
                state.error(trf(
                    "{} is not the file the session was saved with (SHA-256 differs); using it anyway",
                    &[&path.display()],
                ));
            }
            for w in session.apply(state) {
                state.error(w);
            }
        }
        Err(e) => {
            state.error(trf("could not read {}: {}", &[&path.display(), &e]));
            state.classroom.session_problem = Some(problem);
        }
    }
}
