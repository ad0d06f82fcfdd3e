"""The mpi4py.futures side of bench/against-mpi4py: the same three measurements as mpi-demo.

Run by the bench under `mpirun -n 4 python3 -m mpi4py.futures bench/mpi4py_side.py`: rank 0
runs this file, ranks 1..3 serve (MPIPoolExecutor's mpirun mode). Prints one line:
`measure batch1_ns=<per task> auto_ns=<per task> trip_ns=<per round trip>`.
"""
import math
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor

TASKS = 10_000
TRIPS = 2_000


def add_one(n):
    return n + 1


def per_item(seconds, n):
    return int(seconds * 1e9 / n)


def main():
    with MPIPoolExecutor() as pool:
        workers = MPI.COMM_WORLD.Get_size() - 1  # mpirun mode: every other rank serves
        list(pool.map(add_one, range(100)))  # warm-up: every worker has started
        start = time.perf_counter()
        assert list(pool.map(add_one, range(TASKS))) == list(range(1, TASKS + 1))
        batch1 = per_item(time.perf_counter() - start, TASKS)
        # mpi-demo's automatic size: about four batches per worker, as Python's Pool.map.
        chunk = math.ceil(TASKS / (4 * workers))
        start = time.perf_counter()
        assert list(pool.map(add_one, range(TASKS), chunksize=chunk)) == list(range(1, TASKS + 1))
        auto = per_item(time.perf_counter() - start, TASKS)
        start = time.perf_counter()
        for i in range(TRIPS):
            assert pool.submit(add_one, i).result() == i + 1
        trip = per_item(time.perf_counter() - start, TRIPS)
    print(f"measure batch1_ns={batch1} auto_ns={auto} trip_ns={trip} workers={workers}")


if __name__ == "__main__":
    main()
