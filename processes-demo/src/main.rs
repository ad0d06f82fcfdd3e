//! Thin entry point: parse the arguments, run one scenario or all, map errors to exit statuses.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use processes_demo::{child_main, given_flags, run, Knobs, Scenario};
use std::path::Path;
use std::process::ExitCode;

/// Processes with memory of their own, scenario for scenario the twin of threads-demo.
#[derive(Parser)]
#[command(version, about, long_about = None, max_term_width = 100)]
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
    /// A worker process: this program started again by a scenario.
    #[command(hide = true)]
    Child {
        scenario: String,
        index: usize,
        #[arg(allow_hyphen_values = true)]
        params: Vec<String>,
    },
}

/// Help and version go to stdout as clap prints them; a refusal is one line and status 2.
fn parse_failed(e: clap::Error) -> ! {
    if e.use_stderr() {
        common::demo::cli::refuse(e.render())
    }
    e.exit()
}

fn main() -> ExitCode {
    common::init();
    // Parsed in two steps so that `given_flags` can tell the knobs the user wrote from defaults.
    let matches = Cli::command()
        .try_get_matches()
        .unwrap_or_else(|e| parse_failed(e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| parse_failed(e));
    let result = match cli.command.unwrap_or(Command::Scenario(Scenario::All)) {
        Command::Scenario(scenario) => {
            cli.knobs
                .check(scenario, &given_flags(&matches))
                .and_then(|()| {
                    // Process boundary: a run killed by SIGKILL could not unlink its segment; the
                    // name carries the dead owner's pid, so this run can tell it and sweep it.
                    common::demo::cleanup::sweep_stale(Path::new("/dev/shm"), "processes-demo-");
                    run(
                        scenario,
                        &cli.knobs,
                        &mut common::demo::narrate::Wrapped::new(std::io::stdout().lock()),
                    )
                })
        }
        Command::Child {
            scenario,
            index,
            params,
        } => child_main(&scenario, index, &params),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Bad input: 2; a resource this machine lacks: 71; stdout closed by its reader
        // (`| head`): quietly; a failed check: 1 (see common::demo::cli).
        Err(e) => common::demo::cli::exit_status(e.as_ref()),
    }
}
