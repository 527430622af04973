//! The fine-tune view's right side: live curves of the runs, and the table of runs.

use egui::{Color32, RichText, Ui, vec2};
use egui_plot::{AxisHints, Legend, Line, LineStyle, Plot, PlotPoints, uniform_grid_spacer};

use crate::app::regions::{self, FigureInfo};
use crate::app::state::AppState;
use crate::app::state::runs::{RunRecord, RunStatus};
use crate::i18n::{tr, trf};
use crate::trace::{EvalMetrics, StepMetrics};

/// Okabe-Ito: distinguishable with the common colour-vision deficiencies.
pub const RUN_COLORS: [Color32; 7] = [
    Color32::from_rgb(0xe6, 0x9f, 0x00),
    Color32::from_rgb(0x56, 0xb4, 0xe9),
    Color32::from_rgb(0x00, 0x9e, 0x73),
    Color32::from_rgb(0xd5, 0x5e, 0x00),
    Color32::from_rgb(0xcc, 0x79, 0xa7),
    Color32::from_rgb(0x00, 0x72, 0xb2),
    Color32::from_rgb(0xf0, 0xe4, 0x42),
];

pub fn run_color(run: &RunRecord) -> Color32 {
    RUN_COLORS[run.color % RUN_COLORS.len()]
}

