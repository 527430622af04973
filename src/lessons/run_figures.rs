//! Numbers a lesson reads off a training run, filled in from the runs on the student's screen.
//!
//! A training run amplifies the last bit of every float into a different curve, and the last
//! bits differ between kernel paths (AVX-512, AVX2, the portable baseline, aarch64). So a step's
//! text never prints a number measured on one machine: it holds a placeholder that names a run
//! and a figure, written `{{RUN NAME: FIGURE}}` with the run's English `run_name` (in both
//! languages), and the app fills it in from that run when it exists. Only relations that hold on
//! every path ("the scheduled run ends lower") are fixed in the text; the claim tests check them
//! on every path this machine can run.

use crate::trace::{EvalMetrics, StepMetrics};

/// What a placeholder reads off a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// The loss of the first mini-batch, before any update.
    FirstTrainLoss,
    /// The validation loss at the run's last evaluation.
    FinalValLoss,
    /// The share of validation sources generated exactly right at the last evaluation.
    FinalExactMatch,
    /// The lowest validation loss of any evaluation.
    LowestValLoss,
    /// The step of that evaluation.
    LowestValLossStep,
    /// The lowest and the highest validation loss over the second half of the run.
    LateValLossRange,
}

impl Figure {
    /// Every figure with the name a lesson writes.
    pub const ALL: [(Figure, &'static str); 6] = [
        (Figure::FirstTrainLoss, "first train loss"),
        (Figure::FinalValLoss, "final val loss"),
        (Figure::FinalExactMatch, "final exact match"),
        (Figure::LowestValLoss, "lowest val loss"),
        (Figure::LowestValLossStep, "lowest val loss step"),
        (Figure::LateValLossRange, "second-half val loss range"),
    ];

    fn parse(name: &str) -> Option<Figure> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(figure, _)| *figure)
    }
}

/// A placeholder: a figure of the run a preset names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    /// The preset's English `run_name`.
    pub run: String,
    pub figure: Figure,
}

/// A step text cut at its placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Figure(Placeholder),
}

/// Cuts `text` into plain pieces and placeholders; an error names the first malformed one.
pub fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = vec![];
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| format!("unclosed placeholder {:?}", short(&rest[open..])))?;
        out.push(Piece::Figure(placeholder(&after[..close])?));
        rest = &after[close + 2..];
    }
    if rest.contains("}}") {
        return Err(format!("\"}}}}\" without \"{{{{\" in {:?}", short(rest)));
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// The placeholders of `text`, in order (none for a malformed text).
pub fn placeholders(text: &str) -> Vec<Placeholder> {
    pieces(text)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| match p {
            Piece::Figure(placeholder) => Some(placeholder),
            Piece::Text(_) => None,
        })
        .collect()
}

fn placeholder(inside: &str) -> Result<Placeholder, String> {
    let (run, figure) = inside
        .rsplit_once(':')
        .ok_or_else(|| format!("placeholder {{{{{inside}}}}} needs \"RUN NAME: FIGURE\""))?;
    let figure = Figure::parse(figure.trim()).ok_or_else(|| {
        let known: Vec<&str> = Figure::ALL.iter().map(|(_, n)| *n).collect();
        format!(
            "placeholder {{{{{inside}}}}}: unknown figure {:?} (known: {})",
            figure.trim(),
            known.join(", ")
        )
    })?;
    let run = run.trim();
    if run.is_empty() {
        return Err(format!("placeholder {{{{{inside}}}}} names no run"));
    }
    Ok(Placeholder {
        run: run.to_owned(),
        figure,
    })
}

fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

/// What a run has recorded so far: its train steps and its evaluations, in order.
#[derive(Clone, Copy, Debug)]
pub struct Curves<'a> {
    pub steps: &'a [StepMetrics],
    pub evals: &'a [EvalMetrics],
}

