//! Saved sessions: an exact round trip through a file onto a fresh state, the warnings for a
//! missing or changed checkpoint, and clear errors (never a panic) for hostile files.

use std::path::Path;

use maskscope::app::AppState;
use maskscope::app::actions::{Actions, session};
use maskscope::app::colormap::Colormap;
use maskscope::app::highlight::Highlight;
use maskscope::app::intents::FilePurpose;
use maskscope::app::session_file::{
    MAX_SESSION_BYTES, ModelRef, ProblemKind, Session, SessionError,
};
use maskscope::app::settings::{Settings, StrategyKind, Theme, ViewId};
use maskscope::app::state::{InputRow, ModelOrigin};
use maskscope::bundled_models::random_model;
use maskscope::i18n::Language;
use maskscope::masks::{MaskMethod, PadSide};
use maskscope::tasks::Task;
use maskscope::trace::AttentionKind;

fn fresh() -> AppState {
    AppState::new(Settings::default())
}

/// A state that differs from the defaults in everything a session records.
fn customised() -> AppState {
    let mut state = fresh();
    state.rows = vec![
        InputRow {
            src: "2026-11-28".into(),
            tgt: "28 Nov 2026".into(),
        },
        InputRow {
            src: "May 3, 1999".into(),
            tgt: "3 May 1999".into(),
        },
    ];
    state.selected_row = 1;
    let s = &mut state.settings;
    s.mask.causal = false;
    s.mask.tgt_padding = false;
    s.mask.method = MaskMethod::Multiply;
    s.mask.pad_side = PadSide::Left;
    s.view = ViewId::Attention;
    s.attention.kind = AttentionKind::Cross;
    s.attention.layer = 1;
    s.attention.head = 2;
    s.attention.auto_range = true;
    s.masks_view.kind = AttentionKind::EncoderSelf;
    s.masks_view.head = 3;
    s.colormap = Colormap::Cividis;
    s.show_values = false;
    s.decoder.strategy = StrategyKind::TopK;
    s.decoder.top_k = 3;
    s.decoder.seed = 42;
    s.theme = Theme::Light;
    s.presenter = true;
    s.language = Language::Zh;
    s.lessons_open = true;
    let lesson = state
        .classroom
        .lessons
        .iter()
        .position(|l| l.id == "causal-mask")
        .unwrap();
    state.classroom.lesson = lesson;
    state.classroom.step = 2;
    state.classroom.applied = true;
    state.classroom.highlight = Some(Highlight {
        kind: AttentionKind::Cross,
        query: 2,
        key: 4,
    });
    state.invalidate();
    state.refresh();
    state.sync_stepper();
    for _ in 0..4 {
        assert!(state.stepper.step(&state.engine));
    }
    state
}

fn chosen(state: &AppState) -> Vec<u32> {
    state.stepper.steps().iter().map(|s| s.chosen).collect()
}

