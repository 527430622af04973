//! Runtime state of fine-tuning: the data, the freeze choices, the worker run in progress and
//! the history of runs shown as curves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::app::labels;
use crate::app::settings::{DataSource, FinetuneSettings};
use crate::dataset::{self, LineError};
use crate::i18n::{Said, said, tr, trf};
use crate::masks::MaskSettings;
use crate::model::Engine;
use crate::model::groups::Group;
use crate::model::training::{
    TrainCommand, TrainEvent, TrainOptions, TrainingRun, WeightsSnapshot, default_threads,
    trainable_counts,
};
use crate::tasks::{self, Pair};
use crate::trace::{EvalMetrics, StepMetrics};

/// How often the worker sends weights for the live views.
pub const SNAPSHOT_EVERY: Duration = Duration::from_millis(300);

#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    Starting,
    Running,
    Paused,
    Finished,
    Cancelled,
    Failed(String),
}

impl RunStatus {
    pub fn label(&self) -> String {
        match self {
            RunStatus::Starting => "starting".into(),
            RunStatus::Running => "running".into(),
            RunStatus::Paused => "paused".into(),
            RunStatus::Finished => "finished".into(),
            RunStatus::Cancelled => "stopped".into(),
            RunStatus::Failed(m) => format!("failed: {m}"),
        }
    }

    pub fn is_live(&self) -> bool {
        matches!(
            self,
            RunStatus::Starting | RunStatus::Running | RunStatus::Paused
        )
    }
}

/// One run's curves and what produced them.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub name: String,
    pub visible: bool,
    pub steps: Vec<StepMetrics>,
    pub evals: Vec<EvalMetrics>,
    pub status: RunStatus,
    pub total_steps: usize,
    pub trainable: usize,
    pub summary: String,
    /// Colour index (stable when runs are deleted).
    pub color: usize,
    /// The weights at the evaluation with the lowest validation loss, to keep instead of the
    /// last step's.
    pub best: Option<BestWeights>,
    /// The form as it was when the run started, and the freeze choices and multipliers.
    pub settings: FinetuneSettings,
    pub frozen: BTreeSet<Group>,
    pub multipliers: BTreeMap<Group, f64>,
    /// For a run a lesson step's preset started: the model the preset starts from, and
    /// whether the run really started from it.
    pub lesson_base: Option<LessonBase>,
}

/// Plain data (sessions store it), so it lives with the lessons.
pub use crate::lessons::LessonBase;

/// A run's weights at its lowest validation loss.
#[derive(Clone, Debug)]
pub struct BestWeights {
    pub step: usize,
    pub val_loss: f32,
    pub weights: WeightsSnapshot,
}

/// User data read from a file.
#[derive(Clone, Debug, Default)]
pub struct LoadedData {
    pub path: std::path::PathBuf,
    pub pairs: Vec<Pair>,
    pub errors: Vec<LineError>,
    pub summary: String,
}

/// What happened while draining events (for the status bar and the views).
#[derive(Default)]
pub struct Polled {
    pub weights_changed: bool,
    pub messages: Vec<(bool, Said)>,
}

#[derive(Default)]
pub struct Training {
    pub runs: Vec<RunRecord>,
    live: Option<(usize, TrainingRun)>,
    /// Groups the optimizer leaves alone.
    pub frozen: BTreeSet<Group>,
    /// Per-group learning-rate multipliers (absent = 1).
    pub multipliers: BTreeMap<Group, f64>,
    /// The model as it was before the first fine-tune, to go back to.
    pub base: Option<Engine>,
    pub data: Option<LoadedData>,
    next_color: usize,
}

/// The optimiser's options for a run of `form`: the window's runs and `tests/training.rs`
/// both build them here, so the test trains exactly what pressing T trains.
pub fn train_options(
    form: &FinetuneSettings,
    mask: MaskSettings,
    frozen: &BTreeSet<Group>,
    multipliers: &BTreeMap<Group, f64>,
) -> TrainOptions {
    TrainOptions {
        steps: form.steps.max(1),
        batch_size: form.batch_size.max(1),
        learning_rate: form.learning_rate,
        schedule: form.schedule(),
        weight_decay: form.weight_decay,
        l1: form.l1,
        l2: form.l2,
        clip_norm: form.clip.then_some(form.clip_norm),
        dropout: form.dropout,
        seed: form.seed,
        eval_every: form.eval_every.max(1),
        eval_size: form.eval_size.max(1),
        mask,
        frozen: frozen.clone(),
        lr_multipliers: multipliers.clone(),
        reinit_head: form.reinit_head,
        threads: default_threads(),
    }
}

