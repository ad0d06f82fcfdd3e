//! Thin entry point: `list`, `check <name>` and `hint <name>`; see the crate docs (`lib.rs`).

use clap::{Parser, Subcommand};
use exercises::replay::Schedule;
use exercises::{Exercise, EXERCISES};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    max_term_width = 100,
    about = "Exercises: fill in the blanks in work/, then check them"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Every exercise, one a line, its name first (the default)
    List,
    /// Run an exercise's check: pass, or what is wrong and a hint
    Check {
        /// The exercise (see `list`)
        #[arg(required_unless_present = "all")]
        name: Option<String>,
        /// Check every exercise in turn
        #[arg(long, conflicts_with = "name")]
        all: bool,
        /// Who takes each step in a race: rr (each worker in turn), free, or worker numbers
        /// such as 0011, repeated (torn-lines, deadlock, lost-update)
        #[arg(long)]
        schedule: Option<String>,
        /// Check the solution in solutions/ instead of your work
        #[arg(long)]
        solution: bool,
    },
    /// Print an exercise's hint
    Hint {
        /// The exercise (see `list`)
        name: String,
    },
}

fn usage(message: String) -> ExitCode {
    common::demo::cli::fail(message, true)
}

fn named(name: &str) -> Result<&'static Exercise, ExitCode> {
    exercises::find(name).ok_or_else(|| {
        usage(format!(
            "no exercise named \"{name}\"; `list` shows them all"
        ))
    })
}

fn main() -> ExitCode {
    // First line: the process pool of `pool-map` starts its workers from here.
    common::init();
    // Segments a killed earlier run left behind (their names carry its dead pid).
    common::demo::cleanup::sweep_stale(std::path::Path::new("/dev/shm"), "exercises-");
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        if e.use_stderr() {
            common::demo::cli::refuse(e.render())
        }
        e.exit()
    });
    let mut out = common::demo::cli::stdout();
    let written = match cli.command.unwrap_or(Command::List) {
        Command::List => exercises::list(&mut out),
        Command::Hint { name } => match named(&name) {
            Ok(e) => exercises::hint(&mut out, e),
            Err(code) => return code,
        },
        Command::Check {
            name,
            all,
            schedule,
            solution,
        } => return check(&mut out, name, all, schedule, solution),
    };
    finish(written.map(|()| true))
}

fn check(
    out: &mut common::demo::cli::Stdout,
    name: Option<String>,
    all: bool,
    schedule: Option<String>,
    solution: bool,
) -> ExitCode {
    if solution && !cfg!(feature = "solutions") {
        return usage("--solution: this copy has no solutions (the `solutions` feature)".into());
    }
    let chosen: Vec<&Exercise> = match (&name, all) {
        (Some(name), _) => match named(name) {
            Ok(e) => vec![e],
            Err(code) => return code,
        },
        (None, _) => EXERCISES.iter().collect(),
    };
    let replays: Vec<&str> = EXERCISES
        .iter()
        .filter(|e| e.replays)
        .map(|e| e.name)
        .collect();
    if schedule.is_some() && !chosen.iter().any(|e| e.replays) {
        let why = format!(
            "--schedule applies to {}, not to {}",
            replays.join(", "),
            chosen[0].name
        );
        return usage(why);
    }
    let schedule = match schedule.as_deref().unwrap_or("rr").parse::<Schedule>() {
        Ok(s) => s,
        Err(why) => return usage(format!("--schedule: {why}")),
    };
    let mut passed = true;
    for e in chosen {
        match exercises::check(out, e, &schedule, solution) {
            Ok(ok) => passed &= ok,
            Err(err) => return finish(Err(err)),
        }
    }
    finish(Ok(passed))
}

/// Exit status: 0 if everything passed, 1 if a check failed (its lines say why), 141 quietly
/// for a reader that left (`| head`), 1 with a line for any other error.
fn finish(result: std::io::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => common::demo::cli::exit_code(false),
        Err(e) => common::demo::cli::exit_status(&e),
    }
}
