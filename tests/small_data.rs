//! Training on a data file with only two usable pairs: too few to hold any out. The CLI and
//! the window say so plainly and never show NaN as a metric.

use std::time::{Duration, Instant};

use maskscope::app::AppState;
use maskscope::app::settings::{DataSource, Settings};

const TWO_PAIRS: &str = "2026-11-28\t28 Nov 2026\nMay 3, 1999\t3 May 1999\n";

#[test]
fn the_cli_trains_on_two_pairs_without_nan_figures() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("two.tsv");
    std::fs::write(&data, TWO_PAIRS).unwrap();
    let out = dir.path().join("m.safetensors");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_maskscope"))
        .args([
            "train",
            "--steps",
            "3",
            "--batch-size",
            "2",
            "--d-model",
            "16",
        ])
        .args([
            "--heads",
            "2",
            "--d-ff",
            "32",
            "--eval-every",
            "1",
            "--threads",
            "1",
        ])
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{text}");
    assert!(!text.contains("NaN"), "{text}");
    assert!(text.contains("2 pairs are too few"), "{text}");
    assert!(text.contains("no held-out test pairs"), "{text}");
    assert!(out.is_file(), "the model is still saved");
}

#[test]
fn the_window_trains_on_two_pairs_and_says_there_are_no_held_out_figures() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("two.tsv");
    std::fs::write(&data, TWO_PAIRS).unwrap();
    let mut state = AppState::new(Settings::default());
    state.settings.finetune.source = DataSource::File(data.clone());
    state.training.load_data(&data).unwrap();
    state.settings.finetune.steps = 3;
    state.settings.finetune.eval_every = 1;
    state.start_training();
    let started = Instant::now();
    while state.poll_training() {
        assert!(started.elapsed() < Duration::from_secs(120), "the run ends");
        std::thread::sleep(Duration::from_millis(20));
    }
    state.poll_training();
    let texts: Vec<String> = state.messages.iter().map(|m| m.text()).collect();
    assert!(
        texts.iter().any(|t| t.contains("no validation pairs")),
        "{texts:?}"
    );
    assert!(texts.iter().all(|t| !t.contains("NaN")), "{texts:?}");
    let run = &state.training.runs[0];
    assert!(
        run.evals.is_empty(),
        "no evaluations without validation pairs"
    );
    assert_eq!(run.steps.len(), 3);
}
