"""The Python worker of the Python benchmarks (the offload_worker SDK): an echo, the burn of
pyload.py reporting progress up to 1,000 times a second, and a nap that returns its pid."""
import os
import sys

import offload_worker as ow

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyload  # noqa: E402

# Progress goes out as often as burn reports it (it paces itself at 1 ms); small calls are
# pipelined, 64 in flight per worker.
worker = ow.Worker("bench_pyworker", pipeline_depth=int(os.environ.get("BENCH_PIPELINE", "64")),
                   progress_interval=0)


@worker.method
def echo(call):
    return pyload.echo(call.args)


@worker.method
def burn(call):
    return pyload.burn(float(call.args["seconds"]), lambda f: call.progress(f))


@worker.method
def nap(call):
    return pyload.nap(float(call.args["seconds"]))


if __name__ == "__main__":
    raise SystemExit(worker.run())
