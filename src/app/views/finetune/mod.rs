//! Fine-tune: choose data, freeze parameter groups, set hyper-parameters, and watch live
//! curves while the views follow the weights as they change.

use egui::{RichText, Ui, vec2};

mod curves;

use self::curves::{curves, run_status, runs_table};
use super::{View, explain};
use crate::app::intents::{FilePurpose, Intent, Intents};
use crate::app::labels;
use crate::app::regions::note_view_scroll;
use crate::app::settings::DataSource;
use crate::app::state::AppState;
use crate::app::state::runs::RunStatus;
use crate::app::widgets::{labeled_drag, thousands};
use crate::i18n::{tr, trf};
use crate::lessons::ViewSection;
use crate::model::groups::Group;
use crate::model::training::{TrainCommand, trainable_counts};
use crate::tasks::Task;

#[derive(Default)]
pub struct FinetuneView;

impl View for FinetuneView {
    fn title(&self) -> &str {
        tr("Fine-tune")
    }

    fn ui(&mut self, ui: &mut Ui, state: &mut AppState) -> Intents {
        let mut intents = Intents::new();
        let form_width = 370.0f32.min(ui.available_width() * 0.45);
        ui.horizontal_top(|ui| {
            ui.allocate_ui_with_layout(
                vec2(form_width, ui.available_height()),
                egui::Layout::top_down(egui::Align::Min),
                |ui| {
                    ui.set_width(form_width);
                    // The controls stay in view; the long form scrolls under them.
                    controls(ui, state, &mut intents);
                    ui.separator();
                    let scroll = egui::ScrollArea::vertical()
                        .id_salt("finetune_form")
                        .auto_shrink([false, false])
                        .show(ui, |ui| {
                            ui.set_width(form_width - 16.0);
                            form(ui, state, &mut intents);
                        });
                    note_view_scroll(ui.ctx(), scroll.inner_rect, scroll.content_size);
                },
            );
            ui.separator();
            ui.vertical(|ui| {
                let scroll = egui::ScrollArea::vertical()
                    .id_salt("finetune_curves")
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        curves(ui, state);
                        ui.add_space(8.0);
                        runs_table(ui, state);
                    });
                note_view_scroll(ui.ctx(), scroll.inner_rect, scroll.content_size);
            });
        });
        intents
    }
}

impl FinetuneView {
    /// Presenter mode, the curves first: the run controls on one line, the form folded away
    /// under them, and the curves filling the rest.
    pub fn presenter_ui(&mut self, ui: &mut Ui, state: &mut AppState) -> Intents {
        let mut intents = Intents::new();
        controls(ui, state, &mut intents);
        egui::CollapsingHeader::new(tr("Training settings"))
            .id_salt("presenter_finetune_form")
            .default_open(false)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("presenter_finetune_form_scroll")
                    .max_height(ui.available_height() * 0.6)
                    .show(ui, |ui| form(ui, state, &mut intents));
            });
        ui.separator();
        curves(ui, state);
        intents
    }
}

fn form(ui: &mut Ui, state: &mut AppState, intents: &mut Intents) {
    let running = state.training.is_running();
    ui.label(RichText::new(trf("Base model: {}", &[&state.model.name])).strong());
    if state.training.base.is_some() {
        ui.add_enabled_ui(!running, |ui| {
            if ui
                .button(tr("Revert to base model"))
                .on_hover_text(tr("Undo every fine-tune of this model in this session"))
                .clicked()
            {
                state.revert_to_base();
            }
        });
    }
    ui.add_enabled_ui(!running, |ui| {
        data_section(ui, state, intents);
        ui.separator();
        groups_section(ui, state);
        ui.separator();
        if state.settings.presenter {
            // Presenter mode: the hyper-parameter grid is advanced, one click away.
            egui::CollapsingHeader::new(tr("Hyper-parameters"))
                .id_salt("hyper_collapsed")
                .default_open(false)
                .show(ui, |ui| hyper_section(ui, state));
        } else {
            if state
                .classroom
                .take_scroll(ViewSection::Hyperparameters, ui)
            {
                ui.scroll_to_cursor(Some(egui::Align::TOP));
            }
            hyper_section(ui, state);
        }
    });
}

