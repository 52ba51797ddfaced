#include "sshconnection_p.h"
#include "sshremote_p.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>

#include <cerrno>
#include <cstdlib>

#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

namespace offload::detail {

namespace {

constexpr qsizetype maxKept = 64 * 1024; // of the master's stderr, and stdout before ready
constexpr std::chrono::seconds closeBound { 5 }; // control script's own cleanup: about 1 s

std::vector<std::shared_ptr<SshConnection>> &openConnections()
{
    static auto *list = new std::vector<std::shared_ptr<SshConnection>>;
    return *list;
}
std::vector<std::shared_ptr<SshConnection>> &closingConnections()
{
    static auto *list = new std::vector<std::shared_ptr<SshConnection>>;
    return *list;
}

void forget(std::vector<std::shared_ptr<SshConnection>> &list, const SshConnection *c)
{
    std::erase_if(list, [c](const auto &p) { return p.get() == c; });
}

// A private (0700) directory for this process's control sockets, short enough for a socket
// path. Directories of Offload processes that no longer exist are removed on the way.
QString socketDirectory()
{
    static QString dir = [] {
        const QDir tmp(QStringLiteral("/tmp"));
        for (const QString &name :
            tmp.entryList({ QStringLiteral("offload-ssh-*") }, QDir::Dirs | QDir::NoSymLinks)) {
            const QStringList parts = name.split(QLatin1Char('-')); // offload, ssh, PID, XXXXXX
            bool ok = false;
            const qint64 pid = parts.size() == 4 ? parts[2].toLongLong(&ok) : 0;
            if (!ok || pid <= 0 || pid == ::getpid()
                || QFileInfo::exists(QStringLiteral("/proc/%1").arg(pid)))
                continue;
            QDir stale(tmp.filePath(name));
            for (const QString &f : stale.entryList(QDir::System | QDir::Files | QDir::Hidden))
                stale.remove(f);
            tmp.rmdir(name);
        }
        static QByteArray pattern
            = "/tmp/offload-ssh-" + QByteArray::number(::getpid()) + "-XXXXXX";
        if (!::mkdtemp(pattern.data()))
            return QString();
        // At exit the masters go (they die with us); their sockets and the directory too.
        std::atexit([] {
            QDir d(QFile::decodeName(pattern));
            for (const QString &f : d.entryList(QDir::System | QDir::Files | QDir::Hidden))
                d.remove(f);
            ::rmdir(pattern.constData());
        });
        return QFile::decodeName(pattern);
    }();
    return dir;
}

} // namespace

std::shared_ptr<SshConnection> SshConnection::get(const SshTarget &target)
{
    for (const auto &c : openConnections())
        if (c->m_target == target)
            return c;
    std::shared_ptr<SshConnection> c(new SshConnection(target));
    openConnections().push_back(c);
    c->open();
    return c;
}

SshConnection::SshConnection(const SshTarget &target) : m_target(target) { }

SshConnection::~SshConnection()
{
    Supervisor &sup = Supervisor::instance();
    for (uint64_t t : { m_idleTimer, m_closeTimer })
        if (t)
            sup.cancelTimer(t);
    if (m_writeWatch)
        sup.unwatch(m_writeWatch);
    stopWatchingSocket();
}

QString SshConnection::name() const
{
    return Launcher::ssh(m_target).toString();
}

QString SshConnection::controlPath() const
{
    return m_socket;
}

void SshConnection::open()
{
    static int counter = 0;
    const QString dir = socketDirectory();
    Error error;
    if (dir.isEmpty()) {
        error = Error { ErrorKind::Launch,
            QStringLiteral("cannot create a private directory for ssh's control sockets in /tmp") };
    } else {
        m_socket = dir + QStringLiteral("/c%1").arg(++counter);
        quint64 words[2];
        QRandomGenerator::system()->fillRange(words);
        m_token = (QByteArray::number(words[0], 16) + QByteArray::number(words[1], 16)).left(24);
        watchSocket(dir);
        SpawnRequest req;
        req.program = QStringLiteral("ssh");
        QStringList args = ssh::baseArguments(m_target);
        args << QStringLiteral("-M") << QStringLiteral("-S") << m_socket << QStringLiteral("-o")
             << QStringLiteral("ControlPersist=no") << QStringLiteral("--") << m_target.host;
        req.arguments = toArguments(args);
        req.arguments << ssh::controlCommand(m_token);
        req.pipeStdin = true;
        req.niceness = 0;
        const std::weak_ptr<SshConnection> weak = weak_from_this();
        Process::Handlers h;
        h.stdoutData = [weak](const char *data, size_t n) {
            if (auto self = weak.lock())
                self->onMasterStdout(data, n);
        };
        h.stderrData = [weak](const char *data, size_t n) {
            if (auto self = weak.lock()) {
                self->m_stderrTail.append(data, qsizetype(n));
                if (self->m_stderrTail.size() > maxKept)
                    self->m_stderrTail.remove(0, self->m_stderrTail.size() - maxKept);
            }
        };
        h.exited = [weak](const ExitStatus &status) {
            if (auto self = weak.lock())
                self->onMasterExit(status);
        };
        m_master = ChildProcess::start(std::move(req), std::move(h), &error);
    }
    if (!m_master) {
        stopWatchingSocket();
        m_state = State::Failed;
        m_error = error;
        forget(openConnections(), this);
    }
}

void SshConnection::whenReady(std::function<void(const Error *)> fn)
{
    if (m_state == State::Connecting)
        return m_waiters.push_back(std::move(fn));
    Supervisor::instance().post([self = shared_from_this(), fn = std::move(fn)] {
        if (self->takesSessions())
            return fn(nullptr);
        Error e = self->m_error;
        if (e.isEmpty())
            e = Error { ErrorKind::Remote,
                QStringLiteral("%1: the connection was closed").arg(self->name()) };
        fn(&e);
    });
}

void SshConnection::settle(const Error *error)
{
    auto waiters = std::move(m_waiters);
    m_waiters.clear();
    for (auto &fn : waiters)
        fn(error);
}

void SshConnection::onMasterStdout(const char *data, size_t size)
{
    if (size == 0 || (m_state != State::Connecting && !takesSessions()))
        return;
    m_stdoutBuf.append(data, qsizetype(size));
    if (m_state == State::Ready)
        return readAnswers();
    static const QByteArray ready = "\036offload:ready:";
    const qsizetype at = m_stdoutBuf.indexOf(ready);
    const qsizetype end = at < 0 ? -1 : m_stdoutBuf.indexOf('\n', at);
    if (end < 0) {
        if (m_stdoutBuf.size() > maxKept) // a login script's chatter: never ours
            m_stdoutBuf.remove(0, m_stdoutBuf.size() - maxKept);
        return;
    }
    m_registryDir = m_stdoutBuf.mid(at + ready.size(), end - at - ready.size());
    m_stdoutBuf.remove(0, end + 1);
    m_state = State::Ready;
    stopWatchingSocket();
    if (m_users == 0)
        removeUser(); // nobody is waiting any more: start the idle timeout
    settle(nullptr);
    flushControl(); // what waited for the script
    if (m_state == State::Ready && !m_stdoutBuf.isEmpty())
        readAnswers();
}

QByteArray SshConnection::runDirectory(bool mux) const
{
    if (m_state == State::Ready)
        return m_registryDir;
    return (mux ? "+" : "=") + m_token;
}

// The control script's answers to "get": a header line, then the file's bytes.
void SshConnection::readAnswers()
{
    static const QByteArray header = "\036offload:file:";
    constexpr qsizetype maxFile = qsizetype(16) << 20;
    for (;;) {
        const qsizetype at = m_stdoutBuf.indexOf(header);
        const qsizetype end = at < 0 ? -1 : m_stdoutBuf.indexOf('\n', at);
        if (at < 0 && m_stdoutBuf.size() > header.size()) // nothing of ours: bounded
            m_stdoutBuf.remove(0, m_stdoutBuf.size() - header.size());
        if (end < 0)
            return;
        // NONCE:STATUS:SIZE
        const QList<QByteArray> f
            = m_stdoutBuf.mid(at + header.size(), end - at - header.size()).split(':');
        const qsizetype size = f.size() == 3 ? f[2].toLongLong() : -1;
        if (size < 0 || size > maxFile) { // not ours: skip the line
            m_stdoutBuf.remove(0, end + 1);
            continue;
        }
        if (m_stdoutBuf.size() - (end + 1) < size)
            return; // the rest of the file is on its way
        const QByteArray bytes = m_stdoutBuf.mid(end + 1, size);
        m_stdoutBuf.remove(0, end + 1 + size);
        const auto it = m_fetches.find(f[0]);
        if (it == m_fetches.end())
            continue;
        const FileHandler fn = std::move(it->second);
        m_fetches.erase(it);
        if (f[1] == "ok")
            fn(bytes, {});
        else if (f[1] == "missing")
            fn(std::nullopt, {});
        else if (f[1] == "toolarge")
            fn(std::nullopt, QStringLiteral("the return-parameter file is over 16 MiB"));
        else
            fn(std::nullopt,
                QStringLiteral("the return-parameter file is not a regular file (a FIFO, a "
                               "symbolic link)"));
    }
}

void SshConnection::fetchReturnFile(const QByteArray &nonce, FileHandler fn)
{
    if (!takesSessions() || !m_master || m_master->stdinFd() < 0) {
        Supervisor::instance().post([fn = std::move(fn)] {
            fn(std::nullopt,
                QStringLiteral("the return-parameter file could not be fetched: "
                               "the connection had closed"));
        });
        return;
    }
    m_fetches[nonce] = std::move(fn);
    m_pending += "get - " + nonce + '\n';
    flushControl();
}

void SshConnection::onMasterExit(const ExitStatus &status)
{
    const auto self = shared_from_this(); // the lists may hold the last reference
    stopWatchingSocket();
    if (m_state == State::Connecting || m_state == State::Listening) {
        m_error = ssh::classifyFailure(name(), m_stderrTail, status.exitCode, false);
        m_state = State::Failed;
    } else {
        m_state = State::Closed;
    }
    m_master.reset();
    if (m_writeWatch)
        Supervisor::instance().unwatch(m_writeWatch);
    m_writeWatch = 0;
    forget(openConnections(), this);
    forget(closingConnections(), this);
    settle(&m_error);
    auto fetches = std::move(m_fetches);
    m_fetches.clear();
    for (auto &[nonce, fn] : fetches)
        fn(std::nullopt,
            QStringLiteral("the return-parameter file could not be fetched: the connection "
                           "closed"));
}

void SshConnection::addUser()
{
    ++m_users;
    if (m_idleTimer)
        Supervisor::instance().cancelTimer(m_idleTimer);
    m_idleTimer = 0;
}

void SshConnection::removeUser()
{
    if (m_users > 0)
        --m_users;
    if (m_users > 0 || !takesSessions() || m_idleTimer)
        return;
    m_idleTimer = Supervisor::instance().addTimer(
        std::chrono::duration_cast<std::chrono::milliseconds>(m_target.idleTimeout),
        [weak = weak_from_this()] {
            if (auto self = weak.lock()) {
                self->m_idleTimer = 0;
                self->close();
            }
        });
}

bool SshConnection::takeSession()
{
    if (!takesSessions() || m_sessions >= m_target.maxSessions - 1)
        return false;
    ++m_sessions;
    return true;
}

void SshConnection::returnSession()
{
    if (m_sessions > 0)
        --m_sessions;
}

bool SshConnection::signalRun(int signal, const QByteArray &nonce)
{
    if (!takesSessions() || !m_master || m_master->stdinFd() < 0)
        return false;
    m_pending += "sig " + QByteArray::number(signal) + ' ' + nonce + '\n';
    flushControl();
    return true;
}

void SshConnection::endRun(const QByteArray &nonce)
{
    if (!takesSessions() || !m_master || m_master->stdinFd() < 0)
        return; // the control script, gone, took the registrations with it
    m_pending += "end - " + nonce + '\n';
    flushControl();
}

// The master listens for sessions once logged in, before its own session (the control
// script) runs: its socket appearing in the directory is the sign. ssh makes it under a
// temporary name and links it to the final one, so it is whole when it appears.
void SshConnection::watchSocket(const QString &dir)
{
    m_notifyFd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (m_notifyFd < 0)
        return; // the control script's ready line is the sign then
    if (::inotify_add_watch(m_notifyFd, QFile::encodeName(dir).constData(), IN_CREATE | IN_MOVED_TO)
        < 0)
        return stopWatchingSocket();
    m_notifyWatch
        = Supervisor::instance().watch(m_notifyFd, EPOLLIN, [weak = weak_from_this()](uint32_t) {
              if (auto self = weak.lock())
                  self->onSocketDirChanged();
          });
}

void SshConnection::stopWatchingSocket()
{
    if (m_notifyWatch)
        Supervisor::instance().unwatch(m_notifyWatch);
    m_notifyWatch = 0;
    if (m_notifyFd >= 0)
        ::close(m_notifyFd);
    m_notifyFd = -1;
}

void SshConnection::onSocketDirChanged()
{
    char events[4096];
    while (::read(m_notifyFd, events, sizeof events) > 0) { } // what changed: checked below
    struct stat st;
    if (m_state != State::Connecting || ::lstat(QFile::encodeName(m_socket).constData(), &st) != 0
        || !S_ISSOCK(st.st_mode))
        return;
    stopWatchingSocket();
    m_state = State::Listening;
    settle(nullptr);
}

void SshConnection::flushControl()
{
    // Lines wait until the control script reads them: before, a login script could.
    const int fd = m_master && m_state == State::Ready ? m_master->stdinFd() : -1;
    while (fd >= 0 && !m_pending.isEmpty()) {
        const ssize_t n = ::write(fd, m_pending.constData(), size_t(m_pending.size()));
        if (n > 0) {
            m_pending.remove(0, n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            if (!m_writeWatch)
                m_writeWatch = Supervisor::instance().watch(
                    fd, EPOLLOUT, [weak = weak_from_this()](uint32_t) {
                        if (auto self = weak.lock())
                            self->flushControl();
                    });
            return;
        } else {
            m_pending.clear(); // the master is going: its exit ends every run
        }
    }
    if (m_writeWatch)
        Supervisor::instance().unwatch(m_writeWatch);
    m_writeWatch = 0;
}

// EOF to the control script: it stops what is left (nothing, normally) and ends, and with it
// the master. Bounded: the master is killed if it lingers.
void SshConnection::close()
{
    if (!takesSessions() || !m_master)
        return;
    const auto self = shared_from_this();
    m_state = State::Closed;
    forget(openConnections(), this);
    closingConnections().push_back(self);
    if (m_writeWatch)
        Supervisor::instance().unwatch(m_writeWatch);
    m_writeWatch = 0;
    m_master->closeStdin();
    m_closeTimer = Supervisor::instance().addTimer(
        std::chrono::duration_cast<std::chrono::milliseconds>(closeBound),
        [weak = weak_from_this()] {
            if (auto self = weak.lock()) {
                self->m_closeTimer = 0;
                if (self->m_master)
                    self->m_master->stop({ StopStep::kill() });
            }
        });
}

} // namespace offload::detail
