//! common's pools against their peers, every row of issue 13's table in one run.
//!
//! `cargo bench -p common --bench compare` prints each row as ours, the peer, `ours / peer`
//! (below 1 is faster; a speed-up row is `sequential / ours`) and its target. Ours and the peer
//! run alternately, A B A B (see `compare/measure.rs` for why), `BENCH_RUNS` times (default 7).
//! `-- --markdown` prints the rows as the table in common/README.md (`benches/table.sh` puts it
//! there); `-- --only threads|processes|transport|cpu` runs one section (`map`: the
//! `ThreadPool::map` rows of `threads` alone).
//!
//! The modules, one a case: `threads` (ThreadPool against rayon, `threadpool`, a thread
//! ping-pong), `processes` (start-up, Python's pools, procspawn), `transport` (the process
//! pool's line against a raw socket: round trips, 64 MiB, submits), `cpu` (speed-ups).

// A bench's modules sit beside it: `compare/` holds this one's.
#[path = "compare/cpu.rs"]
mod cpu;
#[path = "compare/measure.rs"]
mod measure;
#[path = "compare/processes.rs"]
mod processes;
#[path = "compare/threads.rs"]
mod threads;
#[path = "compare/transport.rs"]
mod transport;

use common::{ProcessPool, ThreadPool};
use measure::{Row, Style};

const SECTIONS: [&str; 5] = ["threads", "map", "processes", "transport", "cpu"];

fn main() {
    common::init();
    procspawn::init();
    transport::serve_echo_if_asked();
    let (style, only) = match arguments() {
        Ok(parsed) => parsed,
        Err(why) => {
            eprintln!("error: {why}");
            std::process::exit(2);
        }
    };
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let load = measure::load();
    println!(
        "common's pools vs peers: 2 workers, medians of {runs} interleaved runs; {}, {} CPUs, \
         load {load}",
        measure::cpu(),
        num_cpus::get()
    );
    if style == Style::Markdown {
        println!("\n| work | ours | peer | ratio | target |\n|---|---|---|---|---|");
    }
    let threads = ThreadPool::new(2).expect("threads start");
    let processes = ProcessPool::new(2).expect("workers start");
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("rayon starts");
    let wanted = |section: &str| only.as_deref().is_none_or(|o| o == section);
    let print = |rows: Vec<Row>| rows.iter().for_each(|row| row.print(style));
    if wanted("threads") || wanted("map") {
        print(threads::map(&threads, &rayon, runs));
    }
    if wanted("threads") {
        print(threads::submit(&threads, runs.min(5)));
        print(threads::hot_round_trips(&threads, &rayon, runs));
        print(threads::round_trips(&threads));
    }
    if wanted("processes") {
        print(processes::start(runs));
        print(processes::map_with_start(runs));
        print(processes::submit(&processes, runs));
    }
    if wanted("transport") {
        print(transport::round_trips(&processes, runs));
        print(transport::large_payload(&processes, runs.min(5)));
        print(transport::shared_table(&processes, runs.min(5)));
    }
    if wanted("cpu") {
        print(cpu::rows(&threads, &processes, runs));
    }
    println!(
        "\n(load average {load} at the start, {} at the end)",
        measure::load()
    );
}

/// `--markdown` and `--only SECTION`; `--bench`, which cargo passes, is accepted and ignored.
fn arguments() -> Result<(Style, Option<String>), String> {
    let (mut style, mut only) = (Style::Lines, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--markdown" => style = Style::Markdown,
            "--only" => match args.next() {
                Some(s) if SECTIONS.contains(&s.as_str()) => only = Some(s),
                other => {
                    let got = other.map_or("nothing".to_string(), |s| format!("\"{s}\""));
                    return Err(format!(
                        "--only takes one of {}, got {got}",
                        SECTIONS.join(", ")
                    ));
                }
            },
            other => {
                return Err(format!(
                    "unknown argument {other:?} (try --markdown, --only)"
                ))
            }
        }
    }
    Ok((style, only))
}
