//! Decoder: how the decoder is fed. Teacher forcing (training: the true previous token at
//! every position, all at once) next to autoregressive decoding (inference: the model's own
//! previous output, one step at a time).

use egui::{Color32, RichText, Ui, vec2};
use egui_plot::{Bar, BarChart, Plot};

use super::masks::{BAD_COLOR, OK_COLOR};
use super::{View, explain, layer_head_picker, tile, wrap_top};
use crate::app::colormap::Scale;
use crate::app::figures::DecodingGrids;
use crate::app::intents::Intents;
use crate::app::labels;
use crate::app::settings::StrategyKind;
use crate::app::state::AppState;
use crate::app::widgets::heatmap::{Blocked, Heatmap};
use crate::app::widgets::labeled_drag;
use crate::app::widgets::tokens::{chip_row, display_token};
use crate::i18n::{tr, trf};
use crate::model::engine::TokenSide;
use crate::trace::{BeamHypothesis, StepTrace};

#[derive(Default)]
pub struct DecoderView;

/// Above this many tokens the chart says it shows only the most likely few.
const LARGE_VOCABULARY: usize = 1000;

/// Colour of the chosen token's bar.
pub const CHOSEN: Color32 = Color32::from_rgb(0xff, 0x8c, 0x00);

impl View for DecoderView {
    fn title(&self) -> &str {
        tr("Decoder")
    }

    fn ui(&mut self, ui: &mut Ui, state: &mut AppState) -> Intents {
        egui::CollapsingHeader::new(RichText::new(tr("Teacher forcing (training)")).strong())
            .default_open(true)
            .show(ui, |ui| {
                teacher_forcing(ui, state);
            });
        ui.separator();
        ui.label(RichText::new(tr("Autoregressive decoding (inference)")).strong());
        explain(
            ui,
            tr(
                "The decoder starts from <bos> and feeds each chosen token back in. Each step adds one position: one new row of the causal mask. Keys: Right/Space step, Left back, P play/pause, R reset.",
            ),
        );
        stepper(ui, state);
        Intents::new()
    }
}

fn teacher_forcing(ui: &mut Ui, state: &AppState) {
    let Some(seq) = state.sequence() else {
        ui.label(tr("No trace yet."));
        return;
    };
    explain(
        ui,
        tr(
            "All positions are computed in one pass. Position t sees the true target up to t-1 (the decoder input is the target shifted right) and is scored against label t.",
        ),
    );
    let n = seq.tgt_len;
    let weak = ui.visuals().weak_text_color();
    egui::ScrollArea::horizontal()
        .id_salt("tf_scroll")
        .show(ui, |ui| {
            egui::Grid::new("teacher_forcing")
                .striped(true)
                .spacing(vec2(10.0, 4.0))
                .show(ui, |ui| {
                    ui.label(RichText::new(tr("position")).color(weak));
                    for p in 0..n {
                        ui.label(RichText::new(p.to_string()).color(weak));
                    }
                    ui.end_row();
                    ui.label(tr("target"));
                    for p in 0..n {
                        let t = if p + 1 < n {
                            display_token(&seq.label_tokens[p])
                        } else {
                            String::new()
                        };
                        ui.label(RichText::new(t).monospace());
                    }
                    ui.end_row();
                    ui.label(tr("decoder input (shifted right)"));
                    for p in 0..n {
                        ui.label(
                            RichText::new(display_token(&seq.tgt_input_tokens[p]))
                                .monospace()
                                .strong(),
                        );
                    }
                    ui.end_row();
                    ui.label(tr("label (to predict)"));
                    for p in 0..n {
                        ui.label(RichText::new(display_token(&seq.label_tokens[p])).monospace());
                    }
                    ui.end_row();
                    ui.label(tr("predicted"));
                    for p in 0..n {
                        let right = seq.predicted[p] == seq.labels[p];
                        let text = RichText::new(display_token(&seq.predicted_tokens[p]))
                            .monospace()
                            .strong()
                            .color(if right { OK_COLOR } else { BAD_COLOR });
                        let text = if right { text } else { text.underline() };
                        ui.label(text).on_hover_text(if right {
                            tr("correct")
                        } else {
                            tr("wrong (underlined)")
                        });
                    }
                    ui.end_row();
                    ui.label(tr("loss (cross-entropy)"));
                    for p in 0..n {
                        let l = seq
                            .loss
                            .get(p)
                            .copied()
                            .flatten()
                            .map_or(String::new(), |l| {
                                if l >= 0.01 {
                                    format!("{l:.2}")
                                } else {
                                    format!("{l:.0e}")
                                }
                            });
                        ui.label(RichText::new(l).small());
                    }
                    ui.end_row();
                });
        });
    if let Some(mean) = seq.mean_loss() {
        let correct = (0..n)
            .filter(|&p| seq.predicted[p] == seq.labels[p])
            .count();
        ui.label(trf(
            "mean loss {}; {} of {} positions predicted correctly",
            &[&format!("{mean:.3}"), &correct, &n],
        ));
    }
}

