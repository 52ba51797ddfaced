// Reporter: how the offload tool shows tasks: a progress line on a terminal, or JSON events.
#pragma once

#include <offload/core/error.h>
#include <offload/core/output.h>
#include <offload/core/progress.h>
#include <offload/core/taskstate.h>

#include <QJsonObject>

#include <map>
#include <utility>

#include <functional>

// Main thread only. JSON mode: one object per line on stdout, nothing else on stdout.
// Terminal mode: the program's output passes through; progress is redrawn on one stderr line
// when stderr is a terminal (and not at all otherwise, to keep logs clean).
class Reporter
{
public:
    explicit Reporter(bool json);
    bool json() const { return m_json; }
    // Output is binary (raw mode): JSON events carry it as base64, never as replaced text.
    void setBinaryOutput(bool binary) { m_binary = binary; }

    void progress(const offload::Progress &p, const QString &prefix = {}, int run = -1);
    // JSON mode: "text" when the bytes are UTF-8, else "base64" (and always base64 for binary
    // output): every byte arrives.
    void output(const offload::OutputChunk &chunk, int run = -1);
    void flushOutput(int run = -1); // JSON mode: what a run's streams still hold back, at its end
    void event(QJsonObject object); // JSON mode only
    void message(const QString &line); // a line for the user: stderr, or a "message" event
    void clearLine();

private:
    void outputEvent(
        offload::OutputChunk::Stream stream, int run, const QByteArray &bytes, bool binary);
    bool m_json;
    bool m_binary = false;
    // JSON mode: the incomplete UTF-8 sequence at the end of a run's stream, kept for the next
    // chunk so that a character split across two reads stays one character.
    std::map<std::pair<int, int>, QByteArray> m_carry;
    bool m_tty;
    bool m_lineShown = false;
    QString m_lastLine;
};

// SIGINT and SIGTERM call onSignal on the main thread (through a self-pipe); the first one is
// remembered for the exit code (128 + signal).
void installCancelSignals(std::function<void(int)> onSignal);
int receivedSignal();

QJsonObject errorToJson(const offload::Error &error);
int exitCodeFor(offload::TaskState state, const offload::Error &error, int programExitCode);
