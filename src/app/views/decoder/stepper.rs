//! The autoregressive stepper: the decoding strategy, the transport buttons, what each step
//! chose (and the beams), and the attention rows and next-token distribution of the newest
//! position.

use egui::{RichText, Ui, vec2};

use super::super::masks::BAD_COLOR;
use super::super::{layer_head_picker, tile, wrap_top};
use super::CHOSEN;
use super::next_token;
use crate::app::colormap::Scale;
use crate::app::figures::DecodingGrids;
use crate::app::labels;
use crate::app::settings::{DecoderSettings, StrategyKind};
use crate::app::state::AppState;
use crate::app::widgets::heatmap::{Blocked, Heatmap};
use crate::app::widgets::labeled_drag;
use crate::app::widgets::tokens::{chip_row, display_token};
use crate::i18n::{tr, trf};
use crate::model::tracing::TokenSide;
use crate::trace::{BeamHypothesis, StepTrace};

pub(super) fn ui(ui: &mut Ui, state: &mut AppState) {
    // Strategy first: a change rebuilds the session below.
    strategy_controls(ui, &mut state.settings.decoder);
    state.sync_stepper();
    let time = ui.ctx().input(|i| i.time);
    transport(ui, state).apply(state, time);
    if let Some(e) = &state.stepper.error {
        ui.label(RichText::new(e).color(BAD_COLOR));
    }

    let src_ids = state.selected_source_ids();
    let src_tokens = state.engine.token_names(&src_ids, TokenSide::Source);
    chip_row(
        ui,
        tr("source"),
        &src_tokens,
        &src_ids,
        0..src_ids.len(),
        None,
    );
    let steps: Vec<StepTrace> = state.stepper.steps().to_vec();
    let Some(last) = steps.last() else {
        ui.label(
            RichText::new(trf(
                "Press Step: the first step feeds only {}.",
                &[&state.start_token()],
            ))
            .weak(),
        );
        return;
    };
    chip_row(
        ui,
        tr("decoder input"),
        &last.input_tokens,
        &last.input_ids,
        0..last.input_ids.len(),
        None,
    );
    let output: Vec<u32> = steps.iter().map(|s| s.chosen).collect();
    let output_text = state.engine.text_of(&output);
    step_summary(ui, &steps, &output_text, state.stepper.finished());
    // The beams after this step (the last ones once the search has ended).
    let beams = state
        .stepper
        .session()
        .and_then(|s| s.beams.get(steps.len() - 1).or(s.beams.last()))
        .cloned();
    if let Some(beams) = beams {
        beam_table(ui, steps.len(), &beams);
    }

    let layers = last.cross_row.dim().0;
    layer_head_picker(ui, layers, 0, &mut state.settings.decoder.layer, None);
    let Some(grids) = DecodingGrids::new(&steps, state.settings.decoder.layer) else {
        return;
    };
    let newest = NewestStep {
        step: last,
        grids: &grids,
        src_tokens: &src_tokens,
        vocab_size: state.engine.target_vocab_size(),
    };
    newest.show(
        ui,
        Scale::unit(state.settings.colormap),
        state.settings.decoder.top_n,
    );
}

