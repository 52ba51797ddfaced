// The `offload._offload` extension: Offload's engine for Python (PyQt6) applications. The
// pure-Python part of the package (offload/__init__.py) builds on it.
#include "pyoffload.h"

#include <offload/core/threadpool.h>

PYBIND11_MODULE(_offload, m)
{
    m.doc() = "Offload's engine: tasks, worker pools, program and module runs, the monitor.";
    // PyQt6's QtCore first: its QObject is what a context is checked against, and loading it
    // makes this process's Qt the one PyQt6 uses.
    pybind11::module_::import("PyQt6.QtCore");
    offload::python::bindTask(m);
    offload::python::bindRunners(m);
    offload::python::bindQtObjects(m);
    offload::python::bindLatencyProbe(m);
    offload::python::bindSharedBuffer(m);
    m.def(
        "_shutdown",
        [] {
            // At interpreter exit: Offload's threads stop while Python can still run what they
            // call (the GIL released), not after it has begun to finalize.
            pybind11::gil_scoped_release release;
            offload::ThreadPool::globalInstance()->shutdown();
        },
        "Cancels the callables given to offload.run and waits for them (bounded); at exit.");
}