impl Training {
    pub fn is_running(&self) -> bool {
        self.live.is_some()
    }

    pub fn live_index(&self) -> Option<usize> {
        self.live.as_ref().map(|(i, _)| *i)
    }

    pub fn live_status(&self) -> Option<&RunStatus> {
        self.live_index()
            .and_then(|i| self.runs.get(i))
            .map(|r| &r.status)
    }

    /// `(trainable, total)` parameter counts for the current freeze choices.
    pub fn counts(&self, engine: &Engine) -> (usize, usize) {
        let counts = trainable_counts(engine, &self.frozen);
        let total = counts.iter().map(|(_, n, _)| n).sum();
        let trainable = counts
            .iter()
            .filter(|(_, _, t)| *t)
            .map(|(_, n, _)| n)
            .sum();
        (trainable, total)
    }

    /// Forget model-specific choices (a different model has different groups).
    pub fn model_changed(&mut self) {
        self.frozen.clear();
        self.multipliers.clear();
        self.base = None;
    }

    /// Reads a TSV/CSV file; the previous data stays on failure.
    pub fn load_data(&mut self, path: &Path) -> Result<String, String> {
        let parsed = dataset::load(path).map_err(|e| e.to_string())?;
        if parsed.pairs.is_empty() {
            return Err(trf(
                "{}: no usable pairs ({})",
                &[&path.display(), &parsed.summary()],
            ));
        }
        let summary = parsed.summary();
        self.data = Some(LoadedData {
            path: path.to_owned(),
            pairs: parsed.pairs,
            errors: parsed.errors,
            summary: summary.clone(),
        });
        Ok(format!("{}: {summary}", path.display()))
    }

    /// Train and validation pairs for the form.
    pub fn pairs(&self, form: &FinetuneSettings) -> Result<(Vec<Pair>, Vec<Pair>, String), String> {
        match &form.source {
            DataSource::Task(task) => {
                let s = tasks::splits(
                    *task,
                    form.train_size.max(1),
                    form.val_size,
                    0,
                    form.data_seed,
                );
                let label = trf(
                    "{} ({} train / {} val)",
                    &[
                        &labels::task_name(*task),
                        &s.train.len(),
                        &s.validation.len(),
                    ],
                );
                Ok((s.train, s.validation, label))
            }
            DataSource::File(path) => {
                let data = self
                    .data
                    .as_ref()
                    .filter(|d| &d.path == path)
                    .ok_or_else(|| trf("load {} first", &[&path.display()]))?;
                let s =
                    tasks::split_pairs(data.pairs.clone(), form.val_fraction, 0.0, form.data_seed);
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let label = trf(
                    "{} ({} train / {} val)",
                    &[&name, &s.train.len(), &s.validation.len()],
                );
                Ok((s.train, s.validation, label))
            }
        }
    }

    /// Starts a run on a copy of `engine`. Returns a message for the status bar.
    pub fn start(
        &mut self,
        engine: &Engine,
        form: &FinetuneSettings,
        mask: MaskSettings,
        model_name: &str,
    ) -> Result<String, String> {
        if self.is_running() {
            return Err(tr("a run is already in progress; stop it first").into());
        }
        if matches!(form.source, DataSource::Task(_)) && !engine.trains_on_builtin_tasks() {
            return Err(tr(
                "the built-in tasks do not apply to a translator: choose a TSV/CSV file of text pairs",
            )
            .into());
        }
        let (train, validation, data_label) = self.pairs(form)?;
        let (train, unk_train) = engine.tokenize_pairs(&train);
        let (validation, unk_val) = engine.tokenize_pairs(&validation);
        let held_out = !validation.is_empty();
        if train.is_empty() {
            return Err(tr("the training set is empty").into());
        }
        let options = train_options(form, mask, &self.frozen, &self.multipliers);
        let (trainable, _) = self.counts(engine);
        if trainable == 0 {
            return Err(tr("every parameter group is frozen: nothing to train").into());
        }
        if self.base.is_none() {
            self.base = Some(engine.duplicate().map_err(|e| e.to_string())?);
        }
        let run = TrainingRun::spawn(engine, train, validation, options.clone(), SNAPSHOT_EVERY)
            .map_err(|e| e.to_string())?;
        let n = self.runs.len() + 1;
        let frozen = if self.frozen.is_empty() {
            tr("nothing frozen").to_owned()
        } else {
            trf(
                "frozen: {}",
                &[&self
                    .frozen
                    .iter()
                    .map(|g| g.key())
                    .collect::<Vec<_>>()
                    .join(", ")],
            )
        };
        let summary = trf(
            "{} on {}; lr {}, batch {}, {}",
            &[
                &model_name,
                &data_label,
                &format!("{:.0e}", options.learning_rate),
                &options.batch_size,
                &frozen,
            ],
        );
        self.runs.push(RunRecord {
            name: trf("run {}", &[&n]),
            visible: true,
            steps: vec![],
            evals: vec![],
            status: RunStatus::Starting,
            total_steps: options.steps,
            trainable,
            summary,
            color: self.next_color,
            best: None,
            settings: form.clone(),
            frozen: self.frozen.clone(),
            multipliers: self.multipliers.clone(),
            lesson_base: None,
        });
        self.next_color += 1;
        self.live = Some((self.runs.len() - 1, run));
        let mut message = trf(
            "training run {} started: {} steps on {}",
            &[&n, &options.steps, &data_label],
        );
        if !held_out {
            message += tr(
                " (no validation pairs: too few pairs to hold any out, so this run has no held-out figures)",
            );
        }
        if unk_train + unk_val > 0 {
            message += &trf(
                " ({} examples contain pieces the vocabulary lacks; they train as <unk>)",
                &[&(unk_train + unk_val)],
            );
        }
        Ok(message)
    }

