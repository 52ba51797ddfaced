"""In-tree Python worker for the process tests, built on the SDK."""
import os
import sys
import time

sys.path.insert(0, os.environ.get("OFFLOAD_PYTHON_SDK", ""))
import offload_worker as ow  # noqa: E402

worker = ow.Worker("pyworker", pipeline_depth=int(os.environ.get("PYWORKER_PIPELINE", "1")))


@worker.method
def add(call):
    return call.args["a"] + call.args["b"]


@worker.method
def echo(call):
    return ow.Result(call.args, call.payload)


@worker.method
def noisy(call):
    print("a stray print must not corrupt the stream")
    call.log("logged")
    call.progress(0.25, "a quarter")
    call.progress(value=3, maximum=4, text="three of four")
    return "ok"


@worker.method
def fail(call):
    def inner():
        raise KeyError("missing key")
    inner()


@worker.method
def sleep(call):
    end = time.monotonic() + call.args.get("ms", 1000) / 1000.0
    while time.monotonic() < end:
        call.raise_if_cancelled()
        time.sleep(0.001)
    return os.getpid()


if __name__ == "__main__":
    raise SystemExit(worker.run())
