// Private: the output of a program started by Offload's wrapper script (sshremote_p.h), over
// ssh or as a Slurm step. Bytes before the wrapper's first marker are a login script's or the
// launcher's own (kept as the prelude, never passed on); markers are taken out of the
// streams and read; everything else reaches the handlers in order. Supervisor thread only.
#pragma once

#include "launch_p.h"

#include <QByteArray>

#include <optional>

namespace offload::detail {

class WrapperStreams
{
public:
    WrapperStreams(
        QByteArray marker, Process::DataHandler stdoutData, Process::DataHandler stderrData);

    // After the program's exit marker, stderr lines that begin with prefix are the client's
    // own (srun's "srun: error: ... Exited with exit code 3"): kept with the prelude, not
    // passed on. Other lines still are (an escaped descendant's). srun's notice of the task's
    // end may also come just ahead of the exit marker: it is the client's too when nothing
    // but markers follows it.
    void setClientLinePrefix(QByteArray prefix) { m_clientPrefix = std::move(prefix); }

    // The streams as the launcher's client reads them; size 0 at each one's end.
    void stdoutData(const char *data, size_t size);
    void stderrData(const char *data, size_t size);

    bool started() const { return m_pid > 0; } // the program is running (or ran)
    qint64 pid() const { return m_pid; } // its pid (and process group) over there
    QByteArray job() const { return m_job; } // a Slurm job id, empty elsewhere
    QByteArray node() const { return m_node; } // a Slurm node, empty elsewhere
    // Why the wrapper did not run the program: missing, nodir, notemp, stopped, nogroup.
    QByteArray refusal() const { return m_refusal; }
    std::optional<int> exitStatus() const { return m_exit; } // from the exit marker
    // stderr before the wrapper spoke, and the client's lines after the program ended
    const QByteArray &prelude() const { return m_prelude; }
    const QByteArray &stderrTail() const { return m_errTail; } // the program's, bounded
    // A return-parameter file sent on stderr (Slurm): "ok" with its bytes, "missing",
    // "notregular" or "toolarge"; empty if none was sent (or it was cut short).
    QByteArray fileStatus() const { return m_fileRemaining > 0 ? QByteArray() : m_fileStatus; }
    std::optional<QByteArray> file() const { return m_fileRemaining > 0 ? std::nullopt : m_file; }

private:
    void onMarker(const QByteArray &word);
    void passLines(const char *data, qsizetype size, bool end);
    void passProgram(const char *data, qsizetype size);
    void settleAtExit();

    QByteArray m_marker;
    Process::DataHandler m_out, m_err;
    QByteArray m_outHold, m_errHold; // bytes that may still be (part of) a marker
    QByteArray m_prelude, m_errTail;
    bool m_outStarted = false, m_errStarted = false;
    qint64 m_pid = -1;
    QByteArray m_job, m_node, m_refusal;
    std::optional<int> m_exit;
    QByteArray m_fileStatus;
    std::optional<QByteArray> m_file;
    qsizetype m_fileRemaining = 0;
    QByteArray m_clientPrefix, m_lineHold; // with a client prefix, stderr is read by lines
    QByteArray m_heldNotice; // what may be the client's notice, until what follows says
    bool m_lineStart = true;
};

} // namespace offload::detail
