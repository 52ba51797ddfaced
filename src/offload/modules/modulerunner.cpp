// ModuleRunner: discovery (sidecar or --xml), a cache of good descriptions, validated runs.
#include <offload/modules/modulerunner.h>

#include "offload/core/regularfile_p.h"

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
using ModuleCore = TaskResultCore<Module>;

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

std::shared_ptr<ModuleCore> newCore(QObject *context, const QString &path)
{
    auto core = std::make_shared<ModuleCore>(
        context, QStringLiteral("describe"), QFileInfo(path).fileName());
    core->attach();
    return core;
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
    auto core = newCore(context, path);
    TaskHandle<Module> handle(core);
    QString error;
    std::optional<Module> module = locate(path, error);
    if (!module) {
        core->fail(Error { ErrorKind::Launch, error });
        return handle;
    }
    const QFileInfo info(module->path);
    const QFileInfo sidecar(sidecarOf(info));
    const ModuleCatalog::Stamp stamp { info.lastModified(),
        sidecar.exists() ? sidecar.lastModified() : QDateTime() };
    if (auto cached = m_catalog->find(module->path, stamp)) {
        core->markStarting();
        core->markRunning();
        core->finishWith(std::move(*cached));
        return handle;
    }
    core->markStarting();
    core->markRunning();

    if (sidecar.exists()) {
        // Read on the caller's thread (often the GUI thread): a FIFO, a device or a huge file
        // is refused at once instead of blocking or filling memory.
        const QString fileName = sidecar.absoluteFilePath();
        const RegularFileRead read
            = readRegularFile(QFile::encodeName(fileName), sem::maxDescriptionBytes);
        if (!read.ok()) {
            core->fail(Error { ErrorKind::Launch,
                QStringLiteral("cannot read the sidecar description %1").arg(read.error) });
            return handle;
        }
        sem::ParseResult parsed = sem::parseDescription(read.data);
        if (!parsed.ok()) {
            core->fail(Error { ErrorKind::Protocol,
                QStringLiteral("%1:%2:%3: %4")
                    .arg(fileName)
                    .arg(parsed.line)
                    .arg(parsed.column)
                    .arg(parsed.error) });
            return handle;
        }
        module->description = std::move(*parsed.description);
        module->descriptionSource = sidecar.absoluteFilePath();
        m_catalog->store(*module, stamp);
        core->finishWith(std::move(*module));
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
    core->setCancelHandler([xmlRun]() mutable { xmlRun.cancel(); });
    xmlRun.core()->addCompletionHook([core, catalog = m_catalog, m = std::move(*module), stamp](
                                         TaskCore &done) mutable {
        const QString who = QFileInfo(m.path).fileName();
        switch (done.state()) {
        case TaskState::Cancelled:
            core->finishCancelled();
            return;
        case TaskState::Failed: {
            Error e = done.error();
            e.message = e.kind == ErrorKind::Timeout
                ? QStringLiteral(
                    "%1 --xml printed no description within the timeout; it was stopped")
                      .arg(who)
                : QStringLiteral("%1 --xml failed: %2").arg(who, e.message);
            e.partial = {};
            core->fail(e);
            return;
        }
        default:
            break;
        }
        const auto &result = static_cast<TaskResultCore<ProgramResult> &>(done).value();
        if (result.droppedStdout > 0) { // only the newest bytes were kept: the start is gone
            Error e { ErrorKind::Protocol,
                QStringLiteral("%1 --xml printed more than %2 MiB, the most a description may be")
                    .arg(who)
                    .arg(sem::maxDescriptionBytes >> 20) };
            e.origin = m.descriptionSource;
            core->fail(e);
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
            core->fail(e);
            return;
        }
        m.description = std::move(*parsed.description);
        catalog->store(m, stamp);
        core->finishWith(std::move(m));
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
        auto core = std::make_shared<TaskResultCore<ProgramResult>>(
            context, QStringLiteral("program"), options.name.isEmpty() ? title : options.name);
        core->attach();
        core->fail(Error { ErrorKind::InvalidInput, cl.error, module.path });
        return TaskHandle<ProgramResult>(core);
    }
    ProgramSpec spec;
    spec.program = module.program;
    spec.arguments = toArguments(module.launchArguments + cl.arguments);
    spec.progress = ProgressFormat::Auto;
    spec.timeout = options.timeout;
    spec.cancelGrace = options.cancelGrace;
    spec.environment = options.environment;
    spec.workingDirectory = options.workingDirectory;
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
