//! Hostile checkpoint bytes: every malformed file is an `Err`, never a panic (a panic fails
//! the test by itself), and never a model with NaN weights.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use maskscope::model::checkpoint::{self, CheckpointError};
use maskscope::model::{Engine, ModelConfig};
use maskscope::tokenizer::{TokenizerKind, Vocab};
use proptest::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

fn config() -> ModelConfig {
    ModelConfig {
        d_model: 8,
        n_heads: 2,
        n_encoder_layers: 1,
        n_decoder_layers: 1,
        d_ff: 16,
        dropout: 0.0,
        norm_first: false,
        max_len: 6,
        tokenizer: TokenizerKind::Char,
    }
}

fn engine() -> Engine {
    Engine::new_random(config(), Vocab::build(TokenizerKind::Char, ["abc"]), 1).unwrap()
}

/// A small valid checkpoint file's bytes, written by `Engine::save` once.
fn valid_bytes() -> Vec<u8> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("tiny.safetensors");
            let mut e = engine();
            e.history = Some(serde_json::json!({"steps": 1}));
            e.save(&path).unwrap();
            std::fs::read(path).unwrap()
        })
        .clone()
}

/// One tensor as (dtype, shape, raw little-endian bytes).
type Raw = (Dtype, Vec<usize>, Vec<u8>);

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The valid model's tensors as raw f32 and its metadata.
fn parts() -> (BTreeMap<String, Raw>, HashMap<String, String>) {
    let e = engine();
    let tensors = e
        .weights()
        .into_iter()
        .map(|(name, t)| {
            let values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            (name, (Dtype::F32, t.dims().to_vec(), f32_bytes(&values)))
        })
        .collect();
    let metadata = HashMap::from([
        ("format".to_string(), checkpoint::FORMAT.to_string()),
        (
            "config".to_string(),
            serde_json::to_string(&config()).unwrap(),
        ),
        (
            "vocab".to_string(),
            serde_json::to_string(e.builtin_vocab().unwrap().tokens()).unwrap(),
        ),
    ]);
    (tensors, metadata)
}

