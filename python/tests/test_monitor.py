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
