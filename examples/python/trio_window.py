"""trio in guest mode on Qt's event loop, awaiting a worker call and a module run.

    PYTHONPATH=build/python:worker/python python3 examples/python/trio_window.py [MODULE]

MODULE defaults to build/bin/offload-example-blur. Closing the window cancels what is awaited.
"""

import os
import sys
import tempfile

import trio
from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

import offload

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class Reenter(QObject):
    """trio hands its callbacks to Qt's thread through a queued signal."""
    run = pyqtSignal(object)


class Window(QWidget):
    def __init__(self, module_path):
        super().__init__()
        self.setWindowTitle("Offload: trio in guest mode")
        self.label = QLabel("working...")
        QVBoxLayout(self).addWidget(self.label)
        self.module_path = module_path
        self.pool = offload.WorkerPool(sys.executable, [os.path.join(HERE, "squares_worker.py")])
        self.modules = offload.ModuleRunner()

    async def main(self):
        squares = await self.pool.submit(self, "squares", {"n": 20})
        self.label.setText(f"sum of squares: {sum(squares.value)}; running the module...")
        module = await self.modules.describe(self, self.module_path)
        with tempfile.TemporaryDirectory() as d:
            result = await self.modules.run(
                self, module, {"iterations": 10, "summary": os.path.join(d, "summary.txt")})
        values = offload.ModuleRunner.return_values(module, result)
        text = f"sum of squares {sum(squares.value)}; {module.title}: {values}"
        self.label.setText(text)
        return text


def main():
    app = QApplication(sys.argv)
    path = next((a for a in sys.argv[1:] if not a.startswith("--")),
                os.path.join(ROOT, "build", "bin", "offload-example-blur"))
    window = Window(path)
    window.show()
    reenter = Reenter()
    reenter.run.connect(lambda fn: fn(), Qt.ConnectionType.QueuedConnection)

    def done(outcome):
        try:
            print(outcome.unwrap())
        finally:
            window.pool.shutdown()
            if "--smoke" in sys.argv:
                app.quit()

    trio.lowlevel.start_guest_run(window.main, run_sync_soon_threadsafe=reenter.run.emit,
                                  done_callback=done)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
