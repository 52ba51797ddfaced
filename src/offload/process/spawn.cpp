#include "spawn_p.h"

#include <QDir>
#include <QFileInfo>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace offload::detail {

namespace {

constexpr int childChannelFd = 3;
// Which step failed in the child, reported with errno through the exec-error pipe.
constexpr int stageCgroup = 1, stageChdir = 2, stageExec = 3;

Error launchError(const QString &program, const QString &reason)
{
    Error e;
    e.kind = ErrorKind::Launch;
    e.origin = program;
    e.message = QStringLiteral("cannot start '%1': %2").arg(program, reason);
    return e;
}

// Descriptors handed to the child are moved above 10, so that dup2 onto 0..3 in the child
// never overwrites one that is still to be duplicated.
int highFd(int fd)
{
    if (fd < 0 || fd >= 10)
        return fd;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    ::close(fd);
    return moved;
}

QString resolveProgram(const QString &program, const Environment &env, QString *reason)
{
    if (program.isEmpty()) {
        *reason = QStringLiteral("no program given");
        return {};
    }
    QStringList candidates;
    if (program.contains(QLatin1Char('/'))) {
        candidates << program;
    } else {
        const QString path = QFile::decodeName(env.value("PATH", qgetenv("PATH")));
        for (const QString &dir : path.split(QLatin1Char(':'), Qt::SkipEmptyParts))
            candidates << dir + QLatin1Char('/') + program;
    }
    *reason = program.contains(QLatin1Char('/')) ? QStringLiteral("no such file")
                                                 : QStringLiteral("not found in PATH");
    for (const QString &c : candidates) {
        const QFileInfo info(c);
        if (!info.exists())
            continue;
        if (info.isDir()) {
            *reason = QStringLiteral("'%1' is a directory").arg(c);
            continue;
        }
        if (::access(QFile::encodeName(c).constData(), X_OK) != 0) {
            *reason = QStringLiteral("'%1' is not executable").arg(c);
            continue;
        }
        return c;
    }
    return {};
}

// What the child needs between vfork and exec, prepared by the parent.
struct ChildPlan
{
    const char *path = nullptr;
    char *const *argv = nullptr;
    char *const *envp = nullptr;
    const char *workDir = nullptr;
    int stdinFd = -1, stdoutFd = -1, stderrFd = -1, channel = -1, execPipe = -1, cgroupProcs = -1;
    bool dieWithParent = true;
    pid_t parent = -1;
    int niceness = 0;
    // The nice value for the child's scheduling group, in decimal ("" to leave it): setsid
    // gives the child a session, and where the kernel groups scheduling by session
    // (autogroup), a new group at nice 0 would take a core's share beside the GUI whatever
    // the child's own nice value. The kernel may refuse (a user may change a group's nice
    // once per 100 ms): best effort, like the nice value itself.
    char autogroupNice[8] = {};
    int autogroupNiceLength = 0;
};

// In the vfork child, whose signal table is its own copy of ours: the signals it catches or
// ignores, from /proc/self/status (SigCgt, SigIgn), so that only those are reset instead of
// all 64, a system call each (~1.2 us on a VM). All of them when the file cannot be read or
// a field is not whole. Only system calls and plain loops: no library parser here.
void childSignalsToReset(sigset_t &set)
{
    sigfillset(&set);
    const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[16384];
    size_t size = 0;
    for (ssize_t n; size < sizeof buf && (n = ::read(fd, buf + size, sizeof buf - size)) != 0;) {
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0)
            size += size_t(n);
    }
    ::close(fd);
    // "\nSigIgn:\t<hex>\n" and "\nSigCgt:\t<hex>\n", 1 to 16 hex digits ending in a newline.
    const auto field = [&](const char *name, unsigned long long &mask) {
        const size_t len = 8; // "\nSigXxx:"
        for (size_t at = 0; at + len < size; ++at) {
            size_t k = 0;
            while (k < len && buf[at + k] == name[k])
                ++k;
            if (k < len)
                continue;
            size_t pos = at + len;
            while (pos < size && (buf[pos] == '\t' || buf[pos] == ' '))
                ++pos;
            mask = 0;
            int digits = 0;
            for (; pos < size && digits <= 16; ++pos, ++digits) {
                const char c = buf[pos];
                const int v = c >= '0' && c <= '9' ? c - '0'
                    : c >= 'a' && c <= 'f'         ? c - 'a' + 10
                    : c >= 'A' && c <= 'F'         ? c - 'A' + 10
                                                   : -1;
                if (v < 0)
                    break;
                mask = (mask << 4) | unsigned(v);
            }
            return digits >= 1 && digits <= 16 && pos < size && buf[pos] == '\n';
        }
        return false;
    };
    unsigned long long ignored = 0, caught = 0;
    if (!field("\nSigIgn:", ignored) || !field("\nSigCgt:", caught))
        return;
    sigemptyset(&set);
    for (int sig = 1; sig < NSIG && sig <= 64; ++sig) {
        if ((ignored | caught) & (1ULL << (sig - 1)))
            sigaddset(&set, sig);
    }
}

