//! The window: top bar (files, model, mask switches), inputs on the left, the views in the
//! middle, messages at the bottom.

use egui::{Color32, RichText, Ui};

use super::bundled;
use super::settings::{Settings, ViewId};
use super::state::{AppState, FilePurpose, ModelOrigin, mask_summary};
use super::views::View;
use super::views::attention::AttentionView;
use super::views::decoder::DecoderView;
use super::views::finetune::FinetuneView;
use super::views::inputs::InputsView;
use super::views::masks::MasksView;
use crate::masks::MaskMethod;

/// The maskscope window.
pub struct App {
    state: AppState,
    inputs: InputsView,
    masks: MasksView,
    attention: AttentionView,
    decoder: DecoderView,
    finetune: FinetuneView,
    ctx: Option<egui::Context>,
}

const ZOOM_KEY: &str = "maskscope_zoom";

impl App {
    /// Restores settings from eframe storage (if any) and opens the bundled dates model.
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        if let Some(zoom) = cc
            .storage
            .and_then(|s| eframe::get_value::<f32>(s, ZOOM_KEY))
        {
            cc.egui_ctx.set_zoom_factor(zoom.clamp(0.5, 3.0));
        }
        let mut app = Self::with_state(AppState::new(settings));
        app.ctx = Some(cc.egui_ctx.clone());
        app
    }

    /// An app around a prepared state (tests, other models).
    pub fn with_state(state: AppState) -> Self {
        Self {
            state,
            inputs: InputsView,
            masks: MasksView,
            attention: AttentionView,
            decoder: DecoderView,
            finetune: FinetuneView,
            ctx: None,
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn state_mut(&mut self) -> &mut AppState {
        &mut self.state
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

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if self.state.poll_training() {
            // Drain again soon; not every frame, so an idle run does not spin the CPU.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("top_bar").show(ui, |ui| top_bar(ui, &mut self.state));
        egui::Panel::bottom("status_bar").show(ui, |ui| status_bar(ui, &self.state));
        self.state.refresh();
        let width = ui.available_width();
        egui::Panel::left("inputs_panel")
            .resizable(true)
            .default_size((width * 0.26).clamp(280.0, 420.0))
            .size_range(220.0..=(width * 0.5).max(240.0))
            .show(ui, |ui| self.inputs.ui(ui, &mut self.state));
        self.state.refresh();
        egui::CentralPanel::default().show(ui, |ui| {
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
                    format!(
                        "row {}: {} source / {} target tokens",
                        self.state.selected_row + 1,
                        s.src_len,
                        s.tgt_len.saturating_sub(1)
                    )
                });
                if let Some(seq) = seq {
                    ui.separator();
                    ui.label(RichText::new(seq).weak());
                }
            });
            ui.separator();
            let id = self.state.settings.view;
            let (view, state) = match id {
                ViewId::Masks => (&mut self.masks as &mut dyn View, &mut self.state),
                ViewId::Attention => (&mut self.attention as &mut dyn View, &mut self.state),
                ViewId::Decoder => (&mut self.decoder as &mut dyn View, &mut self.state),
                ViewId::Finetune => (&mut self.finetune as &mut dyn View, &mut self.state),
            };
            if id == ViewId::Finetune {
                view.ui(ui, state);
            } else {
                egui::ScrollArea::vertical()
                    .id_salt(("view_scroll", id as u8))
                    .auto_shrink([false, false])
                    .show(ui, |ui| view.ui(ui, state));
            }
        });
        path_prompt(ui.ctx(), &mut self.state);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.state.settings);
        if let Some(ctx) = &self.ctx {
            eframe::set_value(storage, ZOOM_KEY, &ctx.zoom_factor());
        }
    }
}

fn model_summary(state: &AppState) -> String {
    let c = state.engine.config();
    format!(
        "d_model {} | {} heads | {}+{} layers | d_ff {} | {} | {} vocab {} | max {} tokens",
        c.d_model,
        c.n_heads,
        c.n_encoder_layers,
        c.n_decoder_layers,
        c.d_ff,
        if c.norm_first { "pre-LN" } else { "post-LN" },
        state.engine.vocab().kind().label(),
        state.engine.vocab().len(),
        c.max_len
    )
}

