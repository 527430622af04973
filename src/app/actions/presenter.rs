//! Presenter mode and the theme: for a projector, everything larger (a zoom factor on top of
//! the user's own, and minimum text sizes), pure black or white backgrounds with stronger
//! strokes, and advanced controls hidden (views read `settings.presenter`).

use egui::{Color32, Stroke, TextStyle, Ui};

use super::lessons;
use crate::app::settings::Theme;
use crate::app::state::AppState;
use crate::i18n::{said, tr};

/// Zoom multiplier of presenter mode.
pub const PRESENTER_ZOOM: f32 = 1.5;
/// Environment variable that starts the app in presenter mode (`MASKSCOPE_PRESENTER=1`).
pub const PRESENTER_ENV: &str = "MASKSCOPE_PRESENTER";
/// Environment variable that starts the app in a lesson: `MASKSCOPE_LESSON=causal-mask` or
/// `causal-mask:4` (1-based step).
pub const LESSON_ENV: &str = "MASKSCOPE_LESSON";

/// The style last applied to the context, kept in its temporary data.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Applied {
    theme: Theme,
    presenter: bool,
}

fn applied_id() -> egui::Id {
    egui::Id::unique("maskscope_presenter_applied")
}

/// Whether the context's zoom factor currently includes [`PRESENTER_ZOOM`].
fn zoom_id() -> egui::Id {
    egui::Id::unique("maskscope_zoom_includes_presenter")
}

fn egui_theme(theme: Theme) -> egui::Theme {
    match theme {
        Theme::Dark => egui::Theme::Dark,
        Theme::Light => egui::Theme::Light,
    }
}

/// `base` with the presenter adjustments for `theme`: minimum text sizes, pure black or
/// white backgrounds, stronger strokes.
pub fn presenter_style(base: &egui::Style, theme: Theme) -> egui::Style {
    let mut style = base.clone();
    // Minimum text sizes (before the zoom factor).
    for (text_style, min) in [
        (TextStyle::Small, 13.0),
        (TextStyle::Body, 16.0),
        (TextStyle::Button, 16.0),
        (TextStyle::Monospace, 15.0),
        (TextStyle::Heading, 22.0),
    ] {
        if let Some(font) = style.text_styles.get_mut(&text_style) {
            font.size = font.size.max(min);
        }
    }
    style.spacing.interact_size.y = style.spacing.interact_size.y.max(22.0);
    let dark = theme == Theme::Dark;
    let (bg, fg, weak, line) = if dark {
        (
            Color32::BLACK,
            Color32::WHITE,
            Color32::from_gray(200),
            Color32::from_gray(150),
        )
    } else {
        (
            Color32::WHITE,
            Color32::BLACK,
            Color32::from_gray(55),
            Color32::from_gray(90),
        )
    };
    let v = &mut style.visuals;
    v.panel_fill = bg;
    v.window_fill = bg;
    v.extreme_bg_color = bg;
    v.faint_bg_color = if dark {
        Color32::from_gray(28)
    } else {
        Color32::from_gray(235)
    };
    v.override_text_color = Some(fg);
    v.weak_text_color = Some(weak);
    v.window_stroke = Stroke::new(2.0, line);
    v.widgets.noninteractive.bg_stroke = Stroke::new(1.5, line);
    v.widgets.noninteractive.fg_stroke = Stroke::new(1.5, fg);
    v.widgets.inactive.fg_stroke = Stroke::new(2.0, fg);
    v.widgets.inactive.bg_stroke = Stroke::new(1.5, line);
    v.widgets.hovered.fg_stroke = Stroke::new(2.0, fg);
    v.widgets.hovered.bg_stroke = Stroke::new(2.0, fg);
    v.widgets.active.fg_stroke = Stroke::new(2.5, fg);
    v.selection.stroke = Stroke::new(2.5, v.selection.stroke.color);
    style
}

/// Called once when the window opens: turns off egui's own zoom keys (ours know about
/// presenter mode) and honours [`PRESENTER_ENV`]. `zoom_restored` says whether the zoom
/// factor came from storage (it then already includes the presenter zoom if presenter mode
/// was on).
pub fn startup(ctx: &egui::Context, state: &mut AppState, zoom_restored: bool) {
    ctx.options_mut(|o| o.zoom_with_keyboard = false);
    let included = zoom_restored && state.settings.presenter;
    ctx.data_mut(|d| d.insert_temp(zoom_id(), included));
    if std::env::var(PRESENTER_ENV).is_ok_and(|v| !v.is_empty() && v != "0") {
        state.settings.presenter = true;
    }
    if let Ok(value) = std::env::var(LESSON_ENV) {
        let (id, step) = value.split_once(':').unwrap_or((value.as_str(), "1"));
        let step = step.trim().parse::<usize>().unwrap_or(1).saturating_sub(1);
        match state
            .classroom
            .lessons
            .iter()
            .position(|l| l.id == id.trim())
        {
            Some(i) => {
                state.settings.lessons_open = true;
                lessons::apply_step(state, i, step);
            }
            None => state.error(said("{}: no lesson {}", &[&LESSON_ENV, &id])),
        }
    }
}

