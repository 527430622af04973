//! Presenter mode in the real window (egui_kittest) at projector sizes: the figure a lesson
//! step is about is the largest thing on screen, the lesson is a narrow caption, the inputs
//! are a strip that opens over the figure, and F5 brings the normal layout back as it was.
//! The window is driven as a presenter would: F5, L, N for each step.
//!
//! The lesson steps load the bundled models, so the snapshots follow those checkpoints.
//! Update them with `UPDATE_SNAPSHOTS=1 cargo test --test app_presenter`.

use egui::{Event, Key, Modifiers, PointerButton, Pos2, Rect, pos2, vec2};
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotResults};
use maskscope::app::App;
use maskscope::app::regions::{self, Panel, Region};
use maskscope::app::settings::ViewId;
use maskscope::trace::AttentionKind;

mod common;

/// A projector, a common laptop screen, a full-HD screen (pixels).
const SIZES: [[f32; 2]; 3] = [[1280.0, 720.0], [1366.0, 768.0], [1920.0, 1080.0]];

/// One lesson step a presenter shows, and what it is about.
struct Step {
    lesson: &'static str,
    /// 1-based, as the caption counts.
    step: usize,
    view: ViewId,
    name: &'static str,
}

const STEPS: [Step; 5] = [
    Step {
        lesson: "causal-mask",
        step: 1,
        view: ViewId::Masks,
        name: "mask",
    },
    Step {
        lesson: "cross-attention",
        step: 3,
        view: ViewId::Attention,
        name: "cross",
    },
    Step {
        lesson: "finetuning-strategies",
        step: 3,
        view: ViewId::Finetune,
        name: "finetune",
    },
    Step {
        lesson: "decoder-inputs",
        step: 1,
        view: ViewId::Decoder,
        name: "decoder",
    },
    Step {
        lesson: "decoder-inputs",
        step: 4,
        view: ViewId::Decoder,
        name: "stepper",
    },
];

fn press(harness: &mut Harness<'static, App>, key: Key) {
    harness.key_press(key);
    harness.run_steps(3);
}

/// The app at `size`, in presenter mode (F5) with the lessons caption (L) at `step`.
fn presenting(size: [f32; 2], step: &Step) -> Harness<'static, App> {
    let mut harness = common::app_sized(size);
    harness.run_steps(2);
    press(&mut harness, Key::F5);
    press(&mut harness, Key::L);
    let index = harness
        .state()
        .state()
        .classroom
        .lessons
        .iter()
        .position(|l| l.id == step.lesson)
        .expect("the lesson exists");
    harness.state_mut().state_mut().classroom.lesson = index;
    // N starts the lesson at its first step, then goes one step on per press.
    for _ in 0..step.step {
        press(&mut harness, Key::N);
    }
    harness.run_steps(3);
    let state = harness.state().state();
    assert!(state.settings.presenter);
    assert_eq!(state.classroom.step + 1, step.step);
    assert_eq!(state.settings.view, step.view);
    harness
}

fn area(r: Rect) -> f32 {
    r.width() * r.height()
}

#[test]
fn the_figure_is_the_largest_thing_on_screen_at_every_size() {
    // One harness per size and step; their snapshot results are checked together at the end.
    let mut snapshots = SnapshotResults::new();
    for size in SIZES {
        for step in &STEPS {
            let mut harness = presenting(size, step);
            let at = format!("{} at {}x{}", step.name, size[0], size[1]);
            let window = harness.ctx.content_rect();
            let figure = regions::figure(&harness.ctx).unwrap_or_else(|| panic!("{at}: no figure"));
            let share = area(figure.rect) / area(window);
            assert!(
                share >= 0.30,
                "{at}: the figure covers {share:.2} of the window"
            );
            assert!(
                window.contains_rect(figure.rect),
                "{at}: {:?} not inside {window:?}",
                figure.rect
            );
            // Nothing of it is clipped by the panel it is drawn in (no scrolling either).
            let central = regions::panel_rect(&harness.ctx, Panel::Central).expect("central");
            assert!(
                central.expand(1.0).contains_rect(figure.rect),
                "{at}: {:?} cut off by the central panel {central:?}",
                figure.rect
            );
            let caption =
                regions::panel_rect(&harness.ctx, Panel::Caption).expect("the lesson caption");
            assert!(
                caption.width() <= 0.30 * window.width(),
                "{at}: the caption is {} of {} wide",
                caption.width(),
                window.width()
            );
            assert!(
                !caption.intersects(figure.rect),
                "{at}: the caption covers the figure"
            );
            let label_pixels = figure.label_points * harness.ctx.pixels_per_point();
            assert!(label_pixels >= 16.0, "{at}: labels {label_pixels} px tall");
            harness.snapshot_options(
                format!("presenter_{}_{}x{}", step.name, size[0], size[1]),
                &common::snapshot_options(),
            );
            snapshots.extend_harness(&mut harness);
        }
    }
    snapshots.unwrap();
}

