// ManualTask: a task a test drives by hand, without a thread, like the parent task of a batch.
#pragma once

#include <offload/core/taskpromise.h>

#include <memory>

// A handle that also holds the task's promise (copies share it; the last one gone cancels the
// task if it has not ended). t->finish(), t->setProgressText(...): the producer's side.
class ManualTask : public offload::TaskHandle<void>
{
public:
    explicit ManualTask(offload::TaskPromise<void> promise)
        : offload::TaskHandle<void>(promise.handle())
        , m_promise(std::make_shared<offload::TaskPromise<void>>(std::move(promise)))
    { }
    const offload::TaskPromise<void> *operator->() const { return m_promise.get(); }

private:
    std::shared_ptr<offload::TaskPromise<void>> m_promise;
};

inline ManualTask manualTask(QObject *context, const QString &name)
{
    return ManualTask(offload::TaskPromise<void>(context, QStringLiteral("manual"), name));
}
