"""Python's multiprocessing.Pool on CPU-bound tasks, for common's scaling bench.

Usage: python3 python_scaling.py WORKERS TASKS RUNS
Prints one number: the speed-up of Pool(WORKERS).map over running the same TASKS one after
another, medians of RUNS runs each (pool start included, as a user pays it). Each task is an
integer loop of about 2.4 ms in CPython on the development machine: not the Rust loop's length
in iterations, since only each runner's own speed-up is compared.
"""
import multiprocessing
import statistics
import sys
import time

MASK = (1 << 64) - 1


def spin(seed):
    acc = seed
    for i in range(40_000):
        acc = (acc * 6364136223846793005 + i) & MASK
    return acc


def timed(f):
    start = time.perf_counter()
    out = f()
    return time.perf_counter() - start, out


def main():
    workers, tasks, runs = (int(a) for a in sys.argv[1:4])
    seeds = list(range(tasks))
    expected = [spin(s) for s in seeds]
    alone = statistics.median(timed(lambda: [spin(s) for s in seeds])[0] for _ in range(runs))

    def pooled():
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(spin, seeds)

    times = []
    for _ in range(runs):
        took, out = timed(pooled)
        assert out == expected
        times.append(took)
    print(f"{alone / statistics.median(times):.4f}")


if __name__ == "__main__":
    main()
