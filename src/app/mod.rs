//! The desktop window: egui views over the plain-data [`crate::trace`].
//!
//! Layout: [`window::App`] owns an [`state::AppState`] (the model, the input rows, the latest
//! trace, the stepper, fine-tuning, messages and the persisted [`settings::Settings`]) and
//! one value per view. Each view lives in its own file under [`views`] behind the small
//! [`views::View`] trait; shared drawing lives in [`widgets`]. Views never touch candle.

pub mod bundled;
pub mod classroom;
pub mod export;
pub mod fonts;
pub mod frame_stats;
pub mod icon;
pub mod lesson_panel;
pub mod presenter;
pub mod render;
pub mod runs;
pub mod session;
pub mod settings;
pub mod shortcuts;
pub mod state;
pub mod stepper;
pub mod views;
pub mod widgets;
pub mod window;

pub use settings::{Settings, ViewId};
pub use state::AppState;
pub use window::App;

/// Opens the maskscope window (glow renderer) on the bundled dates model.
pub fn run() -> eframe::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("maskscope")
            .with_app_id("maskscope")
            .with_inner_size([1360.0, 760.0])
            .with_min_inner_size([900.0, 560.0])
            .with_icon(icon::window_icon()),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    eframe::run_native(
        "maskscope",
        options,
        Box::new(|cc| Ok(Box::new(App::new(cc)))),
    )
}