#[test]
fn round_trip_reproduces_the_view_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let before = customised();
    let saved = session::capture(&before, Some([1600.0, 900.0]));
    assert_eq!(saved.decode_steps, 4);
    assert!(
        matches!(&saved.model, ModelRef::Bundled { name, sha256 } if name == "dates" && sha256.len() == 64)
    );
    saved.save(&path).unwrap();
    let loaded = Session::load(&path).unwrap();
    assert_eq!(loaded, saved, "save + load is lossless");

    let mut after = fresh();
    let warnings = session::apply(&loaded, &mut after);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(session::capture(&after, Some([1600.0, 900.0])), saved);

    // The real state, not only its capture.
    assert_eq!(after.rows, before.rows);
    assert_eq!(after.selected_row, 1);
    assert_eq!(after.settings.mask, before.settings.mask);
    assert_eq!(after.settings.view, ViewId::Attention);
    assert_eq!(after.settings.attention, before.settings.attention);
    assert_eq!(after.settings.masks_view, before.settings.masks_view);
    assert_eq!(after.settings.decoder, before.settings.decoder);
    assert_eq!(after.settings.colormap, Colormap::Cividis);
    assert_eq!(after.settings.theme, Theme::Light);
    assert!(after.settings.presenter);
    assert_eq!(after.settings.language, Language::Zh);
    assert!(after.settings.lessons_open);
    assert_eq!(after.model.origin, ModelOrigin::Bundled("dates"));
    assert_eq!(
        after.trace, before.trace,
        "the forward pass re-ran on the same batch"
    );
    assert_eq!(chosen(&after), chosen(&before), "the same sampled tokens");
    assert_eq!(after.classroom.highlight, before.classroom.highlight);
    assert_eq!(
        (after.classroom.lesson, after.classroom.step),
        (before.classroom.lesson, 2)
    );
    assert!(after.classroom.applied);
    assert_eq!(after.session.pending_window_size, Some([1600.0, 900.0]));
    assert_eq!(after.settings.mask.pad_side, PadSide::Left);
    let seq = &after.trace.as_ref().unwrap().sequences[0];
    assert_eq!(
        seq.pad_side,
        PadSide::Left,
        "the batch was re-run left-padded"
    );
}

/// A session saved on a lesson step brings back the cells and the readout its text quotes
/// (cross-attention 3 quotes three cells), not only the one highlighted cell.
#[test]
fn a_lesson_step_comes_back_with_its_quoted_cells_and_readout() {
    let mut before = fresh();
    let steps_with = |state: &AppState| {
        state
            .classroom
            .lessons
            .iter()
            .enumerate()
            .flat_map(|(l, lesson)| {
                lesson
                    .steps
                    .iter()
                    .enumerate()
                    .map(move |(s, step)| (l, s, step))
            })
            .find(|(_, _, step)| {
                step.state
                    .quoted_cells
                    .as_ref()
                    .is_some_and(|c| c.len() > 1)
            })
            .map(|(l, s, step)| {
                (
                    l,
                    s,
                    step.state.quoted_cells.clone().unwrap(),
                    step.state.readout,
                )
            })
            .expect("a step that quotes several cells")
    };
    let (lesson, step, cells, readout) = steps_with(&before);
    before.classroom.lesson = lesson;
    before.classroom.step = step;
    before.classroom.applied = true;
    before.classroom.quoted_cells = cells.clone();
    before.classroom.readout = readout;
    before.settings.lessons_open = true;
    let saved = session::capture(&before, None);

    let mut after = fresh();
    let warnings = session::apply(&saved, &mut after);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(after.classroom.quoted_cells, cells);
    assert_eq!(after.classroom.readout, readout);
}

/// Sessions saved before the pad side existed load right-padded.
#[test]
fn a_session_without_a_pad_side_loads_right_padded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.json");
    let saved = session::capture(&customised(), None);
    let mut json: serde_json::Value = serde_json::to_value(&saved).unwrap();
    let mask = json
        .pointer_mut("/mask")
        .and_then(|m| m.as_object_mut())
        .expect("the session records the mask settings");
    assert!(mask.remove("pad_side").is_some());
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let loaded = Session::load(&path).unwrap();
    assert_eq!(loaded.mask.pad_side, PadSide::Right);
    assert_eq!(loaded.mask.method, MaskMethod::Multiply, "the rest is kept");
}

