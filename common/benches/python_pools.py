"""Python's process pools on the same work as common's bench: 10,000 trivial items, 2 workers.

Usage: python3 python_pools.py [fork|spawn] [pool_map|executor_map|executor_map_chunked] [RUNS]
Prints the start method, then one line `name seconds`: the median of RUNS runs (default 5),
pool start included. `cargo bench -p common --bench compare` calls it once a round, so that
its runs interleave with ours; it runs alone too: `python3 python_pools.py`.
"""
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

ITEMS = 10_000
WORKERS = 2


def double(x):
    return x * 2


def pool_map(context):
    with context.Pool(WORKERS) as pool:
        return pool.map(double, range(ITEMS))  # default chunking: ITEMS / (4 * WORKERS)


def executor_map(context):
    with ProcessPoolExecutor(WORKERS, mp_context=context) as ex:
        return list(ex.map(double, range(ITEMS)))  # chunksize=1, the default


def executor_map_chunked(context):
    # The chunk size Pool.map would pick, so the two compare like with like.
    with ProcessPoolExecutor(WORKERS, mp_context=context) as ex:
        return list(ex.map(double, range(ITEMS), chunksize=ITEMS // (4 * WORKERS)))


def median_seconds(fn, context, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = fn(context)
        times.append(time.perf_counter() - start)
        assert out == [2 * x for x in range(ITEMS)]
    return statistics.median(times)


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else "fork"
    which = sys.argv[2:3] or ["pool_map", "executor_map", "executor_map_chunked"]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    context = multiprocessing.get_context(method)
    print(f"python {sys.version.split()[0]} start-method {method}")
    for name in which:
        print(f"{name} {median_seconds(globals()[name], context, runs):.6f}")
