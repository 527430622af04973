use clap::Parser;
use maskscope::cli::{self, Cli};

fn main() {
    maskscope::memory::keep_freed_memory_for_reuse();
    // candle's element-wise ops have their own spinning thread pool that ignores the training
    // pool and would take the UI's core; one thread there is fastest at these sizes (README).
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: first statement of main, before any other thread exists.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Some(command) => cli::run(command),
        None => maskscope::app::run(cli.model)
            .map_err(|e| anyhow::anyhow!("could not open the window: {e}")),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
