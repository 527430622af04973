//! The export menus: the top bar's Export menu, the small button beside the view tabs, and
//! Ctrl+E. Each asks for a path and hands the job to [`super::export::Exports::start`].

use egui::{RichText, Ui};

use super::Actions;
use super::export::view_figures;
use crate::app::export_jobs::{ExportJob, Format};
use crate::app::intents::FilePurpose;
use crate::app::regions::Region;
use crate::app::state::AppState;
use crate::i18n::tr;

fn png_row(ui: &mut Ui, state: &mut AppState, actions: &mut Actions, label: &str, region: Region) {
    let view = state.settings.view;
    ui.horizontal(|ui| {
        ui.label(label);
        for scale in 1..=3u8 {
            let hover = if scale == 1 {
                tr("Exactly the pixels on screen")
            } else {
                tr("Drawn again offscreen at a higher pixel density: sharp text and lines")
            };
            if ui
                .button(format!("{scale}x"))
                .on_hover_text(hover)
                .clicked()
            {
                ui.close();
                actions.request_file(
                    state,
                    FilePurpose::Export(ExportJob::Png {
                        region,
                        view,
                        scale,
                    }),
                );
            }
        }
    });
}

fn figure_rows(ui: &mut Ui, state: &mut AppState, actions: &mut Actions) {
    let view = state.settings.view;
    let figs = view_figures(state, view);
    if figs.is_empty() {
        ui.label(
            RichText::new(tr(
                "This view has no heatmaps to export as SVG, CSV or JSON.",
            ))
            .weak(),
        );
        return;
    }
    for (index, fig) in figs.iter().enumerate() {
        ui.horizontal(|ui| {
            for format in Format::ALL {
                let text = match format {
                    Format::Svg => "SVG",
                    Format::Csv => "CSV",
                    Format::Json => "JSON",
                };
                if ui.small_button(text).clicked() {
                    ui.close();
                    actions.request_file(
                        state,
                        FilePurpose::Export(ExportJob::Figure {
                            view,
                            index,
                            format,
                        }),
                    );
                }
            }
            ui.label(&fig.title);
        });
    }
}

/// The top bar's "Export" menu: window, view or inputs as PNG, and the view's figures.
pub fn menu(ui: &mut Ui, state: &mut AppState, actions: &mut Actions) {
    ui.add_enabled_ui(!actions.exports.busy(), |ui| {
        ui.menu_button(tr("Export"), |ui| {
            ui.label(RichText::new(tr("Image (PNG)")).strong());
            png_row(ui, state, actions, tr("Current view"), Region::View);
            png_row(ui, state, actions, tr("Whole window"), Region::Window);
            png_row(ui, state, actions, tr("Inputs panel"), Region::Inputs);
            ui.separator();
            ui.label(
                RichText::new(tr(
                    "Figures of this view (vector SVG, numbers as CSV or JSON)",
                ))
                .strong(),
            );
            figure_rows(ui, state, actions);
        })
        .response
        .on_hover_text(tr(
            "Save the view as a PNG (1x, 2x, 3x) or its heatmaps as SVG, CSV or JSON",
        ));
    });
}

/// The small per-view export button beside the view tabs.
pub fn view_button(ui: &mut Ui, state: &mut AppState, actions: &mut Actions) {
    ui.add_enabled_ui(!actions.exports.busy(), |ui| {
        ui.menu_button(tr("Export view"), |ui| {
            png_row(ui, state, actions, tr("PNG"), Region::View);
            ui.separator();
            figure_rows(ui, state, actions);
        })
        .response
        .on_hover_text(tr(
            "Save this view as a PNG, or its heatmaps as SVG, CSV or JSON",
        ));
    });
}

/// Ctrl+E (or a presenter's request): the current view at 2x through the file dialog.
pub fn quick_export(state: &mut AppState, actions: &mut Actions) {
    if !actions.exports.busy() {
        let view = state.settings.view;
        actions.request_file(
            state,
            FilePurpose::Export(ExportJob::Png {
                region: Region::View,
                view,
                scale: 2,
            }),
        );
    }
}