fn data_section(ui: &mut Ui, state: &mut AppState, intents: &mut Intents) {
    ui.label(RichText::new(tr("Data")).strong());
    let tasks_fit = state.engine.trains_on_builtin_tasks();
    let f = &mut state.settings.finetune;
    let current = match &f.source {
        DataSource::Task(t) => trf("task: {}", &[&labels::task_name(*t)]),
        DataSource::File(_) => tr("TSV/CSV file").to_owned(),
    };
    let mut choose_file = false;
    egui::ComboBox::from_label(tr("Data source"))
        .selected_text(current)
        .show_ui(ui, |ui| {
            for t in Task::ALL.into_iter().filter(|_| tasks_fit) {
                if ui
                    .selectable_label(
                        f.source == DataSource::Task(t),
                        trf("task: {}", &[&labels::task_name(t)]),
                    )
                    .clicked()
                {
                    f.source = DataSource::Task(t);
                }
            }
            if ui
                .selectable_label(matches!(f.source, DataSource::File(_)), tr("TSV/CSV file"))
                .clicked()
            {
                choose_file = true;
            }
        });
    match &f.source {
        DataSource::Task(_) if !tasks_fit => {
            ui.label(
                RichText::new(tr(
                    "The built-in tasks are character tasks for the bundled models and do not apply to a translator: fine-tune it on your own TSV/CSV pairs (source<TAB>target per line; assets/data/en-zh.tsv is an English-Chinese example).",
                ))
                .color(ui.visuals().warn_fg_color),
            );
            if ui.button(tr("Choose file...")).clicked() {
                choose_file = true;
            }
        }
        DataSource::Task(task) => {
            explain(ui, labels::task_description(*task));
            ui.horizontal(|ui| {
                labeled_drag(
                    ui,
                    tr("Train examples"),
                    &mut f.train_size,
                    1..=200_000,
                    10.0,
                );
                labeled_drag(ui, tr("Validation"), &mut f.val_size, 0..=20_000, 2.0);
            });
        }
        DataSource::File(path) => {
            ui.label(
                RichText::new(path.display().to_string())
                    .monospace()
                    .small(),
            );
            ui.horizontal(|ui| {
                if ui.button(tr("Choose file...")).clicked() {
                    choose_file = true;
                }
            });
            let l = ui.label(tr("Validation fraction"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(egui::Slider::new(&mut f.val_fraction, 0.0..=0.5))
            });
            if let Some(data) = state.training.data.as_ref().filter(|d| &d.path == path) {
                ui.label(RichText::new(&data.summary).small());
                for e in data.errors.iter().take(5) {
                    ui.label(
                        RichText::new(trf("line {}: {}", &[&e.line, &e.message]))
                            .small()
                            .color(ui.visuals().warn_fg_color),
                    );
                }
                if data.errors.len() > 5 {
                    ui.label(
                        RichText::new(trf(
                            "... and {} more lines with errors",
                            &[&(data.errors.len() - 5)],
                        ))
                        .small()
                        .weak(),
                    );
                }
            } else {
                ui.label(
                    RichText::new(tr("Not loaded yet: choose the file."))
                        .color(ui.visuals().warn_fg_color),
                );
            }
        }
    }
    labeled_drag(ui, tr("Data seed"), &mut f.data_seed, 0..=u64::MAX, 1.0);
    if choose_file {
        intents.push(Intent::ChooseFile(FilePurpose::OpenData));
    }
}

