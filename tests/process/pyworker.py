"""In-tree Python worker for the process tests, built on the SDK."""
import ctypes
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


@worker.method
def where(call):
    """The page number of each buffer's mapping here (as the C++ testworker's where)."""
    at = []
    for b in call.buffers:
        view = ctypes.c_char.from_buffer(b.memory)  # writable buffers only
        at.append(ctypes.addressof(view) >> 12)
        del view  # an export of the mapping: it would keep the mapping from closing
    return at


@worker.method
def touch(call):
    """Reads a byte of every page of every buffer, writes `write` into the writable ones if
    asked, and hands them all back (as the C++ testworker's touch)."""
    total = 0
    for b in call.buffers:
        total += sum(b.memory[::4096])
        if call.args.get("write") is not None and not b.sealed:
            b.memory[:] = bytes([call.args["write"]]) * b.size
    return ow.Result({"sum": total, "sizes": [b.size for b in call.buffers],
                      "sealed": [b.sealed for b in call.buffers],
                      "readonly": [b.memory.readonly for b in call.buffers]},
                     buffers=call.buffers)


@worker.method
def make(call):
    b = ow.Buffer.create(call.args["size"])
    b.memory[:] = bytes([call.args.get("byte", 0)]) * b.size
    if call.args.get("seal"):
        b.seal()
    return ow.Result(True, buffers=[b])


@worker.method(name="pooledResult")
def pooled_result(call):
    """A result that carries a BufferPool's buffer: refused by the SDK."""
    return ow.Result(True, buffers=[ow.BufferPool(4096, 2).acquire()])


@worker.method
def stream(call):
    """As the C++ testworker's stream: `count` frames (0: until cancelled) of `size` bytes
    from a pool of `buffers`, frame i filled with the byte i % 251."""
    count = call.args.get("count", 0)
    pool = ow.BufferPool(call.args.get("size", 4096), call.args.get("buffers", 4))
    distinct = set()
    i = 0
    while count == 0 or i < count:
        b = None
        while b is None:
            call.raise_if_cancelled()
            b = pool.acquire(timeout=0.02)
        i += 1
        b.memory[:] = bytes([i % 251]) * b.size
        distinct.add(id(b))
        call.publish({"i": i}, buffers=[b])
    return {"published": i, "distinct": len(distinct)}


if __name__ == "__main__":
    raise SystemExit(worker.run())
