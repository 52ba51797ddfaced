"""A Python worker for worker_window.py: squares numbers slowly, reporting progress."""

import time

import offload_worker as ow

worker = ow.Worker("squares")


@worker.method
def squares(call):
    n = call.args["n"]
    out = []
    for i in range(n):
        call.raise_if_cancelled()
        time.sleep(0.02)  # the slow part of real work
        out.append(i * i)
        call.progress((i + 1) / n, f"{i + 1} of {n}")
    return out


if __name__ == "__main__":
    raise SystemExit(worker.run())
