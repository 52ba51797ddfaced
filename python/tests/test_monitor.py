"""The monitor's model and widget as ordinary PyQt6 objects; module runs from Python."""

import os
import tempfile

import pytest
from PyQt6.QtCore import QAbstractItemModel, QObject
from PyQt6.QtWidgets import QTreeView, QWidget

import offload
from conftest import built_program, wait_until


def test_the_task_model_in_a_pyqt6_view(app, worker_pool):
    model = offload.TaskModel()
    assert isinstance(model, QAbstractItemModel)
    view = QTreeView()
    view.setModel(model)
    pool = worker_pool()
    owner = QObject()
    task = pool.submit(owner, "add", {"a": 1, "b": 1}, name="a monitored call")
    names = lambda: [model.index(r, 0).data() for r in range(model.rowCount())]  # noqa: E731
    wait_until(lambda: "a monitored call" in names())
    wait_until(lambda: task.is_final)
    view.deleteLater()


def test_the_monitor_widget_is_a_qwidget(app):
    parent = QWidget()
    widget = offload.TaskMonitorWidget(parent)
    assert isinstance(widget, QWidget)
    assert widget.parent() is parent
    alone = offload.TaskMonitorWidget()
    alone.show()
    app.processEvents()
    alone.close()
    with pytest.raises(TypeError):
        offload.TaskMonitorWidget(QObject())  # a widget's parent is a widget


def test_a_module_is_described_run_and_its_values_typed(app):
    blur = built_program("offload-example-blur")
    owner = QObject()
    runner = offload.ModuleRunner()
    described = runner.describe(owner, blur)
    wait_until(lambda: described.is_final)
    module = described.result()
    assert isinstance(module, offload.Module)
    names = [p["name"] for p in module.parameters]
    assert "iterations" in names and "summary" in names
    with tempfile.TemporaryDirectory() as d:
        summary = os.path.join(d, "summary.txt")
        progress = []
        run = runner.run(owner, module, {"iterations": 5, "method": "box", "summary": summary})
        run.on_progress(progress.append)
        wait_until(lambda: run.is_final)
        result = run.result()
        values = offload.ModuleRunner.return_values(module, result)
        assert values["status"] == "ok"
        assert isinstance(values["checksum"], int)
        assert os.path.isfile(summary)
        wait_until(lambda: progress and progress[-1].fraction == 1.0)
        bad = runner.run(owner, module, {"iterations": "many"})
        wait_until(lambda: bad.is_final)
        with pytest.raises(offload.InvalidInputError) as raised:
            bad.result()
        assert "iterations" in raised.value.message


def test_finished_rows_are_bounded_and_cleared(app):
    from PyQt6.QtCore import QMetaObject
    with pytest.raises(ValueError):
        offload.TaskModel(max_finished=-1)
    model = offload.TaskModel(max_finished=2)
    assert model.property("maxFinished") == 2
    owner = QObject()
    tasks = [offload.run(owner, lambda: None, name=f"bounded {i}") for i in range(4)]
    wait_until(lambda: all(t.is_final for t in tasks))
    QMetaObject.invokeMethod(model, "refresh")
    names = lambda: [model.index(r, 0).data() for r in range(model.rowCount())]  # noqa: E731
    assert len([n for n in names() if n.startswith("bounded")]) == 2
    assert model.setProperty("maxFinished", 10)
    assert model.property("maxFinished") == 10
    QMetaObject.invokeMethod(model, "clearFinished")
    assert not [n for n in names() if n.startswith("bounded")]


def test_the_latency_probe_samples_the_gui_loop(app):
    import threading
    probe = offload.LatencyProbe()
    with pytest.raises(ValueError):
        probe.start(0)
    probe.start(0.001)
    assert probe.is_running
    wait_until(lambda: len(probe.samples()) >= 20)
    probe.stop()
    assert not probe.is_running
    samples = probe.samples()
    stats = probe.stats()
    assert stats["count"] == len(samples) >= 20
    assert min(samples) <= stats["p50_us"] <= stats["p99_us"] <= stats["max_us"] == max(samples)
    probe.reset()
    assert probe.samples() == [] and probe.stats()["count"] == 0
    # Made elsewhere than on the GUI thread, it is refused: nothing would deliver its pings.
    refused = []

    def elsewhere():
        try:
            offload.LatencyProbe()
        except ValueError as e:
            refused.append(e)
    t = threading.Thread(target=elsewhere)
    t.start()
    t.join(10)
    assert refused
    # Dropped on another thread while it pings, it stops there and goes on its own thread.
    held = [offload.LatencyProbe()]
    held[0].start(0.0001)
    dropper = threading.Thread(target=held.clear)
    dropper.start()
    dropper.join(10)
    assert not held and not dropper.is_alive()
    wait_until(lambda: True)  # the deferred delete runs; a ping handled after it would crash
