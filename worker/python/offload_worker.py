"""Offload worker SDK for Python: one stdlib-only module.

Register methods, report progress and logs, see cancellation, return JSON and bytes. Started
by an Offload worker pool it speaks the worker protocol (docs/protocol.md); started by hand it
runs one call from the command line:

    python3 myworker.py --call add '{"a": 1, "b": 2}'

Example::

    import offload_worker as ow

    worker = ow.Worker("adder")

    @worker.method
    def add(call):
        call.progress(0.5, "adding")
        return call.args["a"] + call.args["b"]

    if __name__ == "__main__":
        raise SystemExit(worker.run())

Threading: methods run one at a time on the main thread. While a method runs, progress(),
log() and is_cancelled() read pending messages from the pool, so a cancel request is seen at
the next of those calls. A stray print() goes to the worker's log, never into the protocol.
An uncaught exception fails the call with its type as origin and the Python traceback.
"""

import json
import os
import select
import struct
import sys
import time
import traceback

PROTOCOL_VERSION = 1
MAX_HEADER = 1 << 20
MAX_PAYLOAD = 1 << 30

__all__ = ["Worker", "Call", "Result", "Cancelled", "ProtocolError", "PROTOCOL_VERSION"]


def _exact_int(value):
    """The integer a JSON number denotes (3 and 3.0 alike), or None (bool, fraction, other)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():  # False for inf and nan
        return int(value)
    return None


class Cancelled(Exception):
    """Raised by Call.raise_if_cancelled(); the call is then answered as cancelled."""


class ProtocolError(Exception):
    """The pool sent bytes that break the protocol."""


class Result:
    """A method's answer with a binary payload: return Result(value, payload=b"...")."""

    __slots__ = ("value", "payload")

    def __init__(self, value=None, payload=b""):
        self.value = value
        self.payload = bytes(payload)


def encode_frame(header, payload=b""):
    if payload:
        header["size"] = len(payload)
    data = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return struct.pack(">I", len(data)) + data + payload


