"""A worker on the Python SDK for the SDK's own process tests (test_offload_worker.py).

The C++ twin is tests/worker/sdk_testworker.cpp: same methods, same answers."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import offload_worker as ow  # noqa: E402

worker = ow.Worker("sdk_testworker")


@worker.method
def echo(call):
    """Returns the arguments as the value and the payload as the payload."""
    return ow.Result(call.args, call.payload)


@worker.method
def big(call):
    """A value of n characters and a payload of n bytes."""
    n = int(call.args["n"])
    return ow.Result("x" * n, b"\xab" * n)


@worker.method
def print_wait(call):
    """A stray print (no flush), then waits until the call is cancelled."""
    print("stray-print-marker")
    while not call.is_cancelled():
        time.sleep(0.001)
    return "not reached"


@worker.method
def wait_cancel(call):
    """Prints a marker (flushed), then blocks in wait_cancelled() for up to args["seconds"]."""
    print("wait-marker", flush=True)
    return "cancelled" if call.wait_cancelled(float(call.args["seconds"])) else "timed out"


@worker.method
def spin(call):
    """Prints a marker to stdout (flushed: the test waits for it), then computes for up to
    args["seconds"] without calling into the SDK."""
    print("spin-marker", flush=True)
    end = time.monotonic() + float(call.args["seconds"])
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


if __name__ == "__main__":
    raise SystemExit(worker.run())
