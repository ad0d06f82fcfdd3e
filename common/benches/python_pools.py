"""Python's process pools on the same work as common's bench: 10,000 trivial items, 2 workers.

Prints one line per measurement, `name seconds`, the median of several runs, pool start included.
Called by `cargo bench -p common --bench compare`; runs alone too: `python3 python_pools.py`.
"""
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

ITEMS = 10_000
WORKERS = 2
RUNS = 5


def double(x):
    return x * 2


def pool_map():
    with multiprocessing.Pool(WORKERS) as pool:
        return pool.map(double, range(ITEMS))  # default chunking


def executor_map():
    with ProcessPoolExecutor(WORKERS) as ex:
        return list(ex.map(double, range(ITEMS)))


def median_seconds(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        assert out == [2 * x for x in range(ITEMS)]
    return statistics.median(times)


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]} start-method {multiprocessing.get_start_method()}")
    print(f"mp_pool_map {median_seconds(pool_map, RUNS):.6f}")
    print(f"executor_map {median_seconds(executor_map, 3):.6f}")
