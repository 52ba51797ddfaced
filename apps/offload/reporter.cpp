#include "reporter.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSocketNotifier>
#include <QStringDecoder>

#include <csignal>
#include <cstdio>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

using namespace offload;

Reporter::Reporter(bool json) : m_json(json), m_tty(::isatty(STDERR_FILENO) == 1) { }

void Reporter::event(QJsonObject object)
{
    const QByteArray line = QJsonDocument(object).toJson(QJsonDocument::Compact) + '\n';
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fflush(stdout);
}

void Reporter::clearLine()
{
    if (m_lineShown) {
        std::fputs("\r\033[K", stderr);
        m_lineShown = false;
    }
}

void Reporter::message(const QString &line)
{
    if (m_json)
        return event({ { "event", "message" }, { "text", line } });
    clearLine();
    std::fprintf(stderr, "%s\n", qPrintable(line));
}

void Reporter::progress(const Progress &p, const QString &prefix, int run)
{
    const double value = p.maximum > p.minimum ? p.fraction() : -1;
    if (m_json) {
        QJsonObject o { { "event", "progress" }, { "text", p.text } };
        o.insert("value", value >= 0 ? QJsonValue(value) : QJsonValue());
        if (!p.stage.name.isEmpty())
            o.insert("stage", p.stage.name);
        if (run >= 0)
            o.insert("run", run);
        return event(o);
    }
    if (!m_tty)
        return;
    winsize ws {};
    const int width
        = ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
    const int barWidth = 24;
    const int filled = value >= 0 ? int(value * barWidth + 0.5) : 0;
    QString line = prefix;
    line += QLatin1Char('[') + QString(filled, QLatin1Char('#'))
        + QString(barWidth - filled, QLatin1Char(' ')) + QLatin1Char(']');
    line += value >= 0 ? QStringLiteral(" %1%").arg(int(value * 100), 3) : QStringLiteral("   ?");
    if (!p.stage.name.isEmpty())
        line += QLatin1Char(' ') + p.stage.name;
    if (!p.text.isEmpty())
        line += QStringLiteral(": ") + p.text;
    line = line.left(width - 1);
    if (m_lineShown && line == m_lastLine)
        return; // nothing visible changed
    m_lastLine = line;
    std::fprintf(stderr, "\r\033[K%s", qPrintable(line));
    std::fflush(stderr);
    m_lineShown = true;
}

void Reporter::output(const OutputChunk &chunk, int run)
{
    if (m_json) {
        if (m_binary && chunk.stream == OutputChunk::Stdout)
            return outputEvent(chunk.stream, run, chunk.data, true);
        QByteArray &carry = m_carry[{ run, int(chunk.stream) }];
        QByteArray bytes = carry + chunk.data;
        // An incomplete UTF-8 sequence at the end waits for the next chunk.
        qsizetype keep = 0;
        for (qsizetype back = 1; back <= 3 && back <= bytes.size(); ++back) {
            const uchar c = uchar(bytes.at(bytes.size() - back));
            if ((c & 0xC0) != 0x80) { // a lead byte (or ASCII): does its sequence fit?
                const int length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
                if (length > back)
                    keep = back;
                break;
            }
        }
        carry = bytes.right(keep);
        bytes.chop(keep);
        if (!bytes.isEmpty())
            outputEvent(chunk.stream, run, bytes, false);
        return;
    }
    clearLine();
    FILE *to = chunk.stream == OutputChunk::Stdout ? stdout : stderr;
    std::fwrite(chunk.data.constData(), 1, size_t(chunk.data.size()), to);
    std::fflush(to);
}

void Reporter::outputEvent(
    OutputChunk::Stream stream, int run, const QByteArray &bytes, bool binary)
{
    const char *name = stream == OutputChunk::Stderr ? "stderr"
        : stream == OutputChunk::Log                 ? "log"
                                                     : "stdout";
    QJsonObject o { { "event", "output" }, { "stream", name } };
    QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString text = binary ? QString() : utf8.decode(bytes);
    if (binary || utf8.hasError())
        o.insert(
            "base64", QString::fromLatin1(bytes.toBase64())); // not text: the bytes as they are
    else
        o.insert("text", text);
    if (run >= 0)
        o.insert("run", run);
    event(o);
}

void Reporter::flushOutput(int run)
{
    for (auto it = m_carry.begin(); it != m_carry.end();) {
        if (it->first.first == run && !it->second.isEmpty())
            outputEvent(OutputChunk::Stream(it->first.second), run, it->second, false);
        it = it->first.first == run ? m_carry.erase(it) : std::next(it);
    }
}

namespace {
int g_signalPipe[2] = { -1, -1 };
volatile std::sig_atomic_t g_firstSignal = 0;

void onSignal(int sig)
{
    if (!g_firstSignal)
        g_firstSignal = sig;
    const unsigned char byte = static_cast<unsigned char>(sig);
    [[maybe_unused]] const ssize_t n = ::write(g_signalPipe[1], &byte, 1); // async-signal-safe
}
} // namespace

void installCancelSignals(std::function<void(int)> handler)
{
    static std::function<void(int)> current;
    current = std::move(handler); // a later command phase (describe, then run) takes over
    if (g_signalPipe[0] >= 0)
        return;
    if (::pipe2(g_signalPipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return;
    // Owned by the application object, so it goes when the event loop's owner does.
    auto *notifier
        = new QSocketNotifier(g_signalPipe[0], QSocketNotifier::Read, QCoreApplication::instance());
    QObject::connect(notifier, &QSocketNotifier::activated, notifier, [] {
        unsigned char byte = 0;
        while (::read(g_signalPipe[0], &byte, 1) == 1)
            if (current)
                current(int(byte));
    });
    struct sigaction sa
    {
    };
    sa.sa_handler = onSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
}

int receivedSignal()
{
    return g_firstSignal;
}

QJsonObject errorToJson(const Error &e)
{
    QJsonObject o { { "kind", errorKindName(e.kind) }, { "message", e.message } };
    if (!e.origin.isEmpty())
        o.insert("origin", e.origin);
    if (e.exitCode)
        o.insert("exitCode", *e.exitCode);
    if (e.signal)
        o.insert("signal", *e.signal);
    if (!e.stderrTail.isEmpty())
        o.insert("stderrTail", QString::fromUtf8(e.stderrTail));
    return o;
}

int exitCodeFor(TaskState state, const Error &error, int programExitCode)
{
    switch (state) {
    case TaskState::Finished:
        return programExitCode;
    case TaskState::Cancelled:
        return 128 + (receivedSignal() ? receivedSignal() : SIGINT);
    default:
        break;
    }
    switch (error.kind) {
    case ErrorKind::ExitCode:
        return error.exitCode.value_or(1);
    case ErrorKind::Crash:
        return 128 + error.signal.value_or(SIGKILL);
    case ErrorKind::Timeout:
        return 124; // as timeout(1)
    case ErrorKind::Launch:
        return 127; // as a shell's "command not found"
    case ErrorKind::InvalidInput:
        return 2;
    default:
        return 1;
    }
}
