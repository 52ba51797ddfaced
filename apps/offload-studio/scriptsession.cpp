#include "scriptsession.h"

#include "batchdialog.h"
#include "modulelibrary.h"
#include "runcontroller.h"
#include "studiowindow.h"

#include "monitorpanel.h"
#include <offload/monitor/taskmodel.h>

#include "offload/core/regularfile_p.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSaveFile>
#include <QTimer>

#include <algorithm>
#include <cmath>

namespace studio {

namespace {

// "unknown key 'x' (known: a, b)" for the first key of object that is not in known.
QString unknownKey(const QJsonObject &object, const QStringList &known, const QString &at)
{
    for (auto it = object.begin(); it != object.end(); ++it)
        if (!known.contains(it.key()))
            return QStringLiteral("%1unknown key '%2' (known: %3)")
                .arg(at.isEmpty() ? QString() : at + QStringLiteral(": "), it.key(),
                    known.join(QStringLiteral(", ")));
    return {};
}

bool isWholeNumber(const QJsonValue &v, double low, double high)
{
    const double d = v.toDouble(std::nan(""));
    return v.isDouble() && std::isfinite(d) && d == std::floor(d) && d >= low && d <= high;
}

QString checkValues(const QJsonValue &values, const QString &at)
{
    if (!values.isObject())
        return QStringLiteral("%1: must be an object of parameter values by name").arg(at);
    const QJsonObject object = values.toObject();
    for (auto it = object.begin(); it != object.end(); ++it) {
        const QJsonValue v = it.value();
        if (v.isObject())
            return QStringLiteral("%1.%2: an object is not a parameter value").arg(at, it.key());
        if (v.isArray())
            for (const QJsonValue &e : v.toArray())
                if (!e.isString() && !e.isDouble() && !e.isBool())
                    return QStringLiteral(
                        "%1.%2: a list may hold only numbers, strings and booleans")
                        .arg(at, it.key());
    }
    return {};
}

QString checkBatch(const QJsonValue &value, const QString &at)
{
    if (!value.isObject())
        return QStringLiteral("%1: must be an object").arg(at);
    const QJsonObject batch = value.toObject();
    if (QString e = unknownKey(batch,
            { QStringLiteral("parameter"), QStringLiteral("inputs"), QStringLiteral("range"),
                QStringLiteral("folder"), QStringLiteral("pattern"), QStringLiteral("parallel") },
            at);
        !e.isEmpty())
        return e;
    const QJsonValue parameter = batch.value(QLatin1String("parameter"));
    if (!parameter.isString() || parameter.toString().isEmpty())
        return QStringLiteral("%1.parameter: the name of the parameter to vary is missing").arg(at);
    const int sources = int(batch.contains(QLatin1String("inputs")))
        + int(batch.contains(QLatin1String("range")))
        + int(batch.contains(QLatin1String("folder")));
    if (sources != 1)
        return QStringLiteral("%1: give exactly one of inputs, range or folder").arg(at);
    if (batch.contains(QLatin1String("inputs"))) {
        const QJsonValue inputs = batch.value(QLatin1String("inputs"));
        if (!inputs.isArray())
            return QStringLiteral("%1.inputs: must be a list").arg(at);
        if (inputs.toArray().isEmpty())
            return QStringLiteral("%1.inputs: the list is empty").arg(at);
        for (const QJsonValue &e : inputs.toArray())
            if (!e.isString() && !e.isDouble() && !e.isBool())
                return QStringLiteral("%1.inputs: may hold only numbers, strings and booleans")
                    .arg(at);
    }
    if (batch.contains(QLatin1String("range"))) {
        const QJsonArray r = batch.value(QLatin1String("range")).toArray();
        const bool numbers
            = std::all_of(r.begin(), r.end(), [](const QJsonValue &v) { return v.isDouble(); });
        if (!batch.value(QLatin1String("range")).isArray() || r.size() < 2 || r.size() > 3
            || !numbers)
            return QStringLiteral("%1.range: must be [from, to] or [from, to, step] (numbers)")
                .arg(at);
        if (const QString problem = numericRangeProblem(
                r.at(0).toDouble(), r.at(1).toDouble(), r.size() > 2 ? r.at(2).toDouble() : 1.0);
            !problem.isEmpty())
            return QStringLiteral("%1.range: %2").arg(at, problem);
    }
    if (batch.contains(QLatin1String("folder"))) {
        const QJsonValue folder = batch.value(QLatin1String("folder"));
        if (!folder.isString() || folder.toString().isEmpty())
            return QStringLiteral("%1.folder: must be a folder's path").arg(at);
    }
    if (batch.contains(QLatin1String("pattern"))) {
        if (!batch.contains(QLatin1String("folder")))
            return QStringLiteral("%1.pattern: goes with a folder").arg(at);
        if (!batch.value(QLatin1String("pattern")).isString())
            return QStringLiteral("%1.pattern: must be a file name pattern").arg(at);
    }
    if (batch.contains(QLatin1String("parallel"))
        && !isWholeNumber(batch.value(QLatin1String("parallel")), 1, 256))
        return QStringLiteral("%1.parallel: must be a whole number from 1 to 256").arg(at);
    return {};
}

QString checkRun(const QJsonValue &value, const QString &at)
{
    if (!value.isObject())
        return QStringLiteral("%1: a run must be an object with at least a \"module\"").arg(at);
    const QJsonObject run = value.toObject();
    if (QString e = unknownKey(run,
            { QStringLiteral("module"), QStringLiteral("values"), QStringLiteral("expect"),
                QStringLiteral("cancelAfterMs"), QStringLiteral("batch") },
            at);
        !e.isEmpty())
        return e;
    const QJsonValue module = run.value(QLatin1String("module"));
    if (!module.isString() || module.toString().isEmpty())
        return QStringLiteral("%1.module: must be a module's title, file name or path").arg(at);
    if (run.contains(QLatin1String("values")))
        if (QString e
            = checkValues(run.value(QLatin1String("values")), at + QStringLiteral(".values"));
            !e.isEmpty())
            return e;
    if (run.contains(QLatin1String("expect"))) {
        static const QStringList states
            = { QStringLiteral("finished"), QStringLiteral("failed"), QStringLiteral("cancelled") };
        if (!states.contains(run.value(QLatin1String("expect")).toString()))
            return QStringLiteral("%1.expect: must be one of %2")
                .arg(at, states.join(QStringLiteral(", ")));
    }
    if (run.contains(QLatin1String("cancelAfterMs"))
        && !isWholeNumber(run.value(QLatin1String("cancelAfterMs")), 0, 86'400'000))
        return QStringLiteral("%1.cancelAfterMs: must be a whole number of milliseconds from 0 "
                              "to 86400000 (a day)")
            .arg(at);
    if (run.contains(QLatin1String("batch")))
        return checkBatch(run.value(QLatin1String("batch")), at + QStringLiteral(".batch"));
    return {};
}

} // namespace

QString ScriptSession::check(const QJsonObject &script)
{
    if (QString e
        = unknownKey(script, { QStringLiteral("runs"), QStringLiteral("screenshot") }, {});
        !e.isEmpty())
        return e;
    if (!script.value(QLatin1String("runs")).isArray())
        return QStringLiteral("runs: the script needs a list of runs (\"runs\": [...])");
    const QJsonArray runs = script.value(QLatin1String("runs")).toArray();
    for (qsizetype i = 0; i < runs.size(); ++i)
        if (QString e = checkRun(runs.at(i), QStringLiteral("runs[%1]").arg(i)); !e.isEmpty())
            return e;
    if (script.contains(QLatin1String("screenshot"))
        && (!script.value(QLatin1String("screenshot")).isString()
            || script.value(QLatin1String("screenshot")).toString().isEmpty()))
        return QStringLiteral("screenshot: must be an image file's path");
    return {};
}

std::optional<QJsonObject> ScriptSession::load(const QString &path, QString *error)
{
    const auto fail = [error](const QString &why) {
        if (error)
            *error = why;
        return std::nullopt;
    };
    // Non-blocking and bounded: a FIFO, a device or a file whose reads would wait is refused.
    const auto read = offload::detail::readRegularFile(QFile::encodeName(path), maxScriptBytes);
    if (!read.ok())
        return fail(QStringLiteral("cannot read the script %1").arg(read.error));
    QJsonParseError parse {};
    const QJsonDocument doc = QJsonDocument::fromJson(read.data, &parse);
    if (parse.error != QJsonParseError::NoError)
        return fail(QStringLiteral("%1 is not JSON: %2 at byte %3")
                        .arg(path, parse.errorString())
                        .arg(parse.offset));
    if (!doc.isObject())
        return fail(
            QStringLiteral("%1: a script is a JSON object ({\"runs\": [...]}), not %2")
                .arg(path, doc.isArray() ? QStringLiteral("an array") : QStringLiteral("a value")));
    if (const QString e = check(doc.object()); !e.isEmpty())
        return fail(QStringLiteral("%1: %2").arg(path, e));
    return doc.object();
}

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

// The batch's inputs (check() has vetted the script), or none with *error.
static QVariantList batchInputs(
    const QJsonObject &batch, const QDir &dir, bool integers, QString *error)
{
    if (batch.contains(QLatin1String("range"))) {
        const QJsonArray r = batch.value(QLatin1String("range")).toArray();
        const double from = r.at(0).toDouble(), to = r.at(1).toDouble(),
                     step = r.size() > 2 ? r.at(2).toDouble() : 1.0;
        *error = numericRangeProblem(from, to, step);
        return numericRange(from, to, step, integers);
    }
    if (batch.contains(QLatin1String("folder"))) {
        const QString path = dir.absoluteFilePath(batch.value(QLatin1String("folder")).toString());
        const QFileInfo info(path);
        if (!info.isDir()) {
            *error = info.exists() ? ScriptSession::tr("%1 is not a folder").arg(path)
                                   : ScriptSession::tr("the folder %1 does not exist").arg(path);
            return {};
        }
        const QDir folder(path);
        QVariantList out;
        const QString pattern = batch.value(QLatin1String("pattern")).toString(QStringLiteral("*"));
        for (const QString &n : folder.entryList({ pattern }, QDir::Files, QDir::Name))
            out << folder.absoluteFilePath(n);
        if (out.isEmpty())
            *error = ScriptSession::tr("no file in %1 matches '%2'").arg(path, pattern);
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
            QString why;
            const QVariantList inputs = batchInputs(batch, dir, integers, &why);
            if (!why.isEmpty())
                e.launchError = why;
            else
                e.taskId = controller->runBatch(module, values, parameter, inputs,
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
        m_screenshotError = saveScreenshot(QDir(m_dir).absoluteFilePath(shot));
    Q_EMIT finished();
}

// Never opens the target itself (a FIFO there would block the GUI thread): the image goes to
// a temporary file beside it, renamed over it once complete.
QString ScriptSession::saveScreenshot(const QString &path) const
{
    const QFileInfo info(path);
    if (!QFileInfo(info.absolutePath()).isDir())
        return tr("cannot save the screenshot %1: the folder %2 does not exist")
            .arg(path, info.absolutePath());
    if (info.exists() && !info.isFile())
        return tr("cannot save the screenshot %1: it exists and is not a regular file").arg(path);
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return tr("cannot save the screenshot %1: %2").arg(path, file.errorString());
    const QByteArray format
        = info.suffix().isEmpty() ? QByteArrayLiteral("png") : info.suffix().toLower().toLatin1();
    if (!m_window->grab().save(&file, format.constData())) {
        file.cancelWriting();
        return tr("cannot save the screenshot %1: no image writer for '%2'")
            .arg(path, QString::fromLatin1(format));
    }
    if (!file.commit())
        return tr("cannot save the screenshot %1: %2").arg(path, file.errorString());
    return {};
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
    QJsonObject out { { QStringLiteral("modules"),
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
                { QStringLiteral("problem"), h->problem() } } } };
    const QString shot = m_script.value(QLatin1String("screenshot")).toString();
    if (!shot.isEmpty()) {
        QJsonObject screenshot { { QStringLiteral("path"), QDir(m_dir).absoluteFilePath(shot) } };
        if (!m_done)
            screenshot.insert(QStringLiteral("error"), tr("not taken: the session did not end"));
        else if (!m_screenshotError.isEmpty())
            screenshot.insert(QStringLiteral("error"), m_screenshotError);
        ok &= !screenshot.contains(QLatin1String("error"));
        out.insert(QStringLiteral("screenshot"), screenshot);
    }
    out.insert(QStringLiteral("ok"), ok);
    return out;
}

int ScriptSession::exitCode() const
{
    return summary().value(QLatin1String("ok")).toBool() ? 0 : 1;
}

} // namespace studio
