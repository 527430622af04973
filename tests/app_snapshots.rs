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
    let mut harness = harness();
    open_tab(&mut harness, "Attention");
    {
        let state = harness.state_mut().state_mut();
        // A long source: its 17 key columns leave cells too small for their values.
        state.rows[0].src = "November 28, 2026".to_owned();
        state.invalidate();
        state.settings.attention.kind = maskscope::trace::AttentionKind::Cross;
        state.classroom.highlight = Some(maskscope::app::highlight::Highlight {
            kind: maskscope::trace::AttentionKind::Cross,
            query: 3,
            key: 1,
        });
    }
    harness.run();
    harness.snapshot_options("app_attention_outlined_value", &options());
}

#[test]
fn attention_view_tags_every_quoted_cell_with_its_value() {
    // cross-attention 3 quotes three cells of one row, side by side: each is outlined and
    // each value tag finds a place that covers neither another ring nor another tag.
    let mut harness = harness();
    open_tab(&mut harness, "Attention");
    {
        let state = harness.state_mut().state_mut();
        state.rows[0].src = "November 28, 2026".to_owned();
        state.invalidate();
        state.settings.attention.kind = maskscope::trace::AttentionKind::Cross;
        state.classroom.highlight = Some(maskscope::app::highlight::Highlight {
            kind: maskscope::trace::AttentionKind::Cross,
            query: 3,
            key: 2,
        });
        state.classroom.quoted_cells = vec![(3, 0), (3, 1)];
    }
    harness.run();
    harness.snapshot_options("app_attention_quoted_values", &options());
}