/// The loss, accuracy and learning-rate curves of the visible runs.
pub(super) fn curves(ui: &mut Ui, state: &AppState) {
    let runs: Vec<&RunRecord> = state.training.runs.iter().filter(|r| r.visible).collect();
    if state.training.runs.is_empty() {
        ui.label(
            RichText::new(tr(
                "No runs yet. Press Start training; curves appear here live.",
            ))
            .weak(),
        );
    }
    // A lesson step may point at one run: its curves thicker, the others faded.
    let any_highlight = runs
        .iter()
        .any(|r| state.classroom.is_highlighted_run(&r.name));
    let emphasis = |r: &RunRecord| -> (Color32, f32) {
        let c = run_color(r);
        if state.classroom.is_highlighted_run(&r.name) {
            (c, 2.5)
        } else if any_highlight {
            (c.gamma_multiply(0.4), 1.0)
        } else {
            (c, 1.0)
        }
    };
    // Before any run the axes span the form's step budget and 0..1, not -0.5..0.5.
    let x_end = runs
        .is_empty()
        .then_some(state.settings.finetune.steps as f64);
    let width = ui.available_width().max(200.0);
    let presenter = state.settings.presenter;
    let height = if presenter {
        // Presenter mode: the plots are the figure. The loss plot takes 60 % of the room
        // left after the two titles, the accuracy and learning-rate plots the rest.
        let titles = 2.0 * ui.spacing().interact_size.y + 3.0 * ui.spacing().item_spacing.y;
        ((ui.available_height() - titles) * 0.6).max(120.0)
    } else {
        ((ui.available_height() - 200.0) / 2.5).clamp(130.0, 260.0)
    };
    let small_height = if presenter {
        height * 0.62
    } else {
        height * 0.8
    };
    ui.label(RichText::new(tr("Loss (solid: train, dashed: validation)")).strong());
    let loss = ui.name_inputs(tr("Loss plot"), |ui| {
        plot("loss_plot", width, height, x_end)
            // The one legend: the narrow plots below use the same colour per run, and their
            // own legends, wider than they are, covered each other.
            .legend(Legend::default())
            .show(ui, |plot| {
                for r in &runs {
                    let (c, w) = emphasis(r);
                    let solid = LineStyle::Solid;
                    let dashed = LineStyle::dashed_loose();
                    let train = |s: &StepMetrics| (s.step, s.train_loss as f64);
                    let val = |e: &EvalMetrics| (e.step, e.val_loss as f64);
                    // One name for both curves of a run: one legend entry per run (eight
                    // entries for four runs covered the plot); the title tells the two apart.
                    plot.line(curve(r, "{}", &r.steps, train, (c, 1.5 * w), solid));
                    plot.line(curve(r, "{}", &r.evals, val, (c, 2.0 * w), dashed));
                }
            })
            .response
            .rect
    });
    let below = ui.horizontal_top(|ui| {
        // Accuracy, learning rate and weight norm share one row.
        let third = (width - 24.0) / 3.0;
        ui.vertical(|ui| {
            column_title(
                ui,
                third,
                tr("Accuracy (solid: token, dotted: exact match)"),
            );
            ui.name_inputs(tr("Accuracy plot"), |ui| {
                let accuracy = plot("acc_plot", third, small_height, x_end).include_y(1.0);
                accuracy.show(ui, |plot| {
                    for r in &runs {
                        let (c, w) = emphasis(r);
                        let token = |e: &EvalMetrics| (e.step, e.token_accuracy as f64);
                        let exact = |e: &EvalMetrics| (e.step, e.exact_match as f64);
                        let dotted = LineStyle::dotted_dense();
                        let label = "{} token acc";
                        plot.line(curve(
                            r,
                            label,
                            &r.evals,
                            token,
                            (c, 2.0 * w),
                            LineStyle::Solid,
                        ));
                        plot.line(curve(r, "{} exact", &r.evals, exact, (c, 2.0 * w), dotted));
                    }
                });
            });
        });
        ui.vertical(|ui| {
            column_title(ui, third, tr("Learning rate"));
            ui.name_inputs(tr("Learning rate plot"), |ui| {
                plot("lr_plot", third, small_height, x_end).show(ui, |plot| {
                    for r in &runs {
                        let lr = |s: &StepMetrics| (s.step, s.learning_rate);
                        let style = (run_color(r), 1.5);
                        plot.line(curve(r, "{} lr", &r.steps, lr, style, LineStyle::Solid));
                    }
                });
            });
        });
        ui.vertical(|ui| {
            column_title(ui, third, tr("Weight norm (trainable)"));
            ui.name_inputs(tr("Weight norm plot"), |ui| {
                plot_fitted("norm_plot", third, small_height, x_end).show(ui, |plot| {
                    for r in &runs {
                        let (c, w) = emphasis(r);
                        // Only evaluations of a run measure it.
                        let measured: Vec<(usize, f32)> = r
                            .evals
                            .iter()
                            .filter_map(|e| Some((e.step, e.weight_norm?)))
                            .collect();
                        let norm = |m: &(usize, f32)| (m.0, m.1 as f64);
                        let style = (c, 2.0 * w);
                        plot.line(curve(
                            r,
                            "{} norm",
                            &measured,
                            norm,
                            style,
                            LineStyle::Solid,
                        ));
                    }
                });
            });
        });
    });
    if presenter {
        // Tick labels and the legend are Body text.
        let label_points = egui::TextStyle::Body.resolve(ui.style()).size;
        regions::remember_figure(
            ui.ctx(),
            FigureInfo {
                rect: loss.union(below.response.rect),
                label_points,
            },
        );
    }
}

/// The title above one of the narrow plots, wrapped to the plot's width so the row stays
/// inside the panel.
fn column_title(ui: &mut Ui, width: f32, title: &str) {
    ui.set_width(width);
    ui.add(egui::Label::new(RichText::new(title).strong()).wrap());
}

/// A plot of the fine-tune view: steps along x from 0, y from 0; with no curves yet, x up to
/// `x_end` (the step budget) and y up to 1.
fn plot(id: &str, width: f32, height: f32, x_end: Option<f64>) -> Plot<'_> {
    plot_fitted(id, width, height, x_end).include_y(0.0)
}

