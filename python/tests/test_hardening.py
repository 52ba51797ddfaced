"""What broke under review: each case failed (or hung, or aborted) before its fix."""

import gc
import os
import subprocess
import sys
import threading
import weakref

import pytest
from PyQt6.QtCore import QObject
from PyQt6.QtWidgets import QPushButton

import offload
from conftest import wait_until


def test_tasks_dropped_on_offloads_threads_never_deadlock_with_the_gui(app):
    # A pool thread drops the last reference to a finished task (its Python value with it)
    # while holding the pool's lock; the GUI thread, holding the GIL, starts the next one.
    owner = QObject()
    left = [20000]

    def again(_value=None):
        left[0] -= 1
        if left[0] > 0:
            offload.run(owner, lambda: object()).on_result(again)

    for _ in range(8):
        again()
    wait_until(lambda: left[0] <= 0, timeout=60)


def test_exit_with_a_callable_still_running_is_clean(tmp_path):
    script = tmp_path / "exits.py"
    script.write_text(
        "import time, offload\n"
        "from PyQt6.QtCore import QCoreApplication, QObject\n"
        "app = QCoreApplication([])\n"
        "owner = QObject()\n"
        "def stubborn():\n"
        "    end = time.monotonic() + 8\n"
        "    while time.monotonic() < end:\n"
        "        time.sleep(0.01)\n"
        "offload.run(owner, stubborn)\n"
        "time.sleep(0.2)\n"
        "print('leaving')\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=60,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert b"leaving" in done.stdout


def test_a_raising_callback_is_reported_and_the_others_still_run(app, worker_pool, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))
    pool = worker_pool()
    owner = QObject()
    seen = []

    def broken(_):
        raise RuntimeError("a bug in a callback")

    task = pool.submit(owner, "steps", {"n": 3})
    task.on_progress(broken).on_result(broken)
    task.on_finished(lambda t: seen.append(t.state))
    wait_until(lambda: seen)
    assert seen == ["finished"]
    assert any(isinstance(e, RuntimeError) for e in reported)


def test_a_slot_connects_to_a_signal_that_passes_arguments(app, worker_pool):
    pool = worker_pool()
    owner = QObject()
    seen = []

    @offload.slot
    def on_clicked():
        result = yield pool.submit(owner, "add", {"a": 1, "b": 2})
        seen.append(result.value)

    button = QPushButton()
    button.clicked.connect(on_clicked)  # clicked(bool checked): the slot takes none
    button.click()
    wait_until(lambda: seen)
    assert seen == [3]


def test_callbacks_do_not_keep_their_owner_alive(app, worker_pool):
    pool = worker_pool()

    class Window(QObject):
        def __init__(self):
            super().__init__()
            self.done = False
            self.task = pool.submit(self, "steps", {"n": 3})
            self.task.on_progress(lambda p: self.objectName())  # refers to the window
            self.task.on_finished(lambda t: setattr(self, "done", True))

    window = Window()
    alive = weakref.ref(window)
    wait_until(lambda: window.done)
    for _ in range(5):
        app.processEvents()
    del window
    gc.collect()
    wait_until(lambda: (gc.collect(), alive() is None)[1], timeout=10)


def test_strided_and_reversed_buffers_are_read_as_their_bytes(app):
    owner = QObject()
    runner = offload.ProgramRunner(2)
    data = memoryview(b"abcdef")
    every_other = runner.run(owner, "/bin/cat", stdin=data[::2], progress="none")
    reversed_ = runner.run(owner, "/bin/cat", stdin=data[::-1], progress="none")
    wait_until(lambda: every_other.is_final and reversed_.is_final)
    assert every_other.result().stdout == b"ace"
    assert reversed_.result().stdout == b"fedcba"


def test_a_context_without_an_event_loop_is_refused(app):
    made = []
    thread = threading.Thread(target=lambda: made.append(QObject()))
    thread.start()
    thread.join()
    with pytest.raises(ValueError, match="event loop"):
        offload.run(made[0], lambda: 1)