fn build(tensors: &BTreeMap<String, Raw>, metadata: Option<HashMap<String, String>>) -> Vec<u8> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, (dtype, shape, data))| {
            (
                n.clone(),
                TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    safetensors::tensor::serialize(views, metadata).unwrap()
}

/// Parses through both public entry points; both must agree on failure.
fn must_fail(what: &str, bytes: &[u8]) -> CheckpointError {
    let parsed = checkpoint::parse(bytes);
    let engine = Engine::from_bytes(bytes);
    match (parsed, engine) {
        (Err(e), Err(_)) => e,
        (Ok(_), _) | (_, Ok(_)) => panic!("{what}: the hostile checkpoint was accepted"),
    }
}

const NAME: &str = "transformer.decoder.layers.0.self_attn.in_proj_weight";

#[test]
fn the_valid_checkpoint_parses() {
    let bytes = valid_bytes();
    let data = checkpoint::parse(&bytes).unwrap();
    assert_eq!(data.config, config());
    assert_eq!(data.history, Some(serde_json::json!({"steps": 1})));
    let (tensors, metadata) = parts();
    assert!(
        Engine::from_bytes(&build(&tensors, Some(metadata))).is_ok(),
        "the hand-built checkpoint is valid"
    );
}

#[test]
fn empty_and_tiny_files_fail() {
    for len in 0..16 {
        must_fail(&format!("{len} zero bytes"), &vec![0u8; len]);
    }
    must_fail("empty", &[]);
    must_fail("8-byte header length 0", &0u64.to_le_bytes());
    let mut just_braces = 2u64.to_le_bytes().to_vec();
    just_braces.extend_from_slice(b"{}");
    assert!(matches!(
        must_fail("no metadata", &just_braces),
        CheckpointError::MissingMetadata("format")
    ));
}

#[test]
fn every_truncation_fails() {
    let bytes = valid_bytes();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    // Every prefix through the header and a little past it, then a stride through the data.
    let mut lengths: Vec<usize> = (0..(header_end + 64).min(bytes.len())).collect();
    lengths.extend((header_end + 64..bytes.len()).step_by(7));
    lengths.push(bytes.len() - 1);
    for len in lengths {
        must_fail(
            &format!("truncated to {len} of {}", bytes.len()),
            &bytes[..len],
        );
    }
    // Trailing garbage after a valid file is refused as well.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0u8; 4]);
    must_fail("4 trailing bytes", &longer);
}

#[test]
fn flipped_header_bytes_fail() {
    let bytes = valid_bytes();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for i in 0..header_end {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0xFF;
        must_fail(&format!("byte {i} flipped"), &flipped);
    }
}

#[test]
fn flipped_data_bytes_are_read_faithfully_or_refused() {
    let bytes = valid_bytes();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let original = checkpoint::parse(&bytes).unwrap();
    let mut accepted = 0;
    for i in (header_end..bytes.len())
        .step_by(13)
        .chain([header_end + 3, bytes.len() - 1])
    {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0xFF;
        // The float containing the byte (data is a sequence of f32, 4-byte aligned from header_end).
        let start = header_end + (i - header_end) / 4 * 4;
        let value = f32::from_le_bytes(flipped[start..start + 4].try_into().unwrap());
        match checkpoint::parse(&flipped) {
            Ok(data) => {
                assert!(
                    value.is_finite(),
                    "byte {i}: a non-finite weight {value} was accepted"
                );
                // Exactly one tensor differs, and it holds the flipped value.
                let mut differing = 0;
                for (name, t) in &data.tensors {
                    let ours: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
                    let theirs: Vec<f32> = original.tensors[name]
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap();
                    let diffs: Vec<usize> = (0..ours.len())
                        .filter(|&k| ours[k].to_bits() != theirs[k].to_bits())
                        .collect();
                    if !diffs.is_empty() {
                        differing += 1;
                        assert_eq!(diffs.len(), 1);
                        assert_eq!(ours[diffs[0]].to_bits(), value.to_bits());
                    }
                }
                assert_eq!(differing, 1, "byte {i}");
                accepted += 1;
            }
            Err(CheckpointError::NonFinite { .. }) => {
                assert!(
                    !value.is_finite(),
                    "byte {i}: a finite value {value} was refused"
                );
            }
            Err(e) => panic!("byte {i}: unexpected error {e}"),
        }
    }
    assert!(accepted > 0);
    // A data byte that turns a float into NaN is refused.
    let mut flipped = bytes.clone();
    flipped[header_end..header_end + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(matches!(
        must_fail("NaN at the first float", &flipped),
        CheckpointError::NonFinite { .. }
    ));
}

#[test]
fn non_finite_weights_fail() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let (mut tensors, metadata) = parts();
        let (_, shape, data) = tensors.get_mut(NAME).unwrap();
        let mut values: Vec<f32> = data
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let middle = values.len() / 2;
        values[middle] = bad;
        *data = f32_bytes(&values);
        let _ = shape;
        let err = must_fail(&format!("{bad} weight"), &build(&tensors, Some(metadata)));
        assert!(
            matches!(&err, CheckpointError::NonFinite { name } if name == NAME),
            "{err}"
        );
    }
}