/// A plot whose y range fits its curves: a weight norm moves by a few percent, which a range
/// from 0 would flatten.
fn plot_fitted(id: &str, width: f32, height: f32, x_end: Option<f64>) -> Plot<'_> {
    let plot = Plot::new(id)
        // Tick labels closer together than egui_plot's defaults (20 points on y, 60 on x):
        // a loss from 0 to 7 on a 130-point plot had a label at 0 only, and 800 steps on the
        // loss plot's width none but 0, so a lesson's "3.4 against 7.1" or "around step 50"
        // could not be read off the axes.
        .custom_y_axes(vec![
            AxisHints::new_y()
                .label_spacing(12.0..=18.0)
                .formatter(tick_label),
        ])
        .y_grid_spacer(uniform_grid_spacer(one_two_five))
        .custom_x_axes(vec![
            AxisHints::new_x()
                .label(tr("step"))
                .label_spacing(30.0..=50.0),
        ])
        .height(height)
        .width(width)
        .include_x(0.0);
    match x_end {
        Some(end) => plot.include_x(end).include_y(0.0).include_y(1.0),
        None => plot,
    }
}

/// Grid steps of 1, 2 or 5 times a power of ten, from the smallest the plot can show, each
/// a multiple of the one before (1, 2, 10 or 5, 10, 20): with egui_plot's powers of ten a
/// loss from 0 to 7 got lines every 1 (too close for a label on a short plot) and every 10
/// (none inside), so only 0 was labelled; now every 2 is.
fn one_two_five(input: egui_plot::GridInput) -> [f64; 3] {
    let smallest = input.base_step_size.abs().max(f64::MIN_POSITIVE);
    let power = 10f64.powf(smallest.log10().floor());
    let first = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|&step| step >= smallest * (1.0 - 1e-9))
        .unwrap_or(10.0 * power);
    // 1 -> 2, 2 -> 10, 5 -> 10 times the power of ten: every step divides the next.
    let next = |step: f64| {
        let power = 10f64.powf((step * (1.0 + 1e-9)).log10().floor());
        if step / power < 1.5 {
            2.0 * power
        } else {
            10.0 * power
        }
    };
    let second = next(first);
    [first, second, next(second)]
}

/// A y tick label with as many decimals as its grid step needs: egui_plot rounds the
/// decimals, so steps of 0.0005 on the learning-rate plot read 0.003, 0.003, 0.002, ...
fn tick_label(mark: egui_plot::GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    let decimals = (-(mark.step_size.log10() + 1e-9).floor()).max(0.0) as usize;
    format!("{:.*}", decimals, mark.value)
}

/// One curve of `run`: `point` gives each item's step and value. `name` is a pattern with
/// `{}` for the run's name (a key of the translation table); `(colour, width)` and `style` draw it.
fn curve<T>(
    run: &RunRecord,
    name: &'static str,
    items: &[T],
    point: impl Fn(&T) -> (usize, f64),
    (color, width): (Color32, f32),
    style: LineStyle,
) -> Line<'static> {
    let points: PlotPoints = items
        .iter()
        .map(|item| {
            let (step, value) = point(item);
            [step as f64, value]
        })
        .collect();
    Line::new(trf(name, &[&run.name]), points)
        .color(color)
        .width(width)
        .style(style)
}