class FrameDecoder:
    """Incremental, bounded decoder: feed() bytes, then take frames from frames(). A header
    "size" must be absent, null or an integer in 0..max_payload (3.0 counts as 3, as in the C++
    SDK and the pool); anything else raises ProtocolError, which is final."""

    def __init__(self, max_header=MAX_HEADER, max_payload=MAX_PAYLOAD):
        self._buf = bytearray()
        self._max_header = max_header
        self._max_payload = max_payload
        self._header = None  # (header, size) of a frame whose payload is still arriving

    def feed(self, data):
        self._buf += data

    def frames(self):
        buf = self._buf
        pos = 0
        out = []
        while True:
            if self._header is None:
                if len(buf) - pos < 4:
                    break
                (hlen,) = struct.unpack_from(">I", buf, pos)
                if hlen < 2 or hlen > self._max_header:
                    raise ProtocolError("frame header length %d outside 2..%d" % (hlen, self._max_header))
                if len(buf) - pos < 4 + hlen:
                    break
                try:
                    header = json.loads(bytes(buf[pos + 4:pos + 4 + hlen]).decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as e:
                    raise ProtocolError("frame header is not valid JSON: %s" % e)
                if not isinstance(header, dict) or not isinstance(header.get("type"), str):
                    raise ProtocolError('frame header is not a JSON object with a string "type"')
                raw = header.get("size")
                size = 0 if raw is None else _exact_int(raw)
                if size is None or size < 0 or size > self._max_payload:
                    raise ProtocolError("frame payload size %r is not an integer in 0..%d" % (raw, self._max_payload))
                self._header = (header, size)
                pos += 4 + hlen
            header, size = self._header
            if len(buf) - pos < size:
                break
            out.append((header, bytes(buf[pos:pos + size])))
            pos += size
            self._header = None
        if pos:
            del buf[:pos]
        return out


class Call:
    """One call of a method; valid while the method runs."""

    def __init__(self, worker, call_id, method, args, payload):
        self._worker = worker
        self.id = call_id
        self.method = method
        self.args = args
        self.payload = payload
        self._last_progress = 0.0
        self._pending = {}

    def progress(self, fraction=None, text=None, value=None, maximum=None):
        """Reports progress as a fraction in [0, 1], or as value of maximum. Reports closer
        together than the worker's progress_interval (default 5 ms) are merged; the latest is
        always sent before the answer."""
        if fraction is not None:
            self._pending["fraction"] = float(fraction)
        if value is not None:
            self._pending["value"] = int(value)
            if maximum is not None:
                self._pending["min"] = 0
                self._pending["max"] = int(maximum)
        if text is not None:
            self._pending["text"] = str(text)
        now = time.monotonic()
        if now - self._last_progress >= self._worker.progress_interval:
            self._flush_progress()
            self._last_progress = now
        self._worker._poll()

    def stage(self, name, index, count):
        self._pending["stage"] = {"name": str(name), "index": int(index), "count": int(count)}
        self._flush_progress()

    def log(self, text, level="info"):
        self._worker._emit({"type": "log", "id": self.id, "level": level, "text": str(text)})

    def is_cancelled(self):
        self._worker._poll()
        return self.id in self._worker._cancelled

    def raise_if_cancelled(self):
        if self.is_cancelled():
            raise Cancelled()

    def _flush_progress(self):
        if self._pending:
            frame = dict(self._pending)
            self._pending.clear()
            frame["type"] = "progress"
            frame["id"] = self.id
            self._worker._emit(frame)


class Worker:
    def __init__(self, name=None, pipeline_depth=1, progress_interval=0.005):
        """pipeline_depth: how many calls the pool may send before earlier ones are answered
        (calls still run one at a time; more lets the pool pipeline small calls).
        progress_interval: minimum seconds between progress frames (200/s by default)."""
        self.name = name or os.path.basename(sys.argv[0])
        self.pipeline_depth = max(1, int(pipeline_depth))
        self.progress_interval = float(progress_interval)
        self._methods = {}
        self._queue = []
        self._cancelled = set()
        self._out = []
        self._decoder = FrameDecoder()
        self._in_fd = -1
        self._out_fd = -1
        self._by_hand = False
        self._bye = False

    def method(self, fn=None, name=None):
        """Registers fn(call) as a method; usable as @worker.method or @worker.method(name=...)."""
        def register(f):
            self._methods[name or f.__name__] = f
            return f
        return register(fn) if fn is not None else register

    # -- running -------------------------------------------------------------------------
    def run(self, argv=None):
        argv = sys.argv[1:] if argv is None else argv
        fd = os.environ.get("OFFLOAD_WORKER_FD")
        if fd is not None:
            self._in_fd = self._out_fd = int(fd)
            return self._serve()
        if os.environ.get("OFFLOAD_WORKER_STDIO") == "1":
            self._in_fd = 0
            self._out_fd = os.dup(1)  # frames to the real stdout...
            os.dup2(2, 1)             # ...and stray prints to stderr
            return self._serve()
        return self._run_by_hand(argv)

    def _serve(self):
        self._emit({"type": "hello", "protocol": PROTOCOL_VERSION, "pid": os.getpid(), "name": self.name,
                    "concurrency": self.pipeline_depth, "methods": sorted(self._methods)})
        self._flush()
        while True:
            while self._queue:
                self._run_call(*self._queue.pop(0))
            self._flush()
            if self._bye or not self._read(blocking=True):
                return 0

    def _read(self, blocking):
        try:
            data = os.read(self._in_fd, 1 << 16) if blocking or self._readable() else None
        except InterruptedError:
            return True
        if data is None:
            return True
        if not data:
            return False  # the pool closed the channel
        self._decoder.feed(data)
        try:
            frames = self._decoder.frames()
        except ProtocolError as e:
            sys.stderr.write("offload worker: protocol error: %s\n" % e)
            return False
        for header, payload in frames:
            self._handle(header, payload)
        return True

    def _readable(self):
        r, _, _ = select.select([self._in_fd], [], [], 0)
        return bool(r)

    def _poll(self):
        if self._in_fd >= 0:
            self._flush()
            while self._readable():
                if not self._read(blocking=False):
                    break

    def _handle(self, header, payload):
        kind = header["type"]
        if kind == "call":
            self._queue.append((header.get("id"), header.get("method"), header.get("args"), payload))
        elif kind == "cancel":
            self._cancelled.add(header.get("id"))
        elif kind == "ping":
            self._emit({"type": "pong", "seq": header.get("seq")})
        elif kind == "bye":
            self._bye = True
        elif kind == "hello" and header.get("protocol") != PROTOCOL_VERSION:
            sys.stderr.write("offload worker: pool speaks protocol %r, this worker %d\n"
                             % (header.get("protocol"), PROTOCOL_VERSION))
            raise SystemExit(2)

    def _run_call(self, call_id, method, args, payload):
        fn = self._methods.get(method)
        if fn is None:
            self._emit({"type": "error", "id": call_id, "message": "no method named %r" % method,
                        "origin": "LookupError"})
            return
        if call_id in self._cancelled:
            self._cancelled.discard(call_id)
            self._emit({"type": "error", "id": call_id, "cancelled": True, "message": "cancelled"})
            return
        call = Call(self, call_id, method, args, payload)
        try:
            value = fn(call)
            call._flush_progress()
            if call_id in self._cancelled:
                self._emit({"type": "error", "id": call_id, "cancelled": True, "message": "cancelled"})
            elif isinstance(value, Result):
                self._emit({"type": "result", "id": call_id, "value": value.value}, value.payload)
            elif isinstance(value, (bytes, bytearray)):
                self._emit({"type": "result", "id": call_id, "value": None}, bytes(value))
            else:
                self._emit({"type": "result", "id": call_id, "value": value})
        except Cancelled:
            self._emit({"type": "error", "id": call_id, "cancelled": True, "message": "cancelled"})
        except Exception as e:  # noqa: BLE001 - every failure is reported to the pool
            call._flush_progress()
            self._emit({"type": "error", "id": call_id, "message": str(e),
                        "origin": type(e).__module__ + "." + type(e).__qualname__
                        if type(e).__module__ != "builtins" else type(e).__qualname__,
                        "traceback": traceback.format_exc()})
        self._cancelled.discard(call_id)

    def _emit(self, header, payload=b""):
        if self._by_hand:
            self._print_by_hand(header, payload)
            return
        try:
            self._out.append(encode_frame(header, payload))
        except (TypeError, ValueError) as e:  # a result that is not JSON
            self._out.append(encode_frame({"type": "error", "id": header.get("id"),
                                           "message": "result is not JSON-serialisable: %s" % e,
                                           "origin": type(e).__qualname__}))
        if len(self._out) > 64:
            self._flush()

    def _flush(self):
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._out_fd, view)
            except InterruptedError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                os._exit(0)  # the pool is gone
            view = view[n:]

    # -- by hand -------------------------------------------------------------------------
    def _run_by_hand(self, argv):
        if argv[:1] == ["--list"]:
            for name in sorted(self._methods):
                print(name)
            return 0
        if len(argv) < 2 or argv[0] != "--call":
            sys.stderr.write("usage: %s --call METHOD [JSON_ARGS] [--payload-file FILE] | --list\n"
                             "(started by an Offload worker pool, it speaks the worker protocol)\n"
                             % os.path.basename(sys.argv[0]))
            return 2
        method, rest = argv[1], argv[2:]
        args = None
        if rest and not rest[0].startswith("--"):
            try:
                args = json.loads(rest.pop(0))
            except ValueError as e:
                sys.stderr.write("invalid JSON arguments: %s\n" % e)
                return 2
        payload = b""
        if rest[:1] == ["--payload-file"] and len(rest) > 1:
            with open(rest[1], "rb") as f:
                payload = f.read()
        self._by_hand = True
        self._status = 1
        self._run_call(1, method, args, payload)
        return self._status

    def _print_by_hand(self, header, payload):
        kind = header["type"]
        if kind == "progress":
            f = header.get("fraction")
            sys.stderr.write("progress %5.1f%% %s\n" % ((f or 0) * 100, header.get("text", "")))
        elif kind == "log":
            sys.stderr.write("[%s] %s\n" % (header.get("level"), header.get("text")))
        elif kind == "result":
            print(json.dumps(header.get("value")))
            if payload:
                sys.stderr.write("(result payload: %d bytes)\n" % len(payload))
            self._status = 0
        elif kind == "error":
            sys.stderr.write("error: %s (%s)\n" % (header.get("message"), header.get("origin", "cancelled")))
            if header.get("traceback"):
                sys.stderr.write(header["traceback"])
