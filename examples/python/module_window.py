"""A PyQt6 window that runs a Slicer-style command-line module from its XML description.

    PYTHONPATH=build/python:worker/python python3 examples/python/module_window.py [MODULE]

The form is made from the description's parameters (numbers, choices, text and flags);
Run starts the module as a task with progress from its SEM tags, Cancel kills its process
tree, and the return parameters are shown typed.
"""

import os
import sys
import tempfile

from PyQt6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout,
                             QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout,
                             QWidget)

import offload

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def field_for(p, scratch):
    """An editor for one parameter and a function reading its value (None: not given). An
    output file without a default gets one in the window's scratch directory."""
    tag, default = p["tag"], p["default"]
    if p["channel"] == "output" and not default:
        default = os.path.join(scratch, p["name"] + ".txt")
    if p["elements"]:
        w = QComboBox()
        w.addItems(p["elements"])
        if default in p["elements"]:
            w.setCurrentText(default)
        return w, w.currentText
    if tag == "integer":
        w = QSpinBox()
        w.setRange(int(p["minimum"] if p["minimum"] is not None else -10**9),
                   int(p["maximum"] if p["maximum"] is not None else 10**9))
        w.setValue(int(default or 0))
        return w, w.value
    if tag in ("float", "double"):
        w = QDoubleSpinBox()
        w.setRange(p["minimum"] if p["minimum"] is not None else -1e12,
                   p["maximum"] if p["maximum"] is not None else 1e12)
        w.setValue(float(default or 0))
        return w, w.value
    if tag == "boolean":
        w = QCheckBox()
        w.setChecked(default.lower() == "true")
        return w, w.isChecked
    w = QLineEdit(default)
    return w, lambda: w.text() or None


class Window(QWidget):
    def __init__(self, path):
        super().__init__()
        self.setWindowTitle("Offload: a module")
        self.runner = offload.ModuleRunner()
        self.form = QFormLayout()
        self.bar = QProgressBar()
        self.result = QLabel("reading the module's description...")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        for w in (self.bar, self.result, self.run_button, self.cancel_button):
            layout.addWidget(w)
        self.readers = {}
        self.scratch = tempfile.TemporaryDirectory()  # where output files go by default
        self.module = None
        self.task = None
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(lambda: self.task and self.task.cancel())
        self.runner.describe(self, path).on_result(self.described).on_error(
            lambda e: self.result.setText(f"cannot describe it: {e}"))

    def described(self, module):
        self.module = module
        self.setWindowTitle(module.title)
        for p in module.parameters:
            if p["channel"] == "output" and p["tag"] not in ("file", "image"):
                continue  # returned, not given
            editor, read = field_for(p, self.scratch.name)
            self.form.addRow(p["label"] or p["name"], editor)
            self.readers[p["name"]] = read
        self.result.setText(module.description.strip()[:200])
        self.run_button.setEnabled(True)
        if "--smoke" in sys.argv:  # run with the defaults, print, quit (the examples' test)
            self.run()
            self.task.on_finished(lambda t: (print(self.result.text()), QApplication.quit()))

    def run(self):
        values = {name: read() for name, read in self.readers.items() if read() is not None}
        self.task = self.runner.run(self, self.module, values)
        self.task.on_progress(lambda p: self.bar.setValue(int(max(p.fraction, 0) * 100)))
        self.task.on_result(lambda r: self.result.setText(
            str(offload.ModuleRunner.return_values(self.module, r))))
        self.task.on_error(lambda e: self.result.setText(f"failed: {e}"))
        self.task.on_cancelled(lambda: self.result.setText("cancelled"))
        self.task.on_finished(lambda t: self.set_running(False))
        self.set_running(True)

    def set_running(self, running):
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)


if __name__ == "__main__":
    app = QApplication(sys.argv)
    path = next((a for a in sys.argv[1:] if not a.startswith("--")),
                os.path.join(ROOT, "build", "bin", "offload-example-blur"))
    window = Window(path)
    window.show()
    sys.exit(app.exec())
