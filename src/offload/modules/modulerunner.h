// ModuleRunner: finds Slicer Execution Model modules' descriptions and runs them as tasks.
#pragma once

#include <offload/modules/export.h>
#include <offload/process/launcher.h>
#include <offload/process/programrunner.h>
#include <offload/sem/commandline.h>
#include <offload/sem/semdescription.h>

#include <QVariantMap>

#include <chrono>
#include <memory>

namespace offload {

namespace detail {
class ModuleCatalog;
}

// A module ready to run: where it is, how it is started, what it takes.
struct OFFLOAD_MODULES_EXPORT Module
{
    QString path; // absolute path of the executable or script
    QString program; // what is executed: the path, or the interpreter of a script
    QStringList launchArguments; // before the module's own arguments (a script's path)
    sem::Description description;
    QString descriptionSource; // the sidecar's path, or "<path> --xml"

    bool hasReturnParameters() const;
};

struct ModuleRunOptions
{
    std::chrono::milliseconds timeout { 0 }; // 0: none
    std::chrono::milliseconds cancelGrace { 2000 }; // SIGTERM to the process tree, this, SIGKILL
    Environment environment = Environment::inherited();
    QString workingDirectory;
    QString name; // for the monitor; default the module's title
    // Where it runs. The module is described here and run at the same path over there (a
    // shared file system or the same installation); file parameters name files over there.
    Launcher launcher;
};

// Discovery: a sidecar "<dir>/<base name>.xml" next to the module is read if present, else the
// module is run with --xml (under a timeout) and whatever it prints before "<?xml" is
// skipped. Python modules (".py") run with the interpreter in $OFFLOAD_PYTHON, else python3
// from PATH, as Slicer runs script modules. Successful descriptions are cached by path and
// modification times; a failed discovery is reported and tried again on the next call.
//
// Running: the values (by parameter name; strings, numbers, booleans or lists) are validated
// against the description before launch (an invalid value fails the task with kind invalid
// input naming the parameter); the run is a ProgramRunner run with SEM progress, a private
// return-parameter file when the module has return parameters, and the process tree killed on
// cancel. A failed run's Error::partial holds its ProgramResult, return parameters included.
//
// Thread-safety: every member may be called from any thread. Sidecars are read on the
// calling thread, without blocking: one that is not a regular file (a FIFO, a device) or is
// larger than sem::maxDescriptionBytes fails the describe task at once (kind launch); --xml
// runs and module runs are asynchronous. Destroying the runner cancels its queued runs and
// kills running ones (bounded by their grace periods).
class OFFLOAD_MODULES_EXPORT ModuleRunner
{
public:
    explicit ModuleRunner(int maxParallel = 0); // module runs at once; 0: the number of cores
    ~ModuleRunner();
    ModuleRunner(const ModuleRunner &) = delete;
    ModuleRunner &operator=(const ModuleRunner &) = delete;

    // path: a file path, or a program name looked up in PATH.
    TaskHandle<Module> describe(QObject *context, const QString &path,
        std::chrono::milliseconds xmlTimeout = std::chrono::seconds(5));
    TaskHandle<ProgramResult> run(QObject *context, const Module &module, const QVariantMap &values,
        ModuleRunOptions options = {});

    // The run's return parameters typed by the description (works on a failed run's partial
    // result too). A module with return parameters that wrote no file gives a warning.
    static sem::ReturnValues returnValues(const Module &module, const ProgramResult &result);

    int maxParallel() const;

private:
    std::unique_ptr<ProgramRunner> m_runs, m_discovery;
    std::shared_ptr<detail::ModuleCatalog> m_catalog;
};

} // namespace offload

Q_DECLARE_METATYPE(offload::Module)
