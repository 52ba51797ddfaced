#include "processtree_p.h"

#include "spawn_p.h"
#include "supervisor_p.h"

#include <QDir>
#include <QFile>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QStandardPaths>

#include <algorithm>
#include <mutex>
#include <set>
#include <vector>

#include <csignal>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcProcessTree, "offload.processtree")

namespace offload::detail {

namespace {

// Reads a small kernel file (cgroupfs, procfs: never blocks).
QByteArray readSmall(const QByteArray &path)
{
    QByteArray out;
    const int fd = ::open(path.constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        out.append(buf, n);
    ::close(fd);
    return out;
}

bool writeSmall(const QByteArray &path, const char *text)
{
    const int fd = ::open(path.constData(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = ::write(fd, text, std::strlen(text)) == ssize_t(std::strlen(text));
    ::close(fd);
    return ok;
}

bool isPopulated(const QByteArray &cgroup)
{
    return readSmall(cgroup + "/cgroup.events").contains("populated 1");
}

// This process's cgroup v2 directory, or empty: the "0::" line of /proc/self/cgroup under the
// mount point of the cgroup2 file system.
QByteArray ownCgroupDirectory()
{
    QByteArray relative;
    for (const QByteArray &line : readSmall("/proc/self/cgroup").split('\n'))
        if (line.startsWith("0::"))
            relative = line.mid(3);
    if (relative.isEmpty())
        return {};
    for (const QByteArray &line : readSmall("/proc/self/mountinfo").split('\n')) {
        // id parent major:minor root mountpoint options ... - fstype source superoptions
        const qsizetype dash = line.indexOf(" - ");
        if (dash < 0 || !line.mid(dash + 3).startsWith("cgroup2 "))
            continue;
        const QByteArrayList f = line.left(dash).split(' ');
        if (f.size() < 5 || f[3] != "/")
            continue; // a namespaced view; not worth guessing
        return relative == "/" ? f[4] : f[4] + relative;
    }
    return {};
}

// The script of the guard process: collects "+PGID" / "-PGID" lines, and "+jNAME" / "-jNAME"
// for Slurm jobs; when the pipe closes (we exited or died), kills the groups still
// registered, cancels the jobs (with scancel, $2) and the whole cgroup subtree ($1), waits
// (bounded) until it is empty and removes it.
constexpr const char *guardScript = R"sh(trap '' HUP INT TERM PIPE QUIT
groups=' ' jobs=' '
while IFS= read -r line; do
  case $line in
    +j*) jobs="$jobs${line#+j} " ;;
    -j*) j=${line#-j}; case $jobs in *" $j "*) jobs="${jobs%% $j *} ${jobs#* $j }" ;; esac ;;
    +*) groups="$groups${line#+} " ;;
    -*) pg=${line#-}; case $groups in *" $pg "*) groups="${groups%% $pg *} ${groups#* $pg }" ;; esac ;;
  esac
done
for pg in $groups; do kill -9 -$pg 2>/dev/null; done
if [ -n "$2" ]; then for j in $jobs; do "$2" --name="$j" >/dev/null 2>&1; done; fi
if [ -n "$1" ] && [ -d "$1" ]; then
  echo 1 > "$1/cgroup.kill" 2>/dev/null
  i=0
  while [ $i -lt 100 ] && ! grep -q 'populated 0' "$1/cgroup.events" 2>/dev/null; do sleep 0.05; i=$((i+1)); done
  rmtree() {
    for d in "$1"/*/; do [ -d "$d" ] && rmtree "${d%/}"; done
    rmdir "$1" 2>/dev/null
  }
  rmtree "$1"
fi
exit 0
)sh";

class Registry
{
public:
    static Registry &instance()
    {
        static Registry *r = new Registry; // never destroyed: children may outlive statics
        return *r;
    }

    QByteArray base()
    {
        std::call_once(m_once, [this] { initialise(); });
        return m_base;
    }

    void disableCgroups()
    {
        std::lock_guard lock(m_mutex);
        if (!m_base.isEmpty())
            qCWarning(lcProcessTree,
                "cannot place children in cgroups below %s; using process groups",
                m_base.constData());
        m_base.clear();
    }

    // An empty cgroup of ours: reused from the free list, or made.
    QByteArray takeCgroup()
    {
        const QByteArray root = base();
        std::lock_guard lock(m_mutex);
        if (m_base.isEmpty())
            return {};
        for (auto it = m_draining.begin(); it != m_draining.end();) {
            if (!isPopulated(*it)) {
                m_free.push_back(*it);
                it = m_draining.erase(it);
            } else {
                ++it;
            }
        }
        if (!m_free.empty()) {
            QByteArray cg = m_free.back();
            m_free.pop_back();
            return cg;
        }
        QByteArray cg = root + "/c" + QByteArray::number(m_next++);
        if (::mkdir(cg.constData(), 0755) != 0 && errno != EEXIST)
            return {};
        return cg;
    }

    void giveBack(const QByteArray &cgroup)
    {
        std::lock_guard lock(m_mutex);
        (isPopulated(cgroup) ? m_draining : m_free).push_back(cgroup);
    }

    // The guard: started at the first child, and again at once whenever it dies or stops
    // reading (a new one is told every group still registered), so there is no gap.
    void ensureGuard()
    {
        std::lock_guard lock(m_mutex);
        startGuardLocked();
    }

    void tellGuard(char op, pid_t group)
    {
        std::lock_guard lock(m_mutex);
        if (op == '+')
            m_groups.insert(group);
        else
            m_groups.erase(group);
        tellGuardLocked(op + QByteArray::number(group) + '\n');
    }

    void tellGuardJob(char op, const QByteArray &name)
    {
        std::lock_guard lock(m_mutex);
        startGuardLocked();
        if (op == '+')
            m_jobs.insert(name);
        else
            m_jobs.erase(name);
        tellGuardLocked(op + QByteArray("j") + name + '\n');
    }

    void tellGuardLocked(const QByteArray &line)
    {
        if (!writeGuardLocked(line)) {
            // A guard that does not read (stopped, or killed and not yet seen) must never
            // block the supervisor thread: it is replaced.
            qCWarning(lcProcessTree, "the guard process stopped reading; replacing it");
            replaceGuardLocked();
        }
    }

private:
    bool writeGuardLocked(const QByteArray &line)
    {
        if (m_guardFd < 0)
            return false;
        const ssize_t n = ::write(m_guardFd, line.constData(), size_t(line.size()));
        return n == ssize_t(line.size());
    }

    void replaceGuardLocked()
    {
        if (m_guardPid > 0) {
            ::kill(m_guardPid, SIGKILL);
            ::waitpid(m_guardPid, nullptr, 0); // SIGKILL: prompt
        }
        closeGuardLocked();
        startGuardLocked();
    }

    void closeGuardLocked()
    {
        if (m_guardWatch)
            Supervisor::instance().unwatch(m_guardWatch);
        m_guardWatch = 0;
        for (int *fd : { &m_guardFd, &m_guardPidfd }) {
            if (*fd >= 0)
                ::close(*fd);
            *fd = -1;
        }
        m_guardPid = -1;
    }

    void startGuardLocked()
    {
        if (m_guardPid > 0)
            return;
        SpawnRequest req;
        req.program = QStringLiteral("/bin/sh");
        // scancel as found now: the guard's PATH is the system's only.
        const QString scancel = QStandardPaths::findExecutable(QStringLiteral("scancel"));
        req.arguments = { "-c", guardScript, "offload-guard", m_base, QFile::encodeName(scancel) };
        req.environment = Environment();
        req.environment.insert("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        req.niceness = 0;
        req.pipeStdin = true;
        req.dieWithParent = false; // its whole point is to outlive us
        Spawned sp;
        if (auto error = spawnProcess(req, sp)) {
            qCWarning(lcProcessTree, "no guard process: %s", qPrintable(error->message));
            return;
        }
        for (int fd : { sp.stdoutFd, sp.stderrFd })
            if (fd >= 0)
                ::close(fd);
        m_guardFd = sp.stdinFd; // non-blocking: a stuck guard is noticed, never waited on
        m_guardPid = sp.pid;
        m_guardPidfd = sp.pidfd;
        // Killed from outside: reaped and replaced at once, not at the next spawn.
        m_guardWatch = Supervisor::instance().watch(m_guardPidfd, EPOLLIN, [this](uint32_t) {
            std::lock_guard lock(m_mutex);
            if (::waitpid(m_guardPid, nullptr, WNOHANG) == 0)
                return;
            qCWarning(lcProcessTree, "the guard process died; starting another");
            closeGuardLocked();
            startGuardLocked();
        });
        QByteArray all;
        for (pid_t g : m_groups)
            all += '+' + QByteArray::number(g) + '\n';
        for (const QByteArray &j : m_jobs)
            all += "+j" + j + '\n';
        if (!all.isEmpty() && !writeGuardLocked(all))
            qCWarning(lcProcessTree, "the new guard process could not be told every process group");
    }

private:
    void initialise()
    {
        const QByteArray own = ownCgroupDirectory();
        if (own.isEmpty() || ::access((own + "/cgroup.procs").constData(), W_OK) != 0) {
            qCInfo(lcProcessTree,
                "no writable cgroup v2 below this process's own: children are held by their "
                "process group (a descendant that leaves it is out of reach)");
            return;
        }
        cleanStale(own);
        const QByteArray base = own + "/offload-" + QByteArray::number(::getpid());
        if (::mkdir(base.constData(), 0755) != 0 && errno != EEXIST)
            return;
        m_base = base;
    }

    // Cgroups left by Offload processes that are gone (killed before their guard could
    // clean): named offload-<pid> with a pid that no longer exists, and holding nothing but
    // our c<N> children. (An Offload process in another PID namespace sharing this cgroup
    // tree would look the same; such setups are not supported.)
    static void cleanStale(const QByteArray &own)
    {
        static const QRegularExpression ours(QStringLiteral("^offload-([0-9]+)$"));
        static const QRegularExpression child(QStringLiteral("^c[0-9]+$"));
        const QStringList names
            = QDir(QFile::decodeName(own)).entryList({ QStringLiteral("offload-*") }, QDir::Dirs);
        for (const QString &name : names) {
            const auto match = ours.match(name);
            if (!match.hasMatch() || QFile::exists(QStringLiteral("/proc/") + match.captured(1)))
                continue;
            const QByteArray dir = own + '/' + name.toLatin1();
            const QStringList children
                = QDir(QFile::decodeName(dir)).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
            if (!std::all_of(children.begin(), children.end(),
                    [](const QString &c) { return child.match(c).hasMatch(); }))
                continue; // not laid out as ours: left alone
            writeSmall(dir + "/cgroup.kill", "1");
            removeTree(dir);
        }
    }

    // A cgroup and those below it, deepest first (an Offload application run by one of ours
    // has its own inside ours); one that still holds a process stays.
    static void removeTree(const QByteArray &dir)
    {
        for (const QString &c :
            QDir(QFile::decodeName(dir)).entryList(QDir::Dirs | QDir::NoDotAndDotDot))
            removeTree(dir + '/' + QFile::encodeName(c));
        ::rmdir(dir.constData());
    }

    std::once_flag m_once;
    std::mutex m_mutex;
    QByteArray m_base;
    std::vector<QByteArray> m_free, m_draining;
    int m_next = 0;
    std::set<pid_t> m_groups; // process groups registered with the guard
    std::set<QByteArray> m_jobs; // Slurm job names registered with the guard
    int m_guardFd = -1, m_guardPidfd = -1;
    pid_t m_guardPid = -1;
    uint64_t m_guardWatch = 0;
};

} // namespace

std::unique_ptr<ProcessTree> ProcessTree::create()
{
    Registry &reg = Registry::instance();
    std::unique_ptr<ProcessTree> tree(new ProcessTree);
    tree->m_cgroup = reg.takeCgroup();
    if (!tree->m_cgroup.isEmpty()) {
        tree->m_procsFd
            = ::open((tree->m_cgroup + "/cgroup.procs").constData(), O_WRONLY | O_CLOEXEC);
        if (tree->m_procsFd < 0) {
            reg.disableCgroups();
            tree->m_cgroup.clear();
        }
    }
    reg.ensureGuard();
    return tree;
}

ProcessTree::~ProcessTree()
{
    if (m_procsFd >= 0)
        ::close(m_procsFd);
    if (m_leader > 0 && mechanism() == Mechanism::ProcessGroup)
        reaped();
    if (!m_cgroup.isEmpty())
        Registry::instance().giveBack(m_cgroup);
}

void ProcessTree::started(pid_t leader)
{
    m_leader = leader;
    if (mechanism() == Mechanism::ProcessGroup)
        Registry::instance().tellGuard('+', leader);
}

void ProcessTree::signalAll(int signal)
{
    if (m_leader <= 0)
        return;
    if (mechanism() == Mechanism::ProcessGroup) {
        ::kill(-m_leader, signal);
        return;
    }
    for (const QByteArray &pid : readSmall(m_cgroup + "/cgroup.procs").split('\n'))
        if (!pid.isEmpty())
            ::kill(pid_t(pid.toLong()), signal);
}

void ProcessTree::killAll()
{
    if (m_leader <= 0)
        return;
    if (mechanism() == Mechanism::Cgroup)
        writeSmall(m_cgroup + "/cgroup.kill", "1");
    // The group too: a privileged descendant may have moved itself out of the cgroup.
    ::kill(-m_leader, SIGKILL);
}

void ProcessTree::reaped()
{
    if (m_leader > 0 && mechanism() == Mechanism::ProcessGroup)
        Registry::instance().tellGuard('-', m_leader);
    m_leader = -1;
}

void ProcessTree::guardJob(const QByteArray &name, bool guarded)
{
    Registry::instance().tellGuardJob(guarded ? '+' : '-', name);
}

void ProcessTree::disableCgroups()
{
    Registry::instance().disableCgroups();
}

} // namespace offload::detail
