//! The window: top bar (files, model, mask switches), inputs on the left, the views in the
//! middle, messages at the bottom. In presenter mode the figure comes first: one bar of live
//! controls, the inputs folded into a strip, the lesson as a caption, and the view's figure
//! filling the rest. It owns the frame: begin the frame (keys, theme), draw the panels and
//! views, run what they asked for, end the frame (dialogs, exports).

use std::path::Path;

use egui::{RichText, Ui};

use super::actions::{Actions, export_menu, presenter};
use super::fonts;
use super::intents::FilePurpose;
use super::presenter_layout::{Caption, PresenterLayout, SidePanel, SideWidths};
use super::regions::{self, Panel, Region};
use super::settings::{Settings, ViewId};
use super::state::AppState;
use super::views::attention::AttentionView;
use super::views::decoder::DecoderView;
use super::views::finetune::FinetuneView;
use super::views::inputs::InputsView;
use super::views::masks::MasksView;
use super::views::{self, View, presenter as figures};
use crate::i18n::{Language, set_language, tr, trf};
use status_bar::{needs_status_bar, status_bar};
use top_bar::{presenter_bar, top_bar};

mod status_bar;
mod top_bar;

/// The maskscope window.
pub struct App {
    state: AppState,
    actions: Actions,
    inputs: InputsView,
    masks: MasksView,
    attention: AttentionView,
    decoder: DecoderView,
    finetune: FinetuneView,
    ctx: Option<egui::Context>,
    frame_stats: super::frame_stats::FrameStats,
    side_widths: SideWidths,
    /// A lesson's runs trained one after another (`MASKSCOPE_START_TRAINING=lesson`).
    lesson_runs: Option<super::actions::lessons::LessonRuns>,
}

const ZOOM_KEY: &str = "maskscope_zoom";

/// `MASKSCOPE_LANG=zh` (or `en`) overrides the saved language, e.g. for screenshots.
fn language_from_env() -> Option<Language> {
    let value = std::env::var("MASKSCOPE_LANG").ok()?.to_ascii_lowercase();
    if value.starts_with("zh") {
        Some(Language::Zh)
    } else if value.starts_with("en") {
        Some(Language::En)
    } else {
        None
    }
}

impl App {
    /// Restores settings from eframe storage (if any) and opens the bundled dates model.
    /// The window's app, on `model` when one was named on the command line (a model that
    /// does not open leaves the bundled one with the reason on screen).
    pub fn new(cc: &eframe::CreationContext<'_>, model: Option<&std::path::Path>) -> Self {
        let mut settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        if let Some(language) = language_from_env() {
            settings.language = language;
        }
        set_language(settings.language);
        fonts::ensure_installed(&cc.egui_ctx);
        if let Some(zoom) = cc
            .storage
            .and_then(|s| eframe::get_value::<f32>(s, ZOOM_KEY))
        {
            cc.egui_ctx.set_zoom_factor(zoom.clamp(0.5, 3.0));
        }
        let mut app = Self::with_state(AppState::new(settings));
        let zoom_restored = cc
            .storage
            .and_then(|s| eframe::get_value::<f32>(s, ZOOM_KEY))
            .is_some();
        presenter::startup(&cc.egui_ctx, &mut app.state, zoom_restored);
        if let Some(path) = model {
            app.state.open_model(path);
        }
        // For frame-time measurements under load (see README): start the fine-tune form's run.
        // `=lesson` trains every run the entered lesson step compares (see `LessonRuns`).
        app.lesson_runs = super::actions::lessons::LessonRuns::from_env(&app.state);
        if std::env::var_os("MASKSCOPE_START_TRAINING").is_some() && app.lesson_runs.is_none() {
            app.state.start_training();
        }
        app.ctx = Some(cc.egui_ctx.clone());
        app
    }

