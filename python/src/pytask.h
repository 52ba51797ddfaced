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
        auto slot = slotUntilEnd(std::move(fn));
        m_typed.onProgress([slot](const Progress &p) {
            call(*slot, "an offload progress callback",
                [&](const py::object &f) { f(progressObject(p)); });
        });
    }
    void addOutput(PyRef fn) override
    {
        auto slot = slotUntilEnd(std::move(fn));
        m_typed.onOutput([slot](const OutputChunk &c) {
            call(*slot, "an offload output callback",
                [&](const py::object &f) { f(outputStreamName(c.stream), toPython(c.data)); });
        });
    }
    void addState(PyRef fn) override
    {
        auto slot = slotUntilEnd(std::move(fn));
        m_typed.onStateChanged([slot](TaskState s) {
            call(*slot, "an offload state callback",
                [&](const py::object &f) { f(pyStateName(s)); });
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
    // A callback held until the task's last delivery (then dropped: see CallbackSlot).
    std::shared_ptr<CallbackSlot> slotUntilEnd(PyRef fn)
    {
        auto slot = std::make_shared<CallbackSlot>(std::move(fn));
        m_typed.onFinished([slot](const TaskHandle<T> &) { slot->clear(); });
        return slot;
    }
    template<typename F> static void call(const CallbackSlot &slot, const char *what, F &&body)
    {
        if (!interpreterAlive())
            return;
        const PyRef fn = slot.get();
        if (fn)
            guarded(what, [&] { body(fn.get()); });
    }

    TaskHandle<T> m_typed;
    Convert m_convert;
};

template<typename T, typename Convert>
std::shared_ptr<Task> makeTask(TaskHandle<T> handle, Convert convert)
{
    return std::make_shared<TypedTask<T, Convert>>(std::move(handle), std::move(convert));
}

} // namespace offload::python