#[test]
fn wrong_shapes_and_names_fail() {
    let (tensors, metadata) = parts();
    // Wrong shape, same element count.
    let mut t = tensors.clone();
    let (_, shape, _) = t.get_mut(NAME).unwrap();
    *shape = vec![shape[1], shape[0]];
    assert!(matches!(
        must_fail("transposed shape", &build(&t, Some(metadata.clone()))),
        CheckpointError::Mismatch(_)
    ));
    // Wrong shape, different size.
    let mut t = tensors.clone();
    t.insert(NAME.into(), (Dtype::F32, vec![3, 8], f32_bytes(&[0.5; 24])));
    assert!(matches!(
        must_fail("smaller tensor", &build(&t, Some(metadata.clone()))),
        CheckpointError::Mismatch(_)
    ));
    // Flattened.
    let mut t = tensors.clone();
    let (_, shape, _) = t.get_mut("generator.weight").unwrap();
    *shape = vec![shape.iter().product()];
    must_fail("flattened", &build(&t, Some(metadata.clone())));
    // Scalar.
    let mut t = tensors.clone();
    t.insert(
        "generator.bias".into(),
        (Dtype::F32, vec![], f32_bytes(&[1.0])),
    );
    must_fail("scalar", &build(&t, Some(metadata.clone())));
    // Missing tensor.
    let mut t = tensors.clone();
    t.remove(NAME);
    assert!(matches!(
        must_fail("missing tensor", &build(&t, Some(metadata.clone()))),
        CheckpointError::Mismatch(_)
    ));
    // Every single tensor missing in turn.
    for name in tensors.keys() {
        let mut t = tensors.clone();
        t.remove(name);
        must_fail(
            &format!("without {name}"),
            &build(&t, Some(metadata.clone())),
        );
    }
    // Extra tensor.
    let mut t = tensors.clone();
    t.insert(
        "transformer.encoder.layers.1.norm1.weight".into(),
        (Dtype::F32, vec![8], f32_bytes(&[1.0; 8])),
    );
    assert!(matches!(
        must_fail("extra tensor", &build(&t, Some(metadata.clone()))),
        CheckpointError::Mismatch(_)
    ));
    let mut t = tensors.clone();
    t.insert("surprise".into(), (Dtype::F32, vec![1], f32_bytes(&[1.0])));
    must_fail("unrelated extra tensor", &build(&t, Some(metadata.clone())));
    // No tensors at all.
    must_fail("no tensors", &build(&BTreeMap::new(), Some(metadata)));
}

#[test]
fn wrong_dtypes_fail() {
    let (tensors, metadata) = parts();
    for (dtype, size) in [
        (Dtype::F16, 2),
        (Dtype::BF16, 2),
        (Dtype::F64, 8),
        (Dtype::I64, 8),
        (Dtype::I32, 4),
        (Dtype::U8, 1),
        (Dtype::BOOL, 1),
    ] {
        let mut t = tensors.clone();
        let (_, shape, _) = tensors[NAME].clone();
        let n: usize = shape.iter().product();
        // Bytes that are valid for every dtype (zeros), so only the dtype is wrong.
        t.insert(NAME.into(), (dtype, shape, vec![0u8; n * size]));
        let err = must_fail(
            &format!("{dtype:?} tensor"),
            &build(&t, Some(metadata.clone())),
        );
        assert!(
            matches!(err, CheckpointError::Mismatch(_)),
            "{dtype:?}: {err}"
        );
    }
    // Every tensor f64.
    let all: BTreeMap<String, Raw> = tensors
        .iter()
        .map(|(n, (_, shape, data))| {
            let values: Vec<u8> = data
                .chunks(4)
                .flat_map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())).to_le_bytes())
                .collect();
            (n.clone(), (Dtype::F64, shape.clone(), values))
        })
        .collect();
    must_fail("all f64", &build(&all, Some(metadata)));
}