#[test]
fn a_model_file_round_trips_and_its_loss_or_change_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let path = dir.path().join("s.json");
    let mut state = fresh();
    state.engine.save(&model).unwrap();
    assert!(state.open_model(&model));
    state.sync_stepper();
    state.stepper.step(&state.engine);
    let saved = session::capture(&state, None);
    saved.save(&path).unwrap();

    // Same file: no warnings.
    let mut other = fresh();
    let warnings = session::apply(&Session::load(&path).unwrap(), &mut other);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(other.model.origin, ModelOrigin::File(model.clone()));
    assert_eq!(session::capture(&other, None), saved);

    // The file changed: said so, and the window is asked to offer another file.
    random_model(Task::Dates).save(&model).unwrap();
    let mut other = fresh();
    let warnings = session::apply(&Session::load(&path).unwrap(), &mut other);
    assert!(
        // (Warnings follow the language, which other tests switch: match what both share.)
        warnings.iter().any(|w| w.render().contains("SHA-256")),
        "{warnings:?}"
    );
    let problem = other.session.problem.as_ref().expect("a problem");
    assert_eq!(problem.kind, ProblemKind::Changed);

    // The file is gone: said so; the rest of the view is still restored.
    std::fs::remove_file(&model).unwrap();
    let mut other = fresh();
    let warnings = session::apply(&Session::load(&path).unwrap(), &mut other);
    assert!(
        warnings
            .iter()
            .any(|w| w.render().contains("m.safetensors")),
        "{warnings:?}"
    );
    assert_eq!(
        other.session.problem.as_ref().map(|p| p.kind),
        Some(ProblemKind::Missing)
    );
    assert_eq!(other.rows, state.rows);
    assert_eq!(other.model.origin, ModelOrigin::Bundled("dates"), "kept");

    // Locating the file (the path prompt's answer) opens it and replays the session.
    let moved = dir.path().join("moved.safetensors");
    state.engine.save(&moved).unwrap();
    Actions::default().handle_path(&mut other, FilePurpose::LocateCheckpoint, &moved);
    assert_eq!(other.model.origin, ModelOrigin::File(moved));
    assert!(other.session.problem.is_none());
    assert_eq!(other.stepper.steps().len(), 1);
}

#[test]
fn the_save_and_open_dialog_paths_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dialog.json");
    let mut state = customised();
    Actions::default().handle_path(&mut state, FilePurpose::SaveSession, &path);
    assert!(path.is_file(), "{:?}", state.messages.last());
    assert_eq!(state.session.path.as_deref(), Some(path.as_path()));
    let mut other = fresh();
    Actions::default().handle_path(&mut other, FilePurpose::OpenSession, &path);
    assert_eq!(other.rows, state.rows);
    assert_eq!(other.stepper.steps().len(), 4);
    // A broken file leaves the state alone and says why.
    std::fs::write(&path, "{").unwrap();
    let mut third = fresh();
    let rows = third.rows.clone();
    Actions::default().handle_path(&mut third, FilePurpose::OpenSession, &path);
    assert_eq!(third.rows, rows);
    assert!(
        third
            .last_error()
            .is_some_and(|e| e.contains("not a maskscope session"))
    );
}

fn load_text(dir: &Path, name: &str, text: &[u8]) -> Result<Session, SessionError> {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Session::load(&path)
}

