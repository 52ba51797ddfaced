// Private to the Python extension: offload.Task, one class for every kind of task; its value
// is converted to Python when read.
#pragma once

#include "pyoffload.h"

#include <offload/core/taskhandle.h>

#include <QCoreApplication>

namespace offload::python {

// Thread-safety: as TaskHandle (any thread); the Python-facing members need the GIL.
class Task
{
public:
    virtual ~Task() = default;
    const TaskHandleBase &handle() const { return *m_handle; }
    // The value of a Finished task as a Python object (GIL held).
    virtual py::object value() const = 0;
    // Callbacks on the task's context thread; each is called with the GIL held.
    virtual void addProgress(PyRef fn) = 0;
    virtual void addOutput(PyRef fn) = 0;
    virtual void addState(PyRef fn) = 0;
    // fn(task) once the task has ended, with a Task of its own (no reference to this one is
    // kept: a task's callbacks must not keep its state alive).
    virtual void addFinished(std::function<void(std::shared_ptr<Task>)> fn) = 0;
    // fn() once the task has ended, on the application's (GUI) thread, even if its context
    // was destroyed (for awaiting from trio, which must always be woken).
    virtual void addEnd(std::function<void()> fn) = 0;

protected:
    const TaskHandleBase *m_handle = nullptr;
};

template<typename T, typename Convert> class TypedTask final : public Task
{
public:
    TypedTask(TaskHandle<T> handle, Convert convert)
        : m_typed(std::move(handle)), m_convert(std::move(convert))
    {
        m_handle = &m_typed;
    }
    py::object value() const override { return m_convert(m_typed.result()); }
    void addProgress(PyRef fn) override
    {
        m_typed.onProgress([fn](const Progress &p) {
            if (!interpreterAlive())
                return;
            py::gil_scoped_acquire gil;
            callPython(fn, progressObject(p));
        });
    }
    void addOutput(PyRef fn) override
    {
        m_typed.onOutput([fn](const OutputChunk &c) {
            if (!interpreterAlive())
                return;
            py::gil_scoped_acquire gil;
            callPython(fn, outputStreamName(c.stream), toPython(c.data));
        });
    }
    void addState(PyRef fn) override
    {
        m_typed.onStateChanged([fn](TaskState s) {
            if (!interpreterAlive())
                return;
            py::gil_scoped_acquire gil;
            callPython(fn, pyStateName(s));
        });
    }
    void addFinished(std::function<void(std::shared_ptr<Task>)> fn) override
    {
        m_typed.onFinished([fn = std::move(fn), convert = m_convert](const TaskHandle<T> &h) {
            fn(std::make_shared<TypedTask>(h, convert));
        });
    }
    void addEnd(std::function<void()> fn) override
    {
        m_typed.onFinishedDirect([fn = std::move(fn)](const TaskHandle<T> &) {
            if (auto *app = QCoreApplication::instance())
                QMetaObject::invokeMethod(app, fn, Qt::QueuedConnection);
        });
    }

private:
    TaskHandle<T> m_typed;
    Convert m_convert;
};

template<typename T, typename Convert>
std::shared_ptr<Task> makeTask(TaskHandle<T> handle, Convert convert)
{
    return std::make_shared<TypedTask<T, Convert>>(std::move(handle), std::move(convert));
}

} // namespace offload::python
