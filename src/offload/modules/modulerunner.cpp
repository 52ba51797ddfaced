// ModuleRunner: discovery (sidecar or --xml), a cache of good descriptions, validated runs.
#include <offload/modules/modulerunner.h>

#include "offload/core/regularfile_p.h"
#include <offload/core/taskpromise.h>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QStandardPaths>

#include <mutex>

namespace offload {

bool Module::hasReturnParameters() const
{
    for (const sem::Parameter *p : description.parameters())
        if (p->isReturnParameter())
            return true;
    return false;
}

namespace detail {

// Good descriptions by absolute path; an entry is used only while the module's and the
// sidecar's modification times are unchanged. Failures are never stored.
class ModuleCatalog
{
public:
    struct Stamp
    {
        QDateTime module, sidecar;
        bool operator==(const Stamp &) const = default;
    };

    std::optional<Module> find(const QString &path, const Stamp &stamp)
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_entries.constFind(path);
        if (it == m_entries.cend() || !(it->stamp == stamp))
            return std::nullopt;
        return it->module;
    }

    void store(const Module &module, const Stamp &stamp)
    {
        std::lock_guard lock(m_mutex);
        m_entries.insert(module.path, Entry { stamp, module });
    }

private:
    struct Entry
    {
        Stamp stamp;
        Module module;
    };
    std::mutex m_mutex;
    QHash<QString, Entry> m_entries;
};

} // namespace detail

using namespace detail;
using Stamp = ModuleCatalog::Stamp;

namespace {

QString sidecarOf(const QFileInfo &info)
{
    return info.absoluteDir().filePath(info.completeBaseName() + QStringLiteral(".xml"));
}

QString pythonInterpreter()
{
    const QString configured = qEnvironmentVariable("OFFLOAD_PYTHON");
    if (!configured.isEmpty())
        return configured;
    const QString found = QStandardPaths::findExecutable(QStringLiteral("python3"));
    return found.isEmpty() ? QStringLiteral("python3") : found; // the launch error will name it
}

// Where the module is and how it starts; the description is filled in later.
std::optional<Module> locate(const QString &path, QString &error)
{
    QString resolved = path;
    if (!path.contains(QLatin1Char('/')) && !QFileInfo::exists(path))
        resolved = QStandardPaths::findExecutable(path);
    const QFileInfo info(resolved);
    if (resolved.isEmpty() || !info.exists()) {
        error = QStringLiteral("module '%1' not found").arg(path);
        return std::nullopt;
    }
    if (info.isDir()) {
        error = QStringLiteral("module '%1' is a directory").arg(path);
        return std::nullopt;
    }
    Module m;
    m.path = info.absoluteFilePath();
    if (info.suffix() == QLatin1String("py")) {
        m.program = pythonInterpreter();
        m.launchArguments = { m.path };
    } else {
        m.program = m.path;
    }
    return m;
}

// A description parsed from the sidecar .xml beside the module. Read on the caller's thread
// (often the GUI thread): a FIFO, a device or a huge file is refused at once instead of
// blocking or filling memory.
void describeFromSidecar(const TaskPromise<Module> &task, Module module, const QFileInfo &sidecar,
    ModuleCatalog &catalog, const Stamp &stamp)
{
    const QString fileName = sidecar.absoluteFilePath();
    const RegularFileRead read
        = readRegularFile(QFile::encodeName(fileName), sem::maxDescriptionBytes);
    if (!read.ok()) {
        task.fail(Error { ErrorKind::Launch,
            QStringLiteral("cannot read the sidecar description %1").arg(read.error) });
        return;
    }
    sem::ParseResult parsed = sem::parseDescription(read.data);
    if (!parsed.ok()) {
        task.fail(Error { ErrorKind::Protocol,
            QStringLiteral("%1:%2:%3: %4")
                .arg(fileName)
                .arg(parsed.line)
                .arg(parsed.column)
                .arg(parsed.error) });
        return;
    }
    module.description = std::move(*parsed.description);
    module.descriptionSource = fileName;
    catalog.store(module, stamp);
    task.finish(std::move(module));
}

// Ends a describe from its `module --xml` run, on the thread that ended the run.
void finishFromXmlRun(const TaskHandle<ProgramResult> &xmlRun, const TaskPromise<Module> &task,
    Module m, ModuleCatalog &catalog, const Stamp &stamp)
{
    const QString who = QFileInfo(m.path).fileName();
    switch (xmlRun.state()) {
    case TaskState::Cancelled:
        task.finishCancelled();
        return;
    case TaskState::Failed: {
        Error e = xmlRun.error();
        e.message = e.kind == ErrorKind::Timeout
            ? QStringLiteral("%1 --xml printed no description within the timeout; it was stopped")
                  .arg(who)
            : QStringLiteral("%1 --xml failed: %2").arg(who, e.message);
        e.partial = {};
        task.fail(e);
        return;
    }
    default:
        break;
    }
    const ProgramResult &result = xmlRun.result();
    if (result.droppedStdout > 0) { // only the newest bytes were kept: the start is gone
        Error e { ErrorKind::Protocol,
            QStringLiteral("%1 --xml printed more than %2 MiB, the most a description may be")
                .arg(who)
                .arg(sem::maxDescriptionBytes >> 20) };
        e.origin = m.descriptionSource;
        task.fail(e);
        return;
    }
    sem::ParseResult parsed = sem::parseDescription(result.stdoutText);
    if (!parsed.ok()) {
        Error e { ErrorKind::Protocol,
            QStringLiteral("%1 --xml printed no valid description (line %2, column %3: %4)")
                .arg(who)
                .arg(parsed.line)
                .arg(parsed.column)
                .arg(parsed.error) };
        e.origin = m.descriptionSource;
        task.fail(e);
        return;
    }
    m.description = std::move(*parsed.description);
    catalog.store(m, stamp);
    task.finish(std::move(m));
}

} // namespace

