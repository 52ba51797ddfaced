#include <offload/core/error.h>
#include <offload/core/progress.h>
#include <offload/core/taskstate.h>

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace offload {

QString stateName(TaskState state)
{
    switch (state) {
    case TaskState::Queued:
        return QStringLiteral("Queued");
    case TaskState::Starting:
        return QStringLiteral("Starting");
    case TaskState::Running:
        return QStringLiteral("Running");
    case TaskState::Finished:
        return QStringLiteral("Finished");
    case TaskState::Failed:
        return QStringLiteral("Failed");
    case TaskState::Cancelled:
        return QStringLiteral("Cancelled");
    }
    return QStringLiteral("Unknown");
}

QString errorKindName(ErrorKind kind)
{
    switch (kind) {
    case ErrorKind::None:
        return QStringLiteral("none");
    case ErrorKind::Exception:
        return QStringLiteral("exception");
    case ErrorKind::WorkerError:
        return QStringLiteral("worker error");
    case ErrorKind::Crash:
        return QStringLiteral("crash");
    case ErrorKind::ExitCode:
        return QStringLiteral("exit code");
    case ErrorKind::Timeout:
        return QStringLiteral("timeout");
    case ErrorKind::Protocol:
        return QStringLiteral("protocol");
    case ErrorKind::Launch:
        return QStringLiteral("launch");
    case ErrorKind::InvalidInput:
        return QStringLiteral("invalid input");
    case ErrorKind::Remote:
        return QStringLiteral("remote");
    }
    return QStringLiteral("unknown");
}

QString remoteFailureName(RemoteFailure failure)
{
    switch (failure) {
    case RemoteFailure::None:
        return QStringLiteral("none");
    case RemoteFailure::HostUnreachable:
        return QStringLiteral("host unreachable");
    case RemoteFailure::AuthenticationRefused:
        return QStringLiteral("authentication refused");
    case RemoteFailure::HostKeyChanged:
        return QStringLiteral("host key changed");
    case RemoteFailure::HostKeyUnknown:
        return QStringLiteral("host key unknown");
    case RemoteFailure::ConnectionLost:
        return QStringLiteral("connection lost");
    case RemoteFailure::ProgramMissing:
        return QStringLiteral("remote program missing");
    case RemoteFailure::NodeFailure:
        return QStringLiteral("node failure");
    case RemoteFailure::Preempted:
        return QStringLiteral("preempted");
    case RemoteFailure::TimeLimit:
        return QStringLiteral("time limit");
    case RemoteFailure::OutOfMemory:
        return QStringLiteral("out of memory");
    case RemoteFailure::CancelledElsewhere:
        return QStringLiteral("cancelled elsewhere");
    }
    return QStringLiteral("unknown");
}

double Progress::fraction() const
{
    if (!isDeterminate())
        return -1.0;
    const double f = double(value - minimum) / double(maximum - minimum);
    return f < 0.0 ? 0.0 : (f > 1.0 ? 1.0 : f);
}

QString Error::summary() const
{
    if (isEmpty())
        return {};
    QString s = errorKindName(kind);
    if (remoteFailure != RemoteFailure::None && kind != ErrorKind::Remote)
        s += QStringLiteral(" [%1]").arg(remoteFailureName(remoteFailure));
    else if (remoteFailure != RemoteFailure::None)
        s = remoteFailureName(remoteFailure);
    if (!origin.isEmpty())
        s += QStringLiteral(" (%1)").arg(origin);
    if (signal)
        s += QStringLiteral(" [signal %1]").arg(*signal);
    else if (exitCode)
        s += QStringLiteral(" [exit code %1]").arg(*exitCode);
    if (!message.isEmpty())
        s += QStringLiteral(": ") + message;
    return s;
}

Exception::Exception(Error error)
    : m_error(std::move(error)), m_what(m_error.summary().toUtf8()) { }

QString demangledTypeName(const char *mangled)
{
    if (!mangled)
        return QStringLiteral("unknown type");
    int status = 0;
    std::unique_ptr<char, void (*)(void *)> name(
        abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
    return QString::fromUtf8(status == 0 && name ? name.get() : mangled);
}

Error errorFromCurrentException()
{
    try {
        throw;
    } catch (const Exception &e) {
        return e.error();
    } catch (const std::exception &e) {
        Error err;
        err.kind = ErrorKind::Exception;
        err.origin = demangledTypeName(typeid(e).name());
        err.message = QString::fromUtf8(e.what());
        return err;
    } catch (...) {
        Error err;
        err.kind = ErrorKind::Exception;
        const std::type_info *type = abi::__cxa_current_exception_type();
        err.origin = demangledTypeName(type ? type->name() : nullptr);
        err.message = QStringLiteral("unknown exception");
        return err;
    }
}

} // namespace offload