fn stepper(ui: &mut Ui, state: &mut AppState) {
    // Strategy first: a change rebuilds the session below.
    ui.horizontal_wrapped(|ui| {
        let d = &mut state.settings.decoder;
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
    state.sync_stepper();

    let ctx = ui.ctx().clone();
    let mut step = false;
    let mut back = false;
    let mut toggle = false;
    let mut reset = false;
    // The keys (Right/Space, Left, P, R) and the timed steps of Play are handled for the
    // whole window in `app::actions::shortcuts`.
    let finished = state.stepper.finished();
    ui.horizontal(|ui| {
        step |= ui
            .add_enabled(!finished, egui::Button::new(tr("Step")))
            .on_hover_text(tr("One decoding step (Right arrow or Space)"))
            .clicked();
        back |= ui
            .add_enabled(
                !state.stepper.steps().is_empty(),
                egui::Button::new(tr("Back")),
            )
            .on_hover_text(tr("Undo the last step (Left arrow)"))
            .clicked();
        let play_label = if state.stepper.playing {
            tr("Pause")
        } else {
            tr("Play")
        };
        toggle |= ui
            .add_enabled(
                !finished || state.stepper.playing,
                egui::Button::new(play_label),
            )
            .on_hover_text(tr("Step automatically (P)"))
            .clicked();
        reset |= ui
            .button(tr("Reset"))
            .on_hover_text(tr("Back to <bos> only (R)"))
            .clicked();
        let l = ui.label(tr("Seconds per step"));
        ui.label_inputs_by(l.id, |ui| {
            ui.add(egui::Slider::new(
                &mut state.settings.decoder.interval,
                0.1..=2.0,
            ))
        });
    });
    if reset {
        state.stepper.reset();
    }
    if back {
        state.stepper.back();
    }
    if step {
        state.stepper.step(&state.engine);
    }
    if toggle {
        state.toggle_play(ctx.input(|i| i.time));
    }
    if let Some(e) = &state.stepper.error {
        ui.label(RichText::new(e).color(BAD_COLOR));
    }

    let src_ids = state.selected_source_ids();
    let src_tokens = state.engine.token_names(&src_ids, TokenSide::Source);
    chip_row(ui, tr("source"), &src_tokens, &src_ids, None);
    let steps: Vec<StepTrace> = state.stepper.steps().to_vec();
    let Some(last) = steps.last() else {
        ui.label(RichText::new(tr("Press Step: the first step feeds only <bos>.")).weak());
        return;
    };
    chip_row(
        ui,
        tr("decoder input"),
        &last.input_tokens,
        &last.input_ids,
        None,
    );
    let output: Vec<u32> = steps.iter().map(|s| s.chosen).collect();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(trf("step {}: chose", &[&steps.len()])).weak());
        ui.label(
            RichText::new(display_token(&last.chosen_token))
                .monospace()
                .strong()
                .color(CHOSEN),
        );
        ui.label(
            RichText::new(format!(
                "(p = {:.3})",
                last.probs.get(last.chosen as usize).copied().unwrap_or(0.0)
            ))
            .weak(),
        );
        ui.separator();
        ui.label(tr("output so far:"));
        ui.label(
            RichText::new(format!("\"{}\"", state.engine.text_of(&output)))
                .monospace()
                .strong(),
        );
        if state.stepper.finished() {
            ui.label(RichText::new(tr("(finished)")).weak());
        }
    });
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
    let scale = Scale::unit(state.settings.colormap);
    let n = last.input_ids.len();
    // Three tiles side by side: widths side, 1.3 side and 1.4 side plus spacing.
    let side = ((ui.available_width() - 50.0) / 3.7).clamp(150.0, 340.0);
    let chart_height = (ui.available_height() - 70.0).clamp(140.0, 240.0);
    wrap_top(ui, |ui| {
        ui.spacing_mut().item_spacing.x = 16.0;
        tile(ui, side, |ui| {
            ui.label(
                RichText::new(tr("Self-attention so far (causal; newest row outlined)")).strong(),
            );
            Heatmap::new(grids.self_rows.view())
                .labels(&last.input_tokens, &last.input_tokens)
                .mask(&grids.causal)
                .blocked(Blocked::Replace)
                .scale(scale)
                .highlight_row(Some(n - 1))
                .max_size(vec2(side, side))
                .name(tr("Decoder self-attention so far"))
                .show(ui);
        });
        tile(ui, side * 1.3, |ui| {
            ui.label(RichText::new(tr("Cross-attention over the source")).strong());
            Heatmap::new(grids.cross_rows.view())
                .labels(&last.input_tokens, &src_tokens)
                .axis_names(tr("decoder position"), tr("source token"))
                .scale(scale)
                .highlight_row(Some(n - 1))
                .max_size(vec2(side * 1.3, side))
                .name(tr("Cross-attention of each step"))
                .show(ui);
        });
        tile(ui, side * 1.4, |ui| {
            ui.label(RichText::new(tr("Next-token distribution (chosen in orange)")).strong());
            top_tokens(ui, last);
            next_token_chart(
                ui,
                last,
                state.engine.target_vocab_size(),
                state.settings.decoder.top_n,
                side * 1.4,
                chart_height,
            );
        });
    });
}

