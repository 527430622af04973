//! The lessons panel (right side): pick a lesson, read a step in large type, go Back / Next.
//! Entering a step is `actions::lessons`; this panel only asks for it.

use egui::{RichText, Ui};

use crate::app::intents::Intent;
use crate::app::state::AppState;
use crate::i18n::{tr, trf};
use crate::lessons::Lesson;

/// The panel's contents. Returns what the user asked for (another step or lesson, or closing
/// the panel).
pub fn ui(ui: &mut Ui, state: &AppState) -> Option<Intent> {
    let mut intent = None;
    let big = ui.style().text_styles[&egui::TextStyle::Body].size * 1.3;
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.heading(RichText::new(tr("Lessons")).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .button(tr("Close"))
                .on_hover_text(tr("Hide the lessons panel (L)"))
                .clicked()
            {
                intent = Some(Intent::CloseLessons);
            }
        });
    });
    if let Some(e) = &state.classroom.lessons_error {
        ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
        return intent;
    }
    if state.classroom.lessons.is_empty() {
        ui.label(tr("No lessons."));
        return intent;
    }
    let current = state
        .classroom
        .lesson
        .min(state.classroom.lessons.len() - 1);
    let mut picked = None;
    let title = |i: usize, l: &Lesson| format!("{}. {}", i + 1, l.title.current());
    ui.scope(|ui| {
        ui.spacing_mut().combo_width = ui.available_width();
        egui::ComboBox::from_id_salt("lesson_picker")
            .selected_text(title(current, &state.classroom.lessons[current]))
            .width(ui.available_width())
            .show_ui(ui, |ui| {
                for (i, l) in state.classroom.lessons.iter().enumerate() {
                    if ui.selectable_label(i == current, title(i, l)).clicked() {
                        picked = Some(i);
                    }
                }
            })
            .response
            .on_hover_text(tr("Choose a lesson"));
    });
    if let Some(i) = picked {
        intent = Some(Intent::SelectLesson(i));
    }

    let c = &state.classroom;
    let lesson = &c.lessons[c.lesson.min(c.lessons.len() - 1)];
    let n = lesson.steps.len();
    let step = c.step.min(n - 1);
    let applied = c.applied;
    ui.label(RichText::new(lesson.summary.current()).weak());
    ui.separator();

    let mut go_next = false;
    let mut go_back = false;
    let last = applied && step + 1 == n && c.lesson + 1 == c.lessons.len();
    let nav = |ui: &mut Ui, go_back: &mut bool, go_next: &mut bool| {
        ui.horizontal(|ui| {
            let size = egui::vec2(0.0, big * 1.6);
            *go_back |= ui
                .add_enabled(
                    applied && step > 0,
                    egui::Button::new(RichText::new(tr("< Back")).size(big)).min_size(size),
                )
                .on_hover_text(tr("Previous step (B or Page Up)"))
                .clicked();
            let next_label = if !applied {
                tr("Start lesson")
            } else if step + 1 == n {
                tr("Next lesson >")
            } else {
                tr("Next >")
            };
            *go_next |= ui
                .add_enabled(
                    !last,
                    egui::Button::new(RichText::new(next_label).size(big).strong()).min_size(size),
                )
                .on_hover_text(tr("Next step (N or Page Down)"))
                .clicked();
        });
    };

    if applied {
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(trf("Step {} of {}", &[&(step + 1), &n]))
                    .strong()
                    .size(big * 0.85),
            );
            progress_dots(ui, step, n);
        });
    } else {
        ui.label(RichText::new(trf("{} steps", &[&n])).strong());
    }
    nav(ui, &mut go_back, &mut go_next);
    ui.separator();

    egui::ScrollArea::vertical()
        .id_salt("lesson_text")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let st = &lesson.steps[step];
            if applied {
                ui.label(RichText::new(st.title.current()).strong().size(big * 1.15));
                // What the step could not set up comes first: it changes what the class sees.
                for note in &state.classroom.step_notes {
                    ui.add_space(4.0);
                    ui.label(
                        RichText::new(note)
                            .size(big * 0.8)
                            .color(ui.visuals().warn_fg_color),
                    );
                }
                ui.add_space(6.0);
                ui.label(RichText::new(st.body.current()).size(big));
                let s = lesson.state_at(step);
                if s.view.as_deref() == Some("inputs") {
                    ui.add_space(6.0);
                    ui.label(
                        RichText::new(tr("Look at the Inputs panel on the left."))
                            .size(big)
                            .color(ui.visuals().hyperlink_color),
                    );
                }
                if s.finetune.is_some() {
                    ui.add_space(6.0);
                    ui.label(
                        RichText::new(tr(
                            "The fine-tune form is filled in; press Start training when you are ready.",
                        ))
                        .size(big * 0.9)
                        .color(ui.visuals().hyperlink_color),
                    );
                }
            } else {
                ui.label(RichText::new(lesson.title.current()).strong().size(big * 1.15));
                ui.add_space(6.0);
                ui.label(
                    RichText::new(tr(
                        "Press Start lesson (or N) to set up the first step. Lessons change the model, the inputs and the masks.",
                    ))
                    .size(big),
                );
            }
        });

    if go_back {
        Some(Intent::PreviousLessonStep)
    } else if go_next {
        Some(Intent::NextLessonStep)
    } else {
        intent
    }
}

/// One dot per step, the current one filled.
fn progress_dots(ui: &mut Ui, step: usize, n: usize) {
    let r = 5.0;
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(n as f32 * 3.0 * r, 2.0 * r + 2.0),
        egui::Sense::hover(),
    );
    let color = ui.visuals().strong_text_color();
    for i in 0..n {
        let c = egui::pos2(rect.left() + r + i as f32 * 3.0 * r, rect.center().y);
        if i <= step {
            ui.painter().circle_filled(c, r, color);
        } else {
            ui.painter()
                .circle_stroke(c, r - 0.5, egui::Stroke::new(1.5, color));
        }
    }
}