/// The figure as the runs table prints it (losses to two places, exact match as a percentage
/// to one), or `None` while the run has not recorded what it needs.
pub fn value(figure: Figure, curves: Curves) -> Option<String> {
    let loss = |v: f32| format!("{v:.2}");
    let last = curves.evals.last();
    let lowest = curves
        .evals
        .iter()
        .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss));
    match figure {
        Figure::FirstTrainLoss => curves.steps.first().map(|s| loss(s.train_loss)),
        Figure::FinalValLoss => last.map(|e| loss(e.val_loss)),
        Figure::FinalExactMatch => last.map(|e| format!("{:.1} %", 100.0 * e.exact_match)),
        Figure::LowestValLoss => lowest.map(|e| loss(e.val_loss)),
        Figure::LowestValLossStep => lowest.map(|e| e.step.to_string()),
        Figure::LateValLossRange => {
            let (lo, hi) = late_val_loss_range(curves.evals)?;
            Some(format!("{} – {}", loss(lo), loss(hi)))
        }
    }
}

/// The lowest and highest validation loss of the evaluations in the second half of the run
/// (from half the last evaluated step on).
pub fn late_val_loss_range(evals: &[EvalMetrics]) -> Option<(f32, f32)> {
    let half = evals.last()?.step / 2;
    evals
        .iter()
        .filter(|e| e.step >= half)
        .map(|e| e.val_loss)
        .fold(None, |range, v| match range {
            None => Some((v, v)),
            Some((lo, hi)) => Some((f32::min(lo, v), f32::max(hi, v))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(step: usize, val_loss: f32, exact_match: f32) -> EvalMetrics {
        EvalMetrics {
            step,
            val_loss,
            token_accuracy: 0.0,
            exact_match,
            weight_norm: None,
        }
    }

    #[test]
    fn text_is_cut_at_its_placeholders() {
        let got = pieces(
            "ends at {{warmup + cosine: final exact match}}, against {{constant: final val loss}}.",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                Piece::Text("ends at "),
                Piece::Figure(Placeholder {
                    run: "warmup + cosine".into(),
                    figure: Figure::FinalExactMatch
                }),
                Piece::Text(", against "),
                Piece::Figure(Placeholder {
                    run: "constant".into(),
                    figure: Figure::FinalValLoss
                }),
                Piece::Text("."),
            ]
        );
        assert_eq!(
            pieces("no numbers").unwrap(),
            vec![Piece::Text("no numbers")]
        );
    }

    #[test]
    fn a_run_name_may_hold_a_colon_but_the_figure_must_be_known() {
        let p = placeholders("{{L1: 0.0001: lowest val loss step}}");
        assert_eq!(p[0].run, "L1: 0.0001");
        assert_eq!(p[0].figure, Figure::LowestValLossStep);
        for bad in [
            "{{run: best loss}}",
            "{{run final val loss}}",
            "{{: final val loss}}",
            "open {{run: final val loss",
            "stray }} here",
        ] {
            assert!(pieces(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn figures_read_what_the_runs_table_prints() {
        let steps = [StepMetrics {
            step: 1,
            train_loss: 7.123,
            learning_rate: 0.001,
        }];
        let evals = [
            eval(25, 0.9, 0.1),
            eval(50, 0.31, 0.5),
            eval(75, 0.45, 0.6),
            eval(100, 0.384, 0.725),
        ];
        let curves = Curves {
            steps: &steps,
            evals: &evals,
        };
        let v = |f| value(f, curves).unwrap();
        assert_eq!(v(Figure::FirstTrainLoss), "7.12");
        assert_eq!(v(Figure::FinalValLoss), "0.38");
        assert_eq!(v(Figure::FinalExactMatch), "72.5 %");
        assert_eq!(v(Figure::LowestValLoss), "0.31");
        assert_eq!(v(Figure::LowestValLossStep), "50");
        assert_eq!(v(Figure::LateValLossRange), "0.31 – 0.45");
        let empty = Curves {
            steps: &[],
            evals: &[],
        };
        for (figure, _) in Figure::ALL {
            assert_eq!(value(figure, empty), None, "{figure:?}");
        }
    }
}
