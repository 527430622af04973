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
