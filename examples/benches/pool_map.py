"""Per-item cost of multiprocessing.Pool.map on a trivial item, on this machine.

Prints one line: `pool_map_ns_per_item=<float> pool_map_chunksize1_ns_per_item=<float>
serial_ns_per_item=<float>` (default chunking, and `chunksize=1` as `imap` uses).
"""
import multiprocessing as mp
import sys
import time


def inc(x):
    return x + 1


def best_of(f, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    items = list(range(n))
    with mp.Pool(threads) as pool:
        pool.map(inc, range(1000))  # start the workers before timing
        t_pool = best_of(lambda: pool.map(inc, items), 3)
        small = items[: max(n // 100, 1000)]
        t_pool1 = best_of(lambda: pool.map(inc, small, chunksize=1), 3)
    t_serial = best_of(lambda: [inc(x) for x in items], 3)
    print(
        f"pool_map_ns_per_item={t_pool / n * 1e9:.1f} "
        f"pool_map_chunksize1_ns_per_item={t_pool1 / len(small) * 1e9:.1f} "
        f"serial_ns_per_item={t_serial / n * 1e9:.1f}"
    )


if __name__ == "__main__":
    main()
