//! Thin entry point: parse the arguments (`cli`), run (`tour`), map errors to exit statuses.

use std::process::ExitCode;

use sync_demo::{cli::Parsed, output, tour};

/// Help and version go to stdout as clap prints them; a refusal is one line and status 2.
fn parse_failed(e: clap::Error) -> ! {
    if e.use_stderr() {
        common::demo::cli::refuse(e.render())
    }
    e.exit()
}

fn main() -> ExitCode {
    common::init();
    let parsed = Parsed::from_args(std::env::args_os()).unwrap_or_else(|e| parse_failed(e));
    match tour::run(parsed) {
        Ok(()) => ExitCode::SUCCESS,
        // `sync-demo | head -1`: the reader has all it wanted; end quietly, as Unix tools do.
        // Not after an interrupt, though: then the handler's status (130) is the right one.
        Err(e)
            if common::demo::cleanup::interrupted_by().is_none()
                && output::stdout_closed()
                && output::is_broken_pipe(AsRef::<dyn std::error::Error>::as_ref(&e)) =>
        {
            ExitCode::from(141)
        }
        // Bad input: status 2; a resource this machine lacks: 71; a failed check: 1.
        Err(e) => common::demo::cli::fail_with(e.as_ref()),
    }
}
