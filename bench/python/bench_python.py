"""The Python suite of scripts/bench: Offload's `offload` package in a PyQt6 application
against what Python programmers use instead, side by side, alternating, one JSON line per
figure on stdout (docs/benchmarks.md). Each side of each run is a child process of its own,
so a side that crashes, hangs or gives no result costs one run and is counted. It exits
non-zero when a run of ours failed, hung, or missed a call it should have finished.

  py_call_throughput          tiny calls to 2 Python workers, each result delivered to a PyQt6
                              slot, vs ProcessPoolExecutor(2) with results handed to the GUI
                              thread by a 1 ms QTimer poll
  py_gui_ping_p99_under_load  the GUI loop's lag (a ping every 1 ms, handled with the GIL) while
                              2 Python workers compute and report progress 1,000 times a second
                              each, vs the same loop in 2 QRunnables of a QThreadPool
  py_crash_isolation          1,000 calls, a worker killed after every 100 results: how many
                              finish, vs ProcessPoolExecutor(2)

Usage: bench_python.py [FIGURE ...]   (OFFLOAD_BENCH_QUICK=1: fewer, shorter runs)
       bench_python.py --one FIGURE ours|peer FILE   (a child: one run, its result in FILE)
"""
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pyload  # noqa: E402

QUICK = os.environ.get("OFFLOAD_BENCH_QUICK", "0") not in ("", "0")
SUITE = "python"


# ---------------------------------------------------------------------------------------------
# Children: one side of one run each. Each writes its result, one JSON object, to a file.

def make_app():
    from PyQt6.QtWidgets import QApplication
    return QApplication.instance() or QApplication([sys.argv[0]])


def run_loop_until(app, done, limit):
    """Runs the event loop until done() or `limit` seconds; True if done. It looks every 10 ms:
    more often would put Python on the GUI thread that is being measured. Whatever must be
    timed exactly stamps itself (Receiver.done_at)."""
    from PyQt6.QtCore import QTimer
    deadline = time.monotonic() + limit
    timer = QTimer()
    timer.setInterval(10)

    def check():
        if done() or time.monotonic() > deadline:
            app.quit()
    timer.timeout.connect(check)
    timer.start()
    if not done():
        app.exec()
    timer.stop()
    return done()


def offload_pool(workers, pipeline=64, attempts=1, niceness=10):
    import offload
    import offload_worker
    sdk = os.path.dirname(os.path.abspath(offload_worker.__file__))
    return offload.WorkerPool(
        sys.executable, [os.path.join(HERE, "bench_pyworker.py")],
        environment={"PYTHONPATH": sdk, "BENCH_PIPELINE": str(pipeline)},
        max_workers=workers, prestart=workers, max_attempts=attempts, niceness=niceness)


def wait_ready(app, pool, n):
    if not run_loop_until(app, lambda: pool.status()["ready"] >= n, 30):
        raise SystemExit("the workers did not start")


def make_receiver():
    from PyQt6.QtCore import QObject, pyqtSlot

    class Receiver(QObject):
        """The PyQt6 object results are delivered to, on the GUI thread."""

        def __init__(self):
            super().__init__()
            self.expect(0)

        def expect(self, n):
            self.count = self.failed = 0
            self.expected = n
            self.done_at = None

        def _delivered(self):
            if self.count + self.failed == self.expected:
                self.done_at = time.perf_counter()  # the last delivery, exactly

        @pyqtSlot(object)
        def on_result(self, result):
            self.count += 1
            self._delivered()

        def on_failed(self, error):
            self.failed += 1
            self._delivered()
    return Receiver()


def poll_on_the_gui(done, handle):
    """The peers' hand-over to the GUI thread: a 1 ms QTimer that drains `done` (a queue the
    executor's thread fills with finished futures), calling handle(future) for each."""
    from PyQt6.QtCore import QTimer
    poll = QTimer()
    poll.setInterval(1)

    def drain():
        while True:
            try:
                f = done.get_nowait()
            except queue.Empty:
                return
            handle(f)
    poll.timeout.connect(drain)
    poll.start()
    return poll


def throughput_ours(calls):
    """At nice 0 like the peer's processes (the headline), then at the pool's default nice 10,
    which gives the GUI's threads priority over the workers and so costs some throughput."""
    app = make_app()
    receiver = make_receiver()
    rates = {}
    for niceness in (0, 10):
        pool = offload_pool(2, niceness=niceness)
        wait_ready(app, pool, 2)
        rates[niceness] = throughput_of(app, pool, receiver, calls)
        pool.shutdown()
    return {"value": rates[0], "default_nice": rates[10]}


