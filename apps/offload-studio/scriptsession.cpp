#include "scriptsession.h"

#include "batchdialog.h"
#include "modulelibrary.h"
#include "runcontroller.h"
#include "studiowindow.h"

#include "monitorpanel.h"
#include <offload/monitor/taskmodel.h>

#include <QDir>
#include <QTimer>

namespace studio {

ScriptSession::ScriptSession(
    StudioWindow *window, QJsonObject script, QString scriptDir, QObject *parent)
    : QObject(parent), m_window(window), m_script(std::move(script)), m_dir(std::move(scriptDir))
{ }

void ScriptSession::start()
{
    connect(m_window->probe(), &offload::LatencyProbe::sampled, this, [this](double us) {
        // From the first run to the last end: the window's start-up (fonts, first layout) is
        // not what a user feels while work runs.
        if (m_launched && !m_done)
            m_lagSamples.push_back(us);
    });
    if (m_window->library()->isDiscovering())
        connect(m_window->library(), &ModuleLibrary::discoveryFinished, this,
            &ScriptSession::launch, Qt::SingleShotConnection);
    else
        QTimer::singleShot(0, this, &ScriptSession::launch);
}

static QVariantList batchInputs(const QJsonObject &batch, const QDir &dir, bool integers)
{
    if (batch.contains(QLatin1String("range"))) {
        const QJsonArray r = batch.value(QLatin1String("range")).toArray();
        return numericRange(r.at(0).toDouble(), r.at(1).toDouble(),
            r.size() > 2 ? r.at(2).toDouble() : 1.0, integers);
    }
    if (batch.contains(QLatin1String("folder"))) {
        const QDir folder(dir.absoluteFilePath(batch.value(QLatin1String("folder")).toString()));
        QVariantList out;
        const QString pattern = batch.value(QLatin1String("pattern")).toString(QStringLiteral("*"));
        for (const QString &n : folder.entryList({ pattern }, QDir::Files, QDir::Name))
            out << folder.absoluteFilePath(n);
        return out;
    }
    return batch.value(QLatin1String("inputs")).toArray().toVariantList();
}

void ScriptSession::launch()
{
    if (m_launched)
        return;
    // The window's first full paint (the selected module's form, fonts) happens now, before
    // the lag is sampled: it is start-up, not what a user feels while work runs.
    m_window->repaint();
    m_launched = true;
    const QDir dir(m_dir);
    RunController *controller = m_window->controller();
    connect(controller, &RunController::allEnded, this, &ScriptSession::checkDone);
    for (const QJsonValue &v : m_script.value(QLatin1String("runs")).toArray()) {
        Entry e;
        e.spec = v.toObject();
        e.module = e.spec.value(QLatin1String("module")).toString();
        e.expect = e.spec.value(QLatin1String("expect")).toString(QStringLiteral("finished"));
        const int row = m_window->library()->find(e.module);
        if (row < 0) {
            e.launchError = tr("no ready module called '%1'").arg(e.module);
            m_entries.push_back(e);
            continue;
        }
        const offload::Module module = m_window->library()->entry(row).module;
        const QVariantMap values = e.spec.value(QLatin1String("values")).toObject().toVariantMap();
        if (e.spec.contains(QLatin1String("batch"))) {
            const QJsonObject batch = e.spec.value(QLatin1String("batch")).toObject();
            const QString parameter = batch.value(QLatin1String("parameter")).toString();
            bool integers = false;
            for (const auto &g : module.description.groups)
                for (const auto &p : g.parameters)
                    integers |= p.name == parameter && p.tag == QLatin1String("integer");
            e.taskId
                = controller->runBatch(module, values, parameter, batchInputs(batch, dir, integers),
                    batch.value(QLatin1String("parallel")).toInt(2), &e.launchError);
        } else {
            e.taskId = controller->run(module, values, &e.launchError);
        }
        const int cancelAfter = e.spec.value(QLatin1String("cancelAfterMs")).toInt(-1);
        if (e.taskId && cancelAfter >= 0) {
            const quint64 id = e.taskId;
            QTimer::singleShot(cancelAfter, this, [this, id] {
                const auto index = m_window->monitor()->model()->indexOf(id);
                if (index.isValid())
                    m_window->monitor()->model()->task(index).cancel();
            });
        }
        m_entries.push_back(e);
    }
    checkDone();
}

void ScriptSession::checkDone()
{
    if (m_done || !m_launched || m_window->controller()->activeCount() > 0)
        return;
    m_done = true;
    const QString shot = m_script.value(QLatin1String("screenshot")).toString();
    if (!shot.isEmpty())
        m_window->grab().save(QDir(m_dir).absoluteFilePath(shot));
    Q_EMIT finished();
}

QJsonObject ScriptSession::describe(const Entry &e) const
{
    QJsonObject out { { QStringLiteral("module"), e.module },
        { QStringLiteral("expected"), e.expect } };
    if (!e.taskId) {
        out.insert(QStringLiteral("state"), QStringLiteral("not started"));
        out.insert(QStringLiteral("error"), e.launchError);
        out.insert(QStringLiteral("ok"), false);
        return out;
    }
    offload::TaskModel *model = m_window->monitor()->model();
    model->refresh();
    const auto task = model->task(model->indexOf(e.taskId));
    const QString state
        = task.isValid() ? offload::stateName(task.state()).toLower() : QStringLiteral("unknown");
    out.insert(QStringLiteral("state"), state);
    out.insert(QStringLiteral("ok"), state == e.expect);
    if (task.isValid()) {
        out.insert(QStringLiteral("elapsedMs"), qint64(task.elapsed().count()));
        if (task.state() == offload::TaskState::Failed)
            out.insert(QStringLiteral("error"), task.error().summary());
    }
    const RunController *c = m_window->controller();
    if (const RunInfo *run = c->info(e.taskId)) {
        out.insert(QStringLiteral("commandLine"), QJsonArray::fromStringList(run->commandLine));
        if (!run->returnValues.isEmpty())
            out.insert(
                QStringLiteral("returnValues"), QJsonObject::fromVariantMap(run->returnValues));
        if (run->peakRssBytes > 0)
            out.insert(QStringLiteral("peakRssBytes"), run->peakRssBytes);
    }
    if (c->isBatch(e.taskId)) {
        QJsonObject children;
        const QModelIndex parent = model->indexOf(e.taskId);
        for (int r = 0; r < model->rowCount(parent); ++r) {
            const auto child = model->task(model->index(r, 0, parent));
            const QString s = offload::stateName(child.state()).toLower();
            children.insert(s, children.value(s).toInt() + 1);
        }
        out.insert(QStringLiteral("runs"), children);
    }
    return out;
}

QJsonObject ScriptSession::summary() const
{
    QJsonArray runs;
    bool ok = true;
    for (const Entry &e : m_entries) {
        const QJsonObject d = describe(e);
        ok &= d.value(QLatin1String("ok")).toBool();
        runs.append(d);
    }
    int ready = 0;
    QJsonArray broken;
    const ModuleLibrary *lib = m_window->library();
    for (int i = 0; i < lib->count(); ++i) {
        const ModuleEntry &m = lib->entry(i);
        if (m.status == ModuleEntry::Ready)
            ++ready;
        else
            broken.append(QJsonObject {
                { QStringLiteral("path"), m.path }, { QStringLiteral("error"), m.error } });
    }
    const auto lag = offload::latencyStats(m_lagSamples);
    const RunHistory *h = m_window->history();
    return QJsonObject { { QStringLiteral("modules"),
                             QJsonObject { { QStringLiteral("ready"), ready },
                                 { QStringLiteral("broken"), broken } } },
        { QStringLiteral("runs"), runs },
        { QStringLiteral("guiLag"),
            QJsonObject { { QStringLiteral("samples"), lag.count },
                { QStringLiteral("p50us"), qRound(lag.p50us) },
                { QStringLiteral("p99us"), qRound(lag.p99us) },
                { QStringLiteral("maxus"), qRound(lag.maxus) } } },
        { QStringLiteral("history"),
            QJsonObject { { QStringLiteral("path"), h->path() },
                { QStringLiteral("available"), h->isAvailable() },
                { QStringLiteral("problem"), h->problem() } } },
        { QStringLiteral("ok"), ok } };
}

int ScriptSession::exitCode() const
{
    return summary().value(QLatin1String("ok")).toBool() ? 0 : 1;
}

} // namespace studio