pub(super) fn runs_table(ui: &mut Ui, state: &mut AppState) {
    if state.training.runs.is_empty() {
        return;
    }
    ui.label(RichText::new(tr("Runs")).strong());
    let live = state.training.live_index();
    let mut delete = None;
    egui::Grid::new("runs")
        .striped(true)
        .num_columns(6)
        .spacing(vec2(10.0, 4.0))
        .show(ui, |ui| {
            // The numbers a lesson quotes come right after the name, so a narrow panel cuts
            // off the status rather than them.
            for h in [
                tr("show"),
                tr("name"),
                tr("last val loss / exact"),
                tr("steps"),
                tr("status"),
            ] {
                ui.label(RichText::new(h).weak());
            }
            ui.label("");
            ui.end_row();
            for (i, r) in state.training.runs.iter_mut().enumerate() {
                let color = run_color(r);
                ui.horizontal(|ui| {
                    let (rect, _) = ui.allocate_exact_size(vec2(10.0, 10.0), egui::Sense::hover());
                    ui.painter().rect_filled(rect, 2.0, color);
                    ui.checkbox(&mut r.visible, "")
                        .accessible_name(trf("Show {}", &[&r.name]));
                    if off_base(r) {
                        // First in the row, where a narrow panel never cuts it off: its
                        // curves do not show what the lesson says about its preset.
                        let note = tr("not from the lesson's base");
                        ui.label(
                            RichText::new("!")
                                .strong()
                                .color(ui.visuals().warn_fg_color),
                        )
                        .accessible_name(note)
                        .on_hover_text(note);
                    }
                });
                let number = i + 1;
                ui.add_sized([100.0, 20.0], egui::TextEdit::singleline(&mut r.name))
                    .accessible_name(trf("Name of run {}", &[&number]));
                ui.label(r.evals.last().map_or("-".to_owned(), |e| {
                    // One decimal: 200 validation examples make steps of 0.5 %.
                    format!("{:.3} / {:.1} %", e.val_loss, 100.0 * e.exact_match)
                }));
                ui.label(format!(
                    "{}/{}",
                    r.steps.last().map_or(0, |s| s.step),
                    r.total_steps
                ));
                let status = run_status(&r.status);
                let short = status
                    .split([':', '：'])
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                ui.label(short).on_hover_text(status);
                if ui
                    .add_enabled(
                        live != Some(i),
                        egui::Button::new(trf("Delete run {}", &[&number])),
                    )
                    .clicked()
                {
                    delete = Some(i);
                }
                ui.end_row();
            }
        });
    // What each run was, wrapped to the panel (too long for a table column): at the visible
    // edge, since a wide table widens the scroll area under the lessons panel (drawn first).
    let mut right = ui.clip_rect().right();
    if let Some(lessons) = regions::panel_rect(ui.ctx(), regions::Panel::Lessons) {
        right = right.min(lessons.left());
    }
    let width = (right - ui.cursor().min.x - 8.0).max(160.0);
    let column = egui::Layout::top_down(egui::Align::Min);
    ui.allocate_ui_with_layout(vec2(width, 0.0), column, |ui| {
        for r in &state.training.runs {
            ui.label(
                RichText::new(format!("{}: {}", r.name, r.summary))
                    .small()
                    .weak(),
            );
            if let Some(base) = r.lesson_base.as_ref().filter(|b| !b.from_base) {
                ui.label(
                    RichText::new(trf(
                        "! {} did not start from the lesson's base, the shipped {} model: the model had already been fine-tuned or replaced, so its curves are not the ones the lesson describes.",
                        &[&r.name, &base.model],
                    ))
                    .small()
                    .color(ui.visuals().warn_fg_color),
                );
            }
            if let RunStatus::Failed(message) = &r.status {
                ui.label(
                    RichText::new(message)
                        .small()
                        .color(ui.visuals().error_fg_color),
                );
            }
        }
    });
    if let Some(i) = delete {
        state.training.delete(i);
    }
}

/// Whether a lesson's preset started `run` from weights other than the ones it names.
pub(super) fn off_base(run: &RunRecord) -> bool {
    run.lesson_base.as_ref().is_some_and(|b| !b.from_base)
}

/// A run's status for the window (the English `RunStatus::label` goes into files).
pub(super) fn run_status(status: &RunStatus) -> String {
    match status {
        RunStatus::Starting => tr("starting").to_owned(),
        RunStatus::Running => tr("running").to_owned(),
        RunStatus::Paused => tr("paused").to_owned(),
        RunStatus::Finished => tr("finished").to_owned(),
        RunStatus::Cancelled => tr("stopped").to_owned(),
        RunStatus::Failed(m) => trf("failed: {}", &[m]),
    }
}