#[test]
fn the_cross_attention_step_outlines_its_cell_in_the_figure() {
    let harness = presenting([1280.0, 720.0], &STEPS[1]);
    let state = harness.state().state();
    assert_eq!(state.settings.attention.kind, AttentionKind::Cross);
    let (query, key) = state
        .classroom
        .highlight_for(AttentionKind::Cross)
        .expect("the step outlines a cross-attention cell");
    let seq = state.sequence().expect("a trace");
    assert!(query < seq.tgt_input_tokens.len() && key < seq.src_tokens.len());
    assert!(harness.query_by_label("Attention heatmap").is_some());
}

#[test]
fn the_presenter_bar_holds_only_live_controls() {
    let mut harness = common::app_sized([1280.0, 720.0]);
    harness.run_steps(2);
    assert!(harness.query_by_label("Open model...").is_some());
    press(&mut harness, Key::F5);
    for live in [
        "Menu",
        "Lessons",
        "Causal",
        "Source pad",
        "Target pad",
        "Left pad",
        "Attention",
    ] {
        assert!(harness.query_by_label(live).is_some(), "{live} in the bar");
    }
    for tucked in ["Open model...", "Save session...", "Bundled", "Export"] {
        assert!(
            harness.query_by_label(tucked).is_none(),
            "{tucked} waits in the menu"
        );
    }
    harness.get_by_label("Menu").click();
    harness.run_steps(3);
    assert!(harness.query_by_label("Open model...").is_some());
    // The view switches from the bar.
    harness.get_by_label("Fine-tune").click();
    harness.run_steps(3);
    assert_eq!(harness.state().state().settings.view, ViewId::Finetune);
}

#[test]
fn the_inputs_strip_opens_the_full_panel_over_the_figure() {
    let mut harness = presenting([1280.0, 720.0], &STEPS[0]);
    let strip = regions::panel_rect(&harness.ctx, Panel::InputsStrip).expect("the strip");
    // One line of chips, not the panel.
    assert!(strip.height() < 0.15 * harness.ctx.content_rect().height());
    assert!(harness.query_by_label("Source text 1").is_none());
    harness.get_by_label("Inputs strip").click();
    harness.run_steps(3);
    assert!(harness.state().state().presenter_inputs_open);
    assert!(harness.query_by_label("Source text 1").is_some());
    // The figure stays where it was, under the panel.
    assert!(regions::figure(&harness.ctx).is_some());
    harness.get_by_label("Inputs strip").click();
    harness.run_steps(3);
    assert!(harness.query_by_label("Source text 1").is_none());
    // Key 1 opens it too, with the first source box focused.
    press(&mut harness, Key::Num1);
    assert!(harness.state().state().presenter_inputs_open);
    assert!(harness.get_by_label("Source text 1").is_focused());
}

/// Drags the pointer from `from` to `to` with the primary button held, a frame per event.
fn drag(harness: &mut Harness<'static, App>, from: Pos2, to: Pos2) {
    let button = |pos, pressed| Event::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed,
        modifiers: Modifiers::NONE,
    };
    for event in [
        Event::PointerMoved(from),
        button(from, true),
        Event::PointerMoved(from.lerp(to, 0.5)),
        Event::PointerMoved(to),
        button(to, false),
    ] {
        harness.event(event);
        harness.run_steps(2);
    }
}

/// Where the normal layout's panels are: inputs, lessons, the view in the middle.
fn normal_layout(harness: &Harness<'static, App>) -> [Rect; 3] {
    [
        regions::region_rect(&harness.ctx, Region::Inputs).expect("inputs panel"),
        regions::panel_rect(&harness.ctx, Panel::Lessons).expect("lessons panel"),
        regions::panel_rect(&harness.ctx, Panel::Central).expect("central panel"),
    ]
}

#[test]
fn f5_off_brings_back_the_normal_layout_as_it_was() {
    let mut harness = common::app_sized([1366.0, 768.0]);
    harness.run_steps(2);
    press(&mut harness, Key::L);
    let [inputs, ..] = normal_layout(&harness);
    // Widen the inputs panel by dragging its edge, as a user would.
    let edge = pos2(inputs.right(), inputs.center().y);
    drag(&mut harness, edge, edge + vec2(50.0, 0.0));
    harness.run_steps(5);
    let settled = normal_layout(&harness);
    harness.run_steps(5);
    let before = normal_layout(&harness);
    assert_eq!(settled, before, "the layout settled");
    assert!(
        (before[0].width() - inputs.width() - 50.0).abs() < 3.0,
        "the drag resized the panel: {} -> {}",
        inputs.width(),
        before[0].width()
    );
    press(&mut harness, Key::F5);
    assert!(regions::panel_rect(&harness.ctx, Panel::Lessons).is_none());
    assert!(regions::panel_rect(&harness.ctx, Panel::Caption).is_some());
    press(&mut harness, Key::F5);
    let after = normal_layout(&harness);
    for (b, a) in before.iter().zip(&after) {
        assert!(
            (b.min - a.min).length() < 0.5 && (b.max - a.max).length() < 0.5,
            "{b:?} came back as {a:?}"
        );
    }
    assert!(harness.state().state().settings.lessons_open);
}

