//! Checkpoints are PyTorch-compatible `.safetensors` files: the tensors are the
//! `state_dict()` of the module in docs/checkpoint-format.md, and the metadata holds
//! `config` and `vocab` as JSON (plus an optional training `history`). Every byte read is
//! untrusted: any problem is a [`CheckpointError`], never a panic.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use safetensors::SafeTensors;

use super::config::ModelConfig;
use crate::fsio::{ReadError, read_limited, write_atomically};
use crate::tokenizer::Vocab;

pub const FORMAT: &str = "maskscope-checkpoint-v1";
/// Larger files are refused before reading: the biggest model maskscope trains is far smaller.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0} is larger than the 1 GiB maskscope accepts for a checkpoint")]
    TooLarge(PathBuf),
    #[error("not a valid safetensors file: {0}")]
    NotSafetensors(String),
    #[error(
        "the checkpoint has no `{0}` metadata; maskscope checkpoints store `format`, `config` and `vocab` (see docs/checkpoint-format.md)"
    )]
    MissingMetadata(&'static str),
    #[error(
        "the checkpoint's format is {0:?}; maskscope reads {FORMAT:?} (see docs/checkpoint-format.md)"
    )]
    WrongFormat(String),
    #[error("invalid config in checkpoint: {0}")]
    BadConfig(String),
    /// A config built from options (the command line, the window), not read from a file.
    #[error("invalid model config: {0}")]
    InvalidConfig(String),
    #[error("invalid vocab in checkpoint: {0}")]
    BadVocab(String),
    #[error("the checkpoint does not match its config: {0}")]
    Mismatch(String),
    #[error("tensor `{name}` contains NaN or infinite values")]
    NonFinite { name: String },
    #[error("model error: {0}")]
    Model(#[from] candle_core::Error),
    #[error(transparent)]
    Limit(#[from] super::limits::LimitError),
    /// A Marian model folder that could not be opened or saved (its message only:
    /// `checkpoint` must not import `marian`, which imports it; see `engine`'s `From`).
    #[error("{0}")]
    Folder(String),
}

/// What a checkpoint file holds once validated.
pub struct CheckpointData {
    pub config: ModelConfig,
    pub vocab: Vocab,
    pub history: Option<serde_json::Value>,
    pub tensors: HashMap<String, Tensor>,
}

/// Reads and validates a checkpoint file. At most [`MAX_FILE_BYTES`] are read, also from a
/// FIFO or a pipe (which declare a size of 0).
pub fn read_file(path: &Path) -> Result<CheckpointData, CheckpointError> {
    let bytes = read_limited(path, MAX_FILE_BYTES).map_err(|e| match e {
        ReadError::TooLarge { .. } => CheckpointError::TooLarge(path.into()),
        other => CheckpointError::Read {
            path: path.into(),
            error: other.into_io(),
        },
    })?;
    parse(&bytes)
}

/// Parses and validates checkpoint bytes against the parameter shapes their config implies.
pub fn parse(bytes: &[u8]) -> Result<CheckpointData, CheckpointError> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| CheckpointError::NotSafetensors(e.to_string()))?;
    let files = SafeTensors::deserialize(bytes)
        .map_err(|e| CheckpointError::NotSafetensors(e.to_string()))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    match metadata.get("format") {
        Some(format) if format == FORMAT => {}
        Some(other) => return Err(CheckpointError::WrongFormat(other.clone())),
        None => return Err(CheckpointError::MissingMetadata("format")),
    }
    let config_json = metadata
        .get("config")
        .ok_or(CheckpointError::MissingMetadata("config"))?;
    let vocab_json = metadata
        .get("vocab")
        .ok_or(CheckpointError::MissingMetadata("vocab"))?;
    let config: ModelConfig =
        serde_json::from_str(config_json).map_err(|e| CheckpointError::BadConfig(e.to_string()))?;
    config.validate().map_err(CheckpointError::BadConfig)?;
    let tokens: Vec<String> =
        serde_json::from_str(vocab_json).map_err(|e| CheckpointError::BadVocab(e.to_string()))?;
    let vocab = Vocab::new(config.tokenizer, tokens)
        .map_err(|e| CheckpointError::BadVocab(e.to_string()))?;
    let history = metadata
        .get("history")
        .and_then(|h| serde_json::from_str(h).ok());

    let expected = super::expected_shapes(&config, vocab.len())?;
    let found: BTreeMap<String, Vec<usize>> = files
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec()))
        .collect();
    check_names_and_shapes(&expected, &found)?;

    let mut tensors = HashMap::new();
    for (name, view) in files.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(CheckpointError::Mismatch(format!(
                "tensor `{name}` is {:?}; maskscope checkpoints are float32",
                view.dtype()
            )));
        }
        let tensor = Tensor::from_raw_buffer(view.data(), DType::F32, view.shape(), &Device::Cpu)?;
        let finite = tensor
            .flatten_all()?
            .to_vec1::<f32>()?
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return Err(CheckpointError::NonFinite { name });
        }
        tensors.insert(name, tensor);
    }
    Ok(CheckpointData {
        config,
        vocab,
        history,
        tensors,
    })
}

