#include "processtree_p.h"

#include "spawn_p.h"

#include <QDir>
#include <QFile>
#include <QLoggingCategory>

#include <mutex>
#include <vector>

#include <csignal>
#include <fcntl.h>
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

// The script of the guard process: collects "+PGID" / "-PGID" lines; when the pipe closes (we
// exited or died), kills the groups still registered and the whole cgroup subtree ($1), waits
// (bounded) until it is empty and removes it.
constexpr const char *guardScript = R"sh(trap '' HUP INT TERM PIPE QUIT
groups=' '
while IFS= read -r line; do
  case $line in
    +*) groups="$groups${line#+} " ;;
    -*) pg=${line#-}; case $groups in *" $pg "*) groups="${groups%% $pg *} ${groups#* $pg }" ;; esac ;;
  esac
done
for pg in $groups; do kill -9 -$pg 2>/dev/null; done
if [ -n "$1" ] && [ -d "$1" ]; then
  echo 1 > "$1/cgroup.kill" 2>/dev/null
  i=0
  while [ $i -lt 100 ] && ! grep -q 'populated 0' "$1/cgroup.events" 2>/dev/null; do sleep 0.05; i=$((i+1)); done
  for d in "$1"/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  rmdir "$1" 2>/dev/null
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

    // The guard, started once and again if it died; then group registrations.
    void ensureGuard()
    {
        std::lock_guard lock(m_mutex);
        if (m_guardPid > 0) {
            if (::waitpid(m_guardPid, nullptr, WNOHANG) == 0)
                return;
            ::close(m_guardFd); // it died (killed from outside): reaped; start another
            m_guardFd = -1;
            m_guardPid = -1;
            qCWarning(lcProcessTree, "the guard process died; starting another");
        }
        SpawnRequest req;
        req.program = QStringLiteral("/bin/sh");
        req.arguments = { "-c", guardScript, "offload-guard", m_base };
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
        for (int fd : { sp.stdoutFd, sp.stderrFd, sp.pidfd })
            if (fd >= 0)
                ::close(fd);
        // Blocking writes of a few bytes: the guard reads continuously.
        ::fcntl(sp.stdinFd, F_SETFL, ::fcntl(sp.stdinFd, F_GETFL) & ~O_NONBLOCK);
        m_guardFd = sp.stdinFd;
        m_guardPid = sp.pid;
    }

    void tellGuard(char op, pid_t group)
    {
        std::lock_guard lock(m_mutex);
        if (m_guardFd < 0)
            return;
        const QByteArray line = op + QByteArray::number(group) + '\n';
        [[maybe_unused]] auto n = ::write(m_guardFd, line.constData(), size_t(line.size()));
    }

private:
    void initialise()
    {
        const QByteArray own = ownCgroupDirectory();
        if (own.isEmpty() || ::access((own + "/cgroup.procs").constData(), W_OK) != 0)
            return;
        cleanStale(own);
        const QByteArray base = own + "/offload-" + QByteArray::number(::getpid());
        if (::mkdir(base.constData(), 0755) != 0 && errno != EEXIST)
            return;
        m_base = base;
    }

    // Cgroups left by Offload processes that are gone (killed before their guard could clean).
    static void cleanStale(const QByteArray &own)
    {
        const QStringList stale
            = QDir(QFile::decodeName(own)).entryList({ QStringLiteral("offload-*") }, QDir::Dirs);
        for (const QString &name : stale) {
            const QByteArray pid = name.mid(8).toLatin1();
            if (QFile::exists(QStringLiteral("/proc/") + QLatin1String(pid)))
                continue;
            const QByteArray dir = own + '/' + name.toLatin1();
            writeSmall(dir + "/cgroup.kill", "1");
            for (const QString &child :
                QDir(QFile::decodeName(dir)).entryList(QDir::Dirs | QDir::NoDotAndDotDot))
                ::rmdir((dir + '/' + child.toLatin1()).constData());
            ::rmdir(dir.constData());
        }
    }

    std::once_flag m_once;
    std::mutex m_mutex;
    QByteArray m_base;
    std::vector<QByteArray> m_free, m_draining;
    int m_next = 0;
    int m_guardFd = -1;
    pid_t m_guardPid = -1;
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
    if (mechanism() == Mechanism::Cgroup && writeSmall(m_cgroup + "/cgroup.kill", "1"))
        return;
    ::kill(-m_leader, SIGKILL);
}

void ProcessTree::reaped()
{
    if (m_leader > 0 && mechanism() == Mechanism::ProcessGroup)
        Registry::instance().tellGuard('-', m_leader);
    m_leader = -1;
}

void ProcessTree::disableCgroups()
{
    Registry::instance().disableCgroups();
}

} // namespace offload::detail
