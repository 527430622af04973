//! The bars across the top: the everyday one (files, model, mask switches, zoom, language)
//! and presenter mode's, which keeps only what a presenter touches live and puts the rest in
//! one menu.

use egui::{RichText, Ui};

use crate::app::actions::{Actions, export_menu};
use crate::app::example_rows;
use crate::app::intents::{FilePurpose, Intent};
use crate::app::labels;
use crate::app::settings::ViewId;
use crate::app::state::{AppState, ModelOrigin};
use crate::bundled_models;
use crate::i18n::{Language, set_language, tr, trf};
use crate::masks::{MaskMethod, PadSide};

/// Presenter mode's top bar: only what a presenter touches live (the lessons, the mask
/// switches, the view); files, sessions, exports, theme and language wait in the menu.
pub(super) fn presenter_bar(ui: &mut Ui, state: &mut AppState, actions: &mut Actions) {
    ui.add_space(2.0);
    ui.horizontal_wrapped(|ui| {
        // Tighter than egui's default, so the bar stays one line on a 1280 px projector.
        ui.spacing_mut().item_spacing.x = 5.0;
        ui.menu_button(tr("Menu"), |ui| {
            ui.menu_button(tr("Open model..."), |ui| {
                open_model_items(ui, state, actions)
            });
            ui.menu_button(tr("Bundled"), |ui| bundled_items(ui, state, actions));
            export_menu::menu(ui, state, actions);
            ui.separator();
            actions.top_bar_items(ui, state);
            ui.separator();
            let mut mask = state.settings.mask;
            mask_method(ui, &mut mask.method);
            state.set_mask(mask);
            ui.separator();
            language_switch(ui, &mut state.settings.language);
        })
        .response
        .on_hover_text(tr(
            "Files, sessions, exports, theme, language; F5 leaves presenter mode",
        ));
        let mut open = state.settings.lessons_open;
        if ui
            .toggle_value(&mut open, tr("Lessons"))
            .on_hover_text(tr("The lesson as a caption beside the figure (L)"))
            .changed()
        {
            if open {
                state.settings.lessons_open = true;
            } else {
                actions.act(state, [Intent::CloseLessons]);
            }
        }
        ui.add_space(10.0);
        let mut mask = state.settings.mask;
        ui.checkbox(&mut mask.causal, tr("Causal"))
            .on_hover_text(tr("Causal mask (M)"));
        ui.checkbox(&mut mask.src_padding, tr("Source pad"))
            .on_hover_text(tr("Source padding mask"));
        ui.checkbox(&mut mask.tgt_padding, tr("Target pad"))
            .on_hover_text(tr("Target padding mask"));
        pad_side(ui, tr("Left pad"), &mut mask.pad_side);
        state.set_mask(mask);
        ui.add_space(10.0);
        for id in ViewId::ALL {
            if ui
                .selectable_label(state.settings.view == id, labels::view_title(id))
                .clicked()
            {
                state.settings.view = id;
            }
        }
    });
    ui.add_space(2.0);
}

/// Which end of each row gets the `<pad>` tokens; `label` says it long or short.
fn pad_side(ui: &mut Ui, label: &str, side: &mut PadSide) {
    let mut left = *side == PadSide::Left;
    if ui
        .checkbox(&mut left, label)
        .on_hover_text(tr(
            "Put each row's <pad> tokens before its real tokens instead of after them; positions still count from the first real token",
        ))
        .changed()
    {
        *side = if left { PadSide::Left } else { PadSide::Right };
    }
}

/// The mask method (additive, multiply after softmax, none).
fn mask_method(ui: &mut Ui, method: &mut MaskMethod) {
    egui::ComboBox::from_label(tr("Mask method"))
        .selected_text(labels::mask_method(*method))
        .show_ui(ui, |ui| {
            for m in MaskMethod::ALL {
                ui.selectable_value(method, m, labels::mask_method(m));
            }
        });
}

/// The bundled models with their tasks; one that is missing from this build is listed,
/// disabled, so nobody wonders where it went.
fn bundled_items(ui: &mut Ui, state: &mut AppState, actions: &mut Actions) {
    for b in bundled_models::ALL {
        let available = b.bytes().is_some();
        // The model's name and what it does, by example ("dates: 2026-11-28 -> 28 Nov
        // 2026"), not its name twice ("dates (dates)").
        let text = if available {
            let example = example_rows::for_task(b.task).into_iter().next();
            match example {
                Some(e) => format!("{}: {} -> {}", b.name, e.src, e.tgt),
                None => b.name.to_owned(),
            }
        } else {
            trf("{} (not available)", &[&b.name])
        };
        let button = egui::Button::new(text);
        if ui
            .add_enabled(available, button)
            .on_hover_text(labels::task_description(b.task))
            .clicked()
        {
            actions.act(state, [Intent::OpenBundled(b)]);
            ui.close();
        }
    }
}

