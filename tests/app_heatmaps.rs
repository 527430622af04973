//! Heatmaps of long and uneven sequences in the real window (egui_kittest): the bundled
//! `numbers` model turns 6 source characters into 43 target tokens, so its cross-attention
//! is 43 x 6. Thumbnails show their cells, the enlarged heatmap uses the panel's width, and
//! no two labels overlap at any size.

use egui::Rect;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use maskscope::app::App;
use maskscope::app::settings::ViewId;
use maskscope::bundled_models;
use maskscope::trace::AttentionKind;

mod common;

/// The app at `size` on the bundled model `bundled`, showing `kind` in the attention view.
fn attention_of(
    bundled: bundled_models::Bundled,
    kind: AttentionKind,
    size: [f32; 2],
) -> Harness<'static, App> {
    let mut harness = common::app_sized(size);
    harness.run_steps(2);
    let state = harness.state_mut().state_mut();
    assert!(state.open_bundled(bundled));
    state.settings.view = ViewId::Attention;
    state.settings.attention.kind = kind;
    harness.run_steps(4);
    harness
}

/// Where the widget with this accessible name was drawn.
fn rect_of(harness: &Harness<'static, App>, name: &str) -> Rect {
    harness.get_by_label(name).rect()
}

/// The area of the filled rectangles and meshes the last frame painted inside `area`.
fn filled_area_inside(harness: &Harness<'static, App>, area: Rect) -> f32 {
    fn walk(shape: &egui::Shape, area: Rect, sum: &mut f32) {
        match shape {
            egui::Shape::Vec(shapes) => shapes.iter().for_each(|s| walk(s, area, sum)),
            egui::Shape::Rect(r) if r.fill.a() > 0 && area.contains_rect(r.rect) => {
                *sum += r.rect.area();
            }
            egui::Shape::Mesh(mesh) => {
                for t in mesh.indices.chunks_exact(3) {
                    let [a, b, c] = [0, 1, 2].map(|i| mesh.vertices[t[i] as usize]);
                    if a.color.a() > 0 && [a, b, c].iter().all(|v| area.contains(v.pos)) {
                        *sum += 0.5
                            * (b.pos - a.pos)
                                .x
                                .mul_add((c.pos - a.pos).y, -(c.pos - a.pos).x * (b.pos - a.pos).y)
                                .abs();
                    }
                }
            }
            _ => {}
        }
    }
    let mut sum = 0.0;
    for clipped in &harness.output().shapes {
        walk(&clipped.shape, area, &mut sum);
    }
    sum
}

#[test]
fn a_43_by_6_matrix_fills_its_thumbnails_and_the_panel_width() {
    for kind in [AttentionKind::Cross, AttentionKind::DecoderSelf] {
        let mut harness = attention_of(bundled_models::NUMBERS, kind, [1366.0, 768.0]);
        let seq = harness.state().state().sequence().expect("a trace").clone();
        assert_eq!(seq.tgt_len, 43, "numbers' first row: 43 decoder positions");
        // The enlarged 43 x 6 heatmap is not a thin strip in a wide panel.
        let enlarged = rect_of(&harness, "Attention heatmap");
        assert!(
            enlarged.width() >= 0.5 * enlarged.height(),
            "{kind:?}: the enlarged heatmap is {enlarged:?}"
        );
        if std::env::var_os("MASKSCOPE_LOOK").is_some() {
            let image = harness.render().expect("an image");
            image
                .save(format!("/tmp/x19/snaps/thumbs_{kind:?}.png"))
                .unwrap();
        }
        for name in ["Layer 0 head 0", "Layer 1 mean over heads"] {
            let thumb = rect_of(&harness, name);
            let side = thumb.width().max(thumb.height());
            assert!(side >= 36.0, "{kind:?} {name}: {thumb:?}");
            // The cells cover most of a square of the thumbnail's longer side.
            let cells = filled_area_inside(&harness, thumb.expand(1.0));
            assert!(
                cells >= 0.6 * side * side,
                "{kind:?} {name}: cells cover {cells:.0} of {:.0} square points ({thumb:?})",
                side * side
            );
        }
    }
}

/// Pairs of overlapping texts inside the central view (labels, titles, hints).
fn overlaps_in_view(harness: &Harness<'static, App>) -> Vec<(String, String)> {
    let view =
        maskscope::app::regions::panel_rect(&harness.ctx, maskscope::app::regions::Panel::Central)
            .expect("the central panel");
    common::overlapping_texts(harness, view)
}

