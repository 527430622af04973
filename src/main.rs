use clap::Parser;
use maskscope::cli::{self, Cli};

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(command) => cli::run(command),
        None => {
            maskscope::app::run().map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
