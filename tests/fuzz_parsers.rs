//! Hostile input as a tested property (issue 21): every parser of user files is fed the real
//! fixtures with random byte mutations (flips, inserted and deleted runs, truncation) and
//! must return (`Ok` or `Err`), never panic, hang or hand back NaN weights.
//!
//! CI runs a bounded number of cases per parser (64). For a longer run:
//!
//! ```sh
//! MASKSCOPE_FUZZ_CASES=20000 cargo test --release --test fuzz_parsers
//! ```

use std::path::{Path, PathBuf};

use maskscope::app::session_file::Session;
use maskscope::dataset::{self, Format};
use maskscope::model::Engine;
use maskscope::model::marian::MarianConfig;
use maskscope::sentencepiece::{MarianTokenizer, SentencePiece, TokenizerFiles};
use proptest::prelude::*;

/// Cases per parser: `MASKSCOPE_FUZZ_CASES`, else 64.
fn cases() -> u32 {
    std::env::var("MASKSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(root().join(path)).unwrap()
}

fn marian(file: &str) -> Vec<u8> {
    fixture(&format!("tests/fixtures/marian/en-zh/{file}"))
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Set(at, b)),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, n)| Edit::Delete(at, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// `bytes` with `edits` applied; positions fall within the first `focus` bytes (where the
/// structure is: a safetensors header, not its tensor data).
fn mutate(mut bytes: Vec<u8>, edits: &[Edit], focus: usize) -> Vec<u8> {
    for edit in edits {
        let span = bytes.len().min(focus).max(1);
        match edit {
            Edit::Set(at, b) => {
                if let Some(x) = bytes.get_mut(at % span) {
                    *x = *b;
                }
            }
            Edit::Insert(at, new) => {
                let at = (at % span).min(bytes.len());
                bytes.splice(at..at, new.iter().copied());
            }
            Edit::Delete(at, n) => {
                let at = (at % span).min(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Edit::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(edit(), 1..8)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn tokenizer_files() -> TokenizerFiles {
    TokenizerFiles {
        source_spm: marian("source.spm"),
        target_spm: marian("target.spm"),
        vocab_json: marian("vocab.json"),
        target_vocab_json: None,
        config_json: Some(marian("tokenizer_config.json")),
    }
}

proptest! {
    #![proptest_config(config())]

    /// The safetensors header and metadata of a bundled checkpoint.
    #[test]
    fn checkpoint_bytes(edits in edits()) {
        let bytes = fixture("assets/copy.safetensors");
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let bytes = mutate(bytes, &edits, header + 8);
        if let Ok(engine) = Engine::from_bytes(&bytes) {
            for t in engine.weights().values() {
                let values = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                prop_assert!(values.iter().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn session_json(edits in edits()) {
        let bytes = mutate(fixture("docs/sessions/masks.json"), &edits, usize::MAX);
        let _ = Session::from_json(&bytes, Path::new("fuzz.json"));
    }

    #[test]
    fn tsv_and_csv(edits in edits()) {
        let bytes = mutate(fixture("assets/data/en-zh.tsv"), &edits, 4096);
        let text = String::from_utf8_lossy(&bytes);
        for format in [Format::Tsv, Format::Csv] {
            let parsed = dataset::parse(&text, format);
            for pair in &parsed.pairs {
                prop_assert!(!pair.src.is_empty() && !pair.tgt.is_empty());
                prop_assert!(pair.src.chars().count() <= dataset::MAX_FIELD_CHARS);
            }
        }
    }

    #[test]
    fn sentencepiece_model(edits in edits()) {
        let bytes = mutate(marian("source.spm"), &edits, usize::MAX);
        if let Ok(spm) = SentencePiece::from_bytes(&bytes) {
            let _ = spm.normalize("Hello, world!");
        }
    }

    #[test]
    fn marian_config_json(edits in edits()) {
        let _ = MarianConfig::parse(&mutate(marian("config.json"), &edits, usize::MAX));
    }

    #[test]
    fn vocab_json(edits in edits()) {
        let mut files = tokenizer_files();
        files.vocab_json = mutate(files.vocab_json, &edits, usize::MAX);
        let _ = MarianTokenizer::from_files(&files);
    }

    /// Marian folders have no `tokenizer.json`; `tokenizer_config.json` is the JSON the
    /// tokenizer reads besides the vocabulary.
    #[test]
    fn tokenizer_config_json(edits in edits()) {
        let mut files = tokenizer_files();
        files.config_json = Some(mutate(marian("tokenizer_config.json"), &edits, usize::MAX));
        let _ = MarianTokenizer::from_files(&files);
    }
}
