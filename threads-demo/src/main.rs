//! Thin entry point: parse the arguments, run one scenario or all, map errors to exit statuses.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use threads_demo::{Knobs, Scenario};

/// Threads of one process, scenario for scenario the twin of processes-demo.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The scenario to run (default: all)
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    knobs: Knobs,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Scenario(Scenario),
    /// The child of the crash scenario: one of its threads aborts the whole process.
    #[command(hide = true)]
    AbortFromThread,
}

fn main() -> ExitCode {
    common::init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Scenario(Scenario::All)) {
        Command::Scenario(scenario) => {
            threads_demo::run(scenario, &cli.knobs, &mut std::io::stdout().lock())
        }
        Command::AbortFromThread => threads_demo::crash::abort_from_thread(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => common::cli::fail(
            format!("{e:#}"),
            e.downcast_ref::<common::cli::UsageError>().is_some(),
        ),
    }
}
