"""Tasks from PyQt6: worker calls, thread tasks and program runs, delivered on the GUI thread."""

import os
import threading

import pytest
from PyQt6.QtCore import QObject

import offload
from conftest import wait_until

MAIN = threading.main_thread().ident


def test_a_worker_call_reports_on_the_gui_thread(app, worker_pool):
    pool = worker_pool()
    owner = QObject()
    seen = {"progress": [], "threads": set(), "states": []}

    def on_progress(p):
        seen["progress"].append(p.fraction)
        seen["threads"].add(threading.get_ident())

    def on_result(r):
        seen["result"] = r
        seen["threads"].add(threading.get_ident())

    task = pool.submit(owner, "steps", {"n": 4})
    task.on_progress(on_progress).on_result(on_result)
    task.on_state_changed(seen["states"].append)
    wait_until(lambda: "result" in seen)
    assert task.state == "finished"
    assert task.result().value == 4
    assert seen["result"] == offload.WorkerResult(4, b"")
    assert seen["threads"] == {MAIN}
    assert seen["progress"][-1] == 1.0
    assert seen["states"][-1] == "finished"


def test_values_and_payloads_cross_exactly(app, worker_pool):
    pool = worker_pool()
    owner = QObject()
    args = {"int": 2**53 + 1, "float": 0.5, "text": "žluťoučký 🐍", "list": [None, True, False],
            "nested": {"a": [1, {"b": "c"}]}}
    payload = bytes(range(256)) * 4096
    task = pool.submit(owner, "echo", args, payload)
    wait_until(lambda: task.is_final)
    result = task.result()
    assert result.value == args
    assert result.payload == payload
    assert type(result.value["int"]) is int


def test_what_json_cannot_hold_is_refused_before_anything_runs(app, worker_pool):
    pool = worker_pool()
    owner = QObject()
    with pytest.raises(ValueError):
        pool.submit(owner, "echo", {"x": float("nan")})
    with pytest.raises(ValueError):
        pool.submit(owner, "echo", 2**70)
    with pytest.raises(TypeError):
        pool.submit(owner, "echo", {1: "key not a str"})
    with pytest.raises(TypeError):
        pool.submit(owner, "echo", object())
    with pytest.raises(TypeError):
        pool.submit(None, "echo", 1)  # a context is a QObject
    with pytest.raises(TypeError):
        pool.submit("not a QObject", "echo", 1)


def test_a_worker_error_is_raised_with_its_traceback(app, worker_pool):
    pool = worker_pool()
    owner = QObject()
    task = pool.submit(owner, "fail", {"why": "x"})
    errors = []
    task.on_error(errors.append)
    wait_until(lambda: errors)
    assert isinstance(errors[0], offload.WorkerError)
    with pytest.raises(offload.WorkerError) as raised:
        task.result()
    e = raised.value
    assert e.kind == "worker_error"
    assert e.origin == "ValueError"
    assert "bad input" in e.message
    assert "deep_in_the_worker" in e.traceback
    assert isinstance(task.error, offload.WorkerError)
    # It crosses to another process (pickle) whole.
    import pickle
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is offload.WorkerError and str(copy) == str(e)
    for name in ("kind", "message", "origin", "traceback", "exit_code", "signal",
                 "stderr_tail", "remote_failure", "partial"):
        assert getattr(copy, name) == getattr(e, name), name


def test_cancel_kills_the_worker_process(app, worker_pool):
    pool = worker_pool(max_workers=1)
    owner = QObject()
    log = []
    task = pool.submit(owner, "spin")
    task.on_output(lambda stream, data: log.append(data))
    wait_until(lambda: any(b"pid " in line for line in log))
    cancelled = []
    task.on_cancelled(lambda: cancelled.append(True))
    task.cancel()
    wait_until(lambda: cancelled)
    assert task.state == "cancelled"
    with pytest.raises(offload.CancelledError):
        task.result()


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_cancel_of_a_call_that_ignores_it_kills_the_worker_tree(app, worker_pool):
    pool = worker_pool(max_workers=1, cancel_grace=0.3)
    owner = QObject()
    log = []
    task = pool.submit(owner, "stubborn")
    task.on_output(lambda stream, data: log.append(data))
    wait_until(lambda: any(b"pids " in line for line in log))
    line = next(line for line in log if b"pids " in line)
    pids = [int(x) for x in line.split(b"pids ", 1)[1].split()[:2]]
    assert all(alive(p) for p in pids)
    task.cancel()
    wait_until(lambda: task.is_final)
    assert task.state == "cancelled"
    wait_until(lambda: not any(alive(p) for p in pids))


