// Private to the Python extension: what its files share. Everything here runs with the GIL
// held unless it says otherwise.
#pragma once

#include <offload/core/error.h>
#include <offload/core/output.h>
#include <offload/core/progress.h>
#include <offload/core/taskstate.h>

#include <pybind11/pybind11.h>

#include <QByteArray>
#include <QJsonValue>
#include <QString>
#include <QVariant>

#include <functional>
#include <memory>

class QObject;

namespace offload::python {

namespace py = pybind11;

// A Python object that may be dropped on any thread (a task's callbacks and values are
// dropped wherever the task ends): the GIL is taken to release it, and after the interpreter
// has begun to finalize it is left alone rather than touched. Copies share the object.
class PyRef
{
public:
    PyRef() = default;
    explicit PyRef(py::object object);
    const py::object &get() const { return *m_object; } // GIL held
    explicit operator bool() const { return bool(m_object); }

private:
    std::shared_ptr<py::object> m_object;
};

// Deletes a runner or pool without the GIL: their destructors wait for threads that may need
// it (a dropped callback takes the GIL to release its Python object).
struct DeleteWithoutGil
{
    template<typename T> void operator()(T *p) const
    {
        if (PyGILState_Check()) {
            py::gil_scoped_release release;
            delete p;
        } else {
            delete p;
        }
    }
};
template<typename T> using Owned = std::unique_ptr<T, DeleteWithoutGil>;

// True while Python may be entered (not finalizing).
bool interpreterAlive();

// Calls fn(args...) with the GIL held, on whatever thread this is (a context's thread, for
// task callbacks). An exception fn raises is reported as unraisable (sys.unraisablehook
// prints it) and goes no further: a callback cannot break the delivery of others.
template<typename... Args> void callPython(const PyRef &fn, Args &&...args)
{
    if (!fn || !interpreterAlive())
        return;
    py::gil_scoped_acquire gil;
    try {
        fn.get()(std::forward<Args>(args)...);
    } catch (py::error_already_set &e) {
        e.discard_as_unraisable("an offload task callback");
    }
}

// The C++ QObject behind a PyQt6 object (a window, a widget): the context of tasks. Raises
// TypeError for anything else, None included.
QObject *contextFrom(py::handle object);
// A PyQt6 wrapper of a C++ QObject of ours, as the PyQt6 class named (e.g.
// "PyQt6.QtCore.QAbstractItemModel"); owned by Python unless it has a parent.
py::object wrapQObject(QObject *object, const char *module, const char *className);

// Conversions.
py::str toPython(const QString &text);
py::bytes toPython(const QByteArray &bytes);
py::object toPython(const QJsonValue &value);
py::object toPython(const QVariant &value);
QString stringFrom(py::handle text); // str, TypeError otherwise
QByteArray bytesFrom(py::handle data); // bytes, bytearray, memoryview or str (UTF-8)
QJsonValue jsonFrom(py::handle value); // TypeError/ValueError for what JSON cannot hold
QVariant variantFrom(py::handle value); // None, bool, int, float, str, bytes, list, dict
QByteArrayList argumentsFrom(py::handle list); // an iterable of str (UTF-8) or bytes
std::chrono::milliseconds durationFrom(py::handle seconds); // float seconds, >= 0

// States and kinds as Python sees them: "running", "worker_error", ...
py::str pyStateName(TaskState state);
py::object progressObject(const Progress &progress);
py::object processInfoObject(const ProcessInfo &info);
py::object outputStreamName(OutputChunk::Stream stream);

// The offload.Error subclass for error (offload.WorkerError, offload.TimeoutError, ...), made
// by the package's Python side; partial holds a failed run's ProgramResult.
py::object errorObject(const Error &error);
[[noreturn]] void raiseError(const Error &error);
[[noreturn]] void raiseCancelled(const QString &what);
// The Error a Python exception being handled describes (kind exception, its type as origin,
// its traceback); inside a catch of py::error_already_set, with the GIL held.
Error errorFromPython(py::error_already_set &e);

// Module parts, each adding its classes and functions.
void bindTask(py::module_ &m);
void bindRunners(py::module_ &m);
void bindQtObjects(py::module_ &m);

} // namespace offload::python