#[test]
fn bad_metadata_fails() {
    let (tensors, metadata) = parts();
    let with = |key: &str, value: Option<&str>| {
        let mut m = metadata.clone();
        match value {
            Some(v) => m.insert(key.to_string(), v.to_string()),
            None => m.remove(key),
        };
        build(&tensors, Some(m))
    };
    assert!(matches!(
        must_fail("no metadata", &build(&tensors, None)),
        CheckpointError::MissingMetadata(_)
    ));
    assert!(matches!(
        must_fail("no config", &with("config", None)),
        CheckpointError::MissingMetadata("config")
    ));
    assert!(matches!(
        must_fail("no vocab", &with("vocab", None)),
        CheckpointError::MissingMetadata("vocab")
    ));
    // Issue 21: a wrong `format` was accepted without a word.
    assert!(matches!(
        must_fail("no format", &with("format", None)),
        CheckpointError::MissingMetadata("format")
    ));
    for wrong in ["maskscope-checkpoint-v2", "pt", ""] {
        assert!(matches!(
            must_fail(wrong, &with("format", Some(wrong))),
            CheckpointError::WrongFormat(_)
        ));
    }
    let good_config = serde_json::to_value(config()).unwrap();
    let config_with = |field: &str, value: serde_json::Value| {
        let mut c = good_config.clone();
        c[field] = value;
        c.to_string()
    };
    let bad_configs = [
        "".to_string(),
        "not json".to_string(),
        "[]".to_string(),
        "{}".to_string(),
        "null".to_string(),
        config_with("d_model", 0.into()),
        config_with("d_model", (-8).into()),
        config_with("d_model", "eight".into()),
        config_with("n_heads", 3.into()),
        config_with("n_heads", 0.into()),
        config_with("n_encoder_layers", 0.into()),
        config_with("n_decoder_layers", 100_000.into()),
        config_with("d_ff", 0.into()),
        config_with("d_model", u64::MAX.into()),
        config_with("max_len", 0.into()),
        config_with("max_len", 1_000_000_000.into()),
        config_with("dropout", 1.5.into()),
        config_with("dropout", (-0.1).into()),
        config_with("tokenizer", "bytes".into()),
        config_with("norm_first", "yes".into()),
        // Valid on its own, but not what the tensors hold.
        config_with("d_ff", 32.into()),
        config_with("n_encoder_layers", 2.into()),
        config_with("d_model", 16.into()),
    ];
    for c in &bad_configs {
        must_fail(&format!("config {c}"), &with("config", Some(c)));
    }
    // The largest config validate() allows, over tiny tensors: refused, and quickly.
    let mut huge = good_config.clone();
    for (field, value) in [
        ("d_model", 8192),
        ("n_heads", 64),
        ("n_encoder_layers", 64),
        ("n_decoder_layers", 64),
        ("d_ff", 32768),
        ("max_len", 4096),
    ] {
        huge[field] = value.into();
    }
    let started = std::time::Instant::now();
    assert!(matches!(
        must_fail("huge config", &with("config", Some(&huge.to_string()))),
        CheckpointError::Mismatch(_)
    ));
    eprintln!("huge config refused in {:?}", started.elapsed());
    let tokens: Vec<String> = engine().builtin_vocab().unwrap().tokens().to_vec();
    let vocab_with = |f: &dyn Fn(&mut Vec<String>)| {
        let mut t = tokens.clone();
        f(&mut t);
        serde_json::to_string(&t).unwrap()
    };
    let bad_vocabs = [
        "".to_string(),
        "{".to_string(),
        "{}".to_string(),
        "[1, 2, 3]".to_string(),
        "[]".to_string(),
        vocab_with(&|t| t.truncate(3)),        // missing specials
        vocab_with(&|t| t.swap(0, 1)),         // specials out of order
        vocab_with(&|t| t[5] = t[4].clone()),  // duplicate
        vocab_with(&|t| t[5] = String::new()), // empty token
        vocab_with(&|t| t[5] = "ab".into()),   // two chars for a char tokenizer
        vocab_with(&|t| t.push("z".into())),   // one more token than the embedding has
        vocab_with(&|t| {
            t.pop();
        }), // one fewer
    ];
    for v in &bad_vocabs {
        must_fail(&format!("vocab {v}"), &with("vocab", Some(v)));
    }
    // History is optional: garbage there is ignored, not fatal.
    let data = checkpoint::parse(&with("history", Some("not json"))).unwrap();
    assert_eq!(data.history, None);
}

#[test]
fn huge_header_lengths_fail() {
    let bytes = valid_bytes();
    for claimed in [
        u64::MAX,
        u64::MAX - 7,
        1 << 40,
        1 << 32,
        100_000_001,
        bytes.len() as u64,
        bytes.len() as u64 - 7,
    ] {
        let mut b = bytes.clone();
        b[..8].copy_from_slice(&claimed.to_le_bytes());
        must_fail(&format!("header length {claimed}"), &b);
    }
    // A small claimed length: the header is cut mid-JSON.
    let mut b = bytes.clone();
    b[..8].copy_from_slice(&10u64.to_le_bytes());
    must_fail("header length 10", &b);
}

