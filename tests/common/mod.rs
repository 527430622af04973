//! The app harnesses shared by the UI test files. Each test file uses a part of this module.
#![allow(dead_code)]

use egui_kittest::{Harness, SnapshotOptions};
use maskscope::app::App;
use maskscope::app::example_rows;
use maskscope::app::settings::Settings;
use maskscope::app::state::{AppState, InputRow, ModelInfo, ModelOrigin};
use maskscope::bundled_models::random_model;
use maskscope::i18n::Language;
use maskscope::tasks::Task;

/// The app as `maskscope` opens it (bundled dates model), in English, at 1366x768. Tests never
/// open a system file dialog: paths are typed into the fallback window. Not yet run.
pub fn app() -> Harness<'static, App> {
    app_sized([1366.0, 768.0])
}

/// [`app`] in a window of `size` points (pixels: the harness draws at 1 pixel per point).
pub fn app_sized(size: [f32; 2]) -> Harness<'static, App> {
    Harness::builder().with_size(size).build_eframe(|cc| {
        let mut app = App::new(cc, None);
        app.actions_mut().files.native_dialogs = false;
        // Independent of a MASKSCOPE_LANG or saved language in the environment.
        app.state_mut().settings.language = Language::En;
        app
    })
}

/// A fixed, seeded untrained model (independent of the bundled checkpoints) with the dates
/// example rows, in `language`, drawn once: what the snapshot images show.
pub fn snapshot_app(language: Language) -> Harness<'static, App> {
    let mut harness = Harness::builder()
        .with_size([1366.0, 768.0])
        .build_eframe(move |_cc| {
            let info = ModelInfo {
                name: "snapshot model".into(),
                origin: ModelOrigin::Random {
                    reason: "snapshot test".into(),
                },
                modified: false,
            };
            let rows = example_rows::for_task(Task::Dates)
                .into_iter()
                .map(InputRow::from)
                .collect();
            let settings = Settings {
                language,
                ..Settings::default()
            };
            let state = AppState::with_engine(random_model(Task::Dates), info, rows, settings);
            let mut app = App::with_state(state);
            app.actions_mut().files.native_dialogs = false;
            app
        });
    harness.run();
    harness
}

/// Rasterisers differ a little (lavapipe vs a GPU): allow small per-pixel differences.
pub fn snapshot_options() -> SnapshotOptions {
    SnapshotOptions::new().threshold(2.0).max_failed_pixels(400)
}

/// A finished run with these curves, as the runs table and the plots show it.
pub fn finished_run(
    name: &str,
    color: usize,
    steps: Vec<maskscope::trace::StepMetrics>,
    evals: Vec<maskscope::trace::EvalMetrics>,
) -> maskscope::app::state::runs::RunRecord {
    maskscope::app::state::runs::RunRecord {
        name: name.to_owned(),
        visible: true,
        total_steps: steps.len(),
        steps,
        evals,
        status: maskscope::app::state::runs::RunStatus::Finished,
        trainable: 236_430,
        summary: String::new(),
        color,
        best: None,
        settings: Default::default(),
        frozen: Default::default(),
        multipliers: Default::default(),
        lesson_base: None,
    }
}

/// One piece of text the last frame painted: what it says, where its glyphs are (rotated text
/// included) as far as its clip rect shows them, where they would be unclipped, and its font
/// size, all in points.
#[derive(Clone, Debug)]
pub struct PaintedText {
    pub text: String,
    pub rect: egui::Rect,
    pub unclipped: egui::Rect,
    pub points: f32,
    /// Cut short with "…" (the text is all there, but not all drawn).
    pub elided: bool,
}

/// Every non-empty text shape of the last frame, in paint order.
pub fn painted_texts(harness: &Harness<'static, App>) -> Vec<PaintedText> {
    fn walk(shape: &egui::Shape, clip: egui::Rect, out: &mut Vec<PaintedText>) {
        match shape {
            egui::Shape::Vec(shapes) => shapes.iter().for_each(|s| walk(s, clip, out)),
            egui::Shape::Text(text) if !text.galley.text().trim().is_empty() => {
                let unclipped = text.visual_bounding_rect();
                let rect = unclipped.intersect(clip);
                if rect.is_positive() {
                    let points = text
                        .galley
                        .job
                        .sections
                        .iter()
                        .map(|s| s.format.font_id.size)
                        .fold(f32::INFINITY, f32::min);
                    out.push(PaintedText {
                        text: text.galley.text().to_owned(),
                        rect,
                        unclipped,
                        points,
                        elided: text.galley.elided,
                    });
                }
            }
            _ => {}
        }
    }
    let mut out = vec![];
    for clipped in &harness.output().shapes {
        walk(&clipped.shape, clipped.clip_rect, &mut out);
    }
    out
}

/// The first text of the last frame that contains `needle`; panics naming it if none does.
pub fn painted_text_containing(harness: &Harness<'static, App>, needle: &str) -> PaintedText {
    painted_texts(harness)
        .into_iter()
        .find(|t| t.text.contains(needle))
        .unwrap_or_else(|| panic!("no text with {needle:?} on screen"))
}

/// Pairs of texts painted inside `area` whose glyphs overlap or come closer than a point
/// (two labels that touch read as one word).
pub fn overlapping_texts(
    harness: &Harness<'static, App>,
    area: egui::Rect,
) -> Vec<(String, String)> {
    let texts: Vec<PaintedText> = painted_texts(harness)
        .into_iter()
        .filter(|t| area.contains_rect(t.rect))
        .collect();
    let mut pairs = vec![];
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            let both = a.rect.expand(0.5).intersect(b.rect.expand(0.5));
            if both.width() > 0.0 && both.height() > 0.0 {
                pairs.push((a.text.clone(), b.text.clone()));
            }
        }
    }
    pairs
}

/// Answers the typed-path window: `path` replaces what the field (labelled `field`, "File
/// path" or "Folder path") suggests, then `button` ("Open", "Save") is pressed.
pub fn answer_path_prompt(
    harness: &mut Harness<'static, App>,
    field: &str,
    path: &std::path::Path,
    button: &str,
) {
    use egui_kittest::kittest::Queryable;
    harness.get_by_label(field).focus();
    harness.run();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.run();
    harness
        .get_by_label(field)
        .type_text(&path.display().to_string());
    harness.run();
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, button)
        .click();
    harness.run();
}