/// The strategy and its own settings (temperature, k, p and seed; or the beam width).
fn strategy_controls(ui: &mut Ui, d: &mut DecoderSettings) {
    ui.horizontal_wrapped(|ui| {
        egui::ComboBox::from_label(tr("Strategy"))
            .selected_text(labels::strategy_kind(d.strategy))
            .show_ui(ui, |ui| {
                for s in StrategyKind::ALL {
                    ui.selectable_value(&mut d.strategy, s, labels::strategy_kind(s));
                }
            });
        match d.strategy {
            StrategyKind::Greedy => {}
            StrategyKind::Temperature | StrategyKind::TopK | StrategyKind::TopP => {
                let l = ui.label(tr("Temperature"));
                ui.label_inputs_by(l.id, |ui| {
                    ui.add(egui::Slider::new(&mut d.temperature, 0.05..=3.0).logarithmic(true))
                });
                if d.strategy == StrategyKind::TopK {
                    labeled_drag(ui, "k", &mut d.top_k, 1..=100, 0.2);
                }
                if d.strategy == StrategyKind::TopP {
                    let l = ui.label("p");
                    ui.label_inputs_by(l.id, |ui| {
                        ui.add(egui::Slider::new(&mut d.top_p, 0.05..=1.0))
                    });
                }
                labeled_drag(ui, tr("Seed"), &mut d.seed, 0..=u64::MAX, 1.0);
            }
            StrategyKind::Beam => {
                labeled_drag(ui, tr("Beam width"), &mut d.beam_width, 1..=16, 0.1);
            }
        }
    });
}

/// Which transport buttons were pressed this frame.
#[derive(Default)]
pub(super) struct Transport {
    step: bool,
    back: bool,
    toggle_play: bool,
    reset: bool,
}

impl Transport {
    pub(super) fn apply(self, state: &mut AppState, now: f64) {
        if self.reset {
            state.stepper.reset();
        }
        if self.back {
            state.stepper.back();
        }
        if self.step {
            state.stepper.step(&state.engine);
        }
        if self.toggle_play {
            state.toggle_play(now);
        }
    }
}

/// Step, Back, Play/Pause, Reset and the seconds per step of Play. The keys (Right/Space,
/// Left, P, R) and the timed steps of Play are handled for the whole window in
/// `app::actions::shortcuts`.
pub(super) fn transport(ui: &mut Ui, state: &mut AppState) -> Transport {
    let mut pressed = Transport::default();
    let finished = state.stepper.finished();
    let playing = state.stepper.playing;
    let has_steps = !state.stepper.steps().is_empty();
    ui.horizontal(|ui| {
        pressed.step = ui
            .add_enabled(!finished, egui::Button::new(tr("Step")))
            .on_hover_text(tr("One decoding step (Right arrow or Space)"))
            .clicked();
        pressed.back = ui
            .add_enabled(has_steps, egui::Button::new(tr("Back")))
            .on_hover_text(tr("Undo the last step (Left arrow)"))
            .clicked();
        let play_label = if playing { tr("Pause") } else { tr("Play") };
        pressed.toggle_play = ui
            .add_enabled(!finished || playing, egui::Button::new(play_label))
            .on_hover_text(tr("Step automatically (P)"))
            .clicked();
        pressed.reset = ui
            .button(tr("Reset"))
            .on_hover_text(trf("Back to {} only (R)", &[&state.start_token()]))
            .clicked();
        let l = ui.label(tr("Seconds per step"));
        ui.label_inputs_by(l.id, |ui| {
            ui.add(egui::Slider::new(
                &mut state.settings.decoder.interval,
                0.1..=2.0,
            ))
        });
    });
    pressed
}

/// "step n: chose X (p = ...)" and the output so far (`output_text`, decoded).
fn step_summary(ui: &mut Ui, steps: &[StepTrace], output_text: &str, finished: bool) {
    let Some(last) = steps.last() else {
        return;
    };
    let chosen_p = last.chosen_probability();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(trf("step {}: chose", &[&steps.len()])).weak());
        ui.label(
            RichText::new(display_token(&last.chosen_token))
                .monospace()
                .strong()
                .color(CHOSEN),
        );
        ui.label(RichText::new(format!("(p = {chosen_p:.3})")).weak());
        ui.separator();
        ui.label(tr("output so far:"));
        ui.label(
            RichText::new(format!("\"{output_text}\""))
                .monospace()
                .strong(),
        );
        if finished {
            ui.label(RichText::new(tr("(finished)")).weak());
        }
    });
}