/// The Marian en-zh fixture (subword pieces such as `▁elephant`, Chinese targets).
fn marian_fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marian/en-zh")
}

#[test]
fn labels_never_overlap_in_any_view_at_any_size() {
    let cases = [
        (Some(bundled_models::NUMBERS), AttentionKind::Cross),
        (Some(bundled_models::NUMBERS), AttentionKind::DecoderSelf),
        (Some(bundled_models::CHINESE), AttentionKind::Cross),
        (Some(bundled_models::DATES), AttentionKind::DecoderSelf),
        (None, AttentionKind::Cross),
        (None, AttentionKind::EncoderSelf),
    ];
    let mut found = vec![];
    for size in [[1280.0, 720.0], [1366.0, 768.0], [1920.0, 1080.0]] {
        for (bundled, kind) in cases {
            let mut harness = match bundled {
                Some(bundled) => attention_of(bundled, kind, size),
                None => {
                    let mut harness = attention_of(bundled_models::DATES, kind, size);
                    assert!(
                        harness
                            .state_mut()
                            .state_mut()
                            .open_model(&marian_fixture())
                    );
                    harness.run_steps(4);
                    harness
                }
            };
            let name = bundled.map_or("marian", |b| b.name);
            for zoom in [1.0, 1.4] {
                harness.ctx.set_zoom_factor(zoom);
                for view in [ViewId::Attention, ViewId::Masks] {
                    harness.state_mut().state_mut().settings.view = view;
                    harness.run_steps(3);
                    if std::env::var_os("MASKSCOPE_LOOK").is_some() && size[0] == 1366.0 {
                        let image = harness.render().expect("an image");
                        let file = format!("/tmp/x19/snaps/{name}_{kind:?}_{view:?}_{zoom}.png");
                        image.save(file).unwrap();
                    }
                    for pair in overlaps_in_view(&harness) {
                        found.push(format!(
                            "{name} {kind:?} {view:?} {size:?} x{zoom}: {pair:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} overlaps:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// The cross-attention lesson's step 3 in the normal layout at 1366x768 with the lessons
/// panel open, after `presses` clicks on A+.
fn lesson_with_zoom(presses: usize) -> Harness<'static, App> {
    let mut harness = common::app_sized([1366.0, 768.0]);
    harness.run_steps(2);
    {
        let state = harness.state_mut().state_mut();
        let lesson = state
            .classroom
            .lessons
            .iter()
            .position(|l| l.id == "cross-attention")
            .expect("the lesson exists");
        state.settings.lessons_open = true;
        maskscope::app::actions::lessons::apply_step(state, lesson, 2);
    }
    harness.run_steps(4);
    for _ in 0..presses {
        harness.get_by_label("A+").click();
        harness.run_steps(4);
    }
    harness
}

#[test]
fn a_plus_with_the_lessons_panel_open_reflows_the_heatmap_instead_of_clipping_it() {
    for presses in 0..=3 {
        let mut harness = lesson_with_zoom(presses);
        let zoom = harness.ctx.zoom_factor();
        assert_eq!(harness.state().state().settings.view, ViewId::Attention);
        let central = maskscope::app::regions::panel_rect(
            &harness.ctx,
            maskscope::app::regions::Panel::Central,
        )
        .expect("the central panel");
        let heatmap = rect_of(&harness, "Attention heatmap");
        if std::env::var_os("MASKSCOPE_LOOK").is_some() {
            let image = harness.render().expect("an image");
            image
                .save(format!("/tmp/x19/snaps/aplus_{presses}.png"))
                .unwrap();
        }
        // The central panel's own rect grows with what overflows it: what is visible ends
        // where the lessons panel starts, and above the status bar.
        let lessons = maskscope::app::regions::panel_rect(
            &harness.ctx,
            maskscope::app::regions::Panel::Lessons,
        )
        .expect("the lessons panel");
        let visible = Rect::from_min_max(central.min, egui::pos2(lessons.left(), lessons.bottom()));
        assert!(
            visible.expand(1.0).contains_rect(heatmap),
            "zoom {zoom}: the heatmap {heatmap:?} is cut; visible {visible:?}"
        );
        // Nor is any text of the view (a row of controls too wide pushes everything out).
        let cut: Vec<String> = common::painted_texts(&harness)
            .into_iter()
            .filter(|t| visible.contains(t.unclipped.left_top()))
            .filter(|t| t.unclipped.right() > visible.right() + 1.0)
            .map(|t| t.text)
            .collect();
        assert!(
            cut.is_empty(),
            "zoom {zoom}: cut at the lessons panel: {cut:?}"
        );
    }
}
