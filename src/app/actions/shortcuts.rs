//! Keyboard shortcuts, handled once per frame for the whole window (before any view draws,
//! so no view sees a key twice), and the `?` overlay that lists them.
//!
//! While a text field has focus only the F-keys and Ctrl combinations act. While another
//! widget has keyboard focus (Tab navigation), Space, Enter and the arrows belong to it.

use egui::{Event, Key, KeyboardShortcut, Modifiers, RichText};

use super::{Actions, export_menu, lessons, presenter, session};
use crate::app::intents::{FilePurpose, Intent};
use crate::app::settings::ViewId;
use crate::app::state::AppState;
use crate::app::state::runs::RunStatus;
use crate::i18n::tr;
use crate::model::training::TrainCommand;

/// Every shortcut as (keys, what it does), for the overlay.
pub fn list() -> Vec<(&'static str, &'static str)> {
    vec![
        (tr("Space / Right"), tr("Step decoding forward")),
        (tr("Left"), tr("Step decoding back")),
        ("P", tr("Play / pause decoding")),
        ("R", tr("Reset decoding")),
        ("1", tr("Type in the first source box (Inputs)")),
        (
            "2 3 4 5",
            tr("Masks / Attention / Decoder / Fine-tune view"),
        ),
        ("M", tr("Causal mask on / off")),
        ("T", tr("Start, pause or resume fine-tuning")),
        ("L", tr("Lessons panel")),
        (tr("N / Page Down"), tr("Next lesson step")),
        (tr("B / Page Up"), tr("Previous lesson step")),
        ("F5", tr("Presenter mode")),
        ("F11", tr("Full screen")),
        ("Ctrl + / Ctrl -", tr("Zoom in / out")),
        ("Ctrl 0", tr("Reset zoom")),
        ("Ctrl S", tr("Save the session")),
        ("Ctrl E", tr("Export the current view")),
        (
            "Tab / Shift Tab",
            tr("Move between controls (Space or Enter presses)"),
        ),
        ("Esc", tr("Leave a text box; close this list")),
        ("?", tr("Show / hide this list")),
    ]
}

/// What the keys of one frame asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pressed {
    step: bool,
    back: bool,
    play: bool,
    reset: bool,
    view: Option<u8>,
    causal: bool,
    train: bool,
    lessons: bool,
    next: bool,
    previous: bool,
    presenter: bool,
    fullscreen: bool,
    zoom: Option<i32>,
    save: bool,
    export: bool,
    help: bool,
    escape: bool,
}

fn read_keys(ctx: &egui::Context, lessons_open: bool) -> Pressed {
    let typing = ctx.text_edit_focused();
    let focused = ctx.memory(|m| m.focused().is_some());
    let mut p = Pressed::default();
    ctx.input_mut(|i| {
        let cmd = |key| KeyboardShortcut::new(Modifiers::COMMAND, key);
        p.save = i.consume_shortcut(&cmd(Key::S));
        p.export = i.consume_shortcut(&cmd(Key::E));
        if i.consume_shortcut(&cmd(Key::Num0)) {
            p.zoom = Some(0);
        } else if i.consume_shortcut(&cmd(Key::Plus))
            || i.consume_shortcut(&cmd(Key::Equals))
            || i.consume_shortcut(&KeyboardShortcut::new(
                Modifiers::COMMAND | Modifiers::SHIFT,
                Key::Equals,
            ))
        {
            p.zoom = Some(1);
        } else if i.consume_shortcut(&cmd(Key::Minus)) {
            p.zoom = Some(-1);
        }
        p.presenter = i.consume_key(Modifiers::NONE, Key::F5);
        p.fullscreen = i.consume_key(Modifiers::NONE, Key::F11);
        if typing {
            return;
        }
        p.escape = i.key_pressed(Key::Escape);
        // `?` arrives as its own key, as Shift+/ or only as text, depending on the layout.
        p.help = i.events.iter().any(|e| match e {
            Event::Key {
                key,
                pressed: true,
                modifiers,
                ..
            } => *key == Key::Questionmark || (*key == Key::Slash && modifiers.shift),
            Event::Text(t) => t == "?",
            _ => false,
        });
        let plain = |i: &mut egui::InputState, key| i.consume_key(Modifiers::NONE, key);
        if !focused {
            p.step = plain(i, Key::ArrowRight) | plain(i, Key::Space);
            p.back = plain(i, Key::ArrowLeft);
        }
        p.play = plain(i, Key::P);
        p.reset = plain(i, Key::R);
        p.causal = plain(i, Key::M);
        p.train = plain(i, Key::T);
        p.lessons = plain(i, Key::L);
        if lessons_open {
            p.next = plain(i, Key::N) | plain(i, Key::PageDown);
            p.previous = plain(i, Key::B) | plain(i, Key::PageUp);
        }
        for (n, key) in [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5]
            .into_iter()
            .enumerate()
        {
            if plain(i, key) {
                p.view = Some(n as u8 + 1);
            }
        }
    });
    p
}

