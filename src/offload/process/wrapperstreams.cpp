#include "wrapperstreams_p.h"

#include <algorithm>

namespace offload::detail {

namespace {
constexpr qsizetype keptStderr = 4096; // for a failure's message
constexpr qsizetype keptPrelude = 16 * 1024;
constexpr qsizetype maxWord = 256; // a marker's word is short: anything longer is not one

void keepTail(QByteArray &buf, const char *data, qsizetype n, qsizetype limit)
{
    buf.append(data, n);
    if (buf.size() > limit)
        buf.remove(0, buf.size() - limit);
}
} // namespace

WrapperStreams::WrapperStreams(
    QByteArray marker, Process::DataHandler stdoutData, Process::DataHandler stderrData)
    : m_marker(std::move(marker)), m_out(std::move(stdoutData)), m_err(std::move(stderrData))
{ }

void WrapperStreams::stdoutData(const char *data, size_t size)
{
    if (size == 0) {
        m_outHold.clear();
        return m_out(nullptr, 0);
    }
    if (m_outStarted)
        return m_out(data, size);
    m_outHold.append(data, qsizetype(size));
    const qsizetype at = m_outHold.indexOf(m_marker);
    const qsizetype end = at < 0 ? -1 : m_outHold.indexOf('\n', at);
    if (end < 0) {
        // Before the wrapper's marker everything is a login script's: dropped, bounded.
        const qsizetype keep = m_marker.size() + maxWord;
        if (m_outHold.size() > keep)
            m_outHold.remove(0, m_outHold.size() - keep);
        return;
    }
    const QByteArray word = m_outHold.mid(at + m_marker.size(), end - at - m_marker.size());
    const QByteArray rest = m_outHold.mid(end + 1);
    m_outHold.clear();
    onMarker(word);
    if (!word.startsWith("pid:"))
        return;
    m_outStarted = true;
    if (!rest.isEmpty())
        m_out(rest.constData(), size_t(rest.size()));
}

void WrapperStreams::stderrData(const char *data, size_t size)
{
    QByteArray buf = m_errHold + QByteArray(data, qsizetype(size));
    m_errHold.clear();
    // The bytes of a return-parameter file that a "file" marker announced are its, not text.
    const auto takeFile = [this](const QByteArray &b, qsizetype &at) {
        const qsizetype n = std::min<qsizetype>(m_fileRemaining, b.size() - at);
        m_file->append(b.constData() + at, n);
        m_fileRemaining -= n;
        at += n;
    };
    qsizetype start = 0;
    if (m_fileRemaining > 0)
        takeFile(buf, start);
    const auto pass = [this](const char *d, qsizetype n) {
        if (n <= 0)
            return;
        if (!m_errStarted)
            return keepTail(m_prelude, d, n, keptPrelude);
        if (!m_clientPrefix.isEmpty())
            return passLines(d, n, false);
        passProgram(d, n);
    };
    qsizetype pos = start;
    while (pos < buf.size()) {
        const qsizetype at = buf.indexOf(m_marker, pos);
        if (at < 0)
            break;
        const qsizetype end = buf.indexOf('\n', at);
        if (end < 0 || end - at > m_marker.size() + maxWord) {
            if (end >= 0 || size == 0 || buf.size() - at > m_marker.size() + maxWord)
                break; // not a marker after all (or the stream ended)
            pass(buf.constData() + pos, at - pos);
            m_errHold = buf.mid(at); // the rest of the marker is on its way
            return;
        }
        pass(buf.constData() + pos, at - pos);
        const QByteArray word = buf.mid(at + m_marker.size(), end - at - m_marker.size());
        if (word.startsWith("exit:") && !m_exit)
            settleAtExit();
        onMarker(word);
        m_errStarted = true;
        pos = end + 1;
        if (m_fileRemaining > 0)
            takeFile(buf, pos);
    }
    // A tail that may be the start of a marker waits for the next chunk.
    qsizetype hold = buf.size();
    if (size > 0) {
        const qsizetype rs = buf.lastIndexOf('\036');
        if (rs >= pos && m_marker.startsWith(buf.mid(rs)))
            hold = rs;
    }
    pass(buf.constData() + pos, hold - pos);
    m_errHold = buf.mid(hold);
    if (size == 0) {
        if (!m_clientPrefix.isEmpty())
            passLines(nullptr, 0, true);
        // No exit marker came (the wrapper was killed): a notice held for it was the program's.
        passProgram(m_heldNotice.constData(), m_heldNotice.size());
        m_heldNotice.clear();
        m_err(nullptr, 0);
    }
}

void WrapperStreams::passProgram(const char *data, qsizetype size)
{
    if (size <= 0)
        return;
    keepTail(m_errTail, data, size, keptStderr);
    m_err(data, size_t(size));
}

void WrapperStreams::settleAtExit()
{
    // The program's last line, unfinished, stays its own; a notice held is the client's.
    passProgram(m_lineHold.constData(), m_lineHold.size());
    m_lineHold.clear();
    m_lineStart = true;
    keepTail(m_prelude, m_heldNotice.constData(), m_heldNotice.size(), keptPrelude);
    m_heldNotice.clear();
}

void WrapperStreams::passLines(const char *data, qsizetype size, bool end)
{
    m_lineHold.append(data, size);
    // After the exit marker every line of the client's begins with its prefix. Before it,
    // only srun's notice of the task's end may come ("srun: error: NODE: task 0: Exited
    // with exit code 3"): it is held until what follows it says whose it is.
    const QByteArray client = m_exit
        ? m_clientPrefix
        : m_clientPrefix + "error: " + m_node + (m_node.isEmpty() ? "" : ": task");
    qsizetype pos = 0, run = 0; // run: where the program's lines not yet passed begin
    while (pos < m_lineHold.size()) {
        const qsizetype nl = m_lineHold.indexOf('\n', pos);
        const qsizetype stop = nl < 0 ? m_lineHold.size() : nl + 1;
        const QByteArrayView line(m_lineHold.constData() + pos, stop - pos);
        // A line begun that may be the client's waits for its end (bounded).
        if (m_lineStart && nl < 0 && !end && line.size() < keptStderr
            && (line.startsWith(client) || QByteArrayView(client).startsWith(line)))
            break;
        if (m_lineStart && line.startsWith(client)) {
            passProgram(m_lineHold.constData() + run, pos - run);
            if (m_exit)
                keepTail(m_prelude, line.data(), line.size(), keptPrelude);
            else
                m_heldNotice.append(line.data(), line.size());
            run = stop;
        } else if (!m_heldNotice.isEmpty()) {
            // The program wrote after it: the held line was the program's, in its place.
            passProgram(m_heldNotice.constData(), m_heldNotice.size());
            m_heldNotice.clear();
        }
        m_lineStart = nl >= 0;
        pos = stop;
    }
    passProgram(m_lineHold.constData() + run, pos - run);
    m_lineHold.remove(0, pos);
}

void WrapperStreams::onMarker(const QByteArray &word)
{
    if (word.startsWith("pid:")) {
        // "pid:PID JOB NODE": the job and node are Slurm's, empty elsewhere.
        const QList<QByteArray> f = word.mid(4).split(' ');
        m_pid = f.value(0).toLongLong();
        m_job = f.value(1);
        m_node = f.value(2);
    } else if (word.startsWith("file:")) {
        // "file:STATUS:SIZE"
        const QList<QByteArray> f = word.mid(5).split(':');
        m_fileStatus = f.value(0);
        m_file = QByteArray();
        m_fileRemaining = std::clamp<qsizetype>(f.value(1).toLongLong(), 0, qsizetype(16) << 20);
    } else if (word.startsWith("exit:")) {
        bool ok = false;
        const int s = word.mid(5).toInt(&ok);
        if (ok)
            m_exit = s;
    } else if (m_refusal.isEmpty()) {
        m_refusal = word;
    }
}

} // namespace offload::detail
