//! Runtime state of the lessons: which lesson and step the panel shows, and what the step
//! outlines. Persisted choices (the open lessons panel, the last lesson) live in
//! [`crate::app::settings::Settings`]; applying a step is `actions::lessons`.

use super::runs::RunRecord;
use crate::app::highlight::Highlight;
use crate::bundled_models::Bundled;
use crate::i18n::{tr, trf};
use crate::lessons::run_figures::{self, Piece, Placeholder};
use crate::lessons::{Lesson, Readout, Text, ViewSection};
use crate::trace::AttentionKind;

pub struct Classroom {
    /// The built-in lessons (empty if they failed to parse; see `lessons_error`).
    pub lessons: Vec<Lesson>,
    pub lessons_error: Option<String>,
    /// Index into `lessons` of the lesson shown in the panel.
    pub lesson: usize,
    /// Step shown in the panel.
    pub step: usize,
    /// Whether `step` has been applied to the app (opening the panel changes nothing).
    pub applied: bool,
    /// What applying the step could not do (e.g. a model that is not available).
    pub step_notes: Vec<String>,
    /// The cell a lesson step (or a session) outlines.
    pub highlight: Option<Highlight>,
    /// Further `(query, key)` cells of the highlight's heatmap that the step quotes.
    pub quoted_cells: Vec<(usize, usize)>,
    /// The leak readout the step quotes, repeated beside its cells.
    pub readout: Option<Readout>,
    /// Curves of runs with this name are drawn emphasised.
    pub highlight_run: Option<Text>,
    /// Name given to the next training run (from a lesson's fine-tune preset).
    pub run_name: Option<Text>,
    /// The bundled model that preset starts from: the run records whether it did.
    pub run_base: Option<Bundled>,
    /// A section the entered step wants in sight; the view scrolls to it once and clears it.
    pub scroll_to: Option<ViewSection>,
}

impl Default for Classroom {
    fn default() -> Self {
        let (lessons, lessons_error) = match crate::lessons::builtin() {
            Ok(l) => (l, None),
            Err(e) => (vec![], Some(e.to_string())),
        };
        Self {
            lessons,
            lessons_error,
            lesson: 0,
            step: 0,
            applied: false,
            step_notes: vec![],
            highlight: None,
            quoted_cells: vec![],
            readout: None,
            highlight_run: None,
            run_name: None,
            run_base: None,
            scroll_to: None,
        }
    }
}

impl Classroom {
    /// Whether the entered step wants `section` in sight. Forgotten once asked in a pass
    /// egui keeps, so a reader who scrolls away is not pulled back; a pass egui will discard
    /// (a grid measuring its columns the first time it is shown) drops the scroll with it,
    /// so the next pass asks again.
    pub fn take_scroll(&mut self, section: ViewSection, ui: &egui::Ui) -> bool {
        let wanted = self.scroll_to == Some(section);
        if wanted && !ui.ctx().will_discard() {
            self.scroll_to = None;
        }
        wanted
    }

    /// The highlighted `(query, key)` cell if it belongs to `kind`.
    pub fn highlight_for(&self, kind: AttentionKind) -> Option<(usize, usize)> {
        self.highlight
            .filter(|h| h.kind == kind)
            .map(|h| (h.query, h.key))
    }

    /// Every cell of `kind` the step outlines: the highlighted one, then the quoted ones.
    pub fn outlined_for(&self, kind: AttentionKind) -> Vec<(usize, usize)> {
        match self.highlight_for(kind) {
            Some(cell) => std::iter::once(cell)
                .chain(self.quoted_cells.iter().copied())
                .collect(),
            None => vec![],
        }
    }

    /// Whether a run called `name` is the one a lesson step emphasises.
    pub fn is_highlighted_run(&self, name: &str) -> bool {
        self.highlight_run
            .as_ref()
            .is_some_and(|t| t.en == name || t.zh == name)
    }

    pub fn current_lesson(&self) -> Option<&Lesson> {
        self.lessons.get(self.lesson)
    }

    /// Selects the lesson with this id (the persisted choice), if there is one.
    pub fn select_by_id(&mut self, id: &str) {
        if let Some(i) = self.lessons.iter().position(|l| l.id == id) {
            self.lesson = i;
            self.step = 0;
            self.applied = false;
        }
    }
}

/// A piece of a step's text as the lessons panel draws it.
#[derive(Clone, Debug, PartialEq)]
pub enum BodyPart {
    Text(String),
    /// A figure read off a run on screen; `live` while that run is still training.
    Figure {
        value: String,
        live: bool,
    },
    /// A figure whose run does not exist yet: the step whose Start training makes it
    /// (1-based), or `None` while that run has not recorded the figure yet.
    Missing {
        step: Option<usize>,
    },
}

impl BodyPart {
    /// The part as text: a missing figure is a short bracket naming the step to run.
    pub fn text(&self) -> String {
        match self {
            BodyPart::Text(t) => t.clone(),
            BodyPart::Figure { value, live: false } => value.clone(),
            BodyPart::Figure { value, live: true } => trf("{} (so far)", &[value]),
            BodyPart::Missing { step: Some(step) } => trf("[run of step {}]", &[step]),
            BodyPart::Missing { step: None } => tr("[appears as the run trains]").to_owned(),
        }
    }
}

/// Step `step`'s text in the current language, its run figures filled in from `runs` (the
/// latest run with the preset's name, in either language, that started from the lesson's
/// base).
pub fn step_body(lesson: &Lesson, step: usize, runs: &[RunRecord]) -> Vec<BodyPart> {
    let text = lesson.steps[step].body.current();
    let Ok(pieces) = run_figures::pieces(text) else {
        // Lessons are validated on load; a malformed text is shown as it is.
        return vec![BodyPart::Text(text.to_owned())];
    };
    pieces
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(t) => BodyPart::Text(t.to_owned()),
            Piece::Figure(p) => figure(lesson, &p, runs),
        })
        .collect()
}

/// The whole step text with its figures filled in, as one string (tests, exports).
pub fn step_body_text(lesson: &Lesson, step: usize, runs: &[RunRecord]) -> String {
    step_body(lesson, step, runs)
        .iter()
        .map(BodyPart::text)
        .collect()
}

fn figure(lesson: &Lesson, p: &Placeholder, runs: &[RunRecord]) -> BodyPart {
    let preset = lesson.preset_step(&p.run);
    let name = preset.and_then(|i| lesson.steps[i].state.finetune.as_ref()?.run_name.as_ref());
    // A run the runs table marks as not started from the lesson's base shows other curves
    // than the text describes: its figures are not quoted.
    let run = runs.iter().rev().find(|r| {
        name.is_some_and(|n| r.name == n.en || r.name == n.zh)
            && r.lesson_base.as_ref().is_none_or(|b| b.from_base)
    });
    let curves = run.map(|r| run_figures::Curves {
        steps: &r.steps,
        evals: &r.evals,
    });
    match (run, curves.and_then(|c| run_figures::value(p.figure, c))) {
        (Some(run), Some(value)) => BodyPart::Figure {
            value,
            live: run.status.is_live(),
        },
        (Some(_), None) => BodyPart::Missing { step: None },
        (None, _) => BodyPart::Missing {
            step: preset.map(|i| i + 1),
        },
    }
}