#[test]
fn hostile_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let valid = serde_json::to_string(&session::capture(&customised(), None)).unwrap();

    let err = Session::load(&d.join("missing.json")).unwrap_err();
    assert!(matches!(err, SessionError::Read { .. }), "{err}");

    for (name, text) in [
        ("garbage", b"\x00\xff\xfe garbage".as_slice()),
        ("empty", b"".as_slice()),
        ("array", b"[1, 2, 3]".as_slice()),
        ("object", b"{}".as_slice()),
        ("number", b"42".as_slice()),
    ] {
        let err = load_text(d, name, text).unwrap_err();
        assert!(
            matches!(err, SessionError::NotASession { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("not a maskscope session"), "{err}");
    }

    let other_format = valid.replace("maskscope-session-v1", "maskscope-session-v9");
    let err = load_text(d, "v9", other_format.as_bytes()).unwrap_err();
    assert!(matches!(err, SessionError::Format { .. }), "{err}");
    assert!(err.to_string().contains("maskscope-session-v9"), "{err}");

    let value: serde_json::Value = serde_json::from_str(&valid).unwrap();
    let broken = |edit: &dyn Fn(&mut serde_json::Value), what: &str| {
        let mut v = value.clone();
        edit(&mut v);
        let err = load_text(d, "edited", v.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, SessionError::Invalid { .. }), "{what}: {err}");
        err.to_string()
    };
    let e = broken(&|v| v["selected_row"] = 7.into(), "row out of range");
    assert!(e.contains("selected_row"), "{e}");
    broken(&|v| v["rows"] = serde_json::json!([]), "no rows");
    broken(
        &|v| v["decode_steps"] = 1_000_000_000u64.into(),
        "decode steps",
    );
    broken(
        &|v| v["window_size"] = serde_json::json!([1e30, 5]),
        "window size",
    );
    broken(&|v| v["mask"] = "all".into(), "mask type");
    broken(&|v| v["view"] = "Nope".into(), "unknown view");
    broken(
        &|v| v["model"] = serde_json::json!({"kind": "url", "href": "http://x"}),
        "model kind",
    );
    broken(
        &|v| v["model"] = serde_json::json!({"kind": "untrained", "task": "fly"}),
        "task",
    );
    broken(
        &|v| {
            v.as_object_mut().unwrap().remove("model");
        },
        "missing model",
    );
    broken(
        &|v| {
            v["rows"] = serde_json::json!([{"source": "x".repeat(5000), "target": "y"}]);
            v["selected_row"] = 0.into();
        },
        "long text",
    );

    // Every truncation of a valid file is an error, never a panic.
    for cut in (0..valid.len()).step_by(7) {
        assert!(load_text(d, "cut", &valid.as_bytes()[..cut]).is_err());
    }

    // Too large: refused before parsing.
    let huge = vec![b' '; MAX_SESSION_BYTES as usize + 10];
    let err = load_text(d, "huge", &huge).unwrap_err();
    assert!(matches!(err, SessionError::TooLarge { .. }), "{err}");
}

#[test]
fn an_unknown_bundled_model_is_reported() {
    let mut saved = session::capture(&fresh(), None);
    saved.model = ModelRef::Bundled {
        name: "klingon".into(),
        sha256: String::new(),
    };
    let mut state = fresh();
    let warnings = session::apply(&saved, &mut state);
    assert!(
        warnings.iter().any(|w| w.render().contains("klingon")),
        "{warnings:?}"
    );
    assert_eq!(
        state.session.problem.as_ref().map(|p| p.kind),
        Some(ProblemKind::Missing)
    );
}

/// A run a lesson's preset started keeps its lesson base, and the mark of a run that did not
/// start from it, through a saved session.
#[test]
fn a_run_s_lesson_base_survives_a_session() {
    use maskscope::app::state::runs::{LessonBase, RunRecord, RunStatus};
    use maskscope::trace::{EvalMetrics, StepMetrics};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.json");
    let run = |name: &str, lesson_base: Option<LessonBase>| RunRecord {
        name: name.into(),
        visible: true,
        steps: vec![StepMetrics {
            step: 1,
            train_loss: 2.0,
            learning_rate: 1e-3,
        }],
        evals: vec![EvalMetrics {
            step: 1,
            val_loss: 2.1,
            token_accuracy: 0.1,
            exact_match: 0.0,
            weight_norm: None,
        }],
        status: RunStatus::Cancelled,
        total_steps: 300,
        trainable: 10,
        summary: String::new(),
        color: 0,
        best: None,
        settings: Default::default(),
        frozen: Default::default(),
        multipliers: Default::default(),
        lesson_base,
    };
    let base = |from_base| {
        Some(LessonBase {
            model: "copy".into(),
            from_base,
        })
    };
    let mut before = fresh();
    before.training.runs = vec![
        run("full fine-tune", base(true)),
        run("frozen encoder", base(false)),
        run("run 3", None),
    ];
    let saved = session::capture(&before, None);
    saved.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches("\"lesson_base\"").count(),
        2,
        "absent when none"
    );
    let mut after = fresh();
    let warnings = session::apply(&Session::load(&path).unwrap(), &mut after);
    assert!(warnings.is_empty(), "{warnings:?}");
    let restored: Vec<_> = after
        .training
        .runs
        .iter()
        .map(|r| r.lesson_base.clone())
        .collect();
    assert_eq!(restored, [base(true), base(false), None]);
}

