//! The next-token distribution of one step: the five most likely tokens as text, and the
//! top tokens as a bar chart with the chosen one in orange.

use egui::{Color32, RichText, Ui};
use egui_plot::{Bar, BarChart, Plot, PlotPoint, Text};

use super::CHOSEN;
use crate::app::widgets::tokens::display_token;
use crate::i18n::{tr, trf};
use crate::tokenizer::Vocab;
use crate::trace::StepTrace;

/// Token ids, most likely first.
fn by_probability(step: &StepTrace) -> Vec<usize> {
    let mut order: Vec<usize> = (0..step.probs.len()).collect();
    order.sort_by(|&a, &b| step.probs[b].total_cmp(&step.probs[a]));
    order
}

/// The five most likely tokens as text (small probabilities are invisible as bars).
pub(super) fn top_tokens(ui: &mut Ui, step: &StepTrace, vocab: &Vocab) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 10.0;
        for &i in by_probability(step).iter().take(5) {
            let text = RichText::new(format!(
                "'{}' {:.3}",
                display_token(vocab.token(i as u32)),
                step.probs[i]
            ))
            .monospace()
            .small();
            ui.label(if i as u32 == step.chosen {
                text.color(CHOSEN).strong()
            } else {
                text
            });
        }
    });
}

/// One bar of the chart: a token and its probability.
struct TokenBar {
    id: usize,
    label: String,
    probability: f64,
    chosen: bool,
}

/// The `top_n` most likely tokens as bars, the chosen one always among them (it replaces the
/// last when sampling picked an unlikely token).
fn bars_of(step: &StepTrace, vocab: &Vocab, top_n: usize) -> Vec<TokenBar> {
    let mut order = by_probability(step);
    order.truncate(top_n.max(1));
    if !order.contains(&(step.chosen as usize)) {
        order.pop();
        order.push(step.chosen as usize);
    }
    order
        .into_iter()
        .map(|id| TokenBar {
            id,
            label: display_token(vocab.token(id as u32)),
            probability: step.probs[id] as f64,
            chosen: id as u32 == step.chosen,
        })
        .collect()
}

/// The bar chart, token labels on top of the bars (axis labels would be thinned out).
pub(super) fn chart(
    ui: &mut Ui,
    step: &StepTrace,
    vocab: &Vocab,
    top_n: usize,
    width: f32,
    height: f32,
) {
    let token_bars = bars_of(step, vocab, top_n);
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
                    let at = PlotPoint::new(x as f64, t.probability + 0.02);
                    plot.text(Text::new(tr("token"), at, text).anchor(egui::Align2::CENTER_BOTTOM));
                }
            });
    });
}