fn top_bar(ui: &mut Ui, state: &mut AppState) {
    ui.add_space(2.0);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("maskscope").strong().size(16.0));
        ui.separator();
        if ui
            .button("Open model...")
            .on_hover_text("Open a maskscope .safetensors checkpoint")
            .clicked()
        {
            state.request_file(FilePurpose::OpenModel);
        }
        if ui
            .add_enabled(
                !state.training.is_running(),
                egui::Button::new("Save model..."),
            )
            .clicked()
        {
            state.request_file(FilePurpose::SaveModel);
        }
        ui.menu_button("Recent", |ui| {
            if state.settings.recent.is_empty() {
                ui.label("No recent files");
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
        ui.menu_button("Bundled", |ui| {
            for b in bundled::ALL {
                let available = b.bytes().is_some();
                let text = if available {
                    format!("{} ({})", b.name, b.task.name())
                } else {
                    format!("{} (not available)", b.name)
                };
                if ui.add_enabled(available, egui::Button::new(text)).clicked() {
                    state.open_bundled(b);
                    ui.close();
                }
            }
        });
        ui.separator();
        ui.label(RichText::new(&state.model.name).strong());
        if matches!(state.model.origin, ModelOrigin::Random { .. }) {
            ui.label(
                RichText::new("UNTRAINED")
                    .strong()
                    .color(ui.visuals().warn_fg_color),
            )
            .on_hover_text("The bundled model file was not found; this is a random model.");
        }
        if state.model.modified {
            ui.label(RichText::new("fine-tuned, unsaved").color(ui.visuals().warn_fg_color));
        }
        ui.label(RichText::new(model_summary(state)).weak().small());
    });
    ui.horizontal_wrapped(|ui| {
        let mut mask = state.settings.mask;
        ui.label(RichText::new("Masks:").strong());
        ui.checkbox(&mut mask.causal, "Causal mask")
            .on_hover_text("Decoder position i may not attend to positions after i");
        ui.checkbox(&mut mask.src_padding, "Source padding mask")
            .on_hover_text(
                "No query may attend to a <pad> source token (encoder self and cross-attention)",
            );
        ui.checkbox(&mut mask.tgt_padding, "Target padding mask")
            .on_hover_text("No decoder query may attend to a <pad> decoder input");
        egui::ComboBox::from_label("Mask method")
            .selected_text(mask.method.label())
            .show_ui(ui, |ui| {
                for m in MaskMethod::ALL {
                    ui.selectable_value(&mut mask.method, m, m.label());
                }
            });
        if ui
            .small_button("Defaults")
            .on_hover_text("All masks on, additive")
            .clicked()
        {
            mask = Default::default();
        }
        state.set_mask(mask);
        ui.separator();
        ui.checkbox(&mut state.settings.show_values, "Values in cells");
        ui.separator();
        let zoom = ui.ctx().zoom_factor();
        if ui
            .small_button("A-")
            .on_hover_text("Smaller text (Ctrl -)")
            .clicked()
        {
            ui.ctx().set_zoom_factor((zoom - 0.1).max(0.6));
        }
        if ui
            .small_button("A+")
            .on_hover_text("Larger text for a projector (Ctrl +)")
            .clicked()
        {
            ui.ctx().set_zoom_factor((zoom + 0.1).min(2.5));
        }
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
            let prefix = if m.error { "Error: " } else { "" };
            ui.label(RichText::new(format!("{prefix}{}", m.text)).color(color))
                .on_hover_text("Newest message; see Log for all");
        } else {
            ui.label(RichText::new("Ready.").weak());
        }
        if let Some(e) = &state.inspect_error {
            ui.label(RichText::new(e).color(Color32::from_rgb(0xe8, 0x4a, 0x3a)));
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.menu_button(format!("Log ({})", state.messages.len()), |ui| {
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
            .on_hover_text(format!(
                "Last forward pass (batch + leak tests): {:.1} ms",
                state.last_inspect.as_secs_f64() * 1000.0
            ));
            if let Some(i) = state.training.live_index() {
                let r = &state.training.runs[i];
                let step = r.steps.last().map_or(0, |s| s.step);
                let loss = r
                    .steps
                    .last()
                    .map_or(String::new(), |s| format!(", loss {:.3}", s.train_loss));
                ui.label(
                    RichText::new(format!(
                        "training {}: step {step}/{}{loss}",
                        r.name, r.total_steps
                    ))
                    .strong(),
                );
            }
        });
    });
}

fn path_prompt(ctx: &egui::Context, state: &mut AppState) {
    let Some(prompt) = &mut state.path_prompt else {
        return;
    };
    let mut submit = false;
    let mut cancel = false;
    egui::Window::new(prompt.purpose.title())
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            if let Some(note) = &prompt.note {
                ui.label(RichText::new(note).color(ui.visuals().warn_fg_color));
            }
            let l = ui.label("File path");
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut prompt.text)
                        .desired_width(460.0)
                        .font(egui::TextStyle::Monospace),
                )
                .labelled_by(l.id);
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                submit = true;
            }
            ui.horizontal(|ui| {
                submit |= ui.button(prompt.purpose.action()).clicked();
                cancel |= ui.button("Cancel").clicked();
            });
        });
    if submit {
        let prompt = state.path_prompt.take().expect("prompt is open");
        let path = std::path::PathBuf::from(prompt.text.trim());
        if prompt.text.trim().is_empty() {
            state.error("no path given");
        } else {
            state.handle_path(prompt.purpose, &path);
        }
    } else if cancel {
        state.path_prompt = None;
    }
}