/// Beam search's hypotheses after a step: what each has written, the sum of its
/// log-probabilities and its length-normalised score (the ranking). The stepper replays the
/// best finished one.
pub(super) fn beam_table(ui: &mut Ui, step: usize, beams: &[BeamHypothesis]) {
    ui.label(RichText::new(trf("Beams after step {} (best score first)", &[&step])).strong());
    egui::Grid::new("beam_table")
        .striped(true)
        .spacing(vec2(16.0, 2.0))
        .show(ui, |ui| {
            for header in [
                tr("beam"),
                tr("output so far:"),
                tr("log-probability"),
                tr("score = log-probability / length"),
                "",
            ] {
                ui.label(RichText::new(header).weak());
            }
            ui.end_row();
            for (rank, beam) in beams.iter().enumerate() {
                ui.label((rank + 1).to_string());
                let text: String = beam.tokens.iter().map(|t| display_token(t)).collect();
                ui.label(RichText::new(text).monospace());
                ui.label(format!("{:.3}", beam.log_prob));
                ui.label(format!("{:.3}", beam.score));
                ui.label(if beam.finished { tr("finished") } else { "" });
                ui.end_row();
            }
        });
    if beams.iter().any(|b| b.finished) && beams.iter().any(|b| !b.finished) {
        // More rows than the beam width: say why.
        ui.label(
            RichText::new(tr(
                "Finished hypotheses stay in the table; the search goes on with as many open ones as the beam width.",
            ))
            .weak(),
        );
    }
}

/// What the newest decoder position saw and predicted, with every earlier step's rows.
struct NewestStep<'a> {
    step: &'a StepTrace,
    grids: &'a DecodingGrids,
    src_tokens: &'a [String],
    /// Tokens the decoder chooses from.
    vocab_size: usize,
}

impl NewestStep<'_> {
    /// Three tiles side by side: self-attention so far, cross-attention so far, and the
    /// next-token distribution (widths side, 1.3 side and 1.4 side plus spacing).
    fn show(&self, ui: &mut Ui, scale: Scale, top_n: usize) {
        let side = ((ui.available_width() - 50.0) / 3.7).clamp(150.0, 340.0);
        let chart_height = (ui.available_height() - 70.0).clamp(140.0, 240.0);
        wrap_top(ui, |ui| {
            ui.spacing_mut().item_spacing.x = 16.0;
            tile(ui, side, |ui| self.self_attention(ui, scale, side));
            tile(ui, side * 1.3, |ui| self.cross_attention(ui, scale, side));
            tile(ui, side * 1.4, |ui| {
                ui.label(RichText::new(tr("Next-token distribution (chosen in orange)")).strong());
                next_token::top_tokens(ui, self.step);
                let size = self.vocab_size;
                next_token::chart(ui, self.step, size, top_n, side * 1.4, chart_height);
            });
        });
    }

    /// The row of the newest position, outlined.
    fn newest_row(&self) -> Option<usize> {
        Some(self.step.input_ids.len() - 1)
    }

    fn self_attention(&self, ui: &mut Ui, scale: Scale, side: f32) {
        ui.label(RichText::new(tr("Self-attention so far (causal; newest row outlined)")).strong());
        let tokens = &self.step.input_tokens;
        Heatmap::new(self.grids.self_rows.view())
            .labels(tokens, tokens)
            .mask(&self.grids.causal)
            .blocked(Blocked::Replace)
            .scale(scale)
            .highlight_row(self.newest_row())
            .max_size(vec2(side, side))
            .name(tr("Decoder self-attention so far"))
            .show(ui);
    }

    fn cross_attention(&self, ui: &mut Ui, scale: Scale, side: f32) {
        ui.label(RichText::new(tr("Cross-attention over the source")).strong());
        Heatmap::new(self.grids.cross_rows.view())
            .labels(&self.step.input_tokens, self.src_tokens)
            .axis_names(tr("decoder position"), tr("source token"))
            .scale(scale)
            .highlight_row(self.newest_row())
            .max_size(vec2(side * 1.3, side))
            .name(tr("Cross-attention of each step"))
            .show(ui);
    }
}