fn groups_section(ui: &mut Ui, state: &mut AppState) {
    ui.label(RichText::new(tr("Parameter groups (tick = train, untick = freeze)")).strong());
    let counts = trainable_counts(&state.engine, &state.training.frozen);
    let all_groups = state.engine.groups();
    egui::Grid::new("groups")
        .num_columns(3)
        .spacing(vec2(8.0, 2.0))
        .striped(true)
        .show(ui, |ui| {
            ui.label(RichText::new(tr("group")).weak());
            ui.label(RichText::new(tr("params")).weak());
            ui.label(RichText::new(tr("lr x")).weak());
            ui.end_row();
            let mut section = "";
            for (group, n, trainable) in &counts {
                let this = section_of(*group);
                if this != section {
                    section = this;
                    // A section row: one box for every group in it.
                    let members: Vec<Group> = counts
                        .iter()
                        .map(|(g, _, _)| *g)
                        .filter(|g| section_of(*g) == this)
                        .collect();
                    let mut all = members.iter().all(|g| !state.training.frozen.contains(g));
                    if ui
                        .checkbox(&mut all, RichText::new(this).strong())
                        .on_hover_text(tr("Tick or untick the whole section"))
                        .changed()
                    {
                        for g in &members {
                            if all {
                                state.training.frozen.remove(g);
                            } else {
                                state.training.frozen.insert(*g);
                            }
                        }
                    }
                    let section_total: usize = counts
                        .iter()
                        .filter(|(g, _, _)| section_of(*g) == this)
                        .map(|(_, n, _)| n)
                        .sum();
                    ui.label(
                        RichText::new(thousands(section_total))
                            .monospace()
                            .small()
                            .weak(),
                    );
                    ui.label("");
                    ui.end_row();
                }
                let mut train = *trainable;
                if ui
                    .horizontal(|ui| {
                        ui.add_space(14.0);
                        ui.checkbox(&mut train, labels::group(*group))
                    })
                    .inner
                    .changed()
                {
                    if train {
                        state.training.frozen.remove(group);
                    } else {
                        state.training.frozen.insert(*group);
                    }
                }
                ui.label(RichText::new(thousands(*n)).monospace().small());
                let mut mult = state
                    .training
                    .multipliers
                    .get(group)
                    .copied()
                    .unwrap_or(1.0);
                let r = ui
                    .add_enabled(
                        train,
                        egui::DragValue::new(&mut mult)
                            .range(0.0..=10.0)
                            .speed(0.01)
                            .max_decimals(2),
                    )
                    .accessible_name(trf(
                        "Learning-rate multiplier for {}",
                        &[&labels::group(*group)],
                    ));
                if r.changed() {
                    if (mult - 1.0).abs() < 1e-9 {
                        state.training.multipliers.remove(group);
                    } else {
                        state.training.multipliers.insert(*group, mult);
                    }
                }
                ui.end_row();
            }
        });
    ui.horizontal_wrapped(|ui| {
        if ui.small_button(tr("Train all")).clicked() {
            state.training.frozen.clear();
        }
        if ui.small_button(tr("Freeze encoder + embeddings")).clicked() {
            state.training.frozen = all_groups
                .iter()
                .copied()
                .filter(|g| {
                    matches!(
                        g,
                        Group::EncoderLayer(_) | Group::SourceEmbedding | Group::TargetEmbedding
                    )
                })
                .collect();
        }
        if ui.small_button(tr("Train head only")).clicked() {
            state.training.frozen = all_groups
                .iter()
                .copied()
                .filter(|g| *g != Group::Head)
                .collect();
        }
    });
    let (trainable, total) = state.training.counts(&state.engine);
    ui.label(
        RichText::new(trf(
            "Trainable parameters: {} of {}",
            &[&thousands(trainable), &thousands(total)],
        ))
        .strong(),
    );
    if state.classroom.take_scroll(ViewSection::TrainableCount, ui) {
        ui.scroll_to_cursor(Some(egui::Align::BOTTOM));
    }
}

/// The branch of the freeze tree a group sits on.
fn section_of(group: Group) -> &'static str {
    match group {
        Group::SourceEmbedding | Group::TargetEmbedding => tr("Embeddings"),
        Group::EncoderLayer(_) => tr("Encoder"),
        Group::DecoderSelfAttention(_)
        | Group::DecoderCrossAttention(_)
        | Group::DecoderFeedForward(_) => tr("Decoder"),
        Group::FinalNorms | Group::Head => tr("Output"),
    }
}