#[test]
fn data_offsets_out_of_range_fail() {
    let bytes = valid_bytes();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data_len = bytes.len() - 8 - n;
    let rebuilt = |header: &serde_json::Value| {
        let text = header.to_string();
        let mut out = (text.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(&bytes[8 + n..]);
        out
    };
    let hostile_offsets = [
        serde_json::json!([0, data_len + 4]),
        serde_json::json!([8, 4]),
        serde_json::json!([u64::MAX - 3, u64::MAX]),
        serde_json::json!([0, 0]),
        serde_json::json!([-4, 0]),
        serde_json::json!("zero"),
    ];
    for offsets in hostile_offsets {
        let mut h = header.clone();
        h[NAME]["data_offsets"] = offsets.clone();
        must_fail(&format!("offsets {offsets}"), &rebuilt(&h));
    }
    // A shape whose element count overflows.
    let mut h = header.clone();
    h[NAME]["shape"] = serde_json::json!([u64::MAX, u64::MAX]);
    must_fail("overflowing shape", &rebuilt(&h));
    // An unknown dtype string.
    let mut h = header.clone();
    h[NAME]["dtype"] = serde_json::json!("F128");
    must_fail("unknown dtype", &rebuilt(&h));
    // Metadata that is not a string map.
    let mut h = header.clone();
    h["__metadata__"]["config"] = serde_json::json!({"d_model": 8});
    must_fail("config as an object", &rebuilt(&h));
    // Sanity: the rebuilt original still parses.
    assert!(checkpoint::parse(&rebuilt(&header)).is_ok());
}

#[test]
fn files_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        checkpoint::read_file(&dir.path().join("missing.safetensors")),
        Err(CheckpointError::Read { .. })
    ));
    assert!(
        checkpoint::read_file(dir.path()).is_err(),
        "a directory is not a checkpoint"
    );
    assert!(Engine::load(&dir.path().join("missing.safetensors")).is_err());
    let junk = dir.path().join("junk.safetensors");
    maskscope::fsio::write_atomically(&junk, b"definitely not safetensors").unwrap();
    assert_eq!(std::fs::read(&junk).unwrap(), b"definitely not safetensors");
    assert!(matches!(
        Engine::load(&junk),
        Err(CheckpointError::NotSafetensors(_))
    ));
    // Writing into a missing directory is an error, not a panic.
    assert!(
        engine()
            .save(&dir.path().join("no/such/dir/x.safetensors"))
            .is_err()
    );
}

/// Runs `work` on a thread and fails (instead of hanging) if it takes more than 30 s; a
/// FIFO that `work` blocked on is then opened for writing so the thread can end.
#[cfg(unix)]
fn within_30s<T: Send + 'static>(
    fifo: &std::path::Path,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(work()));
    match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(value) => value,
        Err(_) => {
            let _ = std::fs::OpenOptions::new().write(true).open(fifo);
            panic!("{} was opened and blocked", fifo.display());
        }
    }
}

/// A FIFO, a device or a folder as a checkpoint is refused before it is opened (issue 21:
/// a FIFO blocked for ever, `/dev/zero` read 1 GiB first), with a message saying what it is.
#[cfg(unix)]
#[test]
fn a_fifo_a_device_or_a_folder_is_refused_unopened() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.safetensors");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("no mkfifo here; skipped");
        return;
    }
    let path = fifo.clone();
    let err = within_30s(&fifo, move || {
        Engine::load(&path).err().map(|e| e.to_string())
    });
    let err = err.expect("a FIFO is not a checkpoint");
    assert!(err.contains("named pipe (FIFO), not a file"), "{err}");
    let started = std::time::Instant::now();
    let err = Engine::load(std::path::Path::new("/dev/zero"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("a device, not a file"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "nothing was read"
    );
    let err = Engine::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("a folder, not a file"), "{err}");
    // The OS error is printed once, not also as the error's source.
    let Err(missing) = checkpoint::read_file(&dir.path().join("missing")) else {
        panic!("a missing file loaded");
    };
    assert!(std::error::Error::source(&missing).is_none(), "{missing}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_fail(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        must_fail("random bytes", &bytes);
    }

    #[test]
    fn random_bytes_behind_a_plausible_length_fail(body in proptest::collection::vec(any::<u8>(), 0..600), claimed in 0u64..700) {
        let mut bytes = claimed.to_le_bytes().to_vec();
        bytes.extend_from_slice(&body);
        must_fail("random body", &bytes);
    }

    #[test]
    fn random_corruption_of_a_valid_file_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = valid_bytes();
        let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        for (at, value) in edits {
            let i = at % header_end;
            bytes[i] = value;
        }
        // Header edits may by chance keep the file valid (e.g. a space becomes another
        // space); whatever parses must be a usable, finite model.
        if let Ok(engine) = Engine::from_bytes(&bytes) {
            for t in engine.weights().values() {
                prop_assert!(t.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|v| v.is_finite()));
            }
        }
    }
}
