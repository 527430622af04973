//! Broken Marian folders give a clear message naming what is wrong, never a panic.

use std::path::{Path, PathBuf};

use maskscope::model::marian::MarianModel;
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marian/en-zh")
}

/// A copy of the en-zh fixture that `damage` may break.
fn broken_copy(damage: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    damage(dir.path());
    dir
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    let mut value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(value.as_object_mut().unwrap());
    std::fs::write(path, serde_json::to_vec(&value).unwrap()).unwrap();
}

fn load_error(folder: &Path) -> String {
    match MarianModel::load(folder) {
        Ok(_) => panic!("{} loaded although it is broken", folder.display()),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(message: &str, words: &[&str]) {
    for word in words {
        assert!(
            message.contains(word),
            "{message:?} does not mention {word:?}"
        );
    }
}

#[test]
fn the_fixture_itself_loads() {
    MarianModel::load(&fixture()).unwrap();
}

#[test]
fn a_missing_folder_or_file_is_named() {
    assert_mentions(
        &load_error(Path::new("/nonexistent/opus-mt")),
        &["not a folder"],
    );
    for file in ["config.json", "source.spm", "target.spm", "vocab.json"] {
        let dir = broken_copy(|d| std::fs::remove_file(d.join(file)).unwrap());
        assert_mentions(&load_error(dir.path()), &[file]);
    }
    let dir = broken_copy(|d| std::fs::remove_file(d.join("model.safetensors")).unwrap());
    assert_mentions(&load_error(dir.path()), &["model.safetensors"]);
}

#[test]
fn an_unknown_model_type_is_refused_by_name() {
    let dir = broken_copy(|d| {
        edit_json(&d.join("config.json"), |c| {
            c.insert("model_type".into(), "t5".into());
        })
    });
    assert_mentions(&load_error(dir.path()), &["model_type", "t5"]);
}

#[test]
fn config_fields_transformers_marian_does_not_compute_are_refused_by_name() {
    for (field, value) in [
        ("normalize_before", Value::Bool(true)),
        ("add_final_layer_norm", Value::Bool(true)),
        ("normalize_embedding", Value::Bool(true)),
        ("static_position_embeddings", Value::Bool(false)),
        ("activation_function", Value::from("gelu_new")),
    ] {
        let dir = broken_copy(|d| {
            edit_json(&d.join("config.json"), |c| {
                c.insert(field.into(), value.clone());
            })
        });
        assert_mentions(&load_error(dir.path()), &[field]);
    }
}

#[test]
fn a_vocabulary_that_disagrees_with_the_weights_is_refused() {
    let dir = broken_copy(|d| {
        edit_json(&d.join("vocab.json"), |v| {
            v.insert("▁extra".into(), 5000.into());
        })
    });
    assert_mentions(&load_error(dir.path()), &["vocab.json", "vocab_size"]);
    // Weights of another size than the config says.
    let dir = broken_copy(|d| {
        edit_json(&d.join("config.json"), |c| {
            c.insert("vocab_size".into(), 400.into());
            c.insert("decoder_vocab_size".into(), 400.into());
        })
    });
    assert_mentions(
        &load_error(dir.path()),
        &["model.shared.weight", "config.json"],
    );
}

#[test]
fn a_truncated_safetensors_file_is_refused() {
    let dir = broken_copy(|d| {
        let path = d.join("model.safetensors");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    });
    assert_mentions(&load_error(dir.path()), &["model.safetensors", "truncated"]);
}

#[test]
fn a_huge_d_model_is_refused_before_allocating() {
    let dir = broken_copy(|d| {
        edit_json(&d.join("config.json"), |c| {
            c.insert("d_model".into(), 1_000_000.into());
        })
    });
    assert_mentions(&load_error(dir.path()), &["d_model"]);
    let dir = broken_copy(|d| {
        edit_json(&d.join("config.json"), |c| {
            c.insert("d_model".into(), 4096.into());
            c.insert("vocab_size".into(), 900_000.into());
        })
    });
    assert_mentions(&load_error(dir.path()), &["parameters"]);
}

#[test]
fn an_unreadable_pytorch_bin_points_to_safetensors() {
    let dir = broken_copy(|d| {
        std::fs::remove_file(d.join("model.safetensors")).unwrap();
        std::fs::write(d.join("pytorch_model.bin"), b"not a pickle at all").unwrap();
    });
    assert_mentions(
        &load_error(dir.path()),
        &["pytorch_model.bin", "model.safetensors"],
    );
}

#[test]
fn a_damaged_sentencepiece_model_is_refused() {
    let dir = broken_copy(|d| {
        let path = d.join("source.spm");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    });
    assert_mentions(&load_error(dir.path()), &["source.spm"]);
}

#[test]
fn beam_search_wider_than_the_cap_is_refused() {
    let model = MarianModel::load(&fixture()).unwrap();
    let src = model
        .tokenizer
        .encode("hello", maskscope::sentencepiece::Side::Source)
        .ids;
    let err = model.beam_search(&src, 100_000).unwrap_err().to_string();
    assert_mentions(&err, &["--beam-width", "64"]);
    assert!(model.beam_search(&src, 2).is_ok());
}

/// A NaN or infinite weight is refused as in a maskscope checkpoint (issue 21: it loaded
/// and decoded to an empty line).
#[test]
fn non_finite_weights_are_refused() {
    for bad in [f32::NAN, f32::INFINITY] {
        let dir = broken_copy(|d| {
            let path = d.join("model.safetensors");
            let bytes = std::fs::read(&path).unwrap();
            let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
                .tensors()
                .into_iter()
                .map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec()))
                .collect();
            owned.sort();
            let (_, _, data) = owned
                .iter_mut()
                .find(|(n, _, _)| n.contains("fc1.weight"))
                .unwrap();
            data[..4].copy_from_slice(&bad.to_le_bytes());
            let views: Vec<(String, safetensors::tensor::TensorView)> = owned
                .iter()
                .map(|(n, s, d)| {
                    let view =
                        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                            .unwrap();
                    (n.clone(), view)
                })
                .collect();
            safetensors::tensor::serialize_to_file(views, None, &path).unwrap();
        });
        assert_mentions(&load_error(dir.path()), &["fc1.weight", "NaN or infinite"]);
    }
}

