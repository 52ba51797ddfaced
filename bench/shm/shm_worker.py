"""The Python worker of the shared-memory benchmarks: "pages" as the C++ one (shm_worker.cpp),
reading and writing one byte of every page through a memoryview (buffers) or a copy of the
payload (inline)."""
import os
import sys

sys.path.insert(0, os.environ["OFFLOAD_PYTHON_SDK"])
import offload_worker as ow  # noqa: E402

PAGE = 4096
worker = ow.Worker("shm_worker.py")


def visit(view, write):
    strided = view[::PAGE]
    total = sum(strided.tobytes())
    if write:
        strided[:] = bytes((b + 1) & 0xFF for b in strided.tobytes())
    return total


@worker.method
def pages(call):
    write = bool(call.args.get("write"))
    if not call.buffers:
        data = bytearray(call.payload)  # bytes arrive immutable: the inline path's own copy
        return ow.Result(visit(memoryview(data), write), bytes(data))
    total = sum(visit(b.memory, write) for b in call.buffers)
    return ow.Result(total, buffers=call.buffers)


if __name__ == "__main__":
    raise SystemExit(worker.run())
