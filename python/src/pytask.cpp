#include "pytask.h"

#include <pybind11/stl.h>

namespace offload::python {

namespace {

using TaskPtr = std::shared_ptr<Task>;

// A finished-callback that takes the GIL first, then builds its arguments.
template<typename F> std::function<void(TaskPtr)> withGil(F &&f)
{
    return [f = std::forward<F>(f)](TaskPtr self) {
        if (interpreterAlive())
            guarded("an offload task callback", [&] { f(std::move(self)); });
    };
}

py::object result(const Task &t)
{
    const TaskHandleBase &h = t.handle();
    switch (h.state()) {
    case TaskState::Finished:
        return t.value();
    case TaskState::Failed:
        raiseError(h.error());
    case TaskState::Cancelled:
        raiseCancelled(QStringLiteral("the task was cancelled"));
    default:
        throw py::value_error("the task has not ended: read result() once is_final is true (in "
                              "on_finished, after await, or after wait())");
    }
}

} // namespace

void bindTask(py::module_ &m)
{
    py::class_<Task, TaskPtr>(m, "Task",
        "One piece of work: a worker call, a program or module run, a thread task.\n\n"
        "Its state, progress and result may be read on any thread; callbacks run on the "
        "thread of the context QObject given when it was started (the GUI thread for a "
        "window), and nothing more is called once that object is destroyed (the task is "
        "then cancelled).")
        .def_property_readonly("id", [](const Task &t) { return t.handle().id(); })
        .def_property_readonly("name", [](const Task &t) { return toPython(t.handle().name()); })
        .def_property_readonly("kind", [](const Task &t) { return toPython(t.handle().kind()); })
        .def_property_readonly(
            "state", [](const Task &t) { return pyStateName(t.handle().state()); })
        .def_property_readonly("is_final", [](const Task &t) { return t.handle().isFinal(); })
        .def_property_readonly(
            "progress", [](const Task &t) { return progressObject(t.handle().progress()); })
        .def_property_readonly("error",
            [](const Task &t) -> py::object {
                const Error e = t.handle().error();
                return e.isEmpty() ? py::object(py::none()) : errorObject(e);
            })
        .def_property_readonly("process_info",
            [](const Task &t) { return processInfoObject(t.handle().processInfo()); })
        .def_property_readonly(
            "elapsed", [](const Task &t) { return double(t.handle().elapsed().count()) / 1000.0; })
        .def(
            "cancel", [](const Task &t) { t.handle().cancel(); },
            "Asks the task to stop: a queued one ends Cancelled at once, running work when it "
            "has stopped (a process tree is terminated, then killed).")
        .def("result", &result,
            "The value of a finished task; raises its offload.Error if it failed, "
            "offload.CancelledError if it was cancelled, ValueError if it has not ended.")
        .def(
            "wait",
            [](const Task &t, std::optional<double> timeout) {
                const auto ms = timeout ? durationFrom(py::float_(*timeout))
                                        : std::chrono::milliseconds(std::chrono::hours(24 * 365));
                py::gil_scoped_release release;
                return t.handle().waitForFinished(ms);
            },
            py::arg("timeout") = py::none(),
            "Blocks this thread until the task has ended (True) or timeout seconds passed "
            "(False). Never on the GUI thread: use callbacks, @offload.slot or await there.")
        .def(
            "on_progress",
            [](TaskPtr t, py::object fn) {
                t->addProgress(PyRef(std::move(fn)));
                return t;
            },
            py::arg("callback"), "callback(offload.Progress), coalesced (at most ~60 a second).")
        .def(
            "on_output",
            [](TaskPtr t, py::object fn) {
                t->addOutput(PyRef(std::move(fn)));
                return t;
            },
            py::arg("callback"),
            "callback(stream, data): 'stdout', 'stderr' or 'log', and bytes, in order.")
        .def(
            "on_state_changed",
            [](TaskPtr t, py::object fn) {
                t->addState(PyRef(std::move(fn)));
                return t;
            },
            py::arg("callback"), "callback(state), a state name such as 'running'.")
        .def(
            "on_finished",
            [](TaskPtr t, py::object fn) {
                PyRef f(std::move(fn));
                t->addFinished(withGil([f](TaskPtr self) { callPython(f, py::cast(self)); }));
                return t;
            },
            py::arg("callback"), "callback(task), once, whatever the task's end.")
        .def(
            "on_result",
            [](TaskPtr t, py::object fn) {
                PyRef f(std::move(fn));
                t->addFinished(withGil([f](TaskPtr self) {
                    if (self->handle().state() != TaskState::Finished)
                        return;
                    py::object value = self->value(); // what this raises is reported too
                    callPython(f, value);
                }));
                return t;
            },
            py::arg("callback"), "callback(value), if the task finished.")
        .def(
            "on_error",
            [](TaskPtr t, py::object fn) {
                PyRef f(std::move(fn));
                t->addFinished(withGil([f](TaskPtr self) {
                    if (self->handle().state() == TaskState::Failed)
                        callPython(f, errorObject(self->handle().error()));
                }));
                return t;
            },
            py::arg("callback"), "callback(error), an offload.Error, if the task failed.")
        .def(
            "on_cancelled",
            [](TaskPtr t, py::object fn) {
                PyRef f(std::move(fn));
                t->addFinished(withGil([f](TaskPtr self) {
                    if (self->handle().state() == TaskState::Cancelled)
                        callPython(f);
                }));
                return t;
            },
            py::arg("callback"), "callback(), if the task was cancelled.")
        .def(
            "_on_end",
            [](TaskPtr t, py::object fn) {
                PyRef f(std::move(fn));
                t->addEnd([f] { callPython(f); });
            },
            py::arg("callback"),
            "callback() on the application's thread once the task has ended, even if its "
            "context was destroyed (used by await).")
        .def("__repr__", [](const Task &t) {
            return py::str("<offload.Task {} '{}' {}>")
                .format(
                    t.handle().id(), toPython(t.handle().name()), pyStateName(t.handle().state()));
        });
}

} // namespace offload::python
