#include "pyoffload.h"

#include <offload/process/programrunner.h>

namespace offload::python {

py::object programResultObject(const ProgramResult &result); // runners.cpp

namespace {
const char *kindName(ErrorKind kind)
{
    switch (kind) {
    case ErrorKind::None:
        return "none";
    case ErrorKind::Exception:
        return "exception";
    case ErrorKind::WorkerError:
        return "worker_error";
    case ErrorKind::Crash:
        return "crash";
    case ErrorKind::ExitCode:
        return "exit_code";
    case ErrorKind::Timeout:
        return "timeout";
    case ErrorKind::Protocol:
        return "protocol";
    case ErrorKind::Launch:
        return "launch";
    case ErrorKind::InvalidInput:
        return "invalid_input";
    case ErrorKind::Remote:
        return "remote";
    }
    return "exception";
}
} // namespace

py::object errorObject(const Error &error)
{
    py::dict d;
    d["kind"] = kindName(error.kind);
    d["message"] = toPython(error.message);
    d["origin"] = toPython(error.origin);
    d["traceback"] = toPython(error.traceback);
    d["exit_code"]
        = error.exitCode ? py::object(py::int_(*error.exitCode)) : py::object(py::none());
    d["signal"] = error.signal ? py::object(py::int_(*error.signal)) : py::object(py::none());
    d["stderr_tail"] = toPython(error.stderrTail);
    d["remote_failure"] = error.remoteFailure == RemoteFailure::None
        ? py::object(py::none())
        : py::object(toPython(remoteFailureName(error.remoteFailure)));
    d["summary"] = toPython(error.summary());
    if (error.partial.canConvert<ProgramResult>())
        d["partial"] = programResultObject(error.partial.value<ProgramResult>());
    else
        d["partial"] = py::none();
    return py::module_::import("offload").attr("_make_error")(d);
}

void raiseError(const Error &error)
{
    py::object e = errorObject(error);
    PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(e.ptr())), e.ptr());
    throw py::error_already_set();
}

void raiseCancelled(const QString &what)
{
    py::object cls = py::module_::import("offload").attr("CancelledError");
    PyErr_SetObject(cls.ptr(), toPython(what).ptr());
    throw py::error_already_set();
}

Error errorFromPython(py::error_already_set &e)
{
    Error error;
    error.kind = ErrorKind::Exception;
    py::object type = e.type();
    error.origin = QString::fromStdString(py::str(type.attr("__qualname__")));
    const std::string module = py::str(type.attr("__module__"));
    if (module != "builtins")
        error.origin = QString::fromStdString(module) + QLatin1Char('.') + error.origin;
    error.message = QString::fromStdString(py::str(e.value()));
    try {
        py::object tb = py::module_::import("traceback");
        py::list lines = tb.attr("format_exception")(e.type(), e.value(), e.trace());
        error.traceback = stringFrom(py::str("").attr("join")(lines));
    } catch (py::error_already_set &) { }
    return error;
}

} // namespace offload::python
