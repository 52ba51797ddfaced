// The `offload._offload` extension: Offload's engine for Python (PyQt6) applications. The
// pure-Python part of the package (offload/__init__.py) builds on it.
#include "pyoffload.h"

PYBIND11_MODULE(_offload, m)
{
    m.doc() = "Offload's engine: tasks, worker pools, program and module runs, the monitor.";
    // PyQt6's QtCore first: its QObject is what a context is checked against, and loading it
    // makes this process's Qt the one PyQt6 uses.
    pybind11::module_::import("PyQt6.QtCore");
    offload::python::bindTask(m);
    offload::python::bindRunners(m);
    offload::python::bindQtObjects(m);
}
