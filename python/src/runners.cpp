#include "pytask.h"

#include <offload/core/taskcontrol.h>
#include <offload/core/threadpool.h>
#include <offload/modules/modulerunner.h>
#include <offload/process/programrunner.h>
#include <offload/process/workerpool.h>

#include <pybind11/stl.h>

#include <cxxabi.h>

#include <QFile>
#include <QFileInfo>

namespace offload::python {

namespace {

Environment environmentFrom(py::handle env)
{
    Environment e = Environment::inherited();
    if (env.is_none())
        return e;
    if (!py::isinstance<py::dict>(env))
        throw py::type_error("environment is a dict of name to value (None removes one)");
    for (const auto &[k, v] : py::reinterpret_borrow<py::dict>(env)) {
        const QByteArray name = bytesFrom(k);
        if (name.isEmpty() || name.contains('=') || name.contains('\0'))
            throw py::value_error("not a variable name: " + name.toStdString());
        if (v.is_none())
            e.remove(name);
        else
            e.insert(name, bytesFrom(v));
    }
    return e;
}

Launcher launcherFrom(py::handle where)
{
    if (where.is_none())
        return Launcher::local();
    QString error;
    const auto l = Launcher::parse(stringFrom(where), &error);
    if (!l)
        throw py::value_error(error.toStdString());
    return *l;
}

py::object workerResultObject(const WorkerResult &r)
{
    py::list buffers;
    for (const SharedBuffer &b : r.buffers)
        buffers.append(sharedBufferObject(b));
    return py::module_::import("offload").attr("WorkerResult")(
        toPython(r.value), toPython(r.payload), py::tuple(buffers));
}

py::object workerFrameObject(const WorkerFrame &f)
{
    py::list buffers;
    for (const SharedBuffer &b : f.buffers)
        buffers.append(sharedBufferObject(b));
    return py::module_::import("offload").attr("WorkerFrame")(
        f.sequence, f.skipped, toPython(f.value), toPython(f.payload), py::tuple(buffers));
}

py::object moduleObject(const Module &m); // below

// A Python callable run on a pool thread: the GIL is taken only around the call.
struct ThreadCall
{
    PyRef fn;
    bool withControl;
    PyRef operator()(TaskControl &control)
    {
        if (!interpreterAlive())
            throw CancelledError();
        py::gil_scoped_acquire gil;
        try {
            py::object result = withControl
                ? fn.get()(py::cast(control, py::return_value_policy::copy))
                : fn.get()();
            return PyRef(std::move(result));
        } catch (abi::__forced_unwind &) {
            // The interpreter is finalizing and ends this thread where it takes the GIL back
            // (a callable that ignored cancel past the bounded wait at exit): its thread state
            // is Python's to drop, and the unwind goes on.
            gil.disarm();
            throw;
        } catch (py::error_already_set &e) {
            if (e.matches(py::module_::import("offload").attr("CancelledError")))
                throw CancelledError();
            Error error = errorFromPython(e);
            throw Exception(std::move(error));
        }
    }
};

} // namespace

py::object programResultObject(const ProgramResult &r)
{
    py::dict sem;
    for (auto it = r.semResults.begin(); it != r.semResults.end(); ++it)
        sem[toPython(it.key())] = toPython(it.value());
    return py::module_::import("offload").attr("ProgramResult")(r.exitCode, r.signal,
        double(r.elapsed.count()) / 1000.0, toPython(r.json), toPython(r.raw), sem,
        toPython(r.stdoutText), toPython(r.stderrText),
        r.returnParameters ? py::object(toPython(*r.returnParameters)) : py::object(py::none()));
}

namespace {

py::object moduleObject(const Module &m)
{
    py::list parameters;
    for (const sem::Parameter *p : m.description.parameters()) {
        py::dict d;
        d["name"] = toPython(p->name);
        d["tag"] = toPython(p->tag);
        d["label"] = toPython(p->label);
        d["description"] = toPython(p->description);
        d["default"] = toPython(p->defaultValue);
        d["channel"] = toPython(p->channel);
        d["flag"] = toPython(p->flag);
        d["longflag"] = toPython(p->longflag);
        d["index"] = p->index ? py::object(py::int_(*p->index)) : py::object(py::none());
        d["minimum"] = p->minimum ? py::object(py::float_(*p->minimum)) : py::object(py::none());
        d["maximum"] = p->maximum ? py::object(py::float_(*p->maximum)) : py::object(py::none());
        py::list elements;
        for (const QString &e : p->elements)
            elements.append(toPython(e));
        d["elements"] = elements;
        d["multiple"] = p->multiple;
        parameters.append(d);
    }
    py::object cls = py::module_::import("offload").attr("Module");
    return cls(toPython(m.path), toPython(m.description.title), toPython(m.description.description),
        parameters,
        py::reinterpret_steal<py::object>(
            PyCapsule_New(new Module(m), "offload.Module", [](PyObject *c) {
                delete static_cast<Module *>(PyCapsule_GetPointer(c, "offload.Module"));
            })));
}

const Module &moduleFrom(py::handle module)
{
    py::object native = py::getattr(module, "_native", py::none());
    if (!PyCapsule_IsValid(native.ptr(), "offload.Module"))
        throw py::type_error("an offload.Module (from ModuleRunner.describe) is needed");
    return *static_cast<const Module *>(PyCapsule_GetPointer(native.ptr(), "offload.Module"));
}

ProgressFormat progressFormatFrom(const std::string &name)
{
    if (name == "auto")
        return ProgressFormat::Auto;
    if (name == "sem")
        return ProgressFormat::Sem;
    if (name == "lines")
        return ProgressFormat::Lines;
    if (name == "raw")
        return ProgressFormat::Raw;
    if (name == "none")
        return ProgressFormat::None;
    throw py::value_error("progress is 'auto', 'sem', 'lines', 'raw' or 'none'");
}

} // namespace

void bindRunners(py::module_ &m)
{
    py::class_<TaskControl>(m, "Control",
        "Handed to a callable run with offload.run(..., control=True): progress and "
        "cancellation. Any thread.")
        .def("set_fraction", &TaskControl::setFraction, py::arg("fraction"))
        .def(
            "set_progress",
            [](TaskControl &c, qint64 value, qint64 maximum, std::optional<std::string> text) {
                c.setProgressRange(0, maximum);
                if (text)
                    c.setProgress(value, QString::fromStdString(*text));
                else
                    c.setProgress(value);
            },
            py::arg("value"), py::arg("maximum"), py::arg("text") = py::none())
        .def(
            "set_text",
            [](TaskControl &c, const std::string &t) {
                c.setProgressText(QString::fromStdString(t));
            },
            py::arg("text"))
        .def_property_readonly("is_cancelled", &TaskControl::isCancellationRequested)
        .def("raise_if_cancelled", [](TaskControl &c) {
            if (c.isCancellationRequested())
                raiseCancelled(QStringLiteral("the task was cancelled"));
        });

    m.def(
        "run",
        [](py::object context, py::object fn, std::optional<std::string> name, int priority,
            bool control) {
            if (!PyCallable_Check(fn.ptr()))
                throw py::type_error("fn must be callable");
            QObject *ctx = contextFrom(context);
            TaskOptions options;
            if (name)
                options.name = QString::fromStdString(*name);
            options.priority = priority;
            auto handle = ThreadPool::globalInstance()->run(
                ctx, ThreadCall { PyRef(std::move(fn)), control }, options);
            return makeTask(std::move(handle), [](const PyRef &r) { return r.get(); });
        },
        py::arg("context"), py::arg("fn"), py::kw_only(), py::arg("name") = py::none(),
        py::arg("priority") = 0, py::arg("control") = false,
        "Runs fn() (fn(control) with control=True) on one of Offload's threads as a task "
        "reporting to context. The GIL is held while fn runs: this helps code that releases "
        "it (NumPy, SimpleITK, I/O); pure-Python computation belongs in a WorkerPool.");

    py::class_<WorkerPool, Owned<WorkerPool>>(m, "WorkerPool",
        "Persistent worker processes (Python workers written with offload_worker, C++ ones with "
        "the C++ SDK) running calls as tasks. Destroying it (or shutdown()) cancels its calls "
        "and stops every worker's process tree.")
        .def(py::init([](py::object program, py::object arguments, py::object environment,
                          py::object workingDirectory, py::object name, int minWorkers,
                          int maxWorkers, int prestart, py::object idleTimeout,
                          py::object startTimeout, py::object callTimeout, py::object cancelGrace,
                          py::object heartbeatTimeout, int maxAttempts, int niceness,
                          bool stdioChannel, py::object launcher) {
            WorkerPoolSpec s;
            s.program = stringFrom(program);
            s.arguments = argumentsFrom(arguments);
            s.environment = environmentFrom(environment);
            if (!workingDirectory.is_none())
                s.workingDirectory = stringFrom(workingDirectory);
            if (!name.is_none())
                s.name = stringFrom(name);
            else if (QFileInfo(s.program).fileName().startsWith(QLatin1String("python"))
                && !s.arguments.isEmpty() && s.arguments.first().endsWith(".py"))
                s.name = QFileInfo(QFile::decodeName(s.arguments.first())).completeBaseName();
            s.minWorkers = minWorkers;
            s.maxWorkers = maxWorkers;
            s.prestart = prestart;
            s.idleTimeout = durationFrom(idleTimeout);
            s.startTimeout = durationFrom(startTimeout);
            s.callTimeout = durationFrom(callTimeout);
            s.cancelGrace = durationFrom(cancelGrace);
            s.heartbeatTimeout = durationFrom(heartbeatTimeout);
            s.maxAttempts = maxAttempts;
            s.niceness = niceness;
            s.stdioChannel = stdioChannel;
            s.launcher = launcherFrom(launcher);
            py::gil_scoped_release release; // a prestart spawns
            return Owned<WorkerPool>(new WorkerPool(std::move(s)));
        }),
            py::arg("program"), py::arg("arguments") = py::none(), py::kw_only(),
            py::arg("environment") = py::none(), py::arg("working_directory") = py::none(),
            py::arg("name") = py::none(), py::arg("min_workers") = 0, py::arg("max_workers") = 0,
            py::arg("prestart") = 0, py::arg("idle_timeout") = 30.0,
            py::arg("start_timeout") = 10.0, py::arg("call_timeout") = 0.0,
            py::arg("cancel_grace") = 2.0, py::arg("heartbeat_timeout") = 0.0,
            py::arg("max_attempts") = 1, py::arg("niceness") = 10, py::arg("stdio_channel") = false,
            py::arg("launcher") = py::none())
        .def(
            "submit",
            [](WorkerPool &pool, py::object context, py::object method, py::object args,
                py::object payload, py::object buffers, py::object onFrame, py::object name,
                int priority, py::object timeout) {
                QObject *ctx = contextFrom(context);
                CallOptions o;
                if (!name.is_none())
                    o.name = stringFrom(name);
                o.priority = priority;
                if (!timeout.is_none())
                    o.timeout = durationFrom(timeout);
                const QJsonValue a = jsonFrom(args);
                const QByteArray p = payload.is_none() ? QByteArray() : bytesFrom(payload);
                const QString mth = stringFrom(method);
                std::vector<SharedBuffer> shared;
                if (!buffers.is_none()) {
                    for (py::handle b : py::iter(buffers))
                        shared.push_back(sharedBufferFrom(b));
                }
                WorkerCall call { mth, a, p, std::move(shared) };
                if (!onFrame.is_none()) {
                    if (!PyCallable_Check(onFrame.ptr()))
                        throw py::type_error(
                            "on_frame is a callable taking an offload.WorkerFrame");
                    call.onFrame = [fn = PyRef(onFrame)](const WorkerFrame &f) {
                        if (!fn || !interpreterAlive())
                            return;
                        guarded(
                            "an offload frame callback", [&] { fn.get()(workerFrameObject(f)); });
                    };
                }
                TaskHandle<WorkerResult> h;
                {
                    py::gil_scoped_release release;
                    h = pool.submit(ctx, std::move(call), o);
                }
                return makeTask(
                    std::move(h), [](const WorkerResult &r) { return workerResultObject(r); });
            },
            py::arg("context"), py::arg("method"), py::arg("args") = py::none(),
            py::arg("payload") = py::none(), py::kw_only(), py::arg("buffers") = py::none(),
            py::arg("on_frame") = py::none(), py::arg("name") = py::none(), py::arg("priority") = 0,
            py::arg("timeout") = py::none(),
            "Calls method(args) on a worker; a Task whose result is an offload.WorkerResult "
            "(value: the JSON answer, payload: bytes, buffers: the SharedBuffers handed back). "
            "buffers: offload.SharedBuffer objects the worker maps (nothing copied; inline over "
            "ssh, Slurm or the stdio channel). on_frame: called on the context's thread with "
            "each offload.WorkerFrame the worker publishes (call.publish), the latest first when "
            "this thread falls behind; a frame's buffers go back to the worker when dropped.")
        .def("status",
            [](const WorkerPool &pool) {
                WorkerPool::Status s;
                {
                    py::gil_scoped_release release; // asks the I/O thread
                    s = pool.status();
                }
                py::dict d;
                d["last_startup_ms"] = s.lastStartupMs;
                d["broken_error"]
                    = s.brokenError.isEmpty() ? py::object(py::none()) : errorObject(s.brokenError);
                d["workers"] = s.workers;
                d["ready"] = s.ready;
                d["busy"] = s.busy;
                d["queued"] = s.queued;
                d["restarts"] = s.restarts;
                d["broken"] = s.broken;
                d["pids"] = s.pids;
                return d;
            })
        .def(
            "shutdown",
            [](WorkerPool &pool) {
                py::gil_scoped_release release;
                pool.shutdown();
            },
            "Cancels every call and stops every worker (bounded wait).");

    py::class_<ProgramRunner, Owned<ProgramRunner>>(m, "ProgramRunner",
        "Runs command-line programs as tasks, max_parallel at once (0: the number of cores).")
        .def(py::init([](int n) { return Owned<ProgramRunner>(new ProgramRunner(n)); }),
            py::arg("max_parallel") = 0)
        .def(
            "run",
            [](ProgramRunner &runner, py::object context, py::object program, py::object arguments,
                py::object environment, py::object workingDirectory, py::object stdinData,
                const std::string &progress, py::object timeout, py::object cancelGrace,
                int niceness, py::object name, bool returnParameterFile, py::object launcher) {
                QObject *ctx = contextFrom(context);
                ProgramSpec s;
                s.program = stringFrom(program);
                s.arguments = argumentsFrom(arguments);
                s.environment = environmentFrom(environment);
                if (!workingDirectory.is_none())
                    s.workingDirectory = stringFrom(workingDirectory);
                if (!stdinData.is_none())
                    s.stdinData = bytesFrom(stdinData);
                s.progress = progressFormatFrom(progress);
                s.timeout = durationFrom(timeout);
                s.cancelGrace = durationFrom(cancelGrace);
                s.niceness = niceness;
                if (!name.is_none())
                    s.name = stringFrom(name);
                s.returnParameterFile = returnParameterFile;
                s.launcher = launcherFrom(launcher);
                TaskHandle<ProgramResult> h;
                {
                    py::gil_scoped_release release;
                    h = runner.run(ctx, std::move(s));
                }
                return makeTask(
                    std::move(h), [](const ProgramResult &r) { return programResultObject(r); });
            },
            py::arg("context"), py::arg("program"), py::arg("arguments") = py::none(),
            py::kw_only(), py::arg("environment") = py::none(),
            py::arg("working_directory") = py::none(), py::arg("stdin") = py::none(),
            py::arg("progress") = "auto", py::arg("timeout") = 0.0, py::arg("cancel_grace") = 2.0,
            py::arg("niceness") = 10, py::arg("name") = py::none(),
            py::arg("return_parameter_file") = false, py::arg("launcher") = py::none(),
            "Runs program with arguments (never through a shell); a Task whose result is an "
            "offload.ProgramResult. A non-zero exit fails it (offload.ExitCodeError, its "
            "partial holding the ProgramResult).");

    py::class_<ModuleRunner, Owned<ModuleRunner>>(m, "ModuleRunner",
        "Describes and runs Slicer Execution Model command-line modules as tasks.")
        .def(py::init([](int n) { return Owned<ModuleRunner>(new ModuleRunner(n)); }),
            py::arg("max_parallel") = 0)
        .def(
            "describe",
            [](ModuleRunner &runner, py::object context, py::object path) {
                QObject *ctx = contextFrom(context);
                const QString p = stringFrom(path);
                TaskHandle<Module> h;
                {
                    py::gil_scoped_release release;
                    h = runner.describe(ctx, p);
                }
                return makeTask(std::move(h), [](const Module &mod) { return moduleObject(mod); });
            },
            py::arg("context"), py::arg("path"),
            "Reads the module's description (its --xml, or a sidecar .xml); a Task whose "
            "result is an offload.Module.")
        .def(
            "run",
            [](ModuleRunner &runner, py::object context, py::object module, py::object values,
                py::object timeout, py::object launcher) {
                QObject *ctx = contextFrom(context);
                const Module mod = moduleFrom(module);
                const QVariant v = variantFrom(values.is_none() ? py::dict() : values);
                if (v.typeId() != QMetaType::QVariantMap)
                    throw py::type_error("values is a dict of parameter name to value");
                ModuleRunOptions o;
                o.timeout = durationFrom(timeout);
                o.launcher = launcherFrom(launcher);
                TaskHandle<ProgramResult> h;
                {
                    py::gil_scoped_release release;
                    h = runner.run(ctx, mod, v.toMap(), o);
                }
                return makeTask(
                    std::move(h), [](const ProgramResult &r) { return programResultObject(r); });
            },
            py::arg("context"), py::arg("module"), py::arg("values") = py::none(), py::kw_only(),
            py::arg("timeout") = 0.0, py::arg("launcher") = py::none(),
            "Runs the module with values by parameter name (validated against its description "
            "first: a wrong one fails the task with offload.InvalidInputError).")
        .def_static(
            "return_values",
            [](py::object module, py::object result) {
                const Module mod = moduleFrom(module);
                ProgramResult r;
                py::object rp = result.attr("return_parameters");
                if (!rp.is_none())
                    r.returnParameters = bytesFrom(rp);
                const sem::ReturnValues rv = ModuleRunner::returnValues(mod, r);
                py::dict values;
                for (auto it = rv.values.begin(); it != rv.values.end(); ++it)
                    values[toPython(it.key())] = toPython(it.value());
                return values;
            },
            py::arg("module"), py::arg("result"),
            "The run's return parameters, typed by the module's description.");
}

} // namespace offload::python
