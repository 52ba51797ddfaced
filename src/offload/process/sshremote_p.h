// Private: what Offload sends to a host over ssh and how it reads the answers: the ssh
// client's arguments, the POSIX shell scripts that run over there, the markers they print,
// and the classification of ssh's own failures. Pure functions; any thread.
#pragma once

#include <offload/core/error.h>
#include <offload/process/environment.h>
#include <offload/process/launcher.h>

#include "spawn_p.h"

#include <optional>

#include <QByteArrayList>

namespace offload::detail::ssh {

// Options every ssh invocation of a target shares (no password prompt ever: BatchMode; no
// tty, agent or X11 forwarding; no escape character, so binary data passes), ending with
// "--" and the destination.
QStringList baseArguments(const SshTarget &target);

// The remote command of the master connection: Offload's control script. Its directory over
// there is <runtime dir or /tmp>/offload-ssh.<token> (token: hex digits), made by the script or
// by a run over the master that came first (a private one if someone else holds the name). It
// prints "\036offload:ready:<dir>" once it runs, then reads "sig SIGNAL
// NONCE" lines from stdin and signals that run's process group and every descendant of its members
// (a process that left the group by setsid() included, its pid remembered for a later SIGKILL), and
// "get - NONCE" lines, answered with "\036offload:file:NONCE:STATUS:SIZE" (STATUS ok, missing,
// notregular or toolarge) and SIZE bytes of the run's return-parameter file, and "end - NONCE"
// lines, which drop a run's registration once its exit was seen. On EOF of stdin (the
// application closed or lost the connection) it stops every run still registered in <dir> (SIGTERM,
// 1 s, SIGKILL) and removes <dir>.
QByteArray controlCommand(const QByteArray &token);

// The remote command of one program: checks and reports before it runs anything, in
// "\036offload:<nonce>:<word>" lines on stdout and stderr, where word is "pid:<PGID>" (then
// the program runs, in its own process group, registered in the connection's directory),
// "missing" (no such program), "nodir" (no such working directory), "stopped" (stopped before
// it ran), "notemp" (no private directory for the return file), "noregister" or "nogroup".
// Then, on stderr, after the program ended: over ssh, "exit:<status>", and the whole group
// (the wrapper too) is killed; without a connection (Slurm) every other process left in the
// group is killed first, and "file:STATUS:SIZE" and SIZE bytes of the return-parameter file
// come before "exit:<status>", the wrapper then exiting by itself.
// Variables are validated by the caller (validVariableName).
struct RemoteRun
{
    QByteArray nonce;
    // The control script's directory: its path from the ready line, or before it, "+TOKEN"
    // (over the master: may be made) or "=TOKEN" (a connection of its own: never made); empty:
    // none (Slurm).
    QByteArray connectionDirectory;
    QByteArray workingDirectory;
    int niceness = 0;
    QByteArrayList setVariables; // "NAME=value"
    QByteArrayList unsetVariables; // "NAME"
    QByteArray program;
    QByteArrayList arguments;
    // Every argument equal to it becomes the path of a file in a private directory over
    // there, fetched afterwards through the control script ("get - NONCE"); empty: none.
    QByteArray returnFilePlaceholder;
    // Without a control script (Slurm): the caller's private directory for the return file.
    // Where the run sees it (a shared file system), holding a file ".offload-shared" with the
    // nonce, the program writes its file there and "file:shared:0" is reported instead of the
    // file's bytes.
    QByteArray sharedReturnDirectory;
};
QByteArray runCommand(const RemoteRun &run); // for a login shell: quoted
QByteArrayList runArguments(const RemoteRun &run); // argv, for a launcher that executes it
// A RemoteRun for request (a fresh nonce, the variables that differ from ours), or why not.
std::optional<Error> prepareRun(const SpawnRequest &request, RemoteRun &run);

bool validVariableName(const QByteArray &name);
// What to set and unset over there: the variables of environment that differ from local.
void environmentChanges(const Environment &environment, const Environment &local,
    QByteArrayList *set, QByteArrayList *unset);

// The marker prefix of a run: "\036offload:<nonce>:".
QByteArray markerPrefix(const QByteArray &nonce);

// ssh's failure from its stderr: the kind (HostKeyChanged, AuthenticationRefused, ...) and
// its own most telling line. connected: the connection had been up (else an unrecognised
// failure is HostUnreachable, after it ConnectionLost).
Error classifyFailure(
    const QString &target, const QByteArray &stderrText, int exitCode, bool connected);

} // namespace offload::detail::ssh