/// A session saved by an editor that starts UTF-8 with a byte-order mark opens (issue 21:
/// it was "not JSON").
#[test]
fn a_session_with_a_utf8_bom_opens() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"\xEF\xBB\xBF".to_vec();
    text.extend(serde_json::to_vec(&session::capture(&customised(), None)).unwrap());
    load_text(dir.path(), "bom.json", &text).unwrap();
}

/// A temporary folder holding a FIFO named `pipe`; `None` where there is no `mkfifo`.
#[cfg(unix)]
fn folder_with_a_fifo() -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    made.is_ok_and(|s| s.success()).then_some((dir, fifo))
}

/// A FIFO as the session, or a FIFO or `/dev/zero` as the session's model, is refused
/// without being opened or read (issue 21: the window hung, or hashed `/dev/zero` for ever),
/// and a model path that is not a model is a problem, not a silent stand-in.
#[cfg(unix)]
#[test]
fn special_files_as_a_session_or_its_model_never_hang() {
    use std::time::{Duration, Instant};
    let Some((dir, fifo)) = folder_with_a_fifo() else {
        return;
    };
    let started = Instant::now();
    let err = Session::load(&fifo).unwrap_err().to_string();
    assert!(err.contains("named pipe"), "{err}");
    let err = maskscope::app::session_file::sha256_file(Path::new("/dev/zero")).unwrap_err();
    assert!(err.to_string().contains("a device"), "{err}");
    let err = maskscope::app::session_file::sha256_file(&fifo).unwrap_err();
    assert!(err.to_string().contains("named pipe"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a model").unwrap();
    for model in [fifo.clone(), junk.clone(), "/dev/zero".into()] {
        let mut saved = session::capture(&customised(), None);
        saved.model = ModelRef::File {
            path: model.clone(),
            sha256: maskscope::app::session_file::sha256_file(&model).unwrap_or_default(),
        };
        let mut state = fresh();
        let warnings = session::apply(&saved, &mut state);
        let problem = state.session.problem.as_ref().map(|p| p.kind);
        assert_eq!(
            problem,
            Some(ProblemKind::Missing),
            "{model:?}: {warnings:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// The window's open paths (model, session, data) refuse a FIFO, a device and a folder
/// where a file is expected, at once and with a message, as the command line does (issue
/// 21: a FIFO as the window's model kept the window from ever appearing).
#[cfg(unix)]
#[test]
fn the_windows_open_paths_refuse_special_files_at_once() {
    use std::time::{Duration, Instant};
    let Some((dir, fifo)) = folder_with_a_fifo() else {
        return;
    };
    let started = Instant::now();
    for (path, what) in [
        (fifo.as_path(), "named pipe"),
        (Path::new("/dev/zero"), "device"),
    ] {
        let mut state = fresh();
        let before = state.model.name.clone();
        assert!(!state.open_model(path));
        assert_eq!(state.model.name, before, "the previous model stays");
        assert!(!session::open_from(&mut state, path));
        let err = state.training.load_data(path).unwrap_err();
        assert!(err.contains(what), "{err}");
        let texts: Vec<String> = state.messages.iter().map(|m| m.text()).collect();
        assert!(
            texts.iter().filter(|t| t.contains(what)).count() >= 2,
            "{texts:?}"
        );
    }
    let mut state = fresh();
    let err = state.training.load_data(dir.path()).unwrap_err();
    assert!(err.contains("folder"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