/// Brings the context in line with the theme and presenter settings; cheap when nothing
/// changed. Call once per frame before drawing.
pub fn sync(ctx: &egui::Context, state: &AppState) {
    let (theme, presenter) = (state.settings.theme, state.settings.presenter);
    let included = ctx.data(|d| d.get_temp::<bool>(zoom_id()));
    if included.is_none() {
        // A context that did not go through `startup` (tests): our zoom keys, not egui's.
        ctx.options_mut(|o| o.zoom_with_keyboard = false);
    }
    if presenter != included.unwrap_or(false) {
        let zoom = ctx.zoom_factor();
        let zoom = if presenter {
            zoom * PRESENTER_ZOOM
        } else {
            zoom / PRESENTER_ZOOM
        };
        ctx.set_zoom_factor(zoom.clamp(0.5, 4.0));
    }
    ctx.data_mut(|d| d.insert_temp(zoom_id(), presenter));
    let applied = Applied { theme, presenter };
    let previous = ctx.data(|d| d.get_temp::<Applied>(applied_id()));
    if previous == Some(applied) {
        return;
    }
    // The styles as they were before presenter mode first changed them.
    let base_id = egui::Id::unique("maskscope_base_styles");
    let bases = match ctx.data(|d| d.get_temp::<[std::sync::Arc<egui::Style>; 2]>(base_id)) {
        Some(b) => b,
        None => {
            let b = [
                ctx.style_of(egui::Theme::Dark),
                ctx.style_of(egui::Theme::Light),
            ];
            ctx.data_mut(|d| d.insert_temp(base_id, b.clone()));
            b
        }
    };
    let base = match theme {
        Theme::Dark => &bases[0],
        Theme::Light => &bases[1],
    };
    ctx.set_theme(egui_theme(theme));
    if presenter {
        ctx.set_style_of(egui_theme(theme), presenter_style(base, theme));
    } else if previous.is_some_and(|p| p.presenter) {
        ctx.set_style_of(egui_theme(theme), base.clone());
    }
    if let Some(p) = previous
        && p.theme != theme
        && p.presenter
    {
        // The other theme's style still has the presenter adjustments.
        let other = match p.theme {
            Theme::Dark => &bases[0],
            Theme::Light => &bases[1],
        };
        ctx.set_style_of(egui_theme(p.theme), other.clone());
    }
    ctx.data_mut(|d| d.insert_temp(applied_id(), applied));
}

/// The zoom factor Ctrl+0 goes back to.
pub fn base_zoom(presenter: bool) -> f32 {
    if presenter { PRESENTER_ZOOM } else { 1.0 }
}

/// Zoom in or out by one step (Ctrl + / Ctrl -), or back to the base (Ctrl 0).
pub fn zoom(ctx: &egui::Context, state: &AppState, step: i32) {
    let z = if step == 0 {
        base_zoom(state.settings.presenter)
    } else {
        ((ctx.zoom_factor() + 0.1 * step as f32) * 10.0).round() / 10.0
    };
    ctx.set_zoom_factor(z.clamp(0.5, 4.0));
}

/// The top bar's classroom controls: presenter mode, theme, lessons.
pub fn controls(ui: &mut Ui, state: &mut AppState) {
    let s = &mut state.settings;
    ui.toggle_value(&mut s.presenter, tr("Presenter"))
        .on_hover_text(tr(
            "Large text and high contrast for a projector; advanced controls hidden (F5)",
        ));
    let (label, hover) = match s.theme {
        Theme::Dark => (
            tr("Light theme"),
            tr("Switch to dark text on a light background"),
        ),
        Theme::Light => (
            tr("Dark theme"),
            tr("Switch to light text on a dark background"),
        ),
    };
    if ui.button(label).on_hover_text(hover).clicked() {
        s.theme = match s.theme {
            Theme::Dark => Theme::Light,
            Theme::Light => Theme::Dark,
        };
    }
    let mut open = s.lessons_open;
    if ui
        .toggle_value(&mut open, tr("Lessons"))
        .on_hover_text(tr("Guided lessons in a side panel (L)"))
        .changed()
    {
        if open {
            s.lessons_open = true;
        } else {
            lessons::close(state);
        }
    }
    if ui
        .button(tr("Shortcuts"))
        .on_hover_text(tr("Every keyboard shortcut (?)"))
        .clicked()
    {
        state.shortcuts_open = !state.shortcuts_open;
    }
}
