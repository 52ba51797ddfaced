// Error: a structured description of why a task failed; Exception carries one across throw.
#pragma once

#include <offload/core/export.h>

#include <QByteArray>
#include <QMetaType>
#include <QString>
#include <QVariant>

#include <exception>
#include <optional>

namespace offload {

// Why a task failed. Cancellation is deliberately absent: Cancelled is a state, not an error.
enum class ErrorKind : quint8 {
    None, // no error: what error() gives for a task that did not fail
    Exception, // the callable threw (origin holds the exception type)
    WorkerError, // a worker reported an error for a call (origin/traceback from the worker)
    Crash, // the process died from a signal or vanished mid-call
    ExitCode, // the program exited with a non-zero status
    Timeout, // the task ran out of time and was stopped
    Protocol, // a peer sent bytes that break the protocol
    Launch, // the program could not be started (missing, not executable, no hello)
    InvalidInput, // the task's inputs were rejected before any work started
    Remote, // the launcher (ssh, Slurm) could not reach the remote side or lost it; see
            // RemoteFailure
};

// How a remote launcher failed, apart from the program itself: set on errors of remote work
// (kind Remote, or Launch for ProgramMissing), None for everything else.
enum class RemoteFailure : quint8 {
    None,
    HostUnreachable, // no route, connection refused or timed out, name not resolved
    AuthenticationRefused, // the server refused every key offered (no password is ever asked)
    HostKeyChanged, // the server's key differs from the one in known_hosts
    HostKeyUnknown, // known_hosts has no key for the server (strict checking)
    ConnectionLost, // the connection broke while the program ran; its fate is unknown
    ProgramMissing, // the program (or the working directory) does not exist over there
    NodeFailure, // Slurm: the node running the job failed or was taken down
    Preempted, // Slurm: the job was preempted by another
    TimeLimit, // Slurm: the job reached its time limit (kind Timeout)
    OutOfMemory, // Slurm: the job was killed for exceeding its memory (kind Crash)
    CancelledElsewhere, // Slurm: someone cancelled the job (scancel from a shell)
};

OFFLOAD_CORE_EXPORT QString remoteFailureName(RemoteFailure failure);

OFFLOAD_CORE_EXPORT QString errorKindName(ErrorKind kind);

// A value type; all fields but kind and message are optional. A default Error is empty (kind
// None, summary() ""); a task that fails always has a kind (failed with None, it is Exception).
struct OFFLOAD_CORE_EXPORT Error
{
    ErrorKind kind = ErrorKind::None;
    QString message;
    QString origin; // exception type name (demangled), or the worker's exception class
    QString traceback; // worker-side traceback, if any
    std::optional<int> exitCode;
    std::optional<int> signal;
    QByteArray stderrTail; // bounded tail of the process's stderr
    // What the task produced before it failed, if anything (a program run's ProgramResult,
    // with a module's return parameters); invalid otherwise. Marked partial by being here.
    QVariant partial;
    RemoteFailure remoteFailure = RemoteFailure::None; // for remote work: the launcher's part

    // One line for a status bar or a log: "exception (std::runtime_error): disk full"; "" if
    // empty.
    QString summary() const;
    bool isEmpty() const { return kind == ErrorKind::None; }
};

// Thrown by Offload (and throwable by user code) to fail a task with a specific Error.
class OFFLOAD_CORE_EXPORT Exception : public std::exception
{
public:
    explicit Exception(Error error);
    const Error &error() const noexcept { return m_error; }
    const char *what() const noexcept override { return m_what.constData(); }

private:
    Error m_error;
    QByteArray m_what;
};

// Thrown by TaskControl::throwIfCancellationRequested() and by TaskHandle::result() of a
// cancelled task. A task whose work exits with it ends Cancelled, not Failed.
class OFFLOAD_CORE_EXPORT CancelledError : public std::exception
{
public:
    const char *what() const noexcept override { return "task was cancelled"; }
};

// Describes the exception currently being handled; call only inside a catch block.
// offload::Exception gives its own Error; std::exception gives its dynamic type and what();
// anything else gives "unknown exception" with the thrown type's name.
OFFLOAD_CORE_EXPORT Error errorFromCurrentException();

// Demangled C++ type name ("std::runtime_error") from a mangled one.
OFFLOAD_CORE_EXPORT QString demangledTypeName(const char *mangled);

} // namespace offload

Q_DECLARE_METATYPE(offload::Error)