def test_destroying_the_owner_cancels_and_silences(app, worker_pool):
    pool = worker_pool(max_workers=1)
    owner = QObject()
    calls = []
    task = pool.submit(owner, "spin")
    task.on_finished(lambda t: calls.append(t.state))
    wait_until(lambda: task.state == "running")
    owner.deleteLater()
    del owner
    wait_until(lambda: task.is_final)
    assert task.state == "cancelled"
    # Nothing more is called for a destroyed context, however long one waits.
    for _ in range(20):
        app.processEvents()
    assert calls == []


def test_a_callable_on_offloads_threads(app):
    owner = QObject()
    ran_on = []

    def work():
        ran_on.append(threading.get_ident())
        return {"answer": 42}

    task = offload.run(owner, work, name="python work")
    results = []
    task.on_result(results.append)
    wait_until(lambda: results)
    assert results == [{"answer": 42}]
    assert ran_on and ran_on[0] != MAIN
    assert task.name == "python work"


def test_a_callable_that_raises_fails_with_its_traceback(app):
    owner = QObject()

    def broken():
        raise KeyError("missing thing")

    task = offload.run(owner, broken)
    wait_until(lambda: task.is_final)
    with pytest.raises(offload.ExceptionError) as raised:
        task.result()
    assert raised.value.origin == "KeyError"
    assert "broken" in raised.value.traceback


def test_a_callable_reports_progress_and_sees_cancel(app):
    owner = QObject()
    started = threading.Event()

    def work(control):
        control.set_fraction(0.25)
        started.set()
        while True:
            control.raise_if_cancelled()
            threading.Event().wait(0.005)

    task = offload.run(owner, work, control=True)
    progress = []
    task.on_progress(progress.append)
    assert started.wait(10)
    wait_until(lambda: progress and progress[-1].fraction == 0.25)
    task.cancel()
    wait_until(lambda: task.is_final)
    assert task.state == "cancelled"


def test_a_program_run_and_its_failure(app):
    owner = QObject()
    runner = offload.ProgramRunner(2)
    ok = runner.run(owner, "/bin/sh", ["-c", "echo out; echo err >&2"], progress="none")
    failed = runner.run(owner, "/bin/sh", ["-c", "echo partial; exit 3"], progress="none")
    missing = runner.run(owner, "/nonexistent/program")
    wait_until(lambda: ok.is_final and failed.is_final and missing.is_final)
    assert ok.result().stdout == b"out\n"
    assert ok.result().stderr == b"err\n"
    with pytest.raises(offload.ExitCodeError) as raised:
        failed.result()
    assert raised.value.exit_code == 3
    assert raised.value.partial.stdout == b"partial\n"
    import pickle
    assert pickle.loads(pickle.dumps(raised.value)).partial == raised.value.partial
    with pytest.raises(offload.LaunchError):
        missing.result()


def test_arguments_are_bytes_never_a_shell(app):
    owner = QObject()
    runner = offload.ProgramRunner(1)
    words = ["a b", "$(touch /tmp/offload-pwned)", "'\"", "é", b"\xff\xfe"]
    task = runner.run(owner, "/usr/bin/printf", ["[%s]"] + words, progress="none")
    wait_until(lambda: task.is_final)
    assert task.result().stdout == b"[a b][$(touch /tmp/offload-pwned)]['\"][\xc3\xa9][\xff\xfe]"
    assert not os.path.exists("/tmp/offload-pwned")
    with pytest.raises(TypeError):
        runner.run(owner, "/bin/echo", "one string is not a list")
