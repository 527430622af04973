use clap::Parser;
use maskscope::cli::{self, Cli};

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(command) => cli::run(command),
        None => {
            // The window lands with the app module; until then, show the commands.
            use clap::CommandFactory;
            Cli::command().print_help().map_err(Into::into)
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
