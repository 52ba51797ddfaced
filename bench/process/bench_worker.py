"""Python worker for the process benchmarks: an empty call."""
import os
import sys

sys.path.insert(0, os.environ["OFFLOAD_PYTHON_SDK"])
import offload_worker as ow  # noqa: E402

worker = ow.Worker("bench_worker.py", pipeline_depth=int(os.environ.get("BENCH_PIPELINE", "1")))


@worker.method
def noop(call):
    return None


if __name__ == "__main__":
    raise SystemExit(worker.run())
