#include "childprocess_p.h"
#include "slurm_p.h"

#include <QRegularExpression>

#include <unistd.h>

namespace offload::detail::slurm {

namespace {

constexpr qsizetype maxCommandOutput = qsizetype(8) << 20;

struct Command
{
    std::unique_ptr<ChildProcess> process;
    QByteArray out, err;
    CommandHandler fn;
    uint64_t timer = 0;
    bool timedOut = false;
};

std::map<uint64_t, Command> &commands()
{
    static auto *map = new std::map<uint64_t, Command>;
    return *map;
}

} // namespace

void runCommand(const QStringList &argv, CommandHandler fn, std::chrono::milliseconds timeout)
{
    static uint64_t next = 1;
    const uint64_t id = next++;
    Supervisor &sup = Supervisor::instance();
    SpawnRequest req;
    req.program = argv.value(0);
    req.arguments = toArguments(argv.mid(1));
    req.niceness = 0;
    Process::Handlers h;
    const auto append = [id](bool err) {
        return [id, err](const char *d, size_t n) {
            auto it = commands().find(id);
            if (it == commands().end() || n == 0)
                return;
            QByteArray &buf = err ? it->second.err : it->second.out;
            if (buf.size() < maxCommandOutput)
                buf.append(d, qsizetype(n));
        };
    };
    h.stdoutData = append(false);
    h.stderrData = append(true);
    h.exited = [id](const ExitStatus &status) {
        auto it = commands().find(id);
        if (it == commands().end())
            return;
        Command c = std::move(it->second);
        commands().erase(it); // destroys nothing: c holds the process now
        if (c.timer)
            Supervisor::instance().cancelTimer(c.timer);
        const int code = c.timedOut || status.signal ? -1 : status.exitCode;
        c.fn(code, c.out, c.err); // c (and the process, as its exit handler allows) goes now
    };
    Error error;
    Command c;
    c.fn = std::move(fn);
    c.process = ChildProcess::start(std::move(req), std::move(h), &error);
    if (!c.process) {
        sup.post([fn = std::move(c.fn), error] { fn(-1, {}, error.message.toLocal8Bit()); });
        return;
    }
    c.timer = sup.addTimer(timeout, [id] {
        auto it = commands().find(id);
        if (it == commands().end())
            return;
        it->second.timer = 0;
        it->second.timedOut = true;
        it->second.process->stop({ StopStep::kill() });
    });
    commands().emplace(id, std::move(c));
}

std::vector<JobInfo> parseQueue(const QByteArray &text)
{
    std::vector<JobInfo> jobs;
    for (const QByteArray &line : text.split('\n')) {
        const QList<QByteArray> f = line.trimmed().split('|');
        if (f.size() < 6 || f[0].isEmpty())
            continue;
        JobInfo j;
        j.id = f[0];
        j.name = f[1];
        j.state = f[2];
        j.reason = QString::fromUtf8(f[3]);
        j.node = QString::fromUtf8(f[4]);
        j.elapsed = QString::fromUtf8(f[5]);
        jobs.push_back(std::move(j));
    }
    return jobs;
}

namespace {
// "95308K", "1.5G": Slurm's sizes, in KiB without a suffix. -1 if it is not one.
qint64 parseSize(const QByteArray &text)
{
    if (text.isEmpty())
        return -1;
    static const QByteArray units = "KMGTP";
    QByteArray number = text;
    int power = 1;
    if (const qsizetype u = units.indexOf(text.back()); u >= 0) {
        number.chop(1);
        power = int(u) + 1;
    }
    bool ok = false;
    const double value = number.toDouble(&ok);
    if (!ok || value < 0 || value > 1e15)
        return -1;
    return qint64(value * double(qint64(1) << (10 * power)));
}

// "[DD-[HH:]]MM:SS[.mmm]": Slurm's durations. -1 if it is not one.
double parseDuration(const QByteArray &text)
{
    QByteArray rest = text;
    double days = 0;
    if (const qsizetype dash = rest.indexOf('-'); dash >= 0) {
        bool ok = false;
        days = rest.left(dash).toDouble(&ok);
        if (!ok)
            return -1;
        rest = rest.mid(dash + 1);
    }
    const QList<QByteArray> parts = rest.split(':');
    if (parts.size() < 2 || parts.size() > 3)
        return -1;
    double seconds = 0;
    for (const QByteArray &p : parts) {
        bool ok = false;
        const double v = p.toDouble(&ok);
        if (!ok || v < 0)
            return -1;
        seconds = seconds * 60 + v;
    }
    return days * 86400 + seconds;
}
} // namespace

std::map<QByteArray, Usage> parseUsage(const QByteArray &text)
{
    std::map<QByteArray, Usage> byJob;
    for (const QByteArray &line : text.split('\n')) {
        const QList<QByteArray> f = line.trimmed().split('|');
        if (f.size() < 3 || f[0].isEmpty())
            continue;
        const qsizetype dot = f[0].indexOf('.');
        const QByteArray job = f[0].left(dot);
        if (dot >= 0 && f[0].mid(dot + 1) == "extern")
            continue;
        const qint64 rss = parseSize(f[1]);
        const double cpu = parseDuration(f[2]);
        Usage &u = byJob[job];
        if (rss >= 0)
            u.rssBytes = std::max(u.rssBytes, rss);
        if (cpu >= 0)
            u.cpuSeconds = std::max(u.cpuSeconds, 0.0) + cpu;
    }
    return byJob;
}

RemoteFailure failureFromNotice(const QByteArray &stderrText, bool *cancelled)
{
    // slurmstepd's own lines only ("slurmstepd-n1: error: *** JOB 12 ON n1 CANCELLED AT ...
    // DUE TO TIME LIMIT ***", "slurmstepd: error: Detected 1 oom_kill event ..."): the
    // program may print anything, these words included.
    static const QRegularExpression notice(QStringLiteral(
        R"(\*\*\* (?:JOB|STEP) [0-9.]+ ON \S+ CANCELLED AT \S+(?: DUE TO ([A-Z ]+?))? \*\*\*)"));
    RemoteFailure found = RemoteFailure::None;
    for (const QByteArray &raw : stderrText.split('\n')) {
        const QString line = QString::fromLocal8Bit(raw.trimmed());
        if (!line.contains(QLatin1String("slurmstepd")))
            continue;
        if (line.contains(QLatin1String("oom-kill")) || line.contains(QLatin1String("oom_kill"))) {
            found = RemoteFailure::OutOfMemory;
            continue;
        }
        const QRegularExpressionMatch m = notice.match(line);
        if (!m.hasMatch())
            continue;
        const QString why = m.captured(1);
        if (why.startsWith(QLatin1String("TIME LIMIT")))
            found = RemoteFailure::TimeLimit;
        else if (why.startsWith(QLatin1String("NODE FAIL")))
            found = RemoteFailure::NodeFailure;
        else if (why.startsWith(QLatin1String("PREEMPTION")))
            found = RemoteFailure::Preempted;
        else
            found = RemoteFailure::CancelledElsewhere; // the caller knows whether it was ours
    }
    if (cancelled)
        *cancelled = found == RemoteFailure::CancelledElsewhere;
    return found;
}

RemoteFailure failureFromState(const QByteArray &state)
{
    if (state.startsWith("TIMEOUT") || state.startsWith("DEADLINE"))
        return RemoteFailure::TimeLimit;
    if (state.startsWith("NODE_FAIL") || state.startsWith("BOOT_FAIL"))
        return RemoteFailure::NodeFailure;
    if (state.startsWith("PREEMPTED"))
        return RemoteFailure::Preempted;
    if (state.startsWith("OUT_OF_MEMORY"))
        return RemoteFailure::OutOfMemory;
    if (state.startsWith("CANCELLED"))
        return RemoteFailure::CancelledElsewhere;
    return RemoteFailure::None;
}

QByteArray stateFromScontrol(const QByteArray &text)
{
    const qsizetype at = text.indexOf("JobState=");
    if (at < 0)
        return {};
    qsizetype end = at + 9;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n')
        ++end;
    return text.mid(at + 9, end - at - 9);
}

ErrorKind kindOf(RemoteFailure failure)
{
    switch (failure) {
    case RemoteFailure::TimeLimit:
        return ErrorKind::Timeout;
    case RemoteFailure::OutOfMemory:
        return ErrorKind::Crash;
    case RemoteFailure::ProgramMissing:
        return ErrorKind::Launch;
    default:
        return ErrorKind::Remote;
    }
}

std::optional<Usage> Queue::usage(const QByteArray &jobId) const
{
    const auto it = m_usage.find(jobId);
    return it == m_usage.end() ? std::nullopt : std::optional<Usage>(it->second);
}

void Queue::queryUsage(const QStringList &jobIds)
{
    std::erase_if(
        m_usage, [&](const auto &u) { return !jobIds.contains(QString::fromLatin1(u.first)); });
    if (jobIds.isEmpty() || m_usageQuerying)
        return;
    if (m_usageSkips > 0) {
        --m_usageSkips;
        return;
    }
    m_usageQuerying = true;
    runCommand(
        { QStringLiteral("sstat"), QStringLiteral("-a"), QStringLiteral("-n"), QStringLiteral("-P"),
            QStringLiteral("-o"), QStringLiteral("JobID,MaxRSS,AveCPU"), QStringLiteral("-j"),
            jobIds.join(QLatin1Char(',')) },
        [this](int code, const QByteArray &out, const QByteArray &) {
            m_usageQuerying = false;
            // A job that ended meanwhile makes sstat fail for it alone: what it said of the
            // others counts. Nothing at all: no accounting here, asked again later.
            auto found = parseUsage(out);
            if (found.empty() && code != 0)
                m_usageSkips = 9;
            for (auto &[job, u] : found)
                m_usage[job] = u;
        },
        std::chrono::seconds(10));
}

Queue &Queue::instance()
{
    static auto *queue = new Queue;
    return *queue;
}

uint64_t Queue::watch(const QByteArray &jobName, std::chrono::seconds interval, Listener listener)
{
    const uint64_t token = m_next++;
    interval = std::max(interval, std::chrono::seconds(1)); // never a busy loop of squeue
    m_watches.emplace(token,
        Watch { jobName, interval, std::make_shared<Listener>(std::move(listener)), {}, false,
            std::chrono::steady_clock::now() });
    m_interval = std::chrono::milliseconds(0); // back to the shortest interval
    schedule(std::chrono::seconds(2));
    return token;
}

void Queue::unwatch(uint64_t token)
{
    m_watches.erase(token);
    if (m_watches.empty() && m_timer) {
        Supervisor::instance().cancelTimer(m_timer);
        m_timer = 0;
    }
}

void Queue::schedule(std::chrono::milliseconds within)
{
    Supervisor &sup = Supervisor::instance();
    const auto due = std::chrono::steady_clock::now() + within;
    if (m_timer && m_due <= due)
        return; // a query comes sooner anyway
    if (m_timer)
        sup.cancelTimer(m_timer);
    m_due = due;
    m_timer = sup.addTimer(within, [this] {
        m_timer = 0;
        poll();
    });
}

void Queue::poll()
{
    if (m_watches.empty() || m_querying)
        return;
    m_querying = true;
    runCommand({ QStringLiteral("squeue"), QStringLiteral("-h"), QStringLiteral("-t"),
                   QStringLiteral("all"), QStringLiteral("-u"), QString::number(::getuid()),
                   QStringLiteral("-o"), QStringLiteral("%i|%j|%T|%r|%N|%M") },
        [this](int code, const QByteArray &out, const QByteArray &) { onResult(code, out); });
}

void Queue::onResult(int code, const QByteArray &out)
{
    m_querying = false;
    if (m_watches.empty())
        return;
    std::chrono::seconds base = m_watches.begin()->second.interval;
    for (const auto &[token, w] : m_watches)
        base = std::min(base, w.interval);
    bool changed = false;
    if (code == 0) {
        QStringList running;
        std::map<QByteArray, JobInfo> byName;
        for (JobInfo &j : parseQueue(out))
            byName[j.name] = std::move(j);
        // Listeners may unwatch (themselves or others): walk a copy of the tokens.
        std::vector<uint64_t> tokens;
        for (const auto &[token, w] : m_watches)
            tokens.push_back(token);
        for (uint64_t token : tokens) {
            auto it = m_watches.find(token);
            if (it == m_watches.end())
                continue;
            Watch &w = it->second;
            const auto found = byName.find(w.name);
            const JobInfo *job = found == byName.end() ? nullptr : &found->second;
            if (job && job->state == "RUNNING")
                running << QString::fromLatin1(job->id);
            const bool same = job && w.last && w.last->state == job->state
                && w.last->reason == job->reason && w.last->node == job->node;
            if (same || (!job && !w.last))
                continue; // unchanged, not submitted yet, or already told it is gone
            changed = true;
            w.seen = w.seen || job;
            w.last = job ? std::optional<JobInfo>(*job) : std::nullopt;
            const auto listener = w.listener; // the watch may go inside
            (*listener)(job);
        }
        queryUsage(running);
    }
    const auto baseMs = std::chrono::duration_cast<std::chrono::milliseconds>(base);
    m_interval = changed || m_interval.count() == 0 ? baseMs : std::min(m_interval * 2, baseMs * 4);
    // A job just submitted is looked for again soon, for its first 10 s.
    std::chrono::milliseconds next = m_interval;
    for (const auto &[token, w] : m_watches)
        if (!w.seen && std::chrono::steady_clock::now() - w.created < std::chrono::seconds(10))
            next = std::min<std::chrono::milliseconds>(next, std::chrono::seconds(2));
    if (!m_watches.empty())
        schedule(next);
}

} // namespace offload::detail::slurm
