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

Threading: methods run one at a time on the thread that called run(). Started by a pool, the
worker also runs a reader thread that takes the pool's frames as they arrive: it queues calls,
records cancel requests (is_cancelled() and wait_cancelled() read them) and answers the pool's
heartbeat pings at once, so a method that computes for long without calling progress() is not
mistaken for a wedged worker (as long as it lets other threads run: pure Python code does; a
C extension that holds the GIL for longer than the pool's heartbeat timeout does not). Frames
are written under a lock, so log() may be called from any thread.

Output: started by a pool, sys.stdout and sys.stderr are made line-buffered whatever the
environment (no PYTHONUNBUFFERED needed), so a stray print() reaches the pool's log when its
line ends, never the protocol: in stdio mode the SDK first moves the process's own stdout to
stderr and its stdin to /dev/null. Writes handle partial writes, EINTR and EAGAIN (a channel
inherited non-blocking).

An uncaught exception fails the call with its type as origin and the Python traceback.

Shared buffers: call.buffers are the offload.SharedBuffer objects the call came with, each a
Buffer whose .memory is a memoryview of the application's own memory for a local worker
(nothing copied; numpy.frombuffer(buf.memory, ...) reads it in place), read-only if it was
sealed. Return Result(value, buffers=[...]) to hand buffers back: ones received, or new ones
(Buffer.create(size)). Over stdin/stdout (ssh, Slurm) the bytes travel inline instead, and the
same code works. A buffer from the application's SharedBufferPool stays mapped here after the
call (at most 8 such): sent again, it is the same Buffer, with no new mapping or page faults.

Streams: call.publish(value, buffers=[...]) sends a frame (a preview, a video frame) while
the call runs; the application gets the latest when it falls behind. Published buffers are
lent until the application drops the frame; take them from a BufferPool and they come back to
it by themselves, so a stream faster than the application waits in pool.acquire().
"""

import array
import collections
import fcntl
import json
import mmap
import os
import select
import socket
import stat
import struct
import sys
import threading
import time
import traceback
import weakref

PROTOCOL_VERSION = 1
MAX_HEADER = 1 << 20  # the pool's default header limit
MAX_PAYLOAD = 1 << 30
# The largest header a worker accepts: the pool's header limit is its own setting (raised to
# send bigger JSON arguments), and the decoder buffers only bytes that arrive.
WORKER_MAX_HEADER = MAX_PAYLOAD
MAX_CALL_ID = 1 << 53

MAX_BUFFERS_PER_FRAME = 64  # as the pool: a peer cannot make the other hold unbounded files
MAX_PENDING_DESCRIPTORS = 256
MAX_BUFFER_SIZE = 1 << 48

__all__ = ["Worker", "Call", "Result", "Buffer", "BufferPool", "Cancelled", "ProtocolError",
           "PROTOCOL_VERSION"]


def _exact_int(value):
    """The integer a JSON number denotes (3 and 3.0 alike), or None (bool, fraction, other)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():  # False for inf and nan
        return int(value)
    return None


def call_id(value):
    """A call's "id" if it is a positive integer up to 2^53, else None: 1.5, -1, 0, "1", true
    and 1e300 are not ids, and the worker treats them as a protocol error."""
    n = _exact_int(value)
    return n if n is not None and 1 <= n <= MAX_CALL_ID else None


class Cancelled(Exception):
    """Raised by Call.raise_if_cancelled(); the call is then answered as cancelled."""


class ProtocolError(Exception):
    """The pool sent bytes that break the protocol."""


class Result:
    """A method's answer with a binary payload and shared buffers:
    return Result(value, payload=b"...", buffers=[...])."""

    __slots__ = ("value", "payload", "buffers")

    def __init__(self, value=None, payload=b"", buffers=()):
        self.value = value
        self.payload = bytes(payload)
        self.buffers = list(buffers)
        if not all(isinstance(b, Buffer) for b in self.buffers):
            raise TypeError("Result buffers are offload_worker.Buffer objects")


class Buffer:
    """A shared buffer: an anonymous memory file mapped here. .memory is a memoryview of it
    (read-only if sealed); .size, .sealed. Buffer.create(size) makes one to hand back; one a
    call came with is the application's memory itself (a local worker) or a copy of its bytes
    (inline, over stdin/stdout). close() unmaps it now; otherwise it goes with the object."""

    _pool = None  # the BufferPool it came from
    _lends = 0  # frames not yet released that carry it (under the worker's lock)

    def __init__(self, fd, size):
        """Takes over fd (closed on failure too): a memory file of at least size bytes whose
        size cannot change (sealed here if the sender did not). ValueError otherwise: a pipe, a
        socket or a file on disk is refused before anything maps it."""
        self._fd = fd
        self._map = None
        self.memory = None
        try:
            if not 1 <= size <= MAX_BUFFER_SIZE:
                raise ValueError("a buffer size from 1 byte to 2^48, not %r" % size)
            try:
                seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
            except OSError as e:
                raise ValueError("not a memory file (%s)" % e)
            size_seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW
            if seals & size_seals != size_seals:
                try:
                    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, size_seals)
                except OSError as e:
                    raise ValueError("its size can change under the mapping (%s)" % e)
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size < size:
                raise ValueError("the memory file holds %d bytes, not the %d announced"
                                 % (st.st_size, size))
            self.size = size
            self.sealed = bool(seals & (fcntl.F_SEAL_WRITE | getattr(fcntl, "F_SEAL_FUTURE_WRITE", 0)))
            self._map = self._mapped(self.sealed)
            self.memory = memoryview(self._map)
        except BaseException:
            self.close()
            raise

    @classmethod
    def create(cls, size):
        """A new zero-filled buffer of size bytes, to hand back in a Result."""
        fd = os.memfd_create("offload-buffer", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(fd, size)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, size)

    def seal(self):
        """Read-only for good, for everyone (before it is handed back; .memory is then
        read-only). Needs that no other view of .memory is alive."""
        if self.sealed:
            return
        # The kernel counts any shared mapping of a writable descriptor as writable: this
        # one goes first, and the read-only one is made after the seal.
        self.memory.release()
        try:
            self._map.close()
        except BufferError:
            self.memory = memoryview(self._map)
            raise BufferError("a view of the buffer is alive: seal it before making views")
        try:
            fcntl.fcntl(self._fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
            self.sealed = True
        finally:
            self._map = self._mapped(self.sealed)
            self.memory = memoryview(self._map)

    def _mapped(self, read_only):
        # A sealed file is mapped private and read-only: kernels before 6.7 refuse a shared
        # mapping of a write-sealed file opened read-write, even a read-only one; with
        # nothing able to write it, a private mapping never copies.
        if read_only:
            return mmap.mmap(self._fd, self.size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
        return mmap.mmap(self._fd, self.size, flags=mmap.MAP_SHARED,
                         prot=mmap.PROT_READ | mmap.PROT_WRITE)

    def fileno(self):
        return self._fd

    def close(self):
        if self.memory is not None:
            try:
                self.memory.release()
            except BufferError:
                pass  # a view of it is still alive: the mapping goes with the last one
            self.memory = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:
                pass
            self._map = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit
            pass


class BufferPool:
    """Buffers of one size for a stream of frames (call.publish): at most max_buffers exist at
    once. acquire() hands out a free one (or makes one), and waits when all are out. A buffer is
    out until the application releases every frame that carried it; one never published comes
    back with give_back(buffer), or when it is garbage. The application's thread holds the
    latest frame until it takes it: use at least 2. Not for results (the application keeps a
    result's buffers as long as it likes): a result carrying one is answered as an error.
    Any thread."""

    def __init__(self, size, max_buffers=4):
        if not 1 <= int(size) <= MAX_BUFFER_SIZE or int(max_buffers) < 1:
            raise ValueError("a buffer size from 1 byte to 2^48 and at least one buffer")
        self.size = int(size)
        self.max_buffers = int(max_buffers)
        self._cond = threading.Condition()
        self._free = []
        self._made = 0

    def acquire(self, timeout=None):
        """A free buffer; None if none came back within timeout seconds (None: no limit)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._free or self._made < self.max_buffers,
                                       timeout):
                return None
            if self._free:
                return self._free.pop()
            self._made += 1
        try:
            b = Buffer.create(self.size)
        except BaseException:
            self._forget()
            raise
        b._pool = self
        # Dropped without being given back (an exception, a cancel): one more may be made.
        weakref.finalize(b, self._forget)
        return b

    def _forget(self):
        with self._cond:
            self._made -= 1
            self._cond.notify()

    def give_back(self, buffer):
        """Returns a buffer that was acquired and is not lent in a frame."""
        if buffer._pool is not self:
            raise ValueError("not a buffer of this pool")
        with self._cond:
            if buffer._lends == 0 and buffer.memory is not None and not buffer.sealed \
                    and not any(b is buffer for b in self._free):
                self._free.append(buffer)  # a sealed or closed one goes with its finalizer
            self._cond.notify()


class _MappingCache:
    """The buffers the application said it will send again ("reuse": a SharedBufferPool's),
    kept mapped: the same memory file arriving again is the Buffer already here, its pages
    faulted in, and the new descriptor is closed. At most CAPACITY, most recent first. The
    reader thread's only."""

    CAPACITY = 8  # as the C++ SDK's MappingCache

    def __init__(self):
        self._kept = []  # (device, inode, Buffer)

    def adopt(self, fd, size, reuse):
        """The Buffer fd names: one kept here (fd closed) or a new one over fd (kept if reuse).
        ValueError/OSError as Buffer(fd, size), fd closed then too."""
        try:
            st = os.fstat(fd)
        except OSError:
            st = None
        if st is not None:
            for i, (dev, ino, b) in enumerate(self._kept):
                if b.memory is None:  # closed by a method since: nothing to reuse
                    continue
                if (dev, ino) == (st.st_dev, st.st_ino) and b.size == size:
                    del self._kept[i]
                    self._kept.insert(0, (dev, ino, b))
                    os.close(fd)
                    return b
        b = Buffer(fd, size)
        if reuse and st is not None:
            self._kept = [k for k in self._kept if k[2].memory is not None]
            self._kept.insert(0, (st.st_dev, st.st_ino, b))
            del self._kept[self.CAPACITY:]
        return b

    def holds(self, buffer):
        return any(k[2] is buffer for k in self._kept)


def _take_buffers(header, payload, fds, mappings=None):
    """The buffers a frame announces, and its own payload: descriptors from the front of fds,
    inline bytes after the frame's own payload. ProtocolError if they disagree. mappings: the
    connection's _MappingCache, for buffers marked "reuse"."""
    entries = header.get("buffers")
    if entries is None:
        return payload, []
    own = _exact_int(header.get("payload_size"))
    if not isinstance(entries, list) or len(entries) > MAX_BUFFERS_PER_FRAME:
        raise ProtocolError('"buffers" is not a list of at most %d' % MAX_BUFFERS_PER_FRAME)
    if own is None or not 0 <= own <= len(payload):
        raise ProtocolError('"payload_size" is not a size within the frame\'s payload')
    at = own
    out = []
    try:
        for e in entries:
            size = _exact_int(e.get("size")) if isinstance(e, dict) else None
            if size is None or not 1 <= size <= MAX_BUFFER_SIZE:
                raise ProtocolError("a buffer without a size from one byte to 2^48")
            if e.get("inline") is True:
                if size > len(payload) - at:
                    raise ProtocolError("an inline buffer of %d bytes past the frame's end" % size)
                b = Buffer.create(size)
                b.memory[:] = payload[at:at + size]
                at += size
                if e.get("sealed") is True:
                    b.seal()
            else:
                if not fds:
                    raise ProtocolError("a buffer announced without its file descriptor")
                fd = fds.pop(0)
                try:
                    if mappings is not None:
                        b = mappings.adopt(fd, size, e.get("reuse") is True)
                    else:
                        b = Buffer(fd, size)
                except (ValueError, OSError) as err:
                    raise ProtocolError("a buffer of %d bytes that cannot be used: %s" % (size, err))
            out.append(b)
        if at != len(payload):
            raise ProtocolError("%d bytes in the frame that no buffer accounts for" % (len(payload) - at))
    except BaseException:
        for b in out:
            if mappings is None or not mappings.holds(b):
                b.close()
        raise
    return payload[:own], out


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

    def __init__(self, worker, call_id, method, args, payload, buffers=()):
        self._worker = worker
        self.id = call_id
        self.method = method
        self.args = args
        self.payload = payload
        self.buffers = list(buffers)  # Buffer objects, in the order the call gave them
        self._last_progress = 0.0
        self._pending = {}
        self._frames = 0

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

    def stage(self, name, index, count):
        self._pending["stage"] = {"name": str(name), "index": int(index), "count": int(count)}
        self._flush_progress()

    def log(self, text, level="info"):
        self._worker._emit({"type": "log", "id": self.id, "level": level, "text": str(text)}, flush=True)

    def is_cancelled(self):
        """Whether the pool asked to cancel this call. Cheap (no I/O): the reader thread
        records cancel requests as they arrive."""
        with self._worker._cond:
            return self.id in self._worker._cancelled

    def wait_cancelled(self, timeout=None):
        """Waits up to timeout seconds (None: no limit) for a cancel request; True if the call
        is cancelled."""
        worker = self._worker
        if worker._by_hand and timeout is None:
            raise ValueError("run by hand, nothing can cancel the call: give a timeout")
        with worker._cond:
            return worker._cond.wait_for(lambda: self.id in worker._cancelled, timeout)

    def publish(self, value=None, buffers=(), payload=b""):
        """Sends the next frame of this call's stream: a JSON value, shared buffers and a
        payload, to the application's on_frame (or only a later frame, if it falls behind).
        The buffers are lent: the application maps the same memory, so do not write them until
        they come back (a BufferPool's come back to it by themselves). Returns the frame's
        number, from 1."""
        buffers = list(buffers)
        if not all(isinstance(b, Buffer) and b.fileno() >= 0 for b in buffers) \
                or len(buffers) > MAX_BUFFERS_PER_FRAME:
            raise ValueError("a frame's buffers are at most %d open offload_worker.Buffer objects"
                             % MAX_BUFFERS_PER_FRAME)
        try:
            json.dumps(value)
        except (TypeError, ValueError) as e:
            raise TypeError("a frame's value is not JSON-serialisable: %s" % e) from None
        self._frames += 1
        seq = self._frames
        worker = self._worker
        if worker._by_hand:
            sys.stderr.write("frame %d: %s\n" % (seq, json.dumps(value)))
            return seq
        self._flush_progress()  # progress reported before the frame arrives before it
        if buffers and worker._sock is not None:
            with worker._cond:  # lent before it is sent: the release can come back first
                worker._lent[(self.id, seq)] = buffers
                for b in buffers:
                    b._lends += 1
        worker._emit({"type": "frame", "id": self.id, "seq": seq, "value": value},
                     bytes(payload), flush=True, buffers=buffers)
        if worker._sock is None:
            worker._returned(buffers)  # inline: the application has its own copy
        return seq

    def raise_if_cancelled(self):
        if self.is_cancelled():
            raise Cancelled()

    def _flush_progress(self):
        if self._pending:
            frame = dict(self._pending)
            self._pending.clear()
            frame["type"] = "progress"
            frame["id"] = self.id
            self._worker._emit(frame, flush=True)


class Worker:
    def __init__(self, name=None, pipeline_depth=1, progress_interval=0.005):
        """pipeline_depth: how many calls the pool may send before earlier ones are answered
        (calls still run one at a time; more lets the pool pipeline small calls).
        progress_interval: minimum seconds between progress frames (200/s by default)."""
        self.name = name or os.path.basename(sys.argv[0])
        self.pipeline_depth = max(1, int(pipeline_depth))
        self.progress_interval = float(progress_interval)
        self._methods = {}
        self._decoder = FrameDecoder(max_header=WORKER_MAX_HEADER)  # the reader thread's
        self._in_fd = -1
        self._out_fd = -1
        self._sock = None  # the socket channel, which carries shared buffers' descriptors
        self._fds = []  # descriptors received, waiting for the frame that names them
        self._mappings = _MappingCache()  # the reader thread's
        self._by_hand = False
        self._out = []  # encoded frames not yet written, under _write_lock
        self._write_lock = threading.RLock()
        self._cond = threading.Condition()  # guards what follows
        self._queue = collections.deque()
        self._cancelled = set()
        self._lent = {}  # (call id, frame number): the buffers of a frame not yet released
        self._current = None
        self._bye = False
        self._closed = False
        self._exit_code = 0

    def method(self, fn=None, name=None):
        """Registers fn(call) as a method; usable as @worker.method or @worker.method(name=...)."""
        def register(f):
            self._methods[name or f.__name__] = f
            return f
        return register(fn) if fn is not None else register

    # -- running -------------------------------------------------------------------------
    def run(self, argv=None):
        """Serves the pool when started by one, else runs the command line by hand. Returns
        the exit status: 0 after "bye" or when the pool closes the channel, 2 if the pool
        speaks another protocol version, 3 after a protocol error."""
        argv = sys.argv[1:] if argv is None else argv
        fd = os.environ.get("OFFLOAD_WORKER_FD")
        if fd is not None:
            self._in_fd = self._out_fd = int(fd)
            os.set_inheritable(self._in_fd, False)  # programs a method starts do not get it
            if stat.S_ISSOCK(os.fstat(self._in_fd).st_mode):
                self._sock = socket.socket(fileno=os.dup(self._in_fd))
            return self._serve()
        if os.environ.get("OFFLOAD_WORKER_STDIO") == "1":
            _flush_std()
            self._in_fd = os.dup(0)   # frames from the real stdin (dup: not inheritable)...
            self._out_fd = os.dup(1)  # ...and to the real stdout,
            os.dup2(2, 1)             # stray prints to stderr,
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)          # and a stray read of stdin sees EOF
            os.close(null)
            return self._serve()
        return self._run_by_hand(argv)

    def _serve(self):
        _line_buffer_std()
        self._emit({"type": "hello", "protocol": PROTOCOL_VERSION, "pid": os.getpid(), "name": self.name,
                    "concurrency": self.pipeline_depth, "methods": sorted(self._methods),
                    "fd_passing": self._sock is not None}, flush=True)
        threading.Thread(target=self._read_loop, name="offload-reader", daemon=True).start()
        while True:
            with self._cond:
                idle = not self._queue
            if idle:
                self._flush()  # answers of pipelined calls go out together, before waiting
            with self._cond:
                while not (self._queue or self._bye or self._closed):
                    self._cond.wait()
                # Calls queued before "bye" or the end of the channel still run; after a
                # protocol error or a version mismatch the stream means nothing any more.
                if not self._queue or self._exit_code:
                    break
                item = self._queue.popleft()
                self._current = item[0]
            self._run_call(*item)
            del item  # the call's buffers are unmapped now, not when the next call comes
            with self._cond:
                self._current = None
        self._flush()
        return self._exit_code

    def _read_loop(self):
        """The reader thread: takes frames as they arrive until the channel ends or breaks."""
        try:
            self._read_frames()
        except BaseException as e:  # noqa: BLE001 - never leave the main thread waiting
            self._finish(3, "reader thread failed: %r" % e)

    def _read_frames(self):
        while True:
            try:
                data = self._receive() if self._sock is not None else os.read(self._in_fd, 1 << 18)
            except ProtocolError as e:
                return self._finish(3, "protocol error: %s" % e)
            except InterruptedError:
                continue
            except BlockingIOError:  # the channel was inherited non-blocking
                select.select([self._in_fd], [], [])
                continue
            except OSError as e:
                return self._finish(0, "read: %s" % e)
            if not data:
                return self._finish(0, None)  # the pool closed the channel
            self._decoder.feed(data)
            try:
                frames = self._decoder.frames()
            except ProtocolError as e:
                return self._finish(3, "protocol error: %s" % e)
            # The frames of one read are taken under one hold of the lock, so that a call and
            # its cancel read together are seen together: the call is answered as cancelled
            # without running. Pongs go out after, outside the lock.
            pings = []
            with self._cond:
                for header, payload in frames:
                    if header["type"] == "ping":
                        pings.append(header)
                    elif not self._handle(header, payload):
                        return None
            for header in pings:
                self._handle(header, b"")

    def _receive(self):
        """Reads the socket channel, keeping the descriptors that come with the bytes (shared
        buffers) for the frame that names them."""
        data, ancillary, flags, _ = self._sock.recvmsg(
            1 << 18, socket.CMSG_SPACE(MAX_BUFFERS_PER_FRAME * 4), socket.MSG_CMSG_CLOEXEC)
        refused = bool(flags & socket.MSG_CTRUNC)
        for level, kind, raw in ancillary:
            fds = array.array("i")
            fds.frombytes(raw[:len(raw) - len(raw) % fds.itemsize])
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS and not refused:
                self._fds.extend(fds)
            else:
                refused = True
                for fd in fds:
                    os.close(fd)
        if refused or len(self._fds) > MAX_PENDING_DESCRIPTORS:
            raise ProtocolError("the pool sent file descriptors no frame names")
        return data

    def _finish(self, status, message):
        if message:
            sys.stderr.write("offload worker: %s\n" % message)
            sys.stderr.flush()
        with self._cond:
            self._closed = True
            if status and not self._exit_code:
                self._exit_code = status
            self._cond.notify_all()

    def _handle(self, header, payload):
        """On the reader thread; False when it must stop."""
        kind = header["type"]
        if kind in ("call", "cancel"):
            cid = call_id(header.get("id"))
            if cid is None:
                self._finish(3, "protocol error: %s id %s is not a positive integer up to 2^53"
                             % (kind, json.dumps(header.get("id"))))
                return False
            buffers = []
            if kind == "call":
                try:
                    payload, buffers = _take_buffers(header, payload, self._fds,
                                                     self._mappings)
                except ProtocolError as e:
                    self._finish(3, "protocol error: %s" % e)
                    return False
            with self._cond:
                if kind == "call":
                    self._queue.append((cid, header.get("method"), header.get("args"), payload,
                                        buffers))
                elif cid == self._current or any(cid == q[0] for q in self._queue):
                    self._cancelled.add(cid)  # a cancel for a call already answered is moot
                self._cond.notify_all()
        elif kind == "release":
            # The application dropped a frame: the buffers it lent are free again, once no
            # other frame still carries them.
            with self._cond:
                lent = self._lent.pop((header.get("id"), header.get("seq")), ())
                for b in lent:
                    b._lends -= 1
            self._returned(lent)
        elif kind == "ping":
            self._emit({"type": "pong", "seq": header.get("seq")}, flush=True)
        elif kind == "bye":
            with self._cond:
                self._bye = True
                self._cond.notify_all()
        elif kind == "hello" and _exact_int(header.get("protocol")) != PROTOCOL_VERSION:
            self._finish(2, "pool speaks protocol %s, this worker %d"
                         % (json.dumps(header.get("protocol")), PROTOCOL_VERSION))
            return False
        return True

    @staticmethod
    def _returned(buffers):
        for b in buffers:
            if b._pool is not None:
                b._pool.give_back(b)

    def _take_cancelled(self, call_id):
        with self._cond:
            if call_id in self._cancelled:
                self._cancelled.discard(call_id)
                return True
            return False

    def _run_call(self, call_id, method, args, payload, buffers):
        fn = self._methods.get(method) if isinstance(method, str) else None
        if fn is None:
            self._take_cancelled(call_id)
            self._emit({"type": "error", "id": call_id, "message": "no method named %r" % method,
                        "origin": "LookupError"})
            return
        if self._take_cancelled(call_id):
            self._emit({"type": "error", "id": call_id, "cancelled": True, "message": "cancelled"})
            return
        call = Call(self, call_id, method, args, payload, buffers)
        try:
            value = fn(call)
            call._flush_progress()
            if self._take_cancelled(call_id):
                self._emit({"type": "error", "id": call_id, "cancelled": True, "message": "cancelled"})
            elif isinstance(value, Result) and any(b._pool is not None for b in value.buffers):
                # The pool would hand it out again while the application still reads it.
                self._emit({"type": "error", "id": call_id, "origin": "ValueError",
                            "message": "a BufferPool's buffer in a result (it would be reused "
                            "while the application holds it): publish it in a frame, or use "
                            "Buffer.create"})
            elif isinstance(value, Result):
                self._emit({"type": "result", "id": call_id, "value": value.value}, value.payload,
                           buffers=value.buffers)
            elif isinstance(value, (bytes, bytearray)):
                self._emit({"type": "result", "id": call_id, "value": None}, bytes(value))
            else:
                self._emit({"type": "result", "id": call_id, "value": value})
        except Cancelled:
            self._take_cancelled(call_id)
            self._emit({"type": "error", "id": call_id, "cancelled": True, "message": "cancelled"})
        except Exception as e:  # noqa: BLE001 - every failure is reported to the pool
            self._take_cancelled(call_id)
            call._flush_progress()
            self._emit({"type": "error", "id": call_id, "message": str(e),
                        "origin": type(e).__module__ + "." + type(e).__qualname__
                        if type(e).__module__ != "builtins" else type(e).__qualname__,
                        "traceback": traceback.format_exc()})

    def _emit(self, header, payload=b"", flush=False, buffers=()):
        if self._by_hand:
            self._print_by_hand(header, payload)
            return
        fds = []
        if buffers:
            if len(buffers) > MAX_BUFFERS_PER_FRAME or any(b.fileno() < 0 for b in buffers):
                header = {"type": "error", "id": header.get("id"), "origin": "ValueError",
                          "message": "a closed buffer, or more than %d buffers, in a result"
                          % MAX_BUFFERS_PER_FRAME}
                payload, buffers = b"", ()
            entries = []
            inline = [payload]
            for b in buffers:
                entry = {"size": b.size}
                if b.sealed:
                    entry["sealed"] = True
                if self._sock is not None:
                    fds.append(b.fileno())
                    if b._pool is not None:
                        entry["reuse"] = True  # sent again: the application may keep it mapped
                else:
                    entry["inline"] = True
                    inline.append(b.memory)
                entries.append(entry)
            if entries:
                header["buffers"] = entries
                header["payload_size"] = len(payload)
                payload = b"".join(inline)
        try:
            frame = encode_frame(header, payload)
        except (TypeError, ValueError) as e:  # a result that is not JSON
            frame = encode_frame({"type": "error", "id": header.get("id"),
                                  "message": "result is not JSON-serialisable: %s" % e,
                                  "origin": type(e).__qualname__})
        if fds:
            self._send_with_descriptors(frame, fds)
            return
        with self._write_lock:
            self._out.append(frame)
            if flush or len(self._out) > 64:
                self._flush()

    def _send_with_descriptors(self, frame, fds):
        """A frame whose first byte carries descriptors, after the frames waiting before it."""
        with self._write_lock:
            self._flush()
            view = memoryview(frame)
            try:
                while True:
                    try:
                        n = self._sock.sendmsg(
                            [view], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
                        break
                    except InterruptedError:
                        continue
                    except BlockingIOError:
                        select.select([], [self._out_fd], [])
                _write_all(self._out_fd, view[n:])
            except OSError:
                os._exit(0)  # the pool is gone: nobody wants the answers

    def _flush(self):
        with self._write_lock:
            if not self._out:
                return
            data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
            self._out.clear()
            try:
                _write_all(self._out_fd, data)
            except OSError:
                os._exit(0)  # the pool is gone (EPIPE, ECONNRESET): nobody wants the answers

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
        self._run_call(1, method, args, payload, [])
        return self._status

    def _print_by_hand(self, header, payload):
        # Printed as it is made, so an answer of any size prints.
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


def _write_all(fd, data):
    """Writes all of data: a partial write continues, EINTR retries (PEP 475), EAGAIN (a
    descriptor inherited non-blocking) waits until fd is writable. OSError if the peer is gone."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]


def _flush_std():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass


def _line_buffer_std():
    """Stray prints reach the pool's log line by line, whatever the environment: Python
    block-buffers a stdout that is a pipe unless PYTHONUNBUFFERED is set."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError, OSError):
            pass  # None, closed, or replaced by an object without reconfigure()
