"""Tests of the worker SDKs (run by CTest: python3 -m unittest).

FrameDecoderTest: the Python SDK's framing. The process tests start a real worker with a clean
environment and speak the protocol to it over a socketpair (OFFLOAD_WORKER_FD) or stdio
(OFFLOAD_WORKER_STDIO=1), or run it by hand (--call): PythonWorkerProcessTest runs
sdk_testworker.py; CppWorkerProcessTest runs the C++ twin named by OFFLOAD_CPP_TEST_WORKER
(CTest's cpp_sdk_processes sets it) and is skipped without it. Every wait is bounded.
"""
import gc
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

import offload_worker as ow


def frame(header_bytes, payload=b""):
    return struct.pack(">I", len(header_bytes)) + header_bytes + payload


class FrameDecoderTest(unittest.TestCase):
    def test_round_trip_with_payload_in_pieces(self):
        data = ow.encode_frame({"type": "result", "id": 1, "value": [1, "é"]}, b"\x00\x01")
        decoder = ow.FrameDecoder()
        got = []
        for i in range(len(data)):  # one byte at a time
            decoder.feed(data[i:i + 1])
            got += decoder.frames()
        self.assertEqual(len(got), 1)
        header, payload = got[0]
        self.assertEqual(header["value"], [1, "é"])
        self.assertEqual(payload, b"\x00\x01")

    def test_rejects_oversized_header_before_buffering_it(self):
        decoder = ow.FrameDecoder(max_header=100)
        decoder.feed(struct.pack(">I", 4_000_000_000))
        with self.assertRaisesRegex(ow.ProtocolError, "outside"):
            decoder.frames()

    def test_rejects_invalid_json_non_utf8_and_non_objects(self):
        for bad in (b'{"type":', b'{"type":"x","v":"\xff"}', b"[1,2]", b'{"no":"type"}'):
            decoder = ow.FrameDecoder()
            decoder.feed(frame(bad))
            with self.assertRaises(ow.ProtocolError, msg=bad):
                decoder.frames()

    def test_rejects_negative_or_huge_payload_size(self):
        for size in (-1, 2**40, "12", True):
            decoder = ow.FrameDecoder(max_payload=1 << 20)
            decoder.feed(frame(json.dumps({"type": "call", "size": size}).encode()))
            with self.assertRaises(ow.ProtocolError, msg=size):
                decoder.frames()

    def test_size_must_be_a_non_negative_integer_within_the_limit(self):
        for text in (b"1e300", b"-1e300", b"-1", b"1.5", b"-0.5", b'"12"', b"true", b"false",
                     b'""', b"[]", b"{}", b"0.0001", b"1048577", b"9223372036854775808"):
            decoder = ow.FrameDecoder(max_payload=1 << 20)
            decoder.feed(frame(b'{"type":"call","size":' + text + b"}", b"x" * 8))
            with self.assertRaises(ow.ProtocolError, msg=text):
                decoder.frames()
        # What the C++ SDK and the pool accept too: JSON does not tell 3 from 3.0.
        for text, n in ((b"null", 0), (b"0", 0), (b"3", 3), (b"3.0", 3), (b"1048576", 1 << 20)):
            decoder = ow.FrameDecoder(max_payload=1 << 20)
            decoder.feed(frame(b'{"type":"call","size":' + text + b"}", b"p" * n))
            got = decoder.frames()
            self.assertEqual(len(got), 1, text)
            self.assertEqual(got[0][1], b"p" * n)

    def test_call_ids_are_positive_integers_up_to_2_53(self):
        for good, want in ((1, 1), (7.0, 7), (2**53, 2**53)):
            self.assertEqual(ow.call_id(good), want)
        for bad in (1.5, -1, 0, "1", 1e300, True, None, 2**53 + 2, [1]):
            self.assertIsNone(ow.call_id(bad), bad)

    def test_headers_larger_than_a_mebibyte_are_accepted(self):
        # The pool's header limit is its own setting; the worker takes what it is sent.
        data = ow.encode_frame({"type": "call", "id": 1, "args": "a" * (3 << 20)})
        decoder = ow.FrameDecoder(max_header=ow.WORKER_MAX_HEADER)
        decoder.feed(data)
        self.assertEqual(decoder.frames()[0][0]["args"], "a" * (3 << 20))


HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 60  # seconds: the bound of every wait, far above what a pass takes
MIB = 1 << 20
# The largest argument and payload sent, 64 MiB; the sanitizer builds' ctest sets 8 (a C++
# worker built with ThreadSanitizer takes a minute per 64 MiB of JSON; 8 MiB is still far over
# the 1 MiB header limit and the pipe's buffer, which are what the size tests).
BIG = int(os.environ.get("OFFLOAD_SDK_TEST_BIG_MIB", "64")) * MIB


def clean_env(**extra):
    """No PYTHONUNBUFFERED, nothing of the caller's environment but a PATH."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    env.update(extra)
    return env


class BufferTest(unittest.TestCase):
    """The Python SDK's shared buffers on their own: memory files, seals, what it refuses."""

    def test_a_buffer_pool_bounds_its_buffers_and_takes_them_back(self):
        pool = ow.BufferPool(8192, 2)
        a, b = pool.acquire(), pool.acquire()
        self.assertIsNot(a, b)
        self.assertIsNone(pool.acquire(timeout=0.01))  # both out: waits, then gives up
        a.memory[:1] = b"x"
        pool.give_back(a)
        again = pool.acquire(timeout=0)
        self.assertIs(again, a)  # the same memory, its pages already faulted in
        self.assertEqual(bytes(again.memory[:1]), b"x")
        with self.assertRaises(ValueError):
            ow.BufferPool(8192, 2).give_back(b)  # not of that pool
        with self.assertRaises(ValueError):
            ow.BufferPool(0)

    def test_a_pool_buffer_dropped_or_still_lent_is_accounted_for(self):
        pool = ow.BufferPool(4096, 1)
        b = pool.acquire()
        del b  # dropped without being given back (an exception, a cancel)
        gc.collect()
        b = pool.acquire(timeout=1)
        self.assertIsNotNone(b)  # its slot came back
        b._lends = 1  # still carried by a frame the application holds
        pool.give_back(b)
        self.assertIsNone(pool.acquire(timeout=0.01))
        b._lends = 0
        pool.give_back(b)
        self.assertIs(pool.acquire(timeout=0), b)

    def test_a_frame_that_is_not_json_is_refused_where_it_is_published(self):
        call = ow.Call(None, 1, "m", None, b"")
        with self.assertRaises(TypeError):
            call.publish({"t": object()})

    def test_a_new_buffer_is_zeroed_writable_and_its_size_sealed(self):
        b = ow.Buffer.create(3 * 4096 + 5)
        self.assertEqual(b.size, 3 * 4096 + 5)
        self.assertFalse(b.sealed)
        self.assertFalse(b.memory.readonly)
        self.assertEqual(bytes(b.memory), bytes(b.size))
        b.memory[:3] = b"abc"
        with self.assertRaises(OSError):
            os.ftruncate(b.fileno(), 0)  # a receiver cannot shrink it under this mapping
        b.close()

    def test_a_sealed_buffer_is_read_only_everywhere(self):
        b = ow.Buffer.create(8192)
        b.memory[:] = b"\x05" * 8192
        b.seal()
        self.assertTrue(b.sealed)
        self.assertTrue(b.memory.readonly)
        with self.assertRaises(TypeError):
            b.memory[0] = 1
        with self.assertRaises(OSError):
            os.pwrite(b.fileno(), b"x", 0)
        received = ow.Buffer(os.dup(b.fileno()), 8192)
        self.assertTrue(received.sealed)
        self.assertEqual(bytes(received.memory[:3]), b"\x05\x05\x05")
        received.close()
        b.close()

    def test_what_is_not_a_memory_file_of_the_announced_size_is_refused(self):
        r, w = os.pipe()
        with self.assertRaises(ValueError):
            ow.Buffer(r, 10)
        os.close(w)
        small = ow.Buffer.create(100)
        with self.assertRaises(ValueError):
            ow.Buffer(os.dup(small.fileno()), 4096)
        with self.assertRaises(ValueError):
            ow.Buffer(os.dup(small.fileno()), 0)
        small.close()

    def test_a_buffer_sent_again_with_reuse_is_the_mapping_already_here(self):
        pooled, once = ow.Buffer.create(8192), ow.Buffer.create(4096)
        cache = ow._MappingCache()
        header = {"buffers": [{"size": 8192, "reuse": True}, {"size": 4096}], "payload_size": 0}
        _, first = ow._take_buffers(header, b"", [os.dup(pooled.fileno()), os.dup(once.fileno())],
                                    cache)
        _, again = ow._take_buffers(header, b"", [os.dup(pooled.fileno()), os.dup(once.fileno())],
                                    cache)
        self.assertIs(again[0], first[0])  # kept mapped: no new mapping, no page faults
        self.assertIsNot(again[1], first[1])  # not marked reuse: mapped per call
        alone = {"buffers": [{"size": 8192, "reuse": True}], "payload_size": 0}
        open_fds = len(os.listdir("/proc/self/fd"))
        for _ in range(20):  # the descriptor that comes with it each time is closed
            self.assertIs(ow._take_buffers(alone, b"", [os.dup(pooled.fileno())], cache)[1][0],
                          first[0])
        self.assertEqual(len(os.listdir("/proc/self/fd")), open_fds)
        again[0].close()  # a method closed it: the next one is mapped afresh
        _, third = ow._take_buffers(header, b"", [os.dup(pooled.fileno()), os.dup(once.fileno())],
                                    cache)
        self.assertIsNot(third[0], first[0])
        self.assertEqual(bytes(third[0].memory[:1]), b"\0")
        many = [ow.Buffer.create(4096) for _ in range(ow._MappingCache.CAPACITY)]
        kept = [cache.adopt(os.dup(b.fileno()), 4096, True) for b in many]
        self.assertFalse(cache.holds(third[0]))  # the oldest went when the cache filled up
        self.assertTrue(all(cache.holds(b) for b in kept))
        for b in [pooled, once] + many + kept + first + again + third:
            b.close()

    def test_inline_buffers_are_taken_from_after_the_payload(self):
        header = {"buffers": [{"size": 3, "inline": True}, {"size": 2, "inline": True, "sealed": True}],
                  "payload_size": 4}
        payload, buffers = ow._take_buffers(header, b"ownsabcde", [])
        self.assertEqual(payload, b"owns")
        self.assertEqual([bytes(b.memory) for b in buffers], [b"abc", b"de"])
        self.assertEqual([b.sealed for b in buffers], [False, True])
        for bad in ({"buffers": [{"size": 30, "inline": True}], "payload_size": 4},
                    {"buffers": [{"size": 3, "inline": True}], "payload_size": 2},
                    {"buffers": [{"size": 3}], "payload_size": 4},
                    {"buffers": "no", "payload_size": 4}):
            with self.assertRaises(ow.ProtocolError):
                ow._take_buffers(bad, b"ownsabcde", [])


