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
#include <mutex>

class QObject;

namespace offload {
class SharedBuffer;
}

namespace offload::python {

namespace py = pybind11;

// A Python object that may be dropped on any thread (a task's callbacks and values are
// dropped wherever the task ends). Dropped where the GIL is held, it goes at once; elsewhere
// it is queued and released the next time Python runs (a pending call, or Offload's next
// entry into Python): a thread of Offload's never waits for the GIL to drop one, as it may
// hold a lock the GIL's holder waits for. After the interpreter has begun to finalize, it is
// left alone. Copies share the object.
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
// Releases the objects queued by PyRef (GIL held).
void releaseQueued();

// Runs body() with the GIL held, on whatever thread this is (a context's thread, for task
// callbacks). What it raises, building its arguments included, is reported as unraisable
// (sys.unraisablehook prints it) and goes no further: a callback cannot break the delivery
// of others, nor end the process. A KeyboardInterrupt is raised again at Python's next chance.
void guarded(const char *what, const std::function<void()> &body);
template<typename... Args> void callPython(const PyRef &fn, Args &&...args)
{
    if (!fn || !interpreterAlive())
        return;
    guarded("an offload task callback", [&] { fn.get()(std::forward<Args>(args)...); });
}

// A callback of a task, dropped once the task has ended (its last delivery done, or its
// context gone): a Python callable kept by C++ past that would keep alive whatever it refers
// to, the window that holds the task included, beyond the garbage collector's reach.
class CallbackSlot
{
public:
    explicit CallbackSlot(PyRef fn) : m_fn(std::move(fn)) { }
    PyRef get() const
    {
        std::lock_guard lock(m_mutex);
        return m_fn;
    }
    void clear()
    {
        PyRef dropped;
        std::lock_guard lock(m_mutex);
        std::swap(dropped, m_fn); // released after the lock (PyRef may queue it)
    }

private:
    mutable std::mutex m_mutex;
    PyRef m_fn;
};

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

// Raises ValueError unless a QApplication exists and this is its thread (for `what`, e.g.
// "a TaskModel": objects that belong to the GUI thread).
void requireGuiThread(const char *what);

// Module parts, each adding its classes and functions.
void bindTask(py::module_ &m);
void bindRunners(py::module_ &m);
void bindQtObjects(py::module_ &m);
void bindLatencyProbe(py::module_ &m);
void bindSharedBuffer(py::module_ &m);
// offload.SharedBuffer objects (sharedbuffer.cpp).
py::object sharedBufferObject(const SharedBuffer &buffer);
SharedBuffer sharedBufferFrom(py::handle object); // TypeError for anything else

} // namespace offload::python