/// A folder, a FIFO or a symbolic-link loop where a file should be is named for what it
/// is, never "missing", and never opened (a FIFO would block for ever).
#[cfg(unix)]
#[test]
fn a_file_that_is_not_a_regular_file_is_named_not_missing() {
    for (file, what) in [
        ("config.json", "named pipe"),
        ("vocab.json", "folder"),
        ("source.spm", "symbolic links"),
        ("model.safetensors", "named pipe"),
    ] {
        let dir = broken_copy(|d| {
            let path = d.join(file);
            std::fs::remove_file(&path).unwrap();
            match what {
                "named pipe" => assert!(
                    std::process::Command::new("mkfifo")
                        .arg(&path)
                        .status()
                        .unwrap()
                        .success()
                ),
                "folder" => std::fs::create_dir(&path).unwrap(),
                _ => std::os::unix::fs::symlink(&path, &path).unwrap(),
            }
        });
        let message = load_error(dir.path());
        assert_mentions(&message, &[file, what]);
        assert!(!message.contains("has no"), "{message}");
    }
}

/// Issue 21: `bad_words_ids` above 2^32 wrapped to a small id (2^32 + 1 banned token 1).
#[test]
fn token_ids_that_do_not_fit_are_refused_not_wrapped() {
    for (field, value) in [
        ("bad_words_ids", serde_json::json!([[4_294_967_297u64]])),
        ("bad_words_ids", serde_json::json!([[-1]])),
        ("forced_eos_token_id", serde_json::json!(4_294_967_296u64)),
    ] {
        let dir = broken_copy(|d| {
            edit_json(&d.join("generation_config.json"), |c| {
                c.insert(field.into(), value.clone());
            })
        });
        assert_mentions(&load_error(dir.path()), &[field, "not a token id"]);
    }
}
