"""Shared fixtures: one QApplication (offscreen), waiting with a bound, the in-tree worker."""

import os
import sys
import time

import pytest
from PyQt6.QtCore import QCoreApplication, QEvent, QEventLoop
from PyQt6.QtWidgets import QApplication

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "worker.py")


@pytest.fixture(scope="session")
def app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    application = QApplication.instance() or QApplication([])
    yield application


def wait_until(condition, timeout=20.0):
    """Runs the event loop until condition() is true; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        # deleteLater() is carried out by a running event loop, not by processEvents().
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        time.sleep(0)  # lets other Python threads run


@pytest.fixture
def worker_pool():
    import offload

    pools = []

    def make(**kwargs):
        kwargs.setdefault("max_workers", 2)
        kwargs.setdefault("cancel_grace", 0.5)
        pool = offload.WorkerPool(sys.executable, [WORKER], **kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown()


def built_program(name):
    """A program of this build (OFFLOAD_TEST_BIN is set by ctest)."""
    path = os.path.join(os.environ.get("OFFLOAD_TEST_BIN", ""), name)
    if not os.path.exists(path):
        pytest.skip(f"{name} is not built here (OFFLOAD_TEST_BIN={os.environ.get('OFFLOAD_TEST_BIN')!r})")
    return path