#[test]
fn normal_mode_at_1280x720_keeps_40_percent_for_the_view() {
    let mut harness = common::app_sized([1280.0, 720.0]);
    harness.run_steps(2);
    press(&mut harness, Key::L);
    let [inputs, lessons, central] = normal_layout(&harness);
    let width = harness.ctx.content_rect().width();
    assert!(central.width() >= 0.4 * width, "{central:?} of {width}");
    // Even with both side panels dragged as wide as they go.
    let edge = pos2(inputs.right(), inputs.center().y);
    drag(&mut harness, edge, edge + vec2(400.0, 0.0));
    let edge = pos2(lessons.left(), lessons.center().y);
    drag(&mut harness, edge, edge - vec2(400.0, 0.0));
    let [inputs_after, lessons_after, central] = normal_layout(&harness);
    assert!(
        inputs_after.width() > inputs.width() + 10.0,
        "the drag widened it"
    );
    assert!(
        lessons_after.width() > lessons.width() + 10.0,
        "the drag widened it"
    );
    assert!(central.width() >= 0.4 * width, "{central:?} of {width}");
}

/// The presenter decoder tables at `step`: (its rect, the figure's label size, the texts
/// painted inside it).
fn decoder_table(harness: &Harness<'static, App>) -> (Rect, f32, Vec<common::PaintedText>) {
    let table = harness.get_by_label("Decoder inputs table").rect();
    let figure = regions::figure(&harness.ctx).expect("a figure");
    let texts = common::painted_texts(harness)
        .into_iter()
        .filter(|t| table.expand(2.0).contains_rect(t.unclipped))
        .collect();
    (table, figure.label_points, texts)
}

const EXPOSURE_BIAS: Step = Step {
    lesson: "exposure-bias",
    step: 1,
    view: ViewId::Decoder,
    name: "exposure",
};

#[test]
fn a_26_column_decoder_table_is_whole_on_every_screen() {
    for size in SIZES {
        let mut harness = presenting(size, &EXPOSURE_BIAS);
        let at = format!("{}x{}", size[0], size[1]);
        if std::env::var_os("MASKSCOPE_LOOK").is_some() {
            let image = harness.render().expect("an image");
            image
                .save(format!("/tmp/x19/snaps/exposure_{at}.png"))
                .unwrap();
        }
        let central = regions::panel_rect(&harness.ctx, Panel::Central).expect("central");
        let (table, _, texts) = decoder_table(&harness);
        assert!(
            central.expand(1.0).contains_rect(table),
            "{at}: the table {table:?} is cut by the central panel {central:?}"
        );
        // Every column's number is drawn, inside the window.
        for column in 0..26 {
            assert!(
                texts
                    .iter()
                    .any(|t| t.text == column.to_string() && central.contains_rect(t.unclipped)),
                "{at}: column {column} is not on screen"
            );
        }
    }
}

#[test]
fn no_token_in_a_presenter_decoder_table_is_smaller_than_its_labels() {
    for size in SIZES {
        for step in [&STEPS[3], &STEPS[4], &EXPOSURE_BIAS] {
            let harness = presenting(size, step);
            let at = format!("{} at {}x{}", step.name, size[0], size[1]);
            let (_, label_points, texts) = decoder_table(&harness);
            let special: Vec<&common::PaintedText> =
                texts.iter().filter(|t| t.text.starts_with('<')).collect();
            assert!(!special.is_empty(), "{at}: no <bos> / <eos> in the table");
            for text in &texts {
                assert!(
                    text.points >= label_points - 0.01,
                    "{at}: {:?} is drawn at {} points, the labels at {label_points}",
                    text.text,
                    text.points
                );
            }
        }
    }
}

#[test]
fn a_rounding_size_leak_readout_says_it_is_float_rounding() {
    let mut harness = presenting([1280.0, 720.0], &STEPS[0]);
    harness.state_mut().state_mut().readouts.padding_delta = Some(1.9e-6);
    harness.run_steps(1);
    let readout = common::painted_text_containing(&harness, "1.9e-6");
    assert!(
        readout.text.contains("float rounding"),
        "the readout explains its rounding: {:?}",
        readout.text
    );
}
