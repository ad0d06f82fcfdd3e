//! The process pool's transport rows alone (they are also part of the `compare` bench).
//!
//! `cargo bench -p common --bench transport` (`BENCH_RUNS` sets the rounds, default 7). The
//! code is `compare/transport.rs`; see there for the rows.

#[allow(dead_code)] // `Style::Markdown` and some helpers serve only `compare`
#[path = "compare/measure.rs"]
mod measure;
#[path = "compare/transport.rs"]
mod transport;

fn main() {
    common::init();
    transport::serve_echo_if_asked();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    println!(
        "ProcessPool transport vs a raw Unix socket: {}, {} CPUs, load {}",
        measure::cpu(),
        num_cpus::get(),
        measure::load()
    );
    let pool = common::ProcessPool::new(2).expect("workers start");
    let rows = transport::round_trips(&pool, runs)
        .into_iter()
        .chain(transport::large_payload(&pool, runs.min(5)))
        .chain(transport::shared_table(&pool, runs.min(5)));
    rows.for_each(|row| row.print(measure::Style::Lines));
}
