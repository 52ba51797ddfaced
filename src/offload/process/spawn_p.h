// Private: starting a program the way DESIGN.md requires. fork is followed at once by exec,
// with only async-signal-safe calls between (never work in a forked copy of the GUI): own
// session, death with the parent, lowered priority, every descriptor closed but the ones
// handed over, and exec failures reported exactly through a close-on-exec pipe.
#pragma once

#include <offload/core/error.h>

#include <QProcessEnvironment>
#include <QStringList>

#include <optional>

#include <sys/types.h>

namespace offload::detail {

struct SpawnRequest
{
    QString program;
    QStringList arguments;
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    QString workingDirectory;
    int niceness = 10;
    bool pipeStdin = false;  // else /dev/null
    bool pipeStdout = true;  // else inherited
    bool pipeStderr = true;  // else inherited
    int channelFd = -1;      // a descriptor of ours that the child gets as fd 3
};

struct Spawned
{
    pid_t pid = -1;
    int pidfd = -1;    // readable when the process exits; owned by the caller
    int stdinFd = -1;  // parent ends, non-blocking, close-on-exec; owned by the caller
    int stdoutFd = -1;
    int stderrFd = -1;
};

// Resolves program against PATH, checks that it can be executed, and starts it.
// Returns a Launch error naming the program and the reason on failure.
std::optional<Error> spawnProcess(const SpawnRequest &request, Spawned &out);

// Signals the process group of a child started by spawnProcess (it leads its own session).
void signalGroup(pid_t pid, int signal);

} // namespace offload::detail
