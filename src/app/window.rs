//! The window: top bar (files, model, mask switches), inputs on the left, the views in the
//! middle, messages at the bottom. In presenter mode the figure comes first: one bar of live
//! controls, the inputs folded into a strip, the lesson as a caption, and the view's figure
//! filling the rest. It owns the frame: begin the frame (keys, theme), draw the panels and
//! views, run what they asked for, end the frame (dialogs, exports).

use std::path::Path;

use egui::{Color32, RichText, Ui};

use super::actions::{Actions, export_menu, presenter};
use super::fonts;
use super::intents::FilePurpose;
use super::labels;
use super::presenter_layout::{Caption, PresenterLayout, SidePanel, SideWidths};
use super::regions::{self, Panel, Region};
use super::settings::{Settings, ViewId};
use super::state::{AppState, ModelOrigin, mask_summary};
use super::views::attention::AttentionView;
use super::views::decoder::DecoderView;
use super::views::finetune::FinetuneView;
use super::views::inputs::InputsView;
use super::views::masks::MasksView;
use super::views::{self, View, presenter as figures};
use crate::bundled_models;
use crate::i18n::{Language, set_language, tr, trf};
use crate::masks::MaskMethod;

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
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
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
        // For frame-time measurements under load (see README): start the fine-tune form's run.
        if std::env::var_os("MASKSCOPE_START_TRAINING").is_some() {
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
                ui.label(RichText::new(seq).weak());
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
                    egui::ScrollArea::vertical()
                        .id_salt("presenter_decoder")
                        .auto_shrink([false, false])
                        .show(ui, |ui| self.decoder.ui(ui, &mut self.state))
                        .inner
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

/// Presenter mode shows the status bar only when it has something the room should see: a
/// run in progress or an error.
fn needs_status_bar(state: &AppState) -> bool {
    state.training.live_index().is_some()
        || state.inspect_error.is_some()
        || state.messages.last().is_some_and(|m| m.error)
}

/// Presenter mode's top bar: only what a presenter touches live (the lessons, the mask
/// switches, the view); files, sessions, exports, theme and language wait in the menu.
fn presenter_bar(ui: &mut Ui, state: &mut AppState, actions: &mut Actions) {
    ui.add_space(2.0);
    ui.horizontal_wrapped(|ui| {
        ui.menu_button(tr("Menu"), |ui| {
            if ui.button(tr("Open model...")).clicked() {
                actions.request_file(state, FilePurpose::OpenModel);
                ui.close();
            }
            ui.menu_button(tr("Bundled"), |ui| {
                for b in bundled_models::ALL
                    .into_iter()
                    .filter(|b| b.bytes().is_some())
                {
                    if ui.button(b.name).clicked() {
                        state.open_bundled(b);
                        ui.close();
                    }
                }
            });
            export_menu::menu(ui, state, actions);
            ui.separator();
            actions.top_bar_items(ui, state);
            ui.separator();
            mask_method(ui, state);
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
                actions.act(state, [super::intents::Intent::CloseLessons]);
            }
        }
        ui.separator();
        let mut mask = state.settings.mask;
        ui.checkbox(&mut mask.causal, tr("Causal"))
            .on_hover_text(tr("Causal mask (M)"));
        ui.checkbox(&mut mask.src_padding, tr("Source pad"))
            .on_hover_text(tr("Source padding mask"));
        ui.checkbox(&mut mask.tgt_padding, tr("Target pad"))
            .on_hover_text(tr("Target padding mask"));
        state.set_mask(mask);
        ui.separator();
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

/// The mask method (additive, multiply after softmax, none).
fn mask_method(ui: &mut Ui, state: &mut AppState) {
    let mut mask = state.settings.mask;
    egui::ComboBox::from_label(tr("Mask method"))
        .selected_text(labels::mask_method(mask.method))
        .show_ui(ui, |ui| {
            for m in MaskMethod::ALL {
                ui.selectable_value(&mut mask.method, m, labels::mask_method(m));
            }
        });
    state.set_mask(mask);
}

fn model_summary(state: &AppState) -> String {
    let c = state.engine.config();
    trf(
        "d_model {} | {} heads | {}+{} layers | d_ff {} | {} | {} vocab {} | max {} tokens",
        &[
            &c.d_model,
            &c.n_heads,
            &c.n_encoder_layers,
            &c.n_decoder_layers,
            &c.d_ff,
            &if c.norm_first { "pre-LN" } else { "post-LN" },
            &labels::tokenizer_kind(state.engine.vocab().kind()),
            &state.engine.vocab().len(),
            &c.max_len,
        ],
    )
}

fn top_bar(ui: &mut Ui, state: &mut AppState, actions: &mut Actions) {
    ui.add_space(2.0);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("maskscope").strong().size(16.0));
        ui.separator();
        if ui
            .button(tr("Open model..."))
            .on_hover_text(tr("Open a maskscope .safetensors checkpoint"))
            .clicked()
        {
            actions.request_file(state, FilePurpose::OpenModel);
        }
        if !state.settings.presenter
            && ui
                .add_enabled(
                    !state.training.is_running(),
                    egui::Button::new(tr("Save model...")),
                )
                .clicked()
        {
            actions.request_file(state, FilePurpose::SaveModel);
        }
        if !state.settings.presenter {
            ui.menu_button(tr("Recent"), |ui| {
                if state.settings.recent.is_empty() {
                    ui.label(tr("No recent files"));
                }
                let mut open = None;
                for p in &state.settings.recent {
                    if ui.button(p.display().to_string()).clicked() {
                        open = Some(p.clone());
                    }
                }
                if let Some(p) = open {
                    state.open_model(&p);
                    ui.close();
                }
            });
        }
        ui.menu_button(tr("Bundled"), |ui| {
            for b in bundled_models::ALL {
                let available = b.bytes().is_some();
                let text = if available {
                    format!("{} ({})", b.name, labels::task_name(b.task))
                } else {
                    trf("{} (not available)", &[&b.name])
                };
                if ui.add_enabled(available, egui::Button::new(text)).clicked() {
                    state.open_bundled(b);
                    ui.close();
                }
            }
        });
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
        if !state.settings.presenter {
            // Elided (full text on hover) rather than wrapped under the title.
            ui.add(egui::Label::new(RichText::new(model_summary(state)).weak().small()).truncate());
        }
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
        egui::ComboBox::from_label(tr("Mask method"))
            .selected_text(labels::mask_method(mask.method))
            .show_ui(ui, |ui| {
                for m in MaskMethod::ALL {
                    ui.selectable_value(&mut mask.method, m, labels::mask_method(m));
                }
            });
        if ui
            .small_button(tr("Defaults"))
            .on_hover_text(tr("All masks on, additive"))
            .clicked()
        {
            mask = Default::default();
        }
        state.set_mask(mask);
        ui.separator();
        // Presenter mode: no small print; zoom with Ctrl + / Ctrl -.
        let advanced = !state.settings.presenter;
        if advanced {
            ui.checkbox(&mut state.settings.show_values, tr("Values in cells"));
            ui.separator();
        }
        let zoom = ui.ctx().zoom_factor();
        if advanced
            && ui
                .small_button("A-")
                .on_hover_text(tr("Smaller text (Ctrl -)"))
                .clicked()
        {
            ui.ctx().set_zoom_factor((zoom - 0.1).max(0.6));
        }
        if advanced
            && ui
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

fn status_bar(ui: &mut Ui, state: &AppState) {
    ui.horizontal(|ui| {
        if let Some(m) = state.messages.last() {
            let color = if m.error {
                Color32::from_rgb(0xe8, 0x4a, 0x3a)
            } else {
                ui.visuals().text_color()
            };
            let prefix = if m.error { tr("Error: ") } else { "" };
            ui.label(RichText::new(format!("{prefix}{}", m.text)).color(color))
                .on_hover_text(tr("Newest message; see Log for all"));
        } else {
            ui.label(RichText::new(tr("Ready.")).weak());
        }
        if let Some(e) = &state.inspect_error {
            ui.label(RichText::new(e).color(Color32::from_rgb(0xe8, 0x4a, 0x3a)));
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            // Presenter mode hides the log and the mask summary (advanced, small print).
            if !state.settings.presenter {
                ui.menu_button(trf("Log ({})", &[&state.messages.len()]), |ui| {
                    egui::ScrollArea::vertical()
                        .max_height(300.0)
                        .show(ui, |ui| {
                            for m in state.messages.iter().rev() {
                                let color = if m.error {
                                    Color32::from_rgb(0xe8, 0x4a, 0x3a)
                                } else {
                                    ui.visuals().text_color()
                                };
                                ui.label(RichText::new(&m.text).color(color));
                            }
                        });
                });
                // The timing lives in the hover text: it changes every run, the label should not.
                ui.label(
                    RichText::new(mask_summary(&state.settings.mask))
                        .weak()
                        .small(),
                )
                .on_hover_text(trf(
                    "Last forward pass (batch + leak tests): {} ms",
                    &[&format!("{:.1}", state.last_inspect.as_secs_f64() * 1000.0)],
                ));
            }
            if let Some(i) = state.training.live_index() {
                let r = &state.training.runs[i];
                let step = r.steps.last().map_or(0, |s| s.step);
                let loss = r.steps.last().map_or(String::new(), |s| {
                    trf(", loss {}", &[&format!("{:.3}", s.train_loss)])
                });
                ui.label(
                    RichText::new(trf(
                        "training {}: step {}/{}{}",
                        &[&r.name, &step, &r.total_steps, &loss],
                    ))
                    .strong(),
                );
            }
        });
    });
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