fn check_names_and_shapes(
    expected: &BTreeMap<String, Vec<usize>>,
    found: &BTreeMap<String, Vec<usize>>,
) -> Result<(), CheckpointError> {
    let missing: Vec<&str> = expected
        .keys()
        .filter(|k| !found.contains_key(*k))
        .map(String::as_str)
        .collect();
    let unexpected: Vec<&str> = found
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .map(String::as_str)
        .collect();
    let listed = |names: &[&str]| {
        let shown: Vec<&str> = names.iter().take(5).copied().collect();
        let more = names.len().saturating_sub(5);
        format!(
            "{}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    };
    if !missing.is_empty() {
        return Err(CheckpointError::Mismatch(format!(
            "{} tensor(s) missing: {}",
            missing.len(),
            listed(&missing)
        )));
    }
    if !unexpected.is_empty() {
        return Err(CheckpointError::Mismatch(format!(
            "{} unexpected tensor(s): {}",
            unexpected.len(),
            listed(&unexpected)
        )));
    }
    for (name, shape) in expected {
        if &found[name] != shape {
            return Err(CheckpointError::Mismatch(format!(
                "tensor `{name}` has shape {:?}, the config needs {:?}",
                found[name], shape
            )));
        }
    }
    Ok(())
}

/// Serialises tensors and metadata and writes them atomically (temp file, fsync, rename);
/// a NaN or infinite value is refused and nothing is written.
pub fn write_file(
    path: &Path,
    config: &ModelConfig,
    vocab: &Vocab,
    history: Option<&serde_json::Value>,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<(), CheckpointError> {
    // Never write a model that could not be opened again (NaN is refused on reading).
    for (name, tensor) in tensors {
        if !super::ops::sum_squares(tensor)?.is_finite() {
            return Err(CheckpointError::NonFinite { name: name.clone() });
        }
    }
    let mut metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        (
            "config".to_string(),
            serde_json::to_string(config).map_err(|e| CheckpointError::BadConfig(e.to_string()))?,
        ),
        (
            "vocab".to_string(),
            serde_json::to_string(vocab.tokens())
                .map_err(|e| CheckpointError::BadVocab(e.to_string()))?,
        ),
    ]);
    if let Some(history) = history {
        metadata.insert("history".to_string(), history.to_string());
    }
    let bytes = safetensors::tensor::serialize(
        tensors.iter().map(|(k, v)| (k.as_str(), v)),
        Some(metadata),
    )
    .map_err(|e| CheckpointError::NotSafetensors(e.to_string()))?;
    write_atomically(path, &bytes).map_err(|error| CheckpointError::Write {
        path: path.into(),
        error,
    })
}
