"""Peer for call throughput: Python's ProcessPoolExecutor running trivial calls.
Usage: pool_peer.py CALLS WORKERS  -> prints {"calls_per_s": ...}"""
import concurrent.futures
import json
import sys
import time


def noop(x):
    return x


if __name__ == "__main__":
    calls, workers = int(sys.argv[1]), int(sys.argv[2])
    with concurrent.futures.ProcessPoolExecutor(workers) as ex:
        list(ex.map(noop, range(200)))  # workers started and warm, as ours are
        t0 = time.perf_counter()
        futures = [ex.submit(noop, i) for i in range(calls)]
        for f in futures:
            f.result()
        elapsed = time.perf_counter() - t0
    print(json.dumps({"calls_per_s": calls / elapsed}))
