//! The desktop window: egui views over the plain-data [`crate::trace`].
//!
//! Five layers, each importing only from the layers below it (`tests/app_layers.rs` checks
//! every `use` path):
//! 1. Plain data and pure helpers, the files directly in `app/`: [`settings`], [`labels`],
//!    [`colormap`], [`figures`] (the grids and matrices both the views and the exports draw),
//!    [`export_jobs`], [`regions`], [`presenter_layout`], [`png`], [`intents`], [`session_file`] (the session file
//!    format), [`highlight`], [`example_rows`], [`fonts`], [`icon`], [`frame_stats`],
//!    [`offscreen`].
//! 2. [`state`]: the model, the input rows, the trace, the stepper, fine-tuning runs, the
//!    lesson shown, messages. No dialogs, no exports, no session files.
//! 3. [`widgets`] and [`views`]: draw the state and return [`intents::Intent`]s; one view
//!    per file behind the small [`views::View`] trait. Views never touch candle.
//! 4. [`actions`]: files (dialogs, typed paths), exports, sessions, lessons, presenter mode,
//!    keyboard shortcuts.
//! 5. [`window`] (the [`App`]) and the headless [`render`]er, which own the frame.

pub mod actions;
pub mod colormap;
pub mod example_rows;
pub mod export_jobs;
pub mod figures;
pub mod fonts;
pub mod frame_stats;
pub mod highlight;
pub mod icon;
pub mod intents;
pub mod labels;
pub mod offscreen;
pub mod png;
pub mod presenter_layout;
pub mod regions;
pub mod render;
pub mod session_file;
pub mod settings;
pub mod state;
pub mod views;
pub mod widgets;
pub mod window;

pub use settings::{Settings, ViewId};
pub use state::AppState;
pub use window::App;

/// Opens the maskscope window (glow renderer) on `model` (a checkpoint file or a Marian
/// model folder) or, without one, on the bundled dates model.
pub fn run(model: Option<std::path::PathBuf>) -> eframe::Result<()> {
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
        Box::new(|cc| Ok(Box::new(App::new(cc, model.as_deref())))),
    )
}