[[noreturn]] void reportAndExit(int execPipe, int stage)
{
    const int report[2] = { errno, stage };
    [[maybe_unused]] auto n = ::write(execPipe, report, sizeof report);
    ::_exit(127);
}

// The vfork child: async-signal-safe calls only, then exec.
[[noreturn]] void execChild(const ChildPlan &p)
{
    // Every signal stays blocked until exec (see spawnProcess): a handler of ours must not run
    // here, in our memory. Caught and ignored signals go back to the default (an ignored one
    // would stay ignored across exec); the mask is cleared last.
    sigset_t reset;
    childSignalsToReset(reset);
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP && sigismember(&reset, sig) == 1)
            ::signal(sig, SIG_DFL);
    }
    ::setsid();
    // Into the run's own cgroup first, so that nothing it starts can be missed.
    if (p.cgroupProcs >= 0 && ::write(p.cgroupProcs, "0", 1) != 1)
        reportAndExit(p.execPipe, stageCgroup);
    if (p.dieWithParent) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != p.parent)
            ::_exit(127); // the parent died before prctl took effect
    }
    if (p.niceness != 0)
        ::setpriority(PRIO_PROCESS, 0, ::getpriority(PRIO_PROCESS, 0) + p.niceness);
    if (p.autogroupNiceLength > 0) {
        // The raw system call: a sanitizer's open() would record the descriptor in memory
        // that this vfork child shares with its parent.
        const int fd
            = int(::syscall(SYS_openat, AT_FDCWD, "/proc/self/autogroup", O_WRONLY | O_CLOEXEC));
        if (fd >= 0) {
            [[maybe_unused]] auto n = ::write(fd, p.autogroupNice, size_t(p.autogroupNiceLength));
            ::close(fd);
        }
    }
    if (p.stdinFd >= 0)
        ::dup2(p.stdinFd, 0);
    if (p.stdoutFd >= 0)
        ::dup2(p.stdoutFd, 1);
    if (p.stderrFd >= 0)
        ::dup2(p.stderrFd, 2);
    if (p.channel >= 0)
        ::dup2(p.channel, childChannelFd);
    const int keep = p.channel >= 0 ? childChannelFd + 1 : 3;
    // Close everything else except the exec-error pipe (close-on-exec anyway).
    for (int fd = keep; fd < 10; ++fd) {
        if (fd != p.execPipe)
            ::close(fd);
    }
    ::syscall(SYS_close_range, 10u, ~0u, CLOSE_RANGE_CLOEXEC);
    ::fcntl(p.execPipe, F_SETFD, FD_CLOEXEC);
    if (p.workDir && ::chdir(p.workDir) != 0)
        reportAndExit(p.execPipe, stageChdir);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(p.path, p.argv, p.envp);
    reportAndExit(p.execPipe, stageExec);
}

// argv, envp and the working directory as exec needs them. Built before vfork: after it,
// nothing may be allocated. Filled in place (argv and envp point into the stores).
struct ExecImage
{
    QByteArray path;
    QByteArrayList argStore, envStore;
    std::vector<char *> argv, envp;
    QByteArray workDir;
};

void prepareImage(const SpawnRequest &request, const QString &path, ExecImage &image)
{
    image.path = QFile::encodeName(path);
    // argv[0] is the program as given; every argument and variable travels as bytes.
    image.argStore = QByteArrayList { QFile::encodeName(request.program) };
    image.argStore += request.arguments;
    image.envStore = request.environment.toList();
    for (QByteArray &s : image.argStore)
        image.argv.push_back(s.data()); // data(): detached, NUL-terminated
    image.argv.push_back(nullptr);
    for (QByteArray &s : image.envStore)
        image.envp.push_back(s.data());
    image.envp.push_back(nullptr);
    image.workDir = QFile::encodeName(request.workingDirectory);
}

// The pipes of one spawn, [0] the read end and [1] the write end; -1 where there is none.
struct SpawnPipes
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, exec[2] = { -1, -1 };
    static void close(std::initializer_list<int> fds)
    {
        for (int fd : fds)
            if (fd >= 0)
                ::close(fd);
    }
};

// Empty on success; else the reason, with every pipe made so far closed.
QString openPipes(const SpawnRequest &request, SpawnPipes &p)
{
    if ((request.pipeStdin && ::pipe2(p.in, O_CLOEXEC) != 0)
        || (request.pipeStdout && ::pipe2(p.out, O_CLOEXEC) != 0)
        || (request.pipeStderr && ::pipe2(p.err, O_CLOEXEC) != 0)
        || ::pipe2(p.exec, O_CLOEXEC) != 0) {
        const int e = errno;
        SpawnPipes::close(
            { p.in[0], p.in[1], p.out[0], p.out[1], p.err[0], p.err[1], p.exec[0], p.exec[1] });
        return QString::fromLocal8Bit(std::strerror(e));
    }
    if (!request.pipeStdin) {
        p.in[0] = request.stdinFd >= 0 ? ::fcntl(request.stdinFd, F_DUPFD_CLOEXEC, 10)
                                       : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    for (int *fd : { &p.in[0], &p.out[1], &p.err[1] })
        *fd = highFd(*fd);
    return {};
}

// vfork: the child borrows our memory until exec instead of copying the page tables of a
// large GUI process (measured: 48 us instead of 111 us to return). The child only makes
// system calls and writes nothing of ours (errno aside), as vfork requires; what it needs is
// in plan, in memory, so nothing the parent uses afterwards lives in a register. Every signal
// is blocked across the vfork: the child inherits the mask and keeps it until its
// dispositions are reset (execChild). Returns the pid, or -1 with forkErrno set.
pid_t vforkChild(const ChildPlan &plan, int &forkErrno)
{
    sigset_t all, before;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &before);
    const pid_t pid = ::vfork();
    if (pid == 0)
        execChild(plan);
    forkErrno = errno;
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
    return pid;
}