ModuleRunner::ModuleRunner(int maxParallel)
    : m_runs(std::make_unique<ProgramRunner>(maxParallel))
    , m_discovery(
          std::make_unique<ProgramRunner>()) // own queue: a describe never waits behind long runs
    , m_catalog(std::make_shared<ModuleCatalog>())
{ }

ModuleRunner::~ModuleRunner() = default;

int ModuleRunner::maxParallel() const
{
    return m_runs->maxParallel();
}

TaskHandle<Module> ModuleRunner::describe(
    QObject *context, const QString &path, std::chrono::milliseconds xmlTimeout)
{
    TaskPromise<Module> task(context, QStringLiteral("describe"), QFileInfo(path).fileName());
    auto handle = task.handle();
    QString error;
    std::optional<Module> module = locate(path, error);
    if (!module) {
        task.fail(Error { ErrorKind::Launch, error });
        return handle;
    }
    const QFileInfo info(module->path);
    const QFileInfo sidecar(sidecarOf(info));
    const Stamp stamp { info.lastModified(),
        sidecar.exists() ? sidecar.lastModified() : QDateTime() };
    task.markStarting();
    task.start();
    if (auto cached = m_catalog->find(module->path, stamp)) {
        task.finish(std::move(*cached));
        return handle;
    }
    if (sidecar.exists()) {
        describeFromSidecar(task, std::move(*module), sidecar, *m_catalog, stamp);
        return handle;
    }

    ProgramSpec spec;
    spec.program = module->program;
    spec.arguments = toArguments(module->launchArguments);
    spec.arguments << QByteArrayLiteral("--xml");
    spec.progress = ProgressFormat::None;
    spec.timeout = xmlTimeout;
    spec.cancelGrace = std::chrono::milliseconds(500);
    spec.outputLimit = sem::maxDescriptionBytes;
    spec.name = QStringLiteral("%1 --xml").arg(info.fileName());
    auto xmlRun = m_discovery->run(context, std::move(spec));
    module->descriptionSource = QStringLiteral("%1 --xml").arg(module->path);
    task.setCancelHandler([xmlRun] { xmlRun.cancel(); });
    xmlRun.onFinishedDirect(
        [task = std::make_shared<TaskPromise<Module>>(std::move(task)), catalog = m_catalog,
            m = std::move(*module), stamp](const TaskHandle<ProgramResult> &done) mutable {
            finishFromXmlRun(done, *task, std::move(m), *catalog, stamp); // called once
        });
    return handle;
}

TaskHandle<ProgramResult> ModuleRunner::run(
    QObject *context, const Module &module, const QVariantMap &values, ModuleRunOptions options)
{
    const QString title = module.description.title.isEmpty() ? QFileInfo(module.path).fileName()
                                                             : module.description.title;
    const bool returns = module.hasReturnParameters();
    sem::CommandLine cl = sem::buildCommandLine(module.description, values,
        returns ? QString::fromLatin1(ProgramSpec::returnParameterFilePlaceholder) : QString());
    if (!cl.ok()) {
        TaskPromise<ProgramResult> task(
            context, QStringLiteral("program"), options.name.isEmpty() ? title : options.name);
        task.fail(Error { ErrorKind::InvalidInput, cl.error, module.path });
        return task.handle();
    }
    ProgramSpec spec;
    spec.program = module.program;
    spec.arguments = toArguments(module.launchArguments + cl.arguments);
    spec.progress = ProgressFormat::Auto;
    spec.timeout = options.timeout;
    spec.cancelGrace = options.cancelGrace;
    spec.environment = options.environment;
    spec.workingDirectory = options.workingDirectory;
    spec.launcher = options.launcher;
    spec.returnParameterFile = returns;
    spec.name = options.name.isEmpty() ? title : options.name;
    return m_runs->run(context, std::move(spec));
}

sem::ReturnValues ModuleRunner::returnValues(const Module &module, const ProgramResult &result)
{
    sem::ReturnValues out = sem::parseReturnParameters(
        result.returnParameters.value_or(QByteArray()), module.description);
    if (module.hasReturnParameters() && !result.returnParameters)
        out.warnings.prepend(QStringLiteral("the module wrote no return-parameter file"));
    return out;
}

} // namespace offload
