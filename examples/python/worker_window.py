"""A PyQt6 window whose button runs a Python worker call with progress and Cancel.

    PYTHONPATH=build/python:worker/python python3 examples/python/worker_window.py
"""

import os
import sys

from PyQt6.QtWidgets import (QApplication, QLabel, QProgressBar, QPushButton, QVBoxLayout,
                             QWidget)

import offload

HERE = os.path.dirname(os.path.abspath(__file__))


class Window(QWidget):
    def __init__(self):
        super().__init__()
        self.setWindowTitle("Offload: a Python worker")
        self.pool = offload.WorkerPool(sys.executable, [os.path.join(HERE, "squares_worker.py")],
                                       max_workers=2)
        self.bar = QProgressBar()
        self.label = QLabel("Press Run: the window stays responsive while the worker computes.")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        layout = QVBoxLayout(self)
        for w in (self.label, self.bar, self.run_button, self.cancel_button):
            layout.addWidget(w)
        self.run_button.clicked.connect(self.run)
        self.task = None

    def run(self):
        # The window is the context: callbacks run on the GUI thread, and closing the window
        # cancels the call.
        self.task = self.pool.submit(self, "squares", {"n": 100})
        self.task.on_progress(lambda p: self.bar.setValue(int(max(p.fraction, 0) * 100)))
        self.task.on_result(lambda r: self.label.setText(f"sum of squares: {sum(r.value)}"))
        self.task.on_error(lambda e: self.label.setText(f"failed: {e}"))
        self.task.on_cancelled(lambda: self.label.setText("cancelled"))
        self.task.on_finished(lambda t: self.set_running(False))
        self.cancel_button.clicked.connect(self.task.cancel)
        self.set_running(True)

    def set_running(self, running):
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.cancel_button.clicked.disconnect()

    def closeEvent(self, event):
        self.pool.shutdown()
        super().closeEvent(event)


if __name__ == "__main__":
    app = QApplication(sys.argv)
    window = Window()
    window.show()
    if "--smoke" in sys.argv:  # run once, print the result, quit (the examples' test)
        window.task = None
        window.run()
        window.task.on_finished(lambda t: (print(window.label.text()), app.quit()))
    sys.exit(app.exec())
