//! The lessons panel (right side): pick a lesson, read a step in large type, go Back / Next.
//! In presenter mode the same step is a caption beside (or under) the figure. Entering a step
//! is `actions::lessons`; this panel only asks for it.

use egui::text::{LayoutJob, TextFormat};
use egui::{FontId, RichText, Ui};

use crate::app::intents::Intent;
use crate::app::state::AppState;
use crate::app::state::classroom::{BodyPart, step_body};
use crate::i18n::{tr, trf};
use crate::lessons::{Lesson, LessonView};

/// The panel's contents. Returns what the user asked for (another step or lesson, or closing
/// the panel).
pub fn ui(ui: &mut Ui, state: &AppState) -> Option<Intent> {
    panel(ui, state, Look::Panel)
}

/// Presenter mode's caption: the lesson, the step counter, Back / Next, the step's title and
/// its text (scrolling inside the caption), without the panel's heading and the summary.
pub fn caption(ui: &mut Ui, state: &AppState) -> Option<Intent> {
    panel(ui, state, Look::Caption)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Look {
    Panel,
    Caption,
}

fn panel(ui: &mut Ui, state: &AppState, look: Look) -> Option<Intent> {
    let mut intent = None;
    // Presenter text is already large; the panel's is made larger here.
    let factor = if look == Look::Caption { 1.05 } else { 1.3 };
    let big = ui.style().text_styles[&egui::TextStyle::Body].size * factor;
    ui.add_space(4.0);
    if look == Look::Panel && heading(ui) {
        intent = Some(Intent::CloseLessons);
    }
    if let Some(e) = &state.classroom.lessons_error {
        ui.label(RichText::new(e).color(ui.visuals().error_fg_color));
        return intent;
    }
    if state.classroom.lessons.is_empty() {
        ui.label(tr("No lessons."));
        return intent;
    }
    if let Some(i) = lesson_picker(ui, state) {
        intent = Some(Intent::SelectLesson(i));
    }
    let c = &state.classroom;
    let lesson = &c.lessons[c.lesson.min(c.lessons.len() - 1)];
    if look == Look::Panel {
        ui.label(RichText::new(lesson.summary.current()).weak());
    }
    ui.separator();
    if let Some(nav) = step_header(ui, state, lesson, big) {
        intent = Some(nav);
    }
    ui.separator();
    // A solid scroll bar: the room should see that the text goes on below the band.
    ui.spacing_mut().scroll = egui::style::ScrollStyle::solid();
    egui::ScrollArea::vertical()
        .id_salt("lesson_text")
        .auto_shrink([false, false])
        .show(ui, |ui| step_text(ui, state, lesson, big));
    intent
}

/// The panel's title and its Close button; returns whether Close was clicked.
fn heading(ui: &mut Ui) -> bool {
    let mut close = false;
    ui.horizontal(|ui| {
        ui.heading(RichText::new(tr("Lessons")).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            close = ui
                .button(tr("Close"))
                .on_hover_text(tr("Hide the lessons panel (L)"))
                .clicked();
        });
    });
    close
}

/// The lesson chooser; returns the lesson picked.
fn lesson_picker(ui: &mut Ui, state: &AppState) -> Option<usize> {
    let lessons = &state.classroom.lessons;
    let current = state.classroom.lesson.min(lessons.len() - 1);
    let mut picked = None;
    let title = |i: usize, l: &Lesson| format!("{}. {}", i + 1, l.title.current());
    ui.scope(|ui| {
        ui.spacing_mut().combo_width = ui.available_width();
        egui::ComboBox::from_id_salt("lesson_picker")
            .selected_text(title(current, &lessons[current]))
            .width(ui.available_width())
            .truncate()
            .show_ui(ui, |ui| {
                for (i, l) in lessons.iter().enumerate() {
                    if ui.selectable_label(i == current, title(i, l)).clicked() {
                        picked = Some(i);
                    }
                }
            })
            .response
            .on_hover_text(tr("Choose a lesson"));
    });
    picked
}