    /// An app around a prepared state (tests, other models).
    pub fn with_state(state: AppState) -> Self {
        Self {
            state,
            actions: Actions::default(),
            inputs: InputsView,
            masks: MasksView,
            attention: AttentionView,
            decoder: DecoderView,
            finetune: FinetuneView,
            ctx: None,
            frame_stats: Default::default(),
            side_widths: SideWidths::default(),
            lesson_runs: None,
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn state_mut(&mut self) -> &mut AppState {
        &mut self.state
    }

    /// The typed-path window and the export queue.
    pub fn actions(&self) -> &Actions {
        &self.actions
    }

    pub fn actions_mut(&mut self) -> &mut Actions {
        &mut self.actions
    }

    /// Acts on a path as if it had been chosen in the file dialog for `purpose`.
    pub fn handle_path(&mut self, purpose: FilePurpose, path: &Path) {
        self.actions.handle_path(&mut self.state, purpose, path);
    }

    fn view_mut(&mut self, id: ViewId) -> &mut dyn View {
        match id {
            ViewId::Masks => &mut self.masks,
            ViewId::Attention => &mut self.attention,
            ViewId::Decoder => &mut self.decoder,
            ViewId::Finetune => &mut self.finetune,
        }
    }
}

/// Width kept free for the view's export button at the end of the tab row, in points.
const EXPORT_BUTTON_ROOM: f32 = 130.0;

impl App {
    /// The central panel: the view tabs, the view's export button, and the current view.
    fn central(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            for id in ViewId::ALL {
                let title = self.view_mut(id).title().to_owned();
                let selected = self.state.settings.view == id;
                if ui
                    .selectable_label(selected, RichText::new(title).size(15.0).strong())
                    .clicked()
                {
                    self.state.settings.view = id;
                }
            }
            let seq = self.state.sequence().map(|s| {
                trf(
                    "row {}: {} source / {} target tokens",
                    &[
                        &(self.state.selected_row + 1),
                        &s.src_len,
                        &s.tgt_len.saturating_sub(1),
                    ],
                )
            });
            if let Some(seq) = seq.filter(|_| !self.state.settings.presenter) {
                ui.separator();
                // Cut short rather than widen the view: a row wider than the panel makes every
                // wrapped text below it run under the lessons panel.
                let room = ui.available_width() - EXPORT_BUTTON_ROOM;
                if room > 40.0 {
                    ui.scope(|ui| {
                        ui.set_max_width(room);
                        ui.add(egui::Label::new(RichText::new(seq).weak()).truncate());
                    });
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                export_menu::view_button(ui, &mut self.state, &mut self.actions);
            });
        });
        ui.separator();
        regions::remember_view_rect(ui);
        let id = self.state.settings.view;
        let (view, state) = match id {
            ViewId::Masks => (&mut self.masks as &mut dyn View, &mut self.state),
            ViewId::Attention => (&mut self.attention as &mut dyn View, &mut self.state),
            ViewId::Decoder => (&mut self.decoder as &mut dyn View, &mut self.state),
            ViewId::Finetune => (&mut self.finetune as &mut dyn View, &mut self.state),
        };
        let intents = if id == ViewId::Finetune {
            view.ui(ui, state)
        } else {
            let scroll = egui::ScrollArea::vertical()
                .id_salt(("view_scroll", id as u8))
                .auto_shrink([false, false])
                .show(ui, |ui| view.ui(ui, state));
            regions::note_view_scroll(ui.ctx(), scroll.inner_rect, scroll.content_size);
            scroll.inner
        };
        self.actions.act(&mut self.state, intents);
    }

    /// Drives PNG exports once the frame is drawn. A 2x or 3x export draws the whole frame
    /// again offscreen, so the export queue is taken out of the app while it runs.
    fn end_frame_exports(&mut self, ctx: egui::Context, frame: &mut eframe::Frame) {
        let mut exports = std::mem::take(&mut self.actions.exports);
        if let Some(gl) = frame.gl() {
            exports.window_gl = Some(gl.clone());
        }
        let outcomes = exports.end_frame(&ctx, |ui| eframe::App::ui(self, ui, frame));
        for outcome in outcomes {
            exports.report(&mut self.state, outcome);
        }
        self.actions.exports = exports;
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        self.frame_stats
            .record(frame.info().cpu_usage, self.state.training.is_running());
        if let Some(runs) = &mut self.lesson_runs
            && !runs.drive(&mut self.state)
        {
            self.lesson_runs = None;
        }
        if self.state.poll_training() {
            // Drain again soon; not every frame, so an idle run does not spin the CPU.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut Ui, frame: &mut eframe::Frame) {
        // Chinese glyphs for every harness and window; the language switch applies live.
        fonts::ensure_installed(ui.ctx());
        set_language(self.state.settings.language);
        // Theme, presenter mode and the keyboard, before any panel sees a key.
        self.actions.begin_frame(ui.ctx(), &mut self.state);
        regions::forget_figure(ui.ctx());
        regions::forget_panels(ui.ctx());
        if self.state.settings.presenter {
            self.side_widths.presenter_frame();
            self.presenter_panels(ui);
        } else {
            self.normal_panels(ui);
            self.side_widths.normal_frame_drawn();
        }
        self.actions.end_frame(ui.ctx(), &mut self.state);
        self.end_frame_exports(ui.ctx().clone(), frame);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.state.settings);
        if let Some(ctx) = &self.ctx {
            eframe::set_value(storage, ZOOM_KEY, &ctx.zoom_factor());
        }
    }
}

/// Largest share of the window's width each side panel of the normal layout may take, so the
/// view in the middle keeps at least 40 %.
const SIDE_PANEL_SHARE: f32 = 0.3;

