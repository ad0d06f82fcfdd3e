//! The worker process's side: connect, say hello, then run batches until the pool hangs up.

use super::call;
use super::wire::{records, unframe, FromWorker, ENV_SERVER, ENV_TOKEN};
use ipc_channel::ipc::{self, IpcSender};

/// If this process was started as a pool worker, runs the worker loop and exits; else returns.
pub(crate) fn run_if_worker() {
    let Some(server) = std::env::var_os(ENV_SERVER) else {
        return;
    };
    // Children this worker's tasks start are not workers of our pool.
    std::env::remove_var(ENV_SERVER);
    let token = std::env::var(ENV_TOKEN).ok().and_then(|t| t.parse().ok());
    std::env::remove_var(ENV_TOKEN);
    let code = match (server.into_string(), token) {
        (Ok(server), Some(token)) => match serve(server, token) {
            Ok(()) => 0,
            Err(why) => {
                eprintln!("[pid {}] pool worker stopped: {why}", std::process::id());
                70 // EX_SOFTWARE
            }
        },
        _ => {
            eprintln!(
                "[pid {}] pool worker: malformed {ENV_SERVER}/{ENV_TOKEN}",
                std::process::id()
            );
            64 // EX_USAGE
        }
    };
    std::process::exit(code);
}

fn serve(server: String, token: u64) -> Result<(), Box<dyn std::error::Error>> {
    crate::panics::install_hook();
    let code = call::executable_code()?;
    let to_pool = IpcSender::<FromWorker>::connect(server)?;
    let (tasks, from_pool) = ipc::bytes_channel()?;
    to_pool.send(FromWorker::Hello {
        token,
        pid: std::process::id(),
        tasks,
    })?;
    // recv fails when the pool drops its sender (shutdown) or its process dies: time to go.
    while let Ok(message) = from_pool.recv() {
        let bodies = records(&message).ok_or("a malformed message from the pool")?;
        for body in bodies {
            let start = crate::sys::monotonic_nanos();
            let (call, input) = unframe(body).ok_or("a frame too short to hold a call")?;
            match call::run(&call, input, &code) {
                Ok(output) => {
                    let end = crate::sys::monotonic_nanos();
                    to_pool.send(FromWorker::Done { start, end, output })?;
                }
                Err(why) => {
                    to_pool.send(FromWorker::Refused(why.clone()))?;
                    return Err(why.into());
                }
            }
        }
    }
    Ok(())
}