class Worker:
    """A worker process and the pool's side of its channel: socketpair ("fd") or pipes
    ("stdio"). Frames are sent from a thread, so a big call cannot deadlock against a big
    answer; frames are read with a bounded wait."""

    def __init__(self, argv, channel, nonblocking=False):
        self.channel = channel
        self._decoder = ow.FrameDecoder(max_header=ow.WORKER_MAX_HEADER)  # a pool with its limit raised
        self._frames = []
        self._writers = []
        if channel == "fd":
            ours, theirs = socket.socketpair()
            if nonblocking:  # the worker's end: the SDK must cope with EAGAIN
                theirs.setblocking(False)
            self._sock = ours
            self.proc = subprocess.Popen(
                argv, env=clean_env(OFFLOAD_WORKER_FD=str(theirs.fileno())), pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            theirs.close()
            self.rfd = self.wfd = ours.fileno()
            self.log = self.proc.stdout  # where a stray print goes
            self._other = self.proc.stderr
        else:
            in_r, in_w = os.pipe()
            out_r, out_w = os.pipe()
            if nonblocking:
                os.set_blocking(in_r, False)
                os.set_blocking(out_w, False)
            self.proc = subprocess.Popen(argv, env=clean_env(OFFLOAD_WORKER_STDIO="1"), stdin=in_r,
                                         stdout=out_w, stderr=subprocess.PIPE)
            os.close(in_r)
            os.close(out_w)
            self.rfd, self.wfd = out_r, in_w
            self.log = self.proc.stderr  # the SDK moves stdout to stderr
            self._other = None
        self._stderr_tail = b""

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        for t in self._writers:
            t.join(TIMEOUT)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        if self.channel == "fd":
            self._sock.close()
        else:
            os.close(self.rfd)
            os.close(self.wfd)

    def send(self, header, payload=b""):
        data = ow.encode_frame(dict(header), payload)

        def write():
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self.wfd, view):]
            except OSError:
                pass  # the worker has gone; the reading side reports it

        t = threading.Thread(target=write, daemon=True)
        t.start()
        self._writers.append(t)
        return t

    def send_frames(self, frames):
        """Sends (header, payload) frames back to back, in order, in one write."""
        data = b"".join(ow.encode_frame(dict(h), p) for h, p in frames)
        t = threading.Thread(target=lambda: os.write(self.wfd, data) and None, daemon=True)
        t.start()
        self._writers.append(t)

    def read(self, timeout=TIMEOUT):
        """The next frame (header, payload), or None at EOF; fails the test on timeout."""
        deadline = time.monotonic() + timeout
        while not self._frames:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no frame from the worker within %s s" % timeout)
            r, _, _ = select.select([self.rfd], [], [], left)
            if not r:
                continue
            data = os.read(self.rfd, 1 << 20)
            if not data:
                return None
            self._decoder.feed(data)
            self._frames += self._decoder.frames()
        return self._frames.pop(0)

    def read_answer(self, timeout=TIMEOUT):
        """Skips progress and log frames up to the next frame of another type; fails at EOF."""
        while True:
            f = self.read(timeout)
            if f is None:
                raise AssertionError("the worker closed the channel; stderr: %r" % self.stderr())
            if f[0]["type"] not in ("progress", "log"):
                return f

    def stderr(self):
        """What the worker wrote to stderr so far (after it exited: all of it)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait_exit()
        return self._stderr_tail[-4000:]

    def start(self):
        self.send({"type": "hello", "protocol": 1})
        hello = self.read()
        assert hello is not None and hello[0]["type"] == "hello", hello
        return hello[0]

    def read_log_until(self, marker, timeout=TIMEOUT):
        """Reads the worker's log pipe until marker appears; fails on timeout."""
        deadline = time.monotonic() + timeout
        got = b""
        fd = self.log.fileno()
        while marker not in got:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%r not on the worker's log within %s s (got %r)" % (marker, timeout, got))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                data = os.read(fd, 65536)
                if not data:
                    raise AssertionError("log closed without %r (got %r)" % (marker, got))
                got += data
        return got

    def wait_exit(self, timeout=TIMEOUT):
        """Exit status; drains stderr so the worker cannot block on it."""
        _, err = self.proc.communicate(timeout=timeout)
        self._stderr_tail = err or b""
        return self.proc.returncode


