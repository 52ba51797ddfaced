"""Awaiting tasks: a generator slot without any event-loop library, and trio in guest mode."""

import pytest
from PyQt6.QtCore import QObject, Qt, pyqtSignal

import offload
from conftest import wait_until


def test_a_generator_slot_awaits_results_and_errors(app, worker_pool):
    pool = worker_pool()
    owner = QObject()
    seen = []

    @offload.slot
    def on_click(a, b):
        result = yield pool.submit(owner, "add", {"a": a, "b": b})
        seen.append(result.value)
        try:
            yield pool.submit(owner, "fail")
        except offload.WorkerError as e:
            seen.append(e.origin)
        return "done"

    run = on_click(2, 3)
    assert not run.done  # suspended at its first yield: the slot returned at once
    wait_until(lambda: run.done)
    assert seen == [5, "ValueError"]
    assert run.value == "done"


def test_cancelling_a_slot_run_cancels_what_it_awaits(app, worker_pool):
    pool = worker_pool(max_workers=1)
    owner = QObject()
    seen = []
    spinning = pool.submit(owner, "spin")

    @offload.slot
    def waits():
        try:
            yield spinning
        except offload.CancelledError:
            seen.append("cancelled")

    run = waits()
    wait_until(lambda: spinning.state == "running")
    run.cancel()
    wait_until(lambda: run.done)
    assert seen == ["cancelled"]
    assert spinning.state == "cancelled"


def test_a_slot_must_yield_tasks(app):
    @offload.slot
    def wrong():
        yield 42

    with pytest.raises(TypeError):
        wrong()


class _Reenter(QObject):
    run = pyqtSignal(object)


def _guest_run(app, main):
    """Runs trio's main() in guest mode on Qt's event loop; returns its outcome."""
    trio = pytest.importorskip("trio")
    reenter = _Reenter()
    reenter.run.connect(lambda fn: fn(), Qt.ConnectionType.QueuedConnection)
    done = []
    trio.lowlevel.start_guest_run(
        main, run_sync_soon_threadsafe=reenter.run.emit, done_callback=done.append)
    wait_until(lambda: done, timeout=60)
    return done[0].unwrap()


def test_trio_in_guest_mode_awaits_a_worker_call(app, worker_pool):
    trio = pytest.importorskip("trio")
    pool = worker_pool()
    owner = QObject()

    async def main():
        result = await pool.submit(owner, "add", {"a": 20, "b": 22})
        with pytest.raises(offload.WorkerError):
            await pool.submit(owner, "fail")
        spinning = pool.submit(owner, "spin")
        with trio.move_on_after(0.5) as scope:
            await spinning
        return result.value, scope.cancelled_caught, spinning.state

    value, timed_out, state = _guest_run(app, main)
    assert value == 42
    assert timed_out
    assert state == "cancelled"  # the await's cancellation cancelled the task


def test_trio_await_returns_even_when_the_owner_goes(app, worker_pool):
    pytest.importorskip("trio")
    pool = worker_pool(max_workers=1)
    owner = QObject()
    spinning = pool.submit(owner, "spin")
    wait_until(lambda: spinning.state == "running")

    async def main():
        owner.deleteLater()  # the task is cancelled; the await must still end
        with pytest.raises(offload.CancelledError):
            await spinning
        return spinning.state

    assert _guest_run(app, main) == "cancelled"