    /// Stops the live run and waits for its worker, so that another model can be loaded at
    /// once: the run stays in the table as stopped, with its curves so far, and its last
    /// weights are applied to `engine` like any run's end.
    pub fn stop(&mut self, engine: &Engine) -> Polled {
        if let Some((_, run)) = &mut self.live {
            run.stop_and_wait();
        }
        self.poll(engine)
    }

    pub fn send(&self, command: TrainCommand) {
        if let Some((_, run)) = &self.live {
            run.send(command);
        }
    }

    /// Drains the worker's events into the run record; applies weight snapshots to `engine`.
    pub fn poll(&mut self, engine: &Engine) -> Polled {
        let mut out = Polled::default();
        let Some((index, run)) = &self.live else {
            return out;
        };
        let index = *index;
        let events = run.drain();
        let mut ended = false;
        let worker_gone = events.is_empty() && !run.is_running();
        let apply = |w: &WeightsSnapshot, out: &mut Polled| match w.apply_to(engine) {
            Ok(()) => out.weights_changed = true,
            Err(e) => out
                .messages
                .push((true, said("could not apply trained weights: {}", &[&e]))),
        };
        let Some(record) = self.runs.get_mut(index) else {
            self.live = None;
            return out;
        };
        for event in events {
            match event {
                TrainEvent::Started { trainable } => {
                    record.status = RunStatus::Running;
                    record.trainable = trainable
                        .iter()
                        .filter(|(_, _, t)| *t)
                        .map(|(_, n, _)| n)
                        .sum();
                }
                TrainEvent::Step(m) => record.steps.push(m),
                TrainEvent::Eval(m) => record.evals.push(m),
                TrainEvent::Best {
                    step,
                    val_loss,
                    weights,
                } => {
                    record.best = Some(BestWeights {
                        step,
                        val_loss,
                        weights,
                    })
                }
                TrainEvent::Weights(w) => apply(&w, &mut out),
                TrainEvent::Paused => record.status = RunStatus::Paused,
                TrainEvent::Resumed => record.status = RunStatus::Running,
                TrainEvent::Finished { cancelled, weights } => {
                    apply(&weights, &mut out);
                    record.status = if cancelled {
                        RunStatus::Cancelled
                    } else {
                        RunStatus::Finished
                    };
                    let last = record
                        .evals
                        .last()
                        .map(|e| {
                            said(
                                ": val loss {}, token accuracy {} %, exact match {} %",
                                &[
                                    &format!("{:.3}", e.val_loss),
                                    &format!("{:.1}", 100.0 * e.token_accuracy),
                                    &format!("{:.1}", 100.0 * e.exact_match),
                                ],
                            )
                        })
                        .unwrap_or_else(|| Said::from(""));
                    let args = vec![
                        Said::from(record.name.clone()),
                        Said::from(record.steps.len().to_string()),
                        last,
                    ];
                    let line = if cancelled {
                        Said::Pattern("{} stopped after {} steps{}", args)
                    } else {
                        Said::Pattern("{} finished after {} steps{}", args)
                    };
                    out.messages.push((false, line));
                    ended = true;
                }
                TrainEvent::Failed { message, weights } => {
                    if let Some(w) = weights {
                        apply(&w, &mut out);
                    }
                    out.messages
                        .push((true, said("{} failed: {}", &[&record.name, &message])));
                    record.status = RunStatus::Failed(message);
                    ended = true;
                }
            }
        }
        if worker_gone && !ended {
            record.status =
                RunStatus::Failed(tr("the training thread stopped unexpectedly").into());
            out.messages.push((
                true,
                said(
                    "{}: the training thread stopped unexpectedly",
                    &[&record.name],
                ),
            ));
            ended = true;
        }
        if ended {
            self.live = None;
        }
        out
    }