fn hyper_section(ui: &mut Ui, state: &mut AppState) {
    ui.label(RichText::new(tr("Hyper-parameters")).strong());
    let f = &mut state.settings.finetune;
    egui::Grid::new("hyper")
        .num_columns(2)
        .spacing(vec2(8.0, 3.0))
        .show(ui, |ui| {
            let l = ui.label(tr("Learning rate"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(
                    egui::Slider::new(&mut f.learning_rate, 1e-5..=1e-1)
                        .logarithmic(true)
                        .custom_formatter(|v, _| format!("{v:.1e}")),
                )
            });
            ui.end_row();
            ui.label(tr("Schedule"));
            ui.horizontal(|ui| {
                ui.checkbox(&mut f.warmup_cosine, tr("Warmup + cosine"));
                if f.warmup_cosine {
                    labeled_drag(ui, tr("warmup"), &mut f.warmup, 0..=10_000, 1.0);
                }
            });
            ui.end_row();
            let l = ui.label(tr("Steps"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(
                    egui::DragValue::new(&mut f.steps)
                        .range(1..=100_000)
                        .speed(5.0),
                )
            });
            ui.end_row();
            let l = ui.label(tr("Batch size"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(
                    egui::DragValue::new(&mut f.batch_size)
                        .range(1..=512)
                        .speed(1.0),
                )
            });
            ui.end_row();
            let l = ui.label(tr("Weight decay"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(
                    egui::DragValue::new(&mut f.weight_decay)
                        .range(0.0..=1.0)
                        .speed(0.001),
                )
            });
            ui.end_row();
            let l = ui.label(tr("L1 penalty"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(
                    egui::DragValue::new(&mut f.l1)
                        .range(0.0..=1.0)
                        .speed(1e-5)
                        .max_decimals(6),
                )
            });
            ui.end_row();
            let l = ui.label(tr("L2 penalty"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(
                    egui::DragValue::new(&mut f.l2)
                        .range(0.0..=1.0)
                        .speed(1e-5)
                        .max_decimals(6),
                )
            });
            ui.end_row();
            ui.checkbox(&mut f.clip, tr("Clip grad norm"));
            ui.add_enabled(
                f.clip,
                egui::DragValue::new(&mut f.clip_norm)
                    .range(0.01..=100.0)
                    .speed(0.05),
            )
            .accessible_name(tr("Gradient norm limit"));
            ui.end_row();
            let l = ui.label(tr("Dropout"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(egui::Slider::new(&mut f.dropout, 0.0..=0.5))
            });
            ui.end_row();
            let l = ui.label(tr("Seed"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(egui::DragValue::new(&mut f.seed).speed(1.0))
            });
            ui.end_row();
            let l = ui.label(tr("Evaluate every"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(
                    egui::DragValue::new(&mut f.eval_every)
                        .range(1..=10_000)
                        .suffix(tr(" steps")),
                )
            });
            ui.end_row();
            let l = ui.label(tr("Eval examples"));
            ui.label_inputs_by(l.id, |ui| {
                ui.add(egui::DragValue::new(&mut f.eval_size).range(1..=20_000))
            });
            ui.end_row();
        });
    ui.checkbox(
        &mut f.reinit_head,
        tr("Re-initialise the output head first"),
    );
}

fn controls(ui: &mut Ui, state: &mut AppState, intents: &mut Intents) {
    let running = state.training.is_running();
    let paused = state
        .training
        .live_status()
        .is_some_and(|s| *s == RunStatus::Paused);
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(
                !running,
                egui::Button::new(RichText::new(tr("Start training")).strong()),
            )
            .clicked()
        {
            state.start_training();
        }
        if paused {
            if ui.button(tr("Resume")).clicked() {
                state.training.send(TrainCommand::Resume);
            }
        } else if ui
            .add_enabled(running, egui::Button::new(tr("Pause")))
            .clicked()
        {
            state.training.send(TrainCommand::Pause);
        }
        if ui
            .add_enabled(running, egui::Button::new(tr("Stop")))
            .clicked()
        {
            state.training.send(TrainCommand::Cancel);
        }
    });
    if let Some(i) = state.training.live_index() {
        let r = &state.training.runs[i];
        let done = r.steps.last().map_or(0, |s| s.step);
        ui.add(
            egui::ProgressBar::new(done as f32 / r.total_steps.max(1) as f32).text(trf(
                "{} {}/{} steps ({})",
                &[&r.name, &done, &r.total_steps, &run_status(&r.status)],
            )),
        );
    }
    if state.settings.presenter {
        // Saving and exporting wait in the top bar's menu.
        return;
    }
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(!running, egui::Button::new(tr("Save fine-tuned model...")))
            .clicked()
        {
            intents.push(Intent::ChooseFile(FilePurpose::SaveModel));
        }
        if ui
            .add_enabled(
                !state.training.runs.is_empty(),
                egui::Button::new(tr("Export runs to CSV...")),
            )
            .clicked()
        {
            intents.push(Intent::ChooseFile(FilePurpose::ExportCsv));
        }
    });
    explain(
        ui,
        tr("While training, the other views follow the weights live (a snapshot every 0.3 s)."),
    );
}