def throughput_of(app, pool, receiver, calls):
    def burst(n):
        receiver.expect(n)
        t0 = time.perf_counter()
        for i in range(n):
            pool.submit(receiver, "echo", i).on_result(receiver.on_result).on_error(
                receiver.on_failed)
        if not run_loop_until(app, lambda: receiver.done_at is not None, 120):
            raise SystemExit("calls did not all come back")
        if receiver.failed:
            raise SystemExit(f"{receiver.failed} of {n} calls failed")
        return receiver.count / (receiver.done_at - t0)

    burst(calls)  # warm-up, as large as the run: memory pools and tables at their size
    return burst(calls)


def throughput_peer(calls):
    import concurrent.futures
    ex = concurrent.futures.ProcessPoolExecutor(2)
    list(ex.map(pyload.echo, range(200)))  # workers started and warm, as ours are
    app = make_app()
    receiver = make_receiver()
    done = queue.SimpleQueue()  # filled by the executor's thread, drained on the GUI thread

    def handle(f):
        if f.exception() is None:
            receiver.on_result(f.result())
        else:
            receiver.on_failed(f.exception())
    poll = poll_on_the_gui(done, handle)

    def burst(n):
        receiver.expect(n)
        t0 = time.perf_counter()
        for i in range(n):
            ex.submit(pyload.echo, i).add_done_callback(done.put)
        if not run_loop_until(app, lambda: receiver.done_at is not None, 120):
            raise SystemExit("calls did not all come back")
        if receiver.failed:
            raise SystemExit(f"{receiver.failed} of {n} calls failed")
        return receiver.count / (receiver.done_at - t0)

    burst(calls)  # the same warm-up as ours
    rate = burst(calls)
    poll.stop()
    ex.shutdown()
    return {"value": rate}


def ping_under_load(side, seconds):
    """The GUI's lag while 2 computations report progress; returns lag figures and work done."""
    import offload
    from PyQt6.QtWidgets import QProgressBar
    app = make_app()
    bar = QProgressBar()  # the window: progress lands in it, as an application's would
    bar.setRange(0, 1000)
    bar.show()
    updates = [0]

    def on_progress(fraction):
        bar.setValue(int(fraction * 1000))
        updates[0] += 1

    rounds = []
    if side == "ours":
        pool = offload_pool(2, pipeline=1)
        wait_ready(app, pool, 2)
        tasks = [pool.submit(bar, "burn", {"seconds": seconds + 1.0}) for _ in range(2)]
        for t in tasks:
            t.on_progress(lambda p: on_progress(max(p.fraction, 0.0)))
            t.on_result(lambda r: rounds.append(r.value))
        ended = lambda: len(rounds) == 2  # noqa: E731
    else:
        from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

        class Reporter(QObject):
            progressed = pyqtSignal(float)  # emitted on pool threads, queued to the GUI
            finished = pyqtSignal(int)

        class Burn(QRunnable):
            def __init__(self, reporter):
                super().__init__()
                self.reporter = reporter

            def run(self):
                # The peer at its best, as ours is by default: the computing threads niced
                # like Offload's workers (nice 10), and progress coalesced to ~60 a second
                # before it reaches the GUI, as Offload coalesces it.
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
                last = [0.0]

                def report(fraction):
                    now = time.monotonic()
                    if now - last[0] >= 1 / 60:
                        last[0] = now
                        self.reporter.progressed.emit(fraction)
                n = pyload.burn(seconds + 1.0, report)
                self.reporter.finished.emit(n)

        reporter = Reporter()
        reporter.progressed.connect(on_progress)
        reporter.finished.connect(rounds.append)
        tp = QThreadPool()
        tp.setMaxThreadCount(2)
        for _ in range(2):
            tp.start(Burn(reporter))
        ended = lambda: len(rounds) == 2  # noqa: E731
    # The probe runs in the middle of the load: from 0.5 s for `seconds - 0.5` seconds.
    probe = offload.LatencyProbe(python=True)
    run_loop_until(app, lambda: False, 0.5)
    probe.start(0.001)
    run_loop_until(app, lambda: False, seconds - 0.5)
    probe.stop()
    if not run_loop_until(app, ended, 60):
        raise SystemExit("the load did not end")
    if side == "peer":
        tp.waitForDone(10000)
    samples = probe.samples()
    stats = probe.stats()
    # A helper thread that ran late sent fewer pings: the stall it missed shows as pings
    # missing against those expected.
    return {"p50": stats["p50_us"], "p99": stats["p99_us"], "max": stats["max_us"],
            "pings": len(samples), "pings_expected": int((seconds - 0.5) / 0.001),
            "rounds_per_s": sum(rounds) / (seconds + 1.0),
            "progress_delivered": updates[0]}