// The child's report through the exec-error pipe: nothing (it reached exec: the pipe closed
// empty) or the step that failed, with errno. A failed child is reaped here.
std::optional<Error> readExecReport(
    const SpawnRequest &request, pid_t pid, int execPipe, Spawned &out)
{
    int report[2] = { 0, 0 }; // errno, stage
    ssize_t n;
    do {
        n = ::read(execPipe, report, sizeof report);
    } while (n < 0 && errno == EINTR);
    ::close(execPipe);
    if (n != sizeof report)
        return std::nullopt;
    ::waitpid(pid, nullptr, 0);
    out.joinCgroupFailed = report[1] == stageCgroup;
    const QString why = QString::fromLocal8Bit(std::strerror(report[0]));
    return launchError(request.program,
        report[1] == stageCgroup      ? QStringLiteral("cannot join its cgroup: ") + why
            : report[1] == stageChdir ? QStringLiteral("cannot enter the working directory: ") + why
                                      : why);
}

int nonblocking(int fd)
{
    if (fd >= 0)
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

} // namespace

std::optional<Error> spawnProcess(const SpawnRequest &request, Spawned &out)
{
    QString reason;
    const QString path = resolveProgram(request.program, request.environment, &reason);
    if (path.isEmpty())
        return launchError(request.program, reason);
    if (!request.workingDirectory.isEmpty() && !QFileInfo(request.workingDirectory).isDir())
        return launchError(request.program,
            QStringLiteral("working directory '%1' does not exist").arg(request.workingDirectory));

    ExecImage image;
    prepareImage(request, path, image);
    SpawnPipes pipes;
    reason = openPipes(request, pipes);
    if (!reason.isEmpty())
        return launchError(request.program, reason);
    ChildPlan plan;
    plan.path = image.path.constData();
    plan.argv = image.argv.data();
    plan.envp = image.envp.data();
    plan.workDir = image.workDir.isEmpty() ? nullptr : image.workDir.constData();
    plan.stdinFd = pipes.in[0];
    plan.stdoutFd = pipes.out[1];
    plan.stderrFd = pipes.err[1];
    plan.channel = request.channelFd >= 0 ? ::fcntl(request.channelFd, F_DUPFD_CLOEXEC, 10) : -1;
    plan.execPipe = pipes.exec[1];
    plan.cgroupProcs = request.cgroupProcsFd;
    plan.dieWithParent = request.dieWithParent;
    plan.parent = ::getpid();
    plan.niceness = request.niceness;
    if (request.niceness != 0) {
        const int nice = std::clamp(::getpriority(PRIO_PROCESS, 0) + request.niceness, -20, 19);
        plan.autogroupNiceLength
            = std::snprintf(plan.autogroupNice, sizeof plan.autogroupNice, "%d", nice);
    }

    int forkErrno = 0;
    const pid_t pid = vforkChild(plan, forkErrno);
    SpawnPipes::close({ pipes.in[0], pipes.out[1], pipes.err[1], pipes.exec[1], plan.channel });
    if (pid < 0) {
        SpawnPipes::close({ pipes.in[1], pipes.out[0], pipes.err[0], pipes.exec[0] });
        return launchError(request.program, QString::fromLocal8Bit(std::strerror(forkErrno)));
    }
    if (auto failed = readExecReport(request, pid, pipes.exec[0], out)) {
        SpawnPipes::close({ pipes.in[1], pipes.out[0], pipes.err[0] });
        return failed;
    }
    out.pid = pid;
    out.pidfd = int(::syscall(SYS_pidfd_open, pid, 0)); // glibc's header lacks C linkage here
    if (out.pidfd < 0) {
        const int e = errno;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        SpawnPipes::close({ pipes.in[1], pipes.out[0], pipes.err[0] });
        return launchError(request.program,
            QStringLiteral("pidfd_open: %1").arg(QString::fromLocal8Bit(std::strerror(e))));
    }
    ::fcntl(out.pidfd, F_SETFD, FD_CLOEXEC);
    out.stdinFd = nonblocking(pipes.in[1]);
    out.stdoutFd = nonblocking(pipes.out[0]);
    out.stderrFd = nonblocking(pipes.err[0]);
    return std::nullopt;
}

} // namespace offload::detail