/// What Open model... offers: a maskscope checkpoint file or a translator's folder.
fn open_model_items(ui: &mut Ui, state: &mut AppState, actions: &mut Actions) {
    for (purpose, label, hint) in [
        (
            FilePurpose::OpenModel,
            tr("Checkpoint file (.safetensors)..."),
            tr("A maskscope checkpoint, such as one saved after fine-tuning"),
        ),
        (
            FilePurpose::OpenModelFolder,
            tr("Model folder (Marian / opus-mt)..."),
            tr(
                "A Hugging Face translator folder as downloaded: config.json, model.safetensors, source.spm, target.spm, vocab.json",
            ),
        ),
    ] {
        if ui.button(label).on_hover_text(hint).clicked() {
            ui.close();
            actions.act(state, [Intent::ChooseFile(purpose)]);
        }
    }
}

/// The everyday top bar (presenter mode draws [`presenter_bar`] instead): files, the model,
/// every mask switch, values in cells, zoom, language.
pub(super) fn top_bar(ui: &mut Ui, state: &mut AppState, actions: &mut Actions) {
    ui.add_space(2.0);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("maskscope").strong().size(16.0));
        ui.separator();
        ui.menu_button(tr("Open model..."), |ui| {
            open_model_items(ui, state, actions)
        });
        if ui
            .add_enabled(
                !state.training.is_running(),
                egui::Button::new(tr("Save model...")),
            )
            .clicked()
        {
            actions.request_file(state, FilePurpose::SaveModel);
        }
        ui.menu_button(tr("Recent"), |ui| {
            if state.settings.recent.is_empty() {
                ui.label(tr("No recent files"));
            }
            let mut open = None;
            for (i, p) in state.settings.recent.iter().enumerate() {
                if ui.button(p.display().to_string()).clicked() {
                    open = Some(i);
                }
            }
            if let Some(i) = open {
                actions.act(state, [Intent::OpenRecent(i)]);
                ui.close();
            }
        });
        ui.menu_button(tr("Bundled"), |ui| bundled_items(ui, state, actions));
        export_menu::menu(ui, state, actions);
        ui.separator();
        actions.top_bar_items(ui, state);
        ui.separator();
        ui.label(RichText::new(&state.model.name).strong());
        if matches!(state.model.origin, ModelOrigin::Random { .. }) {
            ui.label(
                RichText::new(tr("UNTRAINED"))
                    .strong()
                    .color(ui.visuals().warn_fg_color),
            )
            .on_hover_text(tr(
                "The bundled model file was not found; this is a random model.",
            ));
        }
        if state.model.modified {
            ui.label(RichText::new(tr("fine-tuned, unsaved")).color(ui.visuals().warn_fg_color));
        }
        // Elided (full text on hover) rather than wrapped under the title.
        ui.add(
            egui::Label::new(
                RichText::new(labels::model_summary(&state.engine.summary()))
                    .weak()
                    .small(),
            )
            .truncate(),
        );
    });
    ui.horizontal_wrapped(|ui| {
        let mut mask = state.settings.mask;
        ui.label(RichText::new(tr("Masks:")).strong());
        ui.checkbox(&mut mask.causal, tr("Causal mask"))
            .on_hover_text(tr("Decoder position i may not attend to positions after i"));
        ui.checkbox(&mut mask.src_padding, tr("Source padding mask"))
            .on_hover_text(tr(
                "No query may attend to a <pad> source token (encoder self and cross-attention)",
            ));
        ui.checkbox(&mut mask.tgt_padding, tr("Target padding mask"))
            .on_hover_text(tr("No decoder query may attend to a <pad> decoder input"));
        pad_side(ui, tr("Pad on the left"), &mut mask.pad_side);
        mask_method(ui, &mut mask.method);
        if ui
            .small_button(tr("Defaults"))
            .on_hover_text(tr("All masks on, additive"))
            .clicked()
        {
            mask = Default::default();
        }
        state.set_mask(mask);
        ui.separator();
        ui.checkbox(&mut state.settings.show_values, tr("Values in cells"));
        ui.separator();
        let zoom = ui.ctx().zoom_factor();
        if ui
            .small_button("A-")
            .on_hover_text(tr("Smaller text (Ctrl -)"))
            .clicked()
        {
            ui.ctx().set_zoom_factor((zoom - 0.1).max(0.6));
        }
        if ui
            .small_button("A+")
            .on_hover_text(tr("Larger text for a projector (Ctrl +)"))
            .clicked()
        {
            ui.ctx().set_zoom_factor((zoom + 0.1).min(2.5));
        }
        ui.separator();
        language_switch(ui, &mut state.settings.language);
    });
    ui.add_space(2.0);
}

/// "English" / "简体中文", each in its own language; switching applies at once.
fn language_switch(ui: &mut Ui, language: &mut Language) {
    for l in Language::ALL {
        if ui
            .selectable_label(*language == l, l.native_name())
            .on_hover_text(tr("Language of the window"))
            .clicked()
        {
            *language = l;
            set_language(l);
        }
    }
}