def crash_ours(calls, every):
    app = make_app()
    pool = offload_pool(2, pipeline=1)
    wait_ready(app, pool, 2)
    counts = {"finished": 0, "crash": 0, "other": 0, "killed": 0}

    def on_result(r):
        counts["finished"] += 1
        if counts["finished"] % every == 0 and counts["killed"] < calls // every - 1:
            counts["killed"] += 1
            try:
                os.kill(r.value, signal.SIGKILL)  # the worker that just answered, likely busy
            except ProcessLookupError:
                pass

    def on_error(e):
        counts["crash" if e.kind == "crash" else "other"] += 1

    t0 = time.perf_counter()
    tasks = [pool.submit(app, "nap", {"seconds": 0.002}).on_result(on_result).on_error(on_error)
             for _ in range(calls)]
    ended = run_loop_until(
        app, lambda: counts["finished"] + counts["crash"] + counts["other"] >= calls, 120)
    del tasks
    pool.shutdown()
    return {"value": 100.0 * counts["finished"] / calls, "hung": not ended,
            "seconds": time.perf_counter() - t0, **counts}


def crash_peer(calls, every):
    import concurrent.futures
    ex = concurrent.futures.ProcessPoolExecutor(2)
    list(ex.map(pyload.echo, range(20)))
    app = make_app()
    counts = {"finished": 0, "broken": 0, "other": 0, "killed": 0}
    done = queue.SimpleQueue()
    seen = [0]

    def handle(f):
        seen[0] += 1
        e = f.exception()
        if e is None:
            counts["finished"] += 1
            if counts["finished"] % every == 0 and counts["killed"] < calls // every - 1:
                counts["killed"] += 1
                try:
                    os.kill(f.result(), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        elif isinstance(e, concurrent.futures.process.BrokenProcessPool):
            counts["broken"] += 1
        else:
            counts["other"] += 1
    poll = poll_on_the_gui(done, handle)
    t0 = time.perf_counter()
    for _ in range(calls):
        ex.submit(pyload.nap, 0.002).add_done_callback(done.put)
    ended = run_loop_until(app, lambda: seen[0] >= calls, 120)
    poll.stop()
    ex.shutdown(wait=True, cancel_futures=True)
    return {"value": 100.0 * counts["finished"] / calls, "hung": not ended,
            "seconds": time.perf_counter() - t0, **counts}


def child(figure, side, result_path):
    if figure == "py_call_throughput":
        calls = 5000 if QUICK else 20000
        result = (throughput_ours if side == "ours" else throughput_peer)(calls)
    elif figure == "py_gui_ping_p99_under_load":
        result = ping_under_load(side, 2.0 if QUICK else 5.0)
    elif figure == "py_crash_isolation":
        result = (crash_ours if side == "ours" else crash_peer)(1000, 100)
    else:
        raise SystemExit(f"no figure {figure}")
    with open(result_path, "w", encoding="utf-8") as f:
        f.write(json.dumps(result))
    os._exit(0)  # the result is out; nothing at exit may turn it into a failure


# ---------------------------------------------------------------------------------------------
# The driver.

def one(figure, side, timeout=300):
    """One side of one run in a child; None if it crashed, hung or printed no result. The child
    leads a session of its own, and whatever is left of it (a peer's forked workers) is killed
    once it has ended: nothing outlives its run to load the next one. Its result comes in a
    file, not on a pipe that such a leftover could keep open."""
    with tempfile.NamedTemporaryFile(prefix="bench_python.", suffix=".json") as result:
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--one", figure, side,
                              result.name], start_new_session=True)
        try:
            p.wait(timeout=timeout)
            how = None if p.returncode == 0 else (
                f"signal {-p.returncode}" if p.returncode < 0 else f"exit {p.returncode}")
        except subprocess.TimeoutExpired:
            how = "timed out"
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        text = open(result.name, encoding="utf-8", errors="replace").read().strip()
    if how is None and not text:
        how = "no result"
    if how is not None:
        print(f"bench_python: {figure} {side} failed ({how})", file=sys.stderr)
        return None
    try:
        return json.loads(text)
    except ValueError:
        print(f"bench_python: {figure} {side} printed no result", file=sys.stderr)
        return None


def report(name, unit, better, peer_name, pairs, failures, attempts, extra=None):
    """One JSON line (docs/benchmarks.md): medians, the ratio ours/peer and its spread."""
    ours = [o for o, p in pairs]
    peer = [p for o, p in pairs]
    line = {"suite": SUITE, "name": name, "unit": unit, "better": better, "runs": len(pairs),
            "peer_name": peer_name,
            "crashes": {"ours": failures[0], "peer": failures[1], "of": attempts}}
    if not pairs:
        line.update(ours=None, peer=None, ratio=None)
        print(f"{SUITE} {name}: no run delivered (failed: ours {failures[0]}, "
              f"peer {failures[1]} of {attempts})", file=sys.stderr)
    else:
        ratios = [o / p if p else None for o, p in pairs]  # a peer at 0: no ratio
        known = [r for r in ratios if r is not None]
        line.update(ours=statistics.median(ours), peer=statistics.median(peer),
                    ratio=statistics.median(known) if known else None,
                    spread=[min(known), max(known)] if known else None,
                    per_run=[[o, p] for o, p in pairs], ours_runs=ours, peer_runs=peer,
                    ratio_runs=ratios)
        ratio = "-" if line["ratio"] is None else f"{line['ratio']:.3g}"
        print(f"{SUITE} {name}: ours {line['ours']:.2f} {unit} | peer ({peer_name}) "
              f"{line['peer']:.2f} {unit} | ratio {ratio} ({better} is better)"
              + (f" | failed runs: ours {failures[0]}, peer {failures[1]} of {attempts}"
                 if failures[0] + failures[1] else ""), file=sys.stderr)
    line.update(extra or {})
    print(json.dumps(line), flush=True)


