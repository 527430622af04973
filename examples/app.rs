//! Opens the maskscope window (until `maskscope` with no subcommand does the same).

fn main() -> eframe::Result<()> {
    maskscope::app::run()
}
