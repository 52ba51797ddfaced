"""The Python worker the tests call (offload_worker SDK)."""

import os
import subprocess
import time

import offload_worker as ow

worker = ow.Worker("pytest-worker")


@worker.method
def add(call):
    return call.args["a"] + call.args["b"]


@worker.method
def steps(call):
    n = call.args.get("n", 5)
    for i in range(n):
        call.progress((i + 1) / n, f"step {i + 1}")
    return n


@worker.method
def fail(call):
    def deep_in_the_worker():
        raise ValueError("bad input: " + str(call.args))

    deep_in_the_worker()


@worker.method
def spin(call):
    """Until cancelled; its pid first, as a log line."""
    call.log(f"pid {os.getpid()}")
    while not call.is_cancelled():
        time.sleep(0.01)
    raise ow.Cancelled()


@worker.method
def stubborn(call):
    """Ignores cancel, with a child of its own: only killing the tree ends it."""
    child = subprocess.Popen(["sleep", "300"])
    call.log(f"pids {os.getpid()} {child.pid}")
    while True:
        time.sleep(0.05)


@worker.method
def pid(call):
    return os.getpid()


@worker.method
def echo(call):
    return ow.Result(call.args, call.payload)


@worker.method
def touch(call):
    """Fills every writable buffer with `write` and hands them all back."""
    for b in call.buffers:
        if not b.sealed:
            b.memory[:] = bytes([call.args["write"]]) * b.size
    return ow.Result([b.sealed for b in call.buffers], buffers=call.buffers)


@worker.method
def frames(call):
    """Publishes `count` frames from a pool of two buffers, frame i filled with the byte i."""
    pool = ow.BufferPool(call.args.get("size", 4096), 2)
    for i in range(1, call.args["count"] + 1):
        b = pool.acquire(timeout=20)
        if b is None:
            raise RuntimeError("no buffer came back")
        b.memory[:] = bytes([i % 251]) * b.size
        call.publish({"i": i}, buffers=[b])
    return call.args["count"]


if __name__ == "__main__":
    raise SystemExit(worker.run())