/// Beam search's hypotheses after a step: what each has written, the sum of its
/// log-probabilities and its length-normalised score (the ranking). The stepper replays the
/// best finished one.
fn beam_table(ui: &mut Ui, step: usize, beams: &[BeamHypothesis]) {
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
}

/// The five most likely tokens as text (small probabilities are invisible as bars).
fn top_tokens(ui: &mut Ui, step: &StepTrace) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 10.0;
        for c in step.top.iter().take(5) {
            let text = RichText::new(format!("'{}' {:.3}", display_token(&c.token), c.prob))
                .monospace()
                .small();
            ui.label(if c.id == step.chosen {
                text.color(CHOSEN).strong()
            } else {
                text
            });
        }
    });
}

/// The `top_n` most likely next tokens as bars (the chosen one always among them), out of
/// a vocabulary of `vocab_size`.
fn next_token_chart(
    ui: &mut Ui,
    step: &StepTrace,
    vocab_size: usize,
    top_n: usize,
    width: f32,
    height: f32,
) {
    let mut shown: Vec<(u32, String, f32)> = step
        .top
        .iter()
        .take(top_n.max(1))
        .map(|c| (c.id, c.token.clone(), c.prob))
        .collect();
    if !shown.iter().any(|(id, ..)| *id == step.chosen) {
        shown.pop();
        let p = step.probs.get(step.chosen as usize).copied().unwrap_or(0.0);
        shown.push((step.chosen, step.chosen_token.clone(), p));
    }
    // A translator's vocabulary has tens of thousands of tokens: say how few are drawn.
    if vocab_size > LARGE_VOCABULARY {
        ui.label(
            RichText::new(trf(
                "the {} most likely of {} tokens",
                &[&shown.len(), &vocab_size],
            ))
            .small()
            .weak(),
        );
    }
    let order: Vec<usize> = shown.iter().map(|(id, ..)| *id as usize).collect();
    let probs: std::collections::HashMap<usize, f32> =
        shown.iter().map(|(id, _, p)| (*id as usize, *p)).collect();
    let base = ui.visuals().selection.bg_fill;
    let labels: Vec<String> = shown.iter().map(|(_, t, _)| display_token(t)).collect();
    let bars: Vec<Bar> = order
        .iter()
        .enumerate()
        .map(|(x, &i)| {
            let chosen = i as u32 == step.chosen;
            Bar::new(x as f64, probs[&i] as f64)
                .name(trf("{} (id {})", &[&labels[x], &i]))
                .fill(if chosen { CHOSEN } else { base })
                .stroke(egui::Stroke::new(
                    if chosen { 2.0 } else { 0.5 },
                    if chosen { Color32::WHITE } else { base },
                ))
                .width(0.7)
        })
        .collect();
    let order_len = order.len();
    let text_color = ui.visuals().strong_text_color();
    let marks: Vec<(f64, f64, String, bool)> = order
        .iter()
        .enumerate()
        .map(|(x, &i)| {
            (
                x as f64,
                probs[&i] as f64,
                labels[x].clone(),
                i as u32 == step.chosen,
            )
        })
        .collect();
    ui.name_inputs(tr("Next-token distribution chart"), |ui| {
        Plot::new(("next_token", step.position))
            .width(width)
            .height(height)
            .allow_zoom(false)
            .allow_drag(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .include_y(0.0)
            .include_y(1.12)
            .default_x_bounds(-0.6, order_len as f64 - 0.4)
            .show_axes([false, true])
            .show_grid([false, true])
            .y_axis_label(tr("probability"))
            .show(ui, |plot| {
                plot.bar_chart(BarChart::new(tr("probability"), bars));
                // Token labels on top of the bars (axis labels would be thinned out).
                for (x, p, label, chosen) in marks {
                    let text = RichText::new(label).monospace().strong().color(if chosen {
                        CHOSEN
                    } else {
                        text_color
                    });
                    plot.text(
                        egui_plot::Text::new(
                            tr("token"),
                            egui_plot::PlotPoint::new(x, p + 0.02),
                            text,
                        )
                        .anchor(egui::Align2::CENTER_BOTTOM),
                    );
                }
            });
    });
}
