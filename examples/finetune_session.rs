//! Makes the README's fine-tune session: two real fine-tunes of the bundled `copy` model to
//! `reverse` with the window's default form, one with the encoder frozen and one with
//! everything trainable, each from the original weights, saved as a session with both runs.
//!
//! ```sh
//! cargo run --example finetune_session -- docs/sessions/finetune.json
//! ```
//!
//! The app's own training path (the same worker thread and events the window polls), so the
//! curves are what a presenter pressing `T` would see. Counts steps, not seconds: the
//! curves are the same on a fast or a slow machine (one training thread, fixed seeds).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use maskscope::app::actions::session;
use maskscope::app::settings::{FinetuneSettings, Settings, ViewId};
use maskscope::app::state::AppState;
use maskscope::bundled_models::COPY;
use maskscope::model::groups::Group;

/// The size of the window the session remembers (the README's other figures use it too).
const WINDOW: [f32; 2] = [1366.0, 768.0];

fn main() -> anyhow::Result<()> {
    let out: PathBuf = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/sessions/finetune.json".into())
        .into();
    let mut state = AppState::new(Settings::default());
    anyhow::ensure!(
        state.open_bundled(COPY),
        "the bundled copy model did not open"
    );
    let form = FinetuneSettings::default_for(COPY);
    let encoder: BTreeSet<Group> = [
        Group::SourceEmbedding,
        Group::EncoderLayer(0),
        Group::EncoderLayer(1),
    ]
    .into();
    run(&mut state, &form, encoder, "frozen encoder")?;
    run(&mut state, &form, BTreeSet::new(), "everything trainable")?;
    state.settings.view = ViewId::Finetune;
    if let Some(warning) = session::capture_warnings(&state).first() {
        anyhow::bail!("the session would not reproduce: {warning}");
    }
    session::capture(&state, Some(WINDOW)).save(&out)?;
    println!(
        "saved {} with {} runs",
        out.display(),
        state.training.runs.len()
    );
    Ok(())
}

/// One fine-tune from the bundled weights with `frozen` groups, named `name`; afterwards
/// the model goes back to the bundled weights, so the next run starts where this one did.
fn run(
    state: &mut AppState,
    form: &FinetuneSettings,
    frozen: BTreeSet<Group>,
    name: &str,
) -> anyhow::Result<()> {
    state.settings.finetune = form.clone();
    state.training.frozen = frozen;
    state.start_training();
    let run =
        state.training.runs.last_mut().ok_or_else(|| {
            anyhow::anyhow!("{name}: the run did not start: {:?}", state.messages)
        })?;
    run.name = name.to_owned();
    while state.poll_training() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = state.training.runs.last().expect("the run");
    let last = run.steps.last().map_or(f32::NAN, |s| s.train_loss);
    let first = run.steps.first().map_or(f32::NAN, |s| s.train_loss);
    println!(
        "{name}: {} steps, {} trainable parameters, train loss {first:.3} -> {last:.4}, {}",
        run.steps.len(),
        run.trainable,
        run.status.label()
    );
    anyhow::ensure!(
        run.steps.len() == form.steps,
        "{name}: {} of {} steps ({})",
        run.steps.len(),
        form.steps,
        run.status.label()
    );
    state.revert_to_base();
    Ok(())
}