/// Reads this frame's keys and acts on them. Call before the panels are drawn.
pub fn handle(ctx: &egui::Context, state: &mut AppState, actions: &mut Actions) {
    let p = read_keys(ctx, state.settings.lessons_open);
    if p == Pressed::default() {
        return;
    }
    if let Some(step) = p.zoom {
        presenter::zoom(ctx, state, step);
    }
    if p.presenter {
        state.settings.presenter = !state.settings.presenter;
    }
    if p.fullscreen {
        let full = ctx.input(|i| i.viewport().fullscreen.unwrap_or(false));
        ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(!full));
    }
    if p.help {
        state.shortcuts_open = !state.shortcuts_open;
    } else if p.escape {
        state.shortcuts_open = false;
    }
    if p.save {
        save_session(state, actions);
    }
    if p.export {
        export_menu::quick_export(state, actions);
    }
    act(ctx, state, actions, p);
}

/// Ctrl+S: saves to the session's file again, or asks where the first time.
pub fn save_session(state: &mut AppState, actions: &mut Actions) {
    match state.session.path.clone() {
        Some(path) => {
            session::save_to(state, &path);
        }
        None => actions.request_file(state, FilePurpose::SaveSession),
    }
}

fn act(ctx: &egui::Context, state: &mut AppState, actions: &mut Actions, p: Pressed) {
    if p.reset || p.back || p.step {
        state.sync_stepper();
    }
    if p.reset {
        state.stepper.reset();
    }
    if p.back {
        state.stepper.back();
    }
    if p.step {
        state.stepper.step(&state.engine);
    }
    if p.play {
        state.toggle_play(ctx.input(|i| i.time));
    }
    if p.causal {
        let mut mask = state.settings.mask;
        mask.causal = !mask.causal;
        state.set_mask(mask);
    }
    if p.train {
        toggle_training(state);
    }
    match p.view {
        Some(1) => {
            state.focus_first_source = true;
            // Presenter mode folds the inputs into a strip: 1 opens them over the figure.
            state.presenter_inputs_open |= state.settings.presenter;
        }
        Some(n @ 2..=5) => state.settings.view = ViewId::ALL[usize::from(n) - 2],
        _ => {}
    }
    if p.lessons {
        if state.settings.lessons_open {
            lessons::close(state);
        } else {
            state.settings.lessons_open = true;
        }
    }
    if p.next {
        actions.act(state, [Intent::NextLessonStep]);
    } else if p.previous {
        actions.act(state, [Intent::PreviousLessonStep]);
    }
}

/// Takes the automatic steps of play mode, whichever view is shown. Call once per frame.
pub fn tick_playback(ctx: &egui::Context, state: &mut AppState) {
    if !state.stepper.playing {
        return;
    }
    let now = ctx.input(|i| i.time);
    let interval = f64::from(state.settings.decoder.interval.max(0.05));
    if now - state.stepper.last_tick >= interval {
        state.stepper.last_tick = now;
        state.sync_stepper();
        state.stepper.step(&state.engine);
    }
    if state.stepper.playing {
        ctx.request_repaint_after(std::time::Duration::from_secs_f64(interval / 2.0));
    }
}

/// The shortcut list, centred over the window (closes with Esc, ? or its button).
pub fn overlay(ctx: &egui::Context, state: &mut AppState) {
    if !state.shortcuts_open {
        return;
    }
    let mut open = true;
    let mut close = false;
    egui::Window::new(tr("Keyboard shortcuts"))
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            egui::Grid::new("shortcut_list")
                .num_columns(2)
                .spacing(egui::vec2(24.0, 6.0))
                .striped(true)
                .show(ui, |ui| {
                    for (keys, what) in list() {
                        ui.label(RichText::new(keys).monospace().strong());
                        ui.label(what);
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
            ui.label(
                RichText::new(tr(
                    "Letter, arrow and number keys do nothing while you type in a text box; press Esc to leave it.",
                ))
                .weak(),
            );
            close = ui.button(tr("Close")).clicked();
        });
    if !open || close {
        state.shortcuts_open = false;
    }
}

/// T: start a run with the fine-tune form's settings, or pause / resume the live one, so a
/// lesson's training step needs no mouse.
fn toggle_training(state: &mut AppState) {
    if !state.training.is_running() {
        state.start_training();
    } else if state
        .training
        .live_status()
        .is_some_and(|s| *s == RunStatus::Paused)
    {
        state.training.send(TrainCommand::Resume);
    } else {
        state.training.send(TrainCommand::Pause);
    }
}