def runs_of(figure, runs, key):
    """Alternating runs (who goes first alternates): [(ours, peer)], failures, whole results."""
    pairs, failures, whole = [], [0, 0], []
    for r in range(runs):
        order = ("ours", "peer") if r % 2 == 0 else ("peer", "ours")
        got = {side: one(figure, side) for side in order}
        failures[0] += got["ours"] is None
        failures[1] += got["peer"] is None
        if got["ours"] is not None and got["peer"] is not None:
            pairs.append((got["ours"][key], got["peer"][key]))
            whole.append(got)
    return pairs, failures, whole


def main(figures):
    every = ["py_call_throughput", "py_gui_ping_p99_under_load", "py_crash_isolation"]
    for f in figures:
        if f not in every:
            raise SystemExit(f"bench_python: no figure '{f}' (there are: {', '.join(every)})")
    figures = figures or every
    bad = []  # what makes the suite fail: a run of ours that failed or hung
    if "py_call_throughput" in figures:
        runs = 2 if QUICK else 7
        pairs, failures, whole = runs_of("py_call_throughput", runs, "value")
        report("py_call_throughput", "calls/s", "higher",
               "concurrent.futures.ProcessPoolExecutor(2), results to the GUI by a 1 ms QTimer",
               pairs, failures, runs,
               {"calls_per_run": 5000 if QUICK else 20000, "target_ratio": ">= 5",
                "note": "both sides at nice 0; ours_default_nice_runs: the pool at its default "
                        "niceness 10, beside the same peer runs",
                "ours_default_nice_runs": [w["ours"]["default_nice"] for w in whole]})
        bad += ["py_call_throughput"] * failures[0]
    if "py_gui_ping_p99_under_load" in figures:
        runs = 1 if QUICK else 3
        pairs, failures, whole = runs_of("py_gui_ping_p99_under_load", runs, "p99")
        peer_name = "the same loop in 2 QRunnables (QThreadPool), progress by queued signal"
        report("py_gui_ping_p99_under_load", "us", "lower", peer_name, pairs, failures, runs,
               {"target": "<= 200 us and ratio <= 0.2",
                "p50_runs": [[w["ours"]["p50"], w["peer"]["p50"]] for w in whole],
                "max_runs": [[w["ours"]["max"], w["peer"]["max"]] for w in whole],
                "pings_runs": [[w["ours"]["pings"], w["peer"]["pings"]] for w in whole],
                "work_rounds_per_s_runs": [[w["ours"]["rounds_per_s"], w["peer"]["rounds_per_s"]]
                                           for w in whole],
                "progress_delivered_runs": [[w["ours"]["progress_delivered"],
                                             w["peer"]["progress_delivered"]] for w in whole]})
        work = [(w["ours"]["rounds_per_s"], w["peer"]["rounds_per_s"]) for w in whole]
        report("py_load_work_done", "rounds/s", "higher", peer_name, work, failures, runs,
               {"note": "the background work done while py_gui_ping_p99_under_load was measured"})
        bad += ["py_gui_ping_p99_under_load"] * failures[0]
    if "py_crash_isolation" in figures:
        runs = 1 if QUICK else 3
        pairs, failures, whole = runs_of("py_crash_isolation", runs, "value")
        report("py_crash_isolation", "% finished", "higher",
               "concurrent.futures.ProcessPoolExecutor(2)", pairs, failures, runs,
               {"calls": 1000, "killed_every": 100, "target": ">= 99 % finished, none hung",
                "note": "9 kills at most: after the 100th, ..., 900th result (none after the "
                        "last); a kill that finds its worker idle loses no call",
                "ours_detail": [w["ours"] for w in whole],
                "peer_detail": [w["peer"] for w in whole]})
        bad += ["py_crash_isolation"] * failures[0]
        bad += ["py_crash_isolation (hung)" for w in whole if w["ours"]["hung"]]
    if bad:
        raise SystemExit(f"bench_python: runs of ours failed: {', '.join(bad)}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main(sys.argv[1:])
