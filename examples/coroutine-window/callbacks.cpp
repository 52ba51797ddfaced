// The callback version of the same pipeline, for comparison: each step starts the next from
// its onResult, progress is combined by hand, every step must remember to end the busy state
// on failure and cancellation, and Cancel must know which step is current.
#include "pipelinewindow.h"
#include "primes.h"

#include <offload/core/threadpool.h>

#include <QCoreApplication>
#include <QJsonObject>
#include <QLabel>
#include <QProgressBar>

void PipelineWindow::runWithCallbacks()
{
    setBusy(true);
    m_current = {};
    // Every step's failure or cancellation ends the pipeline the same way.
    const auto fail = [this](const QString &state, const QString &why) {
        m_cancelCallbacks = nullptr;
        setBusy(false);
        m_step->setText(state == QLatin1String("Cancelled") ? tr("Cancelled") : why);
        Q_EMIT ended(state, QString());
    };
    const auto endedBadly = [fail](const auto &t) {
        if (t.state() == offload::TaskState::Failed)
            fail(QStringLiteral("Failed"), t.error().summary());
        else if (t.state() == offload::TaskState::Cancelled)
            fail(QStringLiteral("Cancelled"), QString());
    };

    m_step->setText(tr("Counting primes on a thread…"));
    Q_EMIT stepStarted(1);
    auto primes
        = offload::run(this, [](offload::TaskControl &t) { return countPrimes(t, 100'000); });
    m_cancelCallbacks = [primes] { primes.cancel(); };
    primes.onProgress(
        [this](const offload::Progress &p) { m_progress->setValue(int(p.fraction() * 400)); });
    primes.onFinished(endedBadly);
    primes.onResult([=, this](qint64 below100k) {
        m_step->setText(tr("Asking a worker process…"));
        Q_EMIT stepStarted(2);
        QJsonObject args;
        args.insert(QStringLiteral("limit"), 10'000);
        auto call = m_workers.submit(this, QStringLiteral("countPrimes"), args);
        m_cancelCallbacks = [call] { call.cancel(); };
        call.onProgress([this](const offload::Progress &p) {
            m_progress->setValue(400 + int(p.fraction() * 300));
        });
        call.onFinished(endedBadly);
        call.onResult([=, this](const offload::WorkerResult &below10k) {
            m_step->setText(tr("Running the blur module…"));
            auto described = m_modules.describe(this,
                QCoreApplication::applicationDirPath() + QStringLiteral("/offload-example-blur"));
            m_cancelCallbacks = [described] { described.cancel(); };
            described.onFinished(endedBadly);
            described.onResult([=, this](const offload::Module &blur) {
                QVariantMap values;
                values.insert(
                    QStringLiteral("iterations"), 2000 + int(below10k.value.toInteger() % 100));
                values.insert(QStringLiteral("summary"), QStringLiteral("/dev/null"));
                auto module = m_modules.run(this, blur, values);
                Q_EMIT stepStarted(3);
                m_cancelCallbacks = [module] { module.cancel(); };
                module.onProgress([this](const offload::Progress &p) {
                    m_progress->setValue(700 + int(p.fraction() * 300));
                });
                module.onFinished(endedBadly);
                module.onResult([=, this](const offload::ProgramResult &ran) {
                    const QVariant checksum
                        = offload::ModuleRunner::returnValues(blur, ran).values.value(
                            QStringLiteral("checksum"));
                    const QString result
                        = tr("%1 primes below 100000, %2 below 10000, blur checksum %3")
                              .arg(below100k)
                              .arg(below10k.value.toInteger())
                              .arg(checksum.toLongLong());
                    m_cancelCallbacks = nullptr;
                    setBusy(false);
                    m_result->setText(result);
                    m_step->setText(tr("Done"));
                    Q_EMIT ended(QStringLiteral("Finished"), result);
                });
            });
        });
    });
}
