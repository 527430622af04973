//! The next-token distribution of one step: the five most likely tokens as text, and the
//! top tokens as a bar chart with the chosen one in orange.

use egui::{Color32, RichText, Ui};
use egui_plot::{Bar, BarChart, Plot, PlotPoint, Text};

use super::CHOSEN;
use crate::app::widgets::tokens::display_token;
use crate::i18n::{tr, trf};
use crate::trace::StepTrace;

/// Width per bar (points) below which the token labels on top of the bars run together.
const MIN_BAR_WIDTH: f32 = 40.0;

/// Above this many tokens the chart says it shows only the most likely few.
const LARGE_VOCABULARY: usize = 1000;

/// The five most likely tokens as text (small probabilities are invisible as bars).
pub(super) fn top_tokens(ui: &mut Ui, step: &StepTrace) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 10.0;
        // Tokens that top-k / top-p cut have probability 0: not candidates, not listed.
        for c in step.top.iter().filter(|c| c.prob > 0.0).take(5) {
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

/// One bar of the chart: a token and its probability.
struct TokenBar {
    id: u32,
    label: String,
    probability: f64,
    chosen: bool,
}

/// The `top_n` most likely tokens as bars, the chosen one always among them (it replaces the
/// last when sampling picked an unlikely token). The step keeps only the most likely few by
/// name: a translator's vocabulary holds tens of thousands.
fn bars_of(step: &StepTrace, top_n: usize) -> Vec<TokenBar> {
    let mut bars: Vec<TokenBar> = step
        .top
        .iter()
        .filter(|c| c.prob > 0.0 || c.id == step.chosen)
        .take(top_n.max(1))
        .map(|c| TokenBar {
            id: c.id,
            label: display_token(&c.token),
            probability: c.prob as f64,
            chosen: c.id == step.chosen,
        })
        .collect();
    if !bars.iter().any(|b| b.chosen) {
        bars.pop();
        bars.push(TokenBar {
            id: step.chosen,
            label: display_token(&step.chosen_token),
            probability: step.chosen_probability() as f64,
            chosen: true,
        });
    }
    bars
}

/// The top of the probability axis for a chart whose tallest bar is `highest`: a little
/// above it (room for its token label), so a 9 % favourite fills the chart rather than
/// being a sliver under a fixed 0-1 axis; the axis's numbers say the scale.
fn axis_top(highest: f64) -> f64 {
    (highest * 1.15).clamp(0.05, 1.12)
}

/// The bar chart, token labels on top of the bars (axis labels would be thinned out).
pub(super) fn chart(
    ui: &mut Ui,
    step: &StepTrace,
    vocab_size: usize,
    top_n: usize,
    width: f32,
    height: f32,
) {
    // As many bars as their labels have room for (`<eos>` is five characters wide).
    let fit = ((width - 50.0) / MIN_BAR_WIDTH).floor().max(3.0) as usize;
    let token_bars = bars_of(step, top_n.min(fit));
    // Say how few of a translator's tens of thousands of tokens are drawn.
    if vocab_size > LARGE_VOCABULARY {
        ui.label(
            RichText::new(trf(
                "the {} most likely of {} tokens",
                &[&token_bars.len(), &vocab_size],
            ))
            .small()
            .weak(),
        );
    }
    let base = ui.visuals().selection.bg_fill;
    let text_color = ui.visuals().strong_text_color();
    let bars: Vec<Bar> = token_bars
        .iter()
        .enumerate()
        .map(|(x, t)| {
            Bar::new(x as f64, t.probability)
                .name(trf("{} (id {})", &[&t.label, &t.id]))
                .fill(if t.chosen { CHOSEN } else { base })
                .stroke(egui::Stroke::new(
                    if t.chosen { 2.0 } else { 0.5 },
                    if t.chosen { Color32::WHITE } else { base },
                ))
                .width(0.7)
        })
        .collect();
    let top = axis_top(token_bars.iter().map(|t| t.probability).fold(0.0, f64::max));
    ui.name_inputs(tr("Next-token distribution chart"), |ui| {
        Plot::new(("next_token", step.position))
            .width(width)
            .height(height)
            .allow_zoom(false)
            .allow_drag(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .include_y(0.0)
            .include_y(top)
            .default_x_bounds(-0.6, token_bars.len() as f64 - 0.4)
            .show_axes([false, true])
            .show_grid([false, true])
            .y_axis_label(tr("probability"))
            .show(ui, |plot| {
                plot.bar_chart(BarChart::new(tr("probability"), bars));
                for (x, t) in token_bars.iter().enumerate() {
                    let color = if t.chosen { CHOSEN } else { text_color };
                    let text = RichText::new(t.label.as_str())
                        .monospace()
                        .strong()
                        .color(color);
                    let at = PlotPoint::new(x as f64, t.probability + 0.02 * top);
                    plot.text(Text::new(tr("token"), at, text).anchor(egui::Align2::CENTER_BOTTOM));
                }
            });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TokenChance;
    use ndarray::Array3;

    /// A step whose most likely tokens are `top` (id, probability) and which chose `chosen`.
    fn step(top: &[(u32, f32)], chosen: u32) -> StepTrace {
        let mut probs = vec![0.0; 10];
        for &(id, p) in top {
            probs[id as usize] = p;
        }
        StepTrace {
            position: 0,
            input_ids: vec![1],
            input_tokens: vec!["<bos>".into()],
            self_row: Array3::zeros((1, 1, 1)),
            cross_row: Array3::zeros((1, 1, 1)),
            probs,
            top: top
                .iter()
                .map(|&(id, prob)| TokenChance {
                    id,
                    token: id.to_string(),
                    prob,
                })
                .collect(),
            chosen,
            chosen_token: chosen.to_string(),
        }
    }

    fn bar_ids(step: &StepTrace, top_n: usize) -> Vec<u32> {
        bars_of(step, top_n).iter().map(|b| b.id).collect()
    }

    #[test]
    fn tokens_cut_by_top_k_or_top_p_get_no_bar() {
        let cut = step(&[(5, 0.7), (6, 0.3), (7, 0.0), (8, 0.0)], 6);
        assert_eq!(bar_ids(&cut, 20), [5, 6]);
    }

    #[test]
    fn the_axis_follows_the_tallest_bar() {
        assert!(axis_top(0.09) < 0.11, "a 9 % favourite fills the chart");
        assert!(
            axis_top(1.0) > 1.1,
            "a certain token's label fits above its bar"
        );
        assert!(axis_top(0.0) > 0.0);
    }

    #[test]
    fn the_chosen_token_always_has_a_bar() {
        let unlikely = step(&[(5, 0.6), (6, 0.3), (7, 0.1)], 7);
        assert_eq!(bar_ids(&unlikely, 2), [5, 7]);
    }
}
