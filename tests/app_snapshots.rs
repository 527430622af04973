//! Screenshots of every view at 1366x768, rendered with wgpu (lavapipe on CI) and compared
//! with `tests/snapshots/*.png`. A fixed, seeded untrained model keeps them independent of
//! the bundled checkpoints. Update with `UPDATE_SNAPSHOTS=1 cargo test --test app_snapshots`.

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use maskscope::app::App;
use maskscope::i18n::Language;

mod common;

fn harness() -> Harness<'static, App> {
    common::snapshot_app(Language::En)
}

fn options() -> SnapshotOptions {
    common::snapshot_options()
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

#[test]
fn attention_view_tags_the_outlined_cell_with_its_value() {
    // A lesson's outlined cell: the grid's cells are too small for values, so the outlined
    // one carries its weight on a tag beside it.
    let mut harness = cross_attention_outlining((3, 1), vec![]);
    harness.snapshot_options("app_attention_outlined_value", &options());
}

/// Cross-attention on a long source, whose 17 key columns leave cells too small for their
/// values, with a lesson's outlined cell and quoted cells.
fn cross_attention_outlining(
    (query, key): (usize, usize),
    quoted: Vec<(usize, usize)>,
) -> Harness<'static, App> {
    let mut harness = harness();
    open_tab(&mut harness, "Attention");
    {
        let state = harness.state_mut().state_mut();
        state.rows[0].src = "November 28, 2026".to_owned();
        state.invalidate();
        state.settings.attention.kind = maskscope::trace::AttentionKind::Cross;
        state.classroom.highlight = Some(maskscope::app::highlight::Highlight {
            kind: maskscope::trace::AttentionKind::Cross,
            query,
            key,
        });
        state.classroom.quoted_cells = quoted;
    }
    harness.run();
    harness
}

#[test]
fn attention_view_tags_every_quoted_cell_with_its_value() {
    // cross-attention 3 quotes three cells of one row, side by side: each is outlined and
    // each value tag finds a place that covers neither another ring nor another tag.
    let mut harness = cross_attention_outlining((3, 2), vec![(3, 0), (3, 1)]);
    harness.snapshot_options("app_attention_quoted_values", &options());
}

#[test]
fn finetune_view_with_four_runs() {
    // One legend entry per run on the loss plot only, and tick labels on both axes of every
    // plot (a loss from 0 to 7 had a label at 0 only; four runs' legends covered the plots).
    let mut harness = harness();
    open_tab(&mut harness, "Fine-tune");
    let run = |name: &str, color: usize, start: f32| {
        let steps = (1..=400)
            .map(|step| maskscope::trace::StepMetrics {
                step,
                train_loss: start / (1.0 + 0.05 * step as f32),
                learning_rate: 1e-3,
            })
            .collect();
        let evals = (1..=16)
            .map(|i| maskscope::trace::EvalMetrics {
                step: 25 * i,
                val_loss: 0.9 + 0.04 * i as f32 * (1.0 + color as f32) / 4.0,
                token_accuracy: 0.5 + 0.02 * i as f32,
                exact_match: 0.2 + 0.01 * i as f32,
                weight_norm: Some(52.0 - 0.05 * (i * color) as f32),
            })
            .collect();
        let mut run = common::finished_run(name, color, steps, evals);
        run.summary = format!("{name}: copy on sort (64 train / 200 val)");
        run
    };
    {
        let runs = &mut harness.state_mut().state_mut().training.runs;
        runs.push(run("no regularisation", 0, 6.66));
        runs.push(run("L2 0.0001", 1, 6.92));
        runs.push(run("L1 0.0001", 2, 8.47));
        runs.push(run("weight decay 0.5", 3, 6.66));
    }
    harness.run();
    harness.snapshot_options("app_finetune_runs", &options());
}