    /// Replaces every run with `runs` (a session's finished runs); refused while one is live.
    pub fn replace_runs(&mut self, runs: Vec<RunRecord>) -> Result<(), String> {
        if self.is_running() {
            return Err(tr(
                "a training run is in progress: the session's fine-tune settings and runs were not loaded",
            )
            .into());
        }
        self.next_color = runs.iter().map(|r| r.color + 1).max().unwrap_or(0);
        self.runs = runs;
        Ok(())
    }

    pub fn delete(&mut self, index: usize) {
        if self.live_index() == Some(index) || index >= self.runs.len() {
            return;
        }
        self.runs.remove(index);
        if let Some((live, _)) = &mut self.live
            && *live > index
        {
            *live -= 1;
        }
    }

    /// All runs as CSV: one line per step, evaluation columns filled where one happened.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "run,step,train_loss,learning_rate,val_loss,token_accuracy,exact_match,weight_norm\n",
        );
        for run in &self.runs {
            let name = run.name.replace('"', "\"\"");
            let evals: BTreeMap<usize, &EvalMetrics> =
                run.evals.iter().map(|e| (e.step, e)).collect();
            let mut steps: BTreeSet<usize> = run.steps.iter().map(|s| s.step).collect();
            steps.extend(evals.keys());
            let by_step: BTreeMap<usize, &StepMetrics> =
                run.steps.iter().map(|s| (s.step, s)).collect();
            for step in steps {
                let (loss, lr) = by_step
                    .get(&step)
                    .map_or((String::new(), String::new()), |s| {
                        (s.train_loss.to_string(), s.learning_rate.to_string())
                    });
                let (vl, ta, em, wn) = evals.get(&step).map_or(Default::default(), |e| {
                    (
                        e.val_loss.to_string(),
                        e.token_accuracy.to_string(),
                        e.exact_match.to_string(),
                        e.weight_norm.map(|w| w.to_string()).unwrap_or_default(),
                    )
                });
                out += &format!("\"{name}\",{step},{loss},{lr},{vl},{ta},{em},{wn}\n");
            }
        }
        out
    }

    pub fn export_csv(&self, path: &Path) -> std::io::Result<()> {
        crate::fsio::write_atomically(path, self.to_csv().as_bytes())
    }

    /// Training history to store with a saved checkpoint.
    pub fn history_json(&self) -> serde_json::Value {
        let runs: Vec<serde_json::Value> = self
            .runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "summary": r.summary,
                    "status": r.status.label(),
                    "steps": r.steps.len(),
                    "final_train_loss": r.steps.last().map(|s| s.train_loss),
                    "final_eval": r.evals.last(),
                })
            })
            .collect();
        serde_json::json!({ "fine_tune_runs": runs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_header_and_one_line_per_step() {
        let mut t = Training::default();
        t.runs.push(RunRecord {
            name: "run 1".into(),
            visible: true,
            steps: vec![
                StepMetrics {
                    step: 1,
                    train_loss: 2.0,
                    learning_rate: 0.001,
                },
                StepMetrics {
                    step: 2,
                    train_loss: 1.5,
                    learning_rate: 0.001,
                },
            ],
            evals: vec![EvalMetrics {
                step: 2,
                val_loss: 1.6,
                token_accuracy: 0.5,
                exact_match: 0.25,
                weight_norm: Some(3.5),
            }],
            status: RunStatus::Finished,
            total_steps: 2,
            trainable: 10,
            summary: String::new(),
            color: 0,
            best: None,
            settings: FinetuneSettings::default(),
            frozen: BTreeSet::new(),
            multipliers: BTreeMap::new(),
            lesson_base: None,
        });
        let csv = t.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[2].ends_with(",1.6,0.5,0.25,3.5"));
        assert!(lines[1].ends_with(",,,,"));
    }
}
