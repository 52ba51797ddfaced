// Private: starting a program safely (docs/reliability.md). fork is followed at once by exec,
// with only async-signal-safe calls between (never work in a forked copy of the GUI): own
// session, death with the parent, lowered priority, every descriptor closed but the ones
// handed over, and exec failures reported exactly through a close-on-exec pipe.
#pragma once

#include <offload/core/error.h>
#include <offload/process/environment.h>

#include <QByteArrayList>
#include <QString>

#include <optional>

#include <sys/types.h>

namespace offload::detail {

struct SpawnRequest
{
    QString program;
    QByteArrayList arguments; // bytes: an argument need not be UTF-8
    Environment environment = Environment::inherited();
    QString workingDirectory;
    int niceness = 10;
    bool pipeStdin = false; // else stdinFd, else /dev/null
    int stdinFd = -1; // a descriptor of ours the child reads as stdin (we keep ours)
    bool pipeStdout = true; // else inherited
    bool pipeStderr = true; // else inherited
    int channelFd = -1; // a descriptor of ours that the child gets as fd 3
    // cgroup.procs of a cgroup (v2) the child joins before exec (it writes "0" there), so that
    // it and every descendant can be killed at once; -1: none.
    int cgroupProcsFd = -1;
    bool dieWithParent = true; // PR_SET_DEATHSIG SIGKILL (off only for the tree guard)
    // Remote launchers: every argument equal to this becomes a file in a private directory
    // over there, whose contents come back in ExitStatus::returnFile. Empty: none.
    QByteArray returnFileArgument;
};

struct Spawned
{
    pid_t pid = -1;
    int pidfd = -1; // readable when the process exits; owned by the caller
    int stdinFd = -1; // parent ends, non-blocking, close-on-exec; owned by the caller
    int stdoutFd = -1;
    int stderrFd = -1;
    bool joinCgroupFailed = false; // set with the error when the child could not join its cgroup
};

// Resolves program against PATH, checks that it can be executed, and starts it.
// Returns a Launch error naming the program and the reason on failure.
std::optional<Error> spawnProcess(const SpawnRequest &request, Spawned &out);

} // namespace offload::detail