/// "Step 2 of 5" with a dot per step, then Back / Next; returns the step asked for.
fn step_header(ui: &mut Ui, state: &AppState, lesson: &Lesson, big: f32) -> Option<Intent> {
    let c = &state.classroom;
    let n = lesson.steps.len();
    let step = c.step.min(n - 1);
    let applied = c.applied;
    if applied {
        ui.horizontal_wrapped(|ui| {
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
    let last = applied && step + 1 == n && c.lesson + 1 == c.lessons.len();
    let (mut go_back, mut go_next) = (false, false);
    ui.horizontal(|ui| {
        let size = egui::vec2(0.0, big * 1.6);
        go_back = ui
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
        go_next = ui
            .add_enabled(
                !last,
                egui::Button::new(RichText::new(next_label).size(big).strong()).min_size(size),
            )
            .on_hover_text(tr("Next step (N or Page Down)"))
            .clicked();
    });
    if go_back {
        Some(Intent::PreviousLessonStep)
    } else if go_next {
        Some(Intent::NextLessonStep)
    } else {
        None
    }
}

/// The step's title, what it could not set up, its text and where to look.
fn step_text(ui: &mut Ui, state: &AppState, lesson: &Lesson, big: f32) {
    let c = &state.classroom;
    let step = c.step.min(lesson.steps.len() - 1);
    if !c.applied {
        ui.label(
            RichText::new(lesson.title.current())
                .strong()
                .size(big * 1.15),
        );
        ui.add_space(6.0);
        ui.label(
            RichText::new(tr(
                "Press Start lesson (or N) to set up the first step. Lessons change the model, the inputs and the masks.",
            ))
            .size(big),
        );
        return;
    }
    let st = &lesson.steps[step];
    ui.label(RichText::new(st.title.current()).strong().size(big * 1.15));
    // What the step could not set up comes first: it changes what the class sees.
    for note in &c.step_notes {
        ui.add_space(4.0);
        ui.label(
            RichText::new(note)
                .size(big * 0.8)
                .color(ui.visuals().warn_fg_color),
        );
    }
    ui.add_space(6.0);
    body(ui, &step_body(lesson, step, &state.training.runs), big);
    let s = lesson.state_at(step);
    if s.view == Some(LessonView::Inputs) {
        ui.add_space(6.0);
        let look = if state.settings.presenter {
            tr("Open the inputs strip above the figure (1).")
        } else {
            tr("Look at the Inputs panel on the left.")
        };
        ui.label(
            RichText::new(look)
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
}

/// The step's text, its run figures in strong type (italic while the run trains), and the
/// ones still to come as a bracket in the link colour naming the step to run, explained once
/// below the text.
fn body(ui: &mut Ui, parts: &[BodyPart], size: f32) {
    let font = FontId::proportional(size);
    let visuals = ui.visuals();
    let plain = TextFormat::simple(font.clone(), visuals.text_color());
    let strong = TextFormat::simple(font.clone(), visuals.strong_text_color());
    let live = TextFormat {
        italics: true,
        ..strong.clone()
    };
    let missing = TextFormat::simple(font, visuals.hyperlink_color);
    let mut job = LayoutJob::default();
    for part in parts {
        let format = match part {
            BodyPart::Text(_) => &plain,
            BodyPart::Figure { live: false, .. } => &strong,
            BodyPart::Figure { live: true, .. } => &live,
            BodyPart::Missing { .. } => &missing,
        };
        job.append(&part.text(), 0.0, format.clone());
    }
    job.wrap.max_width = ui.available_width();
    ui.label(job);
    if parts
        .iter()
        .any(|p| matches!(p, BodyPart::Missing { step: Some(_) }))
    {
        ui.add_space(4.0);
        ui.label(
            RichText::new(tr(
                "A figure in brackets is read off a training run on your screen: go to the step it names and press Start training.",
            ))
            .size(size * 0.85)
            .color(ui.visuals().hyperlink_color),
        );
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
