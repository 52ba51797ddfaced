// offload batch [-j N] [--json] FILE: one program run per line of FILE, N at a time, one
// progress line for all of them and a summary.
#include "commands.h"
#include "commandsupport.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>

#include <cstdio>
#include <cstring>
#include <vector>

using namespace offload;
using namespace cli;

namespace {

// Splits a batch line as a POSIX shell would split words (no expansion, no operators):
// whitespace separates, 'single quotes' are literal, "double quotes" and bare text honour a
// backslash escape. Bytes in, bytes out: a word need not be UTF-8. nullopt on an unterminated
// quote or a trailing backslash.
std::optional<QByteArrayList> splitWords(const QByteArray &line)
{
    QByteArrayList words;
    QByteArray word;
    bool inWord = false;
    for (qsizetype i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c == '\'') {
            const qsizetype end = line.indexOf('\'', i + 1);
            if (end < 0)
                return std::nullopt;
            word += line.mid(i + 1, end - i - 1);
            inWord = true;
            i = end;
        } else if (c == '"') {
            inWord = true;
            for (++i;; ++i) {
                if (i >= line.size())
                    return std::nullopt;
                if (line[i] == '"')
                    break;
                if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] != '\0'
                    && std::strchr("\"\\$`", line[i + 1]))
                    ++i;
                word += line[i];
            }
        } else if (c == '\\') {
            if (++i >= line.size())
                return std::nullopt;
            word += line[i];
            inWord = true;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
            if (inWord)
                words << word;
            word.clear();
            inWord = false;
        } else {
            word += c;
            inWord = true;
        }
    }
    if (inWord)
        words << word;
    return words;
}

struct BatchOptions
{
    bool json = false;
    int parallel = 0; // 0: ProgramRunner's default
    QString file;
    Launcher launcher;
};

// Parses batch's arguments into o; a usage error's exit code if they are wrong.
std::optional<int> parseOptions(const QStringList &args, BatchOptions &o)
{
    CommandLine cl(QStringLiteral("batch"));
    const QCommandLineOption parallel(
        QStringLiteral("j"), QStringLiteral("runs at a time"), QStringLiteral("N"));
    cl.parser.addOption(cl.json);
    cl.parser.addOption(parallel);
    cl.parser.addOption(cl.on);
    cl.parser.addOption(cl.sshConfig);
    if (const auto code = cl.parse(args))
        return code;
    if (const auto code = cl.readLauncher(o.launcher))
        return code;
    o.json = cl.parser.isSet(cl.json);
    if (cl.parser.isSet(parallel)) {
        bool ok = false;
        o.parallel = cl.parser.value(parallel).toInt(&ok);
        if (!ok || o.parallel < 1 || o.parallel > 1024)
            return usageError(QStringLiteral("-j needs a number from 1 to 1024"));
    }
    const QStringList files = cl.parser.positionalArguments();
    if (files.isEmpty())
        return usageError(QStringLiteral("batch needs a file of command lines"));
    if (files.size() > 1)
        return usageError(QStringLiteral("batch takes one file"));
    o.file = files.first();
    return std::nullopt;
}

struct BatchFile
{
    std::vector<QByteArrayList> commands;
    // How a failure names its command: "line N: " and at most 200 characters of the line.
    std::vector<QString> echoes;
};

// Reads the command lines of file ("-": stdin) into out; a usage error's exit code if it
// cannot be read or a line cannot be split.
std::optional<int> readBatchFile(const QString &file, BatchFile &out)
{
    QFile in(file);
    if (file == QLatin1String("-") ? !in.open(stdin, QIODevice::ReadOnly)
                                   : !in.open(QIODevice::ReadOnly))
        return usageError(QStringLiteral("cannot read %1: %2").arg(file, in.errorString()));
    int lineNumber = 0;
    for (const QByteArray &line : in.readAll().split('\n')) {
        ++lineNumber;
        if (line.contains('\0')) // an argument cannot hold one: it would be cut there, silently
            return usageError(
                QStringLiteral("%1:%2: the line holds a NUL byte").arg(file).arg(lineNumber));
        const QByteArray bytes = line.trimmed();
        if (bytes.isEmpty() || bytes.startsWith('#'))
            continue;
        const QString text = QString::fromUtf8(bytes); // for messages only
        const std::optional<QByteArrayList> argv = splitWords(bytes);
        if (!argv)
            return usageError(QStringLiteral("%1:%2: unterminated quote or trailing backslash")
                                  .arg(file)
                                  .arg(lineNumber));
        if (!argv->isEmpty()) {
            out.commands.push_back(*argv);
            constexpr qsizetype echoed = 200;
            out.echoes.push_back(
                QStringLiteral("line %1: %2")
                    .arg(lineNumber)
                    .arg(text.size() > echoed ? text.left(echoed) + QChar(0x2026) : text));
        }
    }
    return std::nullopt;
}

// Runs every command of a batch and shows them: one progress line for all (or JSON events per
// run), until the last has ended.
class BatchRun
{
public:
    BatchRun(const BatchFile &batch, Reporter &rep, int parallel, Launcher launcher)
        : m_batch(batch)
        , m_rep(rep)
        , m_runner(parallel)
        , m_launcher(std::move(launcher))
        , m_fractions(batch.commands.size(), 0.0)
        , m_isRunning(batch.commands.size(), 0)
    { }