impl App {
    /// The everyday layout: top bar, inputs on the left, lessons on the right, the view in the
    /// middle. Presenter mode draws none of these panels, so their widths and open state are
    /// kept as they were (egui stores each panel's size under its id).
    fn normal_panels(&mut self, ui: &mut Ui) {
        egui::Panel::top("top_bar").show(ui, |ui| top_bar(ui, &mut self.state, &mut self.actions));
        egui::Panel::bottom("status_bar").show(ui, |ui| status_bar(ui, &self.state));
        self.state.refresh();
        let width = ui.available_width();
        let most = (width * SIDE_PANEL_SHARE).floor();
        let inputs_panel = egui::Panel::left("inputs_panel")
            .resizable(true)
            .default_size((width * 0.26).clamp(280.0, 420.0).min(most))
            .size_range(220.0f32.min(most)..=most);
        let inputs_panel = self
            .side_widths
            .restored(SidePanel::Inputs, inputs_panel)
            .show(ui, |ui| self.inputs.ui(ui, &mut self.state));
        let drawn = inputs_panel.response.rect.width();
        self.side_widths.record(SidePanel::Inputs, drawn);
        self.actions.act(&mut self.state, inputs_panel.inner);
        regions::remember_rect(ui.ctx(), Region::Inputs, inputs_panel.response.rect);
        if self.state.settings.lessons_open {
            let lessons = egui::Panel::right("lessons_panel")
                .resizable(true)
                .default_size((width * 0.25).clamp(300.0, 460.0).min(most))
                .size_range(260.0f32.min(most)..=most);
            let lessons = self
                .side_widths
                .restored(SidePanel::Lessons, lessons)
                .show(ui, |ui| views::lessons::ui(ui, &self.state));
            let drawn = lessons.response.rect.width();
            self.side_widths.record(SidePanel::Lessons, drawn);
            regions::remember_panel(ui.ctx(), Panel::Lessons, lessons.response.rect);
            self.actions.act(&mut self.state, lessons.inner);
        }
        self.state.refresh();
        let central = egui::CentralPanel::default().show(ui, |ui| self.central(ui));
        regions::remember_panel(ui.ctx(), Panel::Central, central.response.rect);
    }

    /// Presenter mode, the figure first: one bar of live controls, the lesson as a caption
    /// (beside or under the figure, decided by [`PresenterLayout`] from the window's size),
    /// the inputs folded into a strip, and the view's figure in the rest.
    fn presenter_panels(&mut self, ui: &mut Ui) {
        let layout = PresenterLayout::for_window(ui.ctx().content_rect().size());
        egui::Panel::top("presenter_bar").show(ui, |ui| {
            presenter_bar(ui, &mut self.state, &mut self.actions)
        });
        if needs_status_bar(&self.state) {
            egui::Panel::bottom("status_bar").show(ui, |ui| status_bar(ui, &self.state));
        }
        self.state.refresh();
        if self.state.settings.lessons_open {
            let caption = match layout.caption {
                Caption::Side { width } => egui::Panel::right("lesson_caption")
                    .resizable(false)
                    .exact_size(width),
                Caption::Bottom { height } => egui::Panel::bottom("lesson_caption_band")
                    .resizable(false)
                    .exact_size(height),
            }
            .show(ui, |ui| views::lessons::caption(ui, &self.state));
            regions::remember_panel(ui.ctx(), Panel::Caption, caption.response.rect);
            self.actions.act(&mut self.state, caption.inner);
        }
        let strip =
            egui::Panel::top("inputs_strip").show(ui, |ui| views::inputs::strip(ui, &self.state));
        regions::remember_panel(ui.ctx(), Panel::InputsStrip, strip.response.rect);
        regions::remember_rect(ui.ctx(), Region::Inputs, strip.response.rect);
        if strip.inner {
            self.state.presenter_inputs_open = !self.state.presenter_inputs_open;
        }
        self.state.refresh();
        let central = egui::CentralPanel::default().show(ui, |ui| {
            regions::remember_view_rect(ui);
            let intents = match self.state.settings.view {
                ViewId::Masks => {
                    figures::masks_figure(ui, &mut self.state);
                    vec![]
                }
                ViewId::Attention => {
                    figures::attention_figure(ui, &mut self.state);
                    vec![]
                }
                ViewId::Finetune => self.finetune.presenter_ui(ui, &mut self.state),
                ViewId::Decoder => {
                    views::decoder::presenter_figure(ui, &mut self.state);
                    vec![]
                }
            };
            self.actions.act(&mut self.state, intents);
        });
        regions::remember_panel(ui.ctx(), Panel::Central, central.response.rect);
        if self.state.presenter_inputs_open {
            self.inputs_over_figure(ui.ctx(), strip.response.rect.bottom());
        }
    }

    /// The full inputs panel in a window over the figure (presenter mode's strip, or 1),
    /// opening below the strip at `top` so the strip stays there to close it.
    fn inputs_over_figure(&mut self, ctx: &egui::Context, top: f32) {
        let mut open = true;
        let width = (ctx.content_rect().width() * 0.4).max(320.0);
        let shown = egui::Window::new(tr("Inputs & tokens"))
            .id(egui::Id::unique("presenter_inputs"))
            .open(&mut open)
            .anchor(egui::Align2::LEFT_TOP, egui::vec2(8.0, top + 4.0))
            .default_width(width)
            .max_height((ctx.content_rect().bottom() - top - 12.0).max(120.0))
            .collapsible(false)
            .show(ctx, |ui| self.inputs.ui(ui, &mut self.state));
        if let Some(shown) = &shown {
            regions::remember_rect(ctx, Region::Inputs, shown.response.rect);
        }
        if let Some(intents) = shown.and_then(|r| r.inner) {
            self.actions.act(&mut self.state, intents);
        }
        self.state.presenter_inputs_open = open;
    }
}
