//! The `Pool` contract, checked on both pools, plus the faults only a process pool can survive.
//!
//! This test binary has its own `main` (harness = false) because `ProcessPool` workers are this
//! very executable started again, and `common::init()` must be the first thing they run. Run one
//! test with `cargo test -p common --test pool_contract -- <name-filter>`.

use common::{ProcessPool, ThreadPool};
use std::time::Duration;

mod contract;
mod harness;
use contract::api::{
    contract, same_results_on_both_pools, timeline_covers_every_item,
    zero_workers_and_zero_chunk_are_errors,
};
use contract::arena::{a_large_payload_lands_in_kept_memory, an_idle_worker_frees_its_kept_memory};
use contract::bounds::{
    a_stalled_answer_bounds_every_wait, a_stopped_worker_bounds_every_wait,
    duration_max_is_no_limit, is_finished_right_after_the_task,
};
use contract::deaths::{
    worker_death, worker_killed_while_busy_fails_its_task, worker_killed_while_idle_is_replaced,
};
use contract::handshake::{
    child_dying_before_handshake_is_an_error, child_hanging_in_handshake_times_out,
    large_argument_and_result, ten_thousand_pending_tasks,
};
use contract::inline::{map_inline_on_processes, map_inline_on_threads};
use contract::lent::{
    a_lent_wait_timeout_ends_within_a_tick, lent_task_whose_worker_dies,
    lent_tasks_answer_every_way, lent_tasks_count_toward_max_tasks, terminate_while_a_caller_reads,
    unlendable_arguments_take_the_queued_path,
};
use contract::lifecycle::{
    drop_reaps_every_worker, pool_owner, terminate_stops_running_tasks,
    thread_pool_terminate_cancels_pending, workers_die_with_a_killed_parent,
};
use contract::limits::{
    a_poison_task_fails_after_its_attempts, a_task_past_its_timeout,
    a_task_retried_after_its_worker_died,
};
use contract::storm::{
    a_map_after_tiny_tasks_is_shared_evenly, kill_storm, kill_storm_with_retries,
    long_batches_after_short_ones_are_shared,
};
use harness::Test;

/// Makes a worker misbehave before it connects, to test the handshake's bounds.
const FAULT: &str = "POOL_CONTRACT_FAULT";
/// Makes this binary act as a program that owns a pool (for the parent-killed test).
const ROLE: &str = "POOL_CONTRACT_ROLE";

fn main() {
    if std::env::var_os("COMMON_POOL_WORKER").is_some() {
        match std::env::var(FAULT).as_deref() {
            Ok("exit-before-hello") => std::process::exit(7),
            Ok("hang-before-hello") => std::thread::sleep(Duration::from_secs(60)),
            _ => {}
        }
    }
    common::init();
    if std::env::var(ROLE).as_deref() == Ok("pool-owner") {
        return pool_owner();
    }
    harness::run(&[
        Test("generic_contract_on_threads", || {
            contract(&ThreadPool::new(2)?)
        }),
        Test("generic_contract_on_processes", || {
            contract(&ProcessPool::new(2)?)
        }),
        Test("same_results_on_both_pools", same_results_on_both_pools),
        Test("map_inline_on_threads", map_inline_on_threads),
        Test("map_inline_on_processes", map_inline_on_processes),
        Test(
            "a_stalled_answer_bounds_every_wait",
            a_stalled_answer_bounds_every_wait,
        ),
        Test(
            "a_stopped_worker_bounds_every_wait",
            a_stopped_worker_bounds_every_wait,
        ),
        Test("duration_max_is_no_limit", duration_max_is_no_limit),
        Test(
            "is_finished_right_after_the_task",
            is_finished_right_after_the_task,
        ),
        Test(
            "zero_workers_and_zero_chunk_are_errors",
            zero_workers_and_zero_chunk_are_errors,
        ),
        Test("timeline_covers_every_item", timeline_covers_every_item),
        Test("abort_in_task_fails_that_task_only", || {
            worker_death("abort", "killed by signal 6 (SIGABRT)")
        }),
        Test("sigkill_in_task_fails_that_task_only", || {
            worker_death("sigkill", "killed by signal 9 (SIGKILL)")
        }),
        Test("exit_in_task_fails_that_task_only", || {
            worker_death("exit3", "exited with code 3")
        }),
        Test(
            "worker_killed_while_idle_is_replaced",
            worker_killed_while_idle_is_replaced,
        ),
        Test(
            "worker_killed_while_busy_fails_its_task",
            worker_killed_while_busy_fails_its_task,
        ),
        Test(
            "child_dying_before_handshake_is_an_error",
            child_dying_before_handshake_is_an_error,
        ),
        Test(
            "child_hanging_in_handshake_times_out",
            child_hanging_in_handshake_times_out,
        ),
        Test("large_argument_and_result", large_argument_and_result),
        Test(
            "a_large_payload_lands_in_kept_memory",
            a_large_payload_lands_in_kept_memory,
        ),
        Test(
            "an_idle_worker_frees_its_kept_memory",
            an_idle_worker_frees_its_kept_memory,
        ),
        Test("ten_thousand_pending_tasks", ten_thousand_pending_tasks),
        Test(
            "workers_die_with_a_killed_parent",
            workers_die_with_a_killed_parent,
        ),
        Test("drop_reaps_every_worker", drop_reaps_every_worker),
        Test(
            "terminate_stops_running_tasks",
            terminate_stops_running_tasks,
        ),
        Test(
            "thread_pool_terminate_cancels_pending",
            thread_pool_terminate_cancels_pending,
        ),
        Test("lent_tasks_answer_every_way", lent_tasks_answer_every_way),
        Test("lent_task_whose_worker_dies", lent_task_whose_worker_dies),
        Test(
            "a_lent_wait_timeout_ends_within_a_tick",
            a_lent_wait_timeout_ends_within_a_tick,
        ),
        Test(
            "unlendable_arguments_take_the_queued_path",
            unlendable_arguments_take_the_queued_path,
        ),
        Test(
            "lent_tasks_count_toward_max_tasks",
            lent_tasks_count_toward_max_tasks,
        ),
        Test(
            "terminate_while_a_caller_reads",
            terminate_while_a_caller_reads,
        ),
        Test("kill_storm", kill_storm),
        Test("kill_storm_with_retries", kill_storm_with_retries),
        Test("a_task_past_its_timeout", a_task_past_its_timeout),
        Test(
            "a_task_retried_after_its_worker_died",
            a_task_retried_after_its_worker_died,
        ),
        Test(
            "a_poison_task_fails_after_its_attempts",
            a_poison_task_fails_after_its_attempts,
        ),
        Test(
            "a_map_after_tiny_tasks_is_shared_evenly",
            a_map_after_tiny_tasks_is_shared_evenly,
        ),
        Test(
            "long_batches_after_short_ones_are_shared",
            long_batches_after_short_ones_are_shared,
        ),
    ]);
}
