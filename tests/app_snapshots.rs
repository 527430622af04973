//! Screenshots of every view at 1366x768, rendered with wgpu (lavapipe on CI) and compared
//! with `tests/snapshots/*.png`. A fixed, seeded untrained model keeps them independent of
//! the bundled checkpoints. Update with `UPDATE_SNAPSHOTS=1 cargo test --test app_snapshots`.

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use maskscope::app::App;
use maskscope::app::bundled::{self, random_model};
use maskscope::app::settings::Settings;
use maskscope::app::state::{AppState, InputRow, ModelInfo, ModelOrigin};
use maskscope::tasks::Task;

fn harness() -> Harness<'static, App> {
    let mut harness = Harness::builder()
        .with_size([1366.0, 768.0])
        .build_eframe(|_cc| {
            let engine = random_model(Task::Dates);
            let info = ModelInfo {
                name: "snapshot model".into(),
                origin: ModelOrigin::Random {
                    reason: "snapshot test".into(),
                },
                modified: false,
            };
            let rows = bundled::examples_for(Task::Dates)
                .into_iter()
                .map(InputRow::from)
                .collect();
            let mut state = AppState::with_engine(engine, info, rows, Settings::default());
            state.native_dialogs = false;
            App::with_state(state)
        });
    harness.run();
    harness
}

/// Rasterisers differ a little (lavapipe vs a GPU): allow small per-pixel differences.
fn options() -> SnapshotOptions {
    SnapshotOptions::new().threshold(2.0).max_failed_pixels(400)
}

fn open_tab(harness: &mut Harness<'static, App>, title: &str) {
    harness.get_by_role_and_label(Role::Button, title).click();
    harness.run();
}

#[test]
fn masks_view() {
    let mut harness = harness();
    harness.snapshot_options("app_masks", &options());
}

#[test]
fn masks_view_with_the_causal_mask_off() {
    let mut harness = harness();
    harness.get_by_label("Causal mask").click();
    harness.run();
    harness.snapshot_options("app_masks_causal_off", &options());
}

#[test]
fn attention_view() {
    let mut harness = harness();
    open_tab(&mut harness, "Attention");
    harness.snapshot_options("app_attention", &options());
}

#[test]
fn decoder_view_after_three_steps() {
    let mut harness = harness();
    open_tab(&mut harness, "Decoder");
    for _ in 0..3 {
        harness.get_by_label("Step").click();
        harness.run();
    }
    harness.snapshot_options("app_decoder", &options());
}

#[test]
fn finetune_view() {
    let mut harness = harness();
    open_tab(&mut harness, "Fine-tune");
    harness.snapshot_options("app_finetune", &options());
}