class ProcessTests:
    """Mixed into one TestCase per SDK; argv() names the worker command."""

    def spawn(self, channel, nonblocking=False):
        w = Worker(self.argv(), channel, nonblocking)
        self.addCleanup(w.close)
        return w

    def test_stray_print_reaches_the_log_while_the_call_runs(self):
        for channel in ("fd", "stdio"):
            with self.subTest(channel=channel):
                w = self.spawn(channel)
                w.start()
                w.send({"type": "call", "id": 1, "method": "print_wait", "args": None})
                w.read_log_until(b"stray-print-marker")
                w.send({"type": "cancel", "id": 1})
                answer = w.read_answer()
                self.assertEqual((answer[0]["type"], answer[0]["id"], answer[0].get("cancelled")),
                                 ("error", 1, True))

    def test_ping_is_answered_while_a_method_computes(self):
        for channel in ("fd", "stdio"):
            with self.subTest(channel=channel):
                w = self.spawn(channel)
                w.start()
                w.send({"type": "call", "id": 1, "method": "spin", "args": {"seconds": 3 * TIMEOUT}})
                # Once the method has printed its marker it never touches the SDK again: only
                # a reader thread can answer.
                w.read_log_until(b"spin-marker")
                w.send({"type": "ping", "seq": 41})
                pong = w.read_answer()
                self.assertEqual(pong[0], {"type": "pong", "seq": 41})

    def test_cancel_wakes_a_method_blocked_in_wait_cancelled(self):
        w = self.spawn("fd")
        w.start()
        w.send({"type": "call", "id": 5, "method": "wait_cancel", "args": {"seconds": 3 * TIMEOUT}})
        w.read_log_until(b"wait-marker")  # the method is in wait_cancelled() or about to be
        w.send({"type": "cancel", "id": 5})
        answer = w.read_answer()
        self.assertEqual((answer[0]["type"], answer[0]["id"], answer[0].get("cancelled")), ("error", 5, True))

    def test_calls_sent_while_another_runs_all_run_in_order(self):
        # The C++ SDK reads on the method's thread between calls and hands reading to its
        # reader thread once a call has run for 2 ms: calls shorter and longer than that, back
        # to back, take every path between the two; the later calls, a cancel for one of them
        # and a ping arrive while the first call runs.
        durations = [0, 0.0015, 0.002, 0.0025, 0.004, 0] * 20
        for channel in ("fd", "stdio"):
            with self.subTest(channel=channel):
                w = self.spawn(channel)
                w.start()
                w.send({"type": "call", "id": 1, "method": "spin", "args": {"seconds": 0.3}})
                w.read_log_until(b"spin-marker")
                frames = [({"type": "call", "id": i, "method": "spin", "args": {"seconds": d}}, b"")
                          for i, d in enumerate(durations, 2)]
                frames += [({"type": "cancel", "id": 4}, b""), ({"type": "ping", "seq": 9}, b"")]
                w.send_frames(frames)
                answers = [w.read_answer() for _ in range(len(durations) + 2)]
                self.assertIn({"type": "pong", "seq": 9}, [a[0] for a in answers])
                calls = [a[0] for a in answers if a[0]["type"] != "pong"]
                self.assertEqual([c["id"] for c in calls], list(range(1, len(durations) + 2)))
                for c in calls:
                    if c["id"] == 4:
                        self.assertEqual((c["type"], c.get("cancelled")), ("error", True))
                    else:
                        self.assertEqual(c["type"], "result", c)

    def test_a_cancel_read_together_with_its_call_answers_it_without_running_it(self):
        # Both frames arrive in one read, before the method could start: the call is answered
        # as cancelled at once. Had the method run, it would compute for 3 TIMEOUTs, deaf to
        # the cancel, and the answer would come too late.
        for channel in ("fd", "stdio"):
            with self.subTest(channel=channel):
                w = self.spawn(channel)
                w.start()
                w.send_frames([({"type": "call", "id": 1, "method": "spin", "args": {"seconds": 3 * TIMEOUT}}, b""),
                               ({"type": "cancel", "id": 1}, b"")])
                answer = w.read_answer()
                self.assertEqual((answer[0]["type"], answer[0]["id"], answer[0].get("cancelled")),
                                 ("error", 1, True))
                w.send({"type": "call", "id": 2, "method": "echo", "args": 7})
                self.assertEqual(w.read_answer()[0]["value"], 7)  # and the worker goes on

    def test_ping_during_a_long_call_after_short_ones_is_answered_before_it_ends(self):
        # The C++ SDK's takeover timer is armed by the first of a stream of short calls and,
        # when it fires during a later one, re-armed for that call's remaining time: a long
        # call at the end must still hand reading to the reader, which answers the ping.
        for channel in ("fd", "stdio"):
            with self.subTest(channel=channel):
                w = self.spawn(channel)
                w.start()
                frames = [({"type": "call", "id": i, "method": "spin", "args": {"seconds": 0}}, b"")
                          for i in range(1, 201)]
                frames.append(({"type": "call", "id": 201, "method": "wait_cancel", "args": {"seconds": 3}}, b""))
                w.send_frames(frames)
                w.read_log_until(b"wait-marker")  # only the long call prints it
                w.send({"type": "ping", "seq": 5})
                answers = []
                while not answers or answers[-1].get("id") != 201:
                    answers.append(w.read_answer()[0])
                self.assertEqual([a["id"] for a in answers if a["type"] == "result"], list(range(1, 202)))
                self.assertIn({"type": "pong", "seq": 5}, answers[:-1])  # before the call ended

    def round_trip(self, w, sizes):
        w.start()
        for i, n in enumerate(sizes, 1):
            args = {"s": "\u00e9" * (n // 2), "n": n}  # 2 bytes of UTF-8 each
            payload = bytes(range(256)) * (n // 256) + b"\x07" * (n % 256)
            w.send({"type": "call", "id": i, "method": "echo", "args": args}, payload)
            # A sanitizer build of the C++ worker takes over a minute for 64 MiB of JSON: the
            # wait is longer, still bounded (a hang fails the test).
            header, got = w.read_answer(timeout=5 * TIMEOUT)
            self.assertEqual((header["type"], header["id"]), ("result", i), n)
            self.assertTrue(header["value"] == args, "value of %d bytes differs" % n)
            self.assertTrue(got == payload, "payload of %d bytes differs" % n)

    def test_big_arguments_and_payloads_both_ways(self):
        for channel in ("fd", "stdio"):
            with self.subTest(channel=channel):
                self.round_trip(self.spawn(channel), [0, 1, 65535, 65536, 65537, 3 * MIB + 1, BIG])

    def test_non_blocking_channel(self):
        # A channel inherited with O_NONBLOCK: reads and writes see EAGAIN and must wait.
        for channel in ("fd", "stdio"):
            with self.subTest(channel=channel):
                self.round_trip(self.spawn(channel, nonblocking=True), [1, 8 * MIB + 3])

    def test_bad_call_ids_are_protocol_errors(self):
        for bad in (1.5, -1, 0, "1", 1e300, True, None):
            with self.subTest(id=bad):
                w = self.spawn("fd")
                w.start()
                header = {"type": "call", "method": "echo", "args": 1}
                if bad is not None:
                    header["id"] = bad
                w.send(header)
                self.assertIsNone(w.read(), "answered a call with id %r" % (bad,))
                self.assertEqual(w.wait_exit(), 3)
                self.assertIn(b"protocol error", w._stderr_tail)

    def test_by_hand_prints_answers_of_any_size(self):
        for n in (0, 65535, 65537, BIG):
            with self.subTest(n=n):
                out = subprocess.run(self.argv() + ["--call", "big", '{"n":%d}' % n], env=clean_env(),
                                     stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
                self.assertEqual(out.returncode, 0, out.stderr[-2000:])
                self.assertTrue(out.stdout == b'"' + b"x" * n + b'"\n', "stdout of %d bytes" % len(out.stdout))
                if n:
                    self.assertIn(b"(result payload: %d bytes)" % n, out.stderr)


class PythonWorkerProcessTest(ProcessTests, unittest.TestCase):
    def argv(self):
        return [sys.executable, os.path.join(HERE, "sdk_testworker.py")]


class CppWorkerProcessTest(ProcessTests, unittest.TestCase):
    def setUp(self):
        if not os.environ.get("OFFLOAD_CPP_TEST_WORKER"):
            self.skipTest("OFFLOAD_CPP_TEST_WORKER does not name the C++ test worker")

    def argv(self):
        return [os.environ["OFFLOAD_CPP_TEST_WORKER"]]


if __name__ == "__main__":
    unittest.main()
