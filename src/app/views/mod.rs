//! One view per file, each behind [`View`]. Views draw [`AppState`] and change it, and
//! return [`Intents`] for what they cannot do themselves (file dialogs, exports, lessons);
//! they never call the actions. The state they keep themselves is only what is drawn (none
//! of it is model data).

pub mod attention;
pub mod decoder;
pub mod finetune;
pub mod inputs;
pub mod lessons;
pub mod masks;
pub mod presenter;

use egui::Ui;

use super::intents::Intents;
use super::state::AppState;
use crate::i18n::tr;
use crate::trace::AttentionKind;

pub trait View {
    fn title(&self) -> &str;
    fn ui(&mut self, ui: &mut Ui, state: &mut AppState) -> Intents;
}

/// Three buttons choosing an attention kind.
pub(crate) fn kind_selector(ui: &mut Ui, kind: &mut AttentionKind) -> bool {
    let mut changed = false;
    ui.horizontal(|ui| {
        for k in AttentionKind::ALL {
            let label = match k {
                AttentionKind::EncoderSelf => tr("Encoder self"),
                AttentionKind::DecoderSelf => tr("Decoder self (masked)"),
                AttentionKind::Cross => tr("Cross (decoder -> encoder)"),
            };
            if ui.selectable_label(*kind == k, label).clicked() && *kind != k {
                *kind = k;
                changed = true;
            }
        }
    });
    changed
}

/// Layer and head pickers (clamped to what the model has). `head` is `None` for a
/// layer-only picker.
pub(crate) fn layer_head_picker(
    ui: &mut Ui,
    layers: usize,
    heads: usize,
    layer: &mut usize,
    head: Option<&mut usize>,
) {
    *layer = (*layer).min(layers.saturating_sub(1));
    ui.horizontal(|ui| {
        let l = ui.label(tr("Layer"));
        ui.label_inputs_by(l.id, |ui| {
            ui.add(egui::Slider::new(layer, 0..=layers.saturating_sub(1)).integer())
        });
        if let Some(head) = head {
            *head = (*head).min(heads.saturating_sub(1));
            let h = ui.label(tr("Head"));
            ui.label_inputs_by(h.id, |ui| {
                ui.add(egui::Slider::new(head, 0..=heads.saturating_sub(1)).integer())
            });
        }
    });
}

/// A block of known width in a wrapping row: unlike `ui.vertical`, the row can wrap before
/// it because its width is known up front.
pub(crate) fn tile<R>(ui: &mut Ui, width: f32, add: impl FnOnce(&mut Ui) -> R) -> R {
    ui.allocate_ui_with_layout(
        egui::vec2(width, 0.0),
        egui::Layout::top_down(egui::Align::Min),
        |ui| {
            ui.set_max_width(width);
            add(ui)
        },
    )
    .inner
}

/// A wrapping row whose items hang from the top (not centred on the row).
pub(crate) fn wrap_top<R>(ui: &mut Ui, add: impl FnOnce(&mut Ui) -> R) -> R {
    ui.with_layout(
        egui::Layout::left_to_right(egui::Align::Min).with_main_wrap(true),
        add,
    )
    .inner
}

/// A short explanatory line under a heading.
pub(crate) fn explain(ui: &mut Ui, text: &str) {
    ui.label(egui::RichText::new(text).weak());
}
