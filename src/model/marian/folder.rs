//! Reading a Marian folder as the hub lays it out, with a message for every way it can be
//! incomplete or damaged. Nothing here executes code from the folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde_json::Value;

use super::{MarianConfig, MarianError, MarianResult};
use crate::sentencepiece::TokenizerFiles;

/// Largest single file read into memory (opus-mt's weights are ~300 MB).
const MAX_FILE_BYTES: u64 = 4 << 30;

pub struct FolderFiles {
    pub config: Vec<u8>,
    pub generation: Option<Vec<u8>>,
    pub tokenizer: TokenizerFiles,
    /// `model.safetensors` or, without it, `pytorch_model.bin`.
    pub weights: PathBuf,
}

pub(super) fn read_file(path: &Path) -> MarianResult<Vec<u8>> {
    crate::fsio::read_limited(path, MAX_FILE_BYTES)
        .map_err(|e| MarianError::Folder(format!("cannot read {}: {e}", path.display())))
}

/// Whether anything (a file, a folder, a pipe, a broken link) is at `path`: only then is a
/// file "present", and reading it says what is wrong with it rather than calling it missing.
fn present(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn required(folder: &Path, name: &str) -> MarianResult<Vec<u8>> {
    let path = folder.join(name);
    if !present(&path) {
        return Err(MarianError::Folder(format!(
            "{} has no {name}: a Marian model folder holds config.json, model.safetensors, source.spm, target.spm and vocab.json",
            folder.display()
        )));
    }
    read_file(&path)
}

fn optional(folder: &Path, name: &str) -> MarianResult<Option<Vec<u8>>> {
    let path = folder.join(name);
    present(&path).then(|| read_file(&path)).transpose()
}

/// Reads every small file of the folder and finds the weights.
pub fn read(folder: &Path) -> MarianResult<FolderFiles> {
    if !folder.is_dir() {
        return Err(MarianError::Folder(format!(
            "{} is not a folder",
            folder.display()
        )));
    }
    let config = required(folder, "config.json")?;
    let weights = ["model.safetensors", "pytorch_model.bin"]
        .iter()
        .map(|name| folder.join(name))
        .find(|p| present(p))
        .ok_or_else(|| {
            MarianError::Folder(format!(
                "{} has no model.safetensors (or pytorch_model.bin)",
                folder.display()
            ))
        })?;
    Ok(FolderFiles {
        config,
        generation: optional(folder, "generation_config.json")?,
        tokenizer: TokenizerFiles {
            source_spm: required(folder, "source.spm")?,
            target_spm: required(folder, "target.spm")?,
            vocab_json: required(folder, "vocab.json")?,
            target_vocab_json: optional(folder, "target_vocab.json")?,
            config_json: optional(folder, "tokenizer_config.json")?,
        },
        weights,
    })
}

/// Every tensor of the weights file, as f32. `pytorch_model.bin` goes through candle's
/// pickle reader, which only rebuilds tensors and never runs the pickle's code.
pub fn weights(
    folder: &Path,
    path: &Path,
    device: &Device,
) -> MarianResult<HashMap<String, Tensor>> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tensors: HashMap<String, Tensor> = if name.ends_with(".safetensors") {
        let bytes = read_file(path)?;
        candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| {
            MarianError::Folder(format!("{} is damaged or truncated ({e})", path.display()))
        })?
    } else {
        // candle opens the file itself: refuse a pipe or a device (and a huge file) first.
        let size = crate::fsio::regular_file(path)
            .map_err(|e| MarianError::Folder(format!("cannot read {}: {e}", path.display())))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(MarianError::Folder(format!(
                "cannot read {}: {size} bytes; at most {MAX_FILE_BYTES} are read",
                path.display()
            )));
        }
        candle_core::pickle::read_all(path)
            .map_err(|e| {
                MarianError::Folder(format!(
                    "{} could not be read as tensors ({e}); convert it to model.safetensors (transformers: save_pretrained(..., safe_serialization=True)) and put that file in {}",
                    path.display(),
                    folder.display()
                ))
            })?
            .into_iter()
            .collect()
    };
    let tensors: HashMap<String, Tensor> = tensors
        .into_iter()
        .map(|(name, t)| {
            let t = if t.dtype() == DType::F32 {
                t
            } else {
                t.to_dtype(DType::F32)?
            };
            Ok((name, t))
        })
        .collect::<candle_core::Result<_>>()
        .map_err(MarianError::Model)?;
    refuse_non_finite(path, &tensors)?;
    Ok(tensors)
}

/// A weight that is NaN or infinite would reach every output (an empty translation, null
/// logits): such a folder is refused as a broken checkpoint is.
pub(super) fn refuse_non_finite(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
) -> MarianResult<()> {
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for name in names {
        // In f64 a sum of f32 squares cannot overflow: it is finite iff every value is.
        if !crate::model::ops::sum_squares(&tensors[name])?.is_finite() {
            return Err(MarianError::Folder(format!(
                "{}: tensor `{name}` contains NaN or infinite values",
                path.display()
            )));
        }
    }
    Ok(())
}

/// A target token id from `generation_config.json`: a whole number below the target
/// vocabulary's size (a value above 2^32 must not wrap to a small id).
fn token_id(value: &Value, field: &str, config: &MarianConfig) -> Result<u32, String> {
    value
        .as_u64()
        .filter(|&id| id < config.decoder_vocab_size as u64)
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| {
            format!(
                "generation_config.json: {field} holds {value}, not a token id below the target vocabulary's {}",
                config.decoder_vocab_size
            )
        })
}

/// What `generate()` would use by default: `generation_config.json`, falling back to the
/// model config.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerationSettings {
    /// Longest output, counting the decoder start token.
    pub max_length: usize,
    pub num_beams: usize,
    /// Ids never generated (`bad_words_ids` of length one: opus-mt bans `<pad>`).
    pub banned: Vec<u32>,
    pub forced_eos: Option<u32>,
}

impl GenerationSettings {
    pub fn read(bytes: Option<&[u8]>, config: &MarianConfig) -> Result<Self, String> {
        let json: Value = match bytes {
            Some(b) => serde_json::from_slice(b)
                .map_err(|e| format!("generation_config.json is not JSON: {e}"))?,
            None => Value::Null,
        };
        let field = |name: &str| json.get(name).or_else(|| config.raw.get(name));
        let max_length = field("max_length")
            .and_then(Value::as_u64)
            .map_or(20, |v| v as usize)
            .min(config.max_position_embeddings);
        let num_beams = field("num_beams").and_then(Value::as_u64).unwrap_or(1) as usize;
        let mut banned = vec![];
        if let Some(Value::Array(lists)) = field("bad_words_ids") {
            for list in lists {
                match list.as_array().map(Vec::as_slice) {
                    Some([one]) => banned.push(token_id(one, "bad_words_ids", config)?),
                    _ => {
                        return Err(
                            "generation_config.json: bad_words_ids longer than one token are not supported"
                                .into(),
                        );
                    }
                }
            }
        }
        let forced_eos = match field("forced_eos_token_id") {
            Some(Value::Null) => None,
            Some(v) => Some(token_id(v, "forced_eos_token_id", config)?),
            None => config.forced_eos_token_id,
        };
        Ok(Self {
            max_length: max_length.max(2),
            num_beams: num_beams.clamp(1, crate::model::limits::MAX_BEAM_WIDTH),
            banned,
            forced_eos,
        })
    }
}