    void exec()
    {
        m_clock.start();
        installCancelSignals([this](int) {
            for (const auto &r : m_runs)
                r.cancel();
        });
        for (size_t index = 0; index < m_batch.commands.size(); ++index)
            start(int(index));
        if (!m_runs.empty())
            QCoreApplication::exec();
        m_rep.clearLine();
    }

    // Says what failed and how the batch went; returns the exit code.
    int summarise() const
    {
        const size_t total = m_batch.commands.size();
        const int finished = m_ended - m_failed - m_cancelled;
        if (m_rep.json()) {
            m_rep.event(QJsonObject { { "event", "summary" }, { "runs", int(total) },
                { "finished", finished }, { "failed", m_failed }, { "cancelled", m_cancelled },
                { "elapsedMs", m_clock.elapsed() } });
        } else {
            for (size_t n = 0; n < m_runs.size(); ++n)
                if (m_runs[n].state() == TaskState::Failed)
                    std::fprintf(stderr, "failed: run %zu (%s): %s\n", n + 1,
                        qPrintable(m_batch.echoes[n]), qPrintable(m_runs[n].error().summary()));
            std::fprintf(stderr, "%s\n",
                qPrintable(
                    QStringLiteral("%1 runs: %2 finished, %3 failed, %4 cancelled in %5 s (%6 at "
                                   "once)")
                        .arg(total)
                        .arg(finished)
                        .arg(m_failed)
                        .arg(m_cancelled)
                        .arg(double(m_clock.elapsed()) / 1000.0, 0, 'f', 2)
                        .arg(m_runner.maxParallel())));
        }
        if (receivedSignal())
            return 128 + receivedSignal();
        return m_failed || m_cancelled ? 1 : 0;
    }

private:
    void start(int n)
    {
        const QByteArrayList &argv = m_batch.commands[size_t(n)];
        ProgramSpec spec;
        spec.program = QFile::decodeName(argv.first());
        spec.arguments = argv.mid(1);
        spec.launcher = m_launcher;
        auto run = m_runner.run(qApp, spec);
        run.onStateChanged([this, n](TaskState s) {
            if (s == TaskState::Running && !m_isRunning[size_t(n)]) {
                m_isRunning[size_t(n)] = 1;
                ++m_running;
            }
            if (m_rep.json())
                m_rep.event(
                    QJsonObject { { "event", "state" }, { "run", n }, { "state", stateName(s) } });
        });
        run.onProgress([this, n](const Progress &p) {
            m_fractions[size_t(n)] = p.maximum > p.minimum ? p.fraction() : 0;
            if (m_rep.json())
                m_rep.progress(p, {}, n);
            else
                showProgress();
        });
        if (m_rep.json())
            run.onOutput([this, n](const OutputChunk &c) { m_rep.output(c, n); });
        run.onFinished([this, n](const TaskHandle<ProgramResult> &t) { ended(n, t); });
        m_runs.push_back(run);
    }

    void ended(int n, const TaskHandle<ProgramResult> &t)
    {
        m_rep.flushOutput(n);
        if (m_isRunning[size_t(n)]) {
            m_isRunning[size_t(n)] = 0;
            --m_running;
        }
        ++m_ended;
        m_fractions[size_t(n)] = 1.0;
        m_failed += t.state() == TaskState::Failed;
        m_cancelled += t.state() == TaskState::Cancelled;
        if (m_rep.json()) {
            QJsonObject o = finishedEvent(t);
            o.insert("run", n);
            m_rep.event(o);
        } else {
            showProgress();
        }
        if (m_ended == int(m_batch.commands.size()))
            QCoreApplication::exit(0);
    }

    void showProgress()
    {
        double sum = 0;
        for (double f : m_fractions)
            sum += f;
        const size_t total = m_batch.commands.size();
        Progress p;
        p.setFraction(total == 0 ? 1.0 : sum / double(total));
        p.text = QStringLiteral("%1/%2 done, %3 running, %4 failed")
                     .arg(m_ended)
                     .arg(total)
                     .arg(m_running)
                     .arg(m_failed);
        m_rep.progress(p, QStringLiteral("batch "));
    }

    const BatchFile &m_batch;
    Reporter &m_rep;
    ProgramRunner m_runner;
    const Launcher m_launcher;
    std::vector<TaskHandle<ProgramResult>> m_runs;
    std::vector<double> m_fractions;
    std::vector<char> m_isRunning;
    int m_ended = 0, m_failed = 0, m_cancelled = 0, m_running = 0;
    QElapsedTimer m_clock;
};

} // namespace

int batchCommand(const QStringList &args)
{
    BatchOptions options;
    if (const auto code = parseOptions(args, options))
        return *code;
    BatchFile batch;
    if (const auto code = readBatchFile(options.file, batch))
        return *code;
    Reporter rep(options.json);
    BatchRun run(batch, rep, options.parallel, options.launcher);
    run.exec();
    return run.summarise();
}
