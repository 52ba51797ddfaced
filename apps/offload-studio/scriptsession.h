// ScriptSession: a scripted Studio session (--headless --script FILE.json): runs the listed
// modules through the window's own controller and prints a JSON summary; GUI thread only.
#pragma once

#include <QJsonArray>
#include <QJsonObject>
#include <QObject>

#include <optional>
#include <vector>

namespace studio {

class StudioWindow;

// The script: {"runs": [ {"module": "<title, file name or path>", "values": {...},
//   "expect": "finished" | "failed" | "cancelled" (default "finished"),
//   "cancelAfterMs": N (optional),
//   "batch": {"parameter": "name", "inputs": [...] | "range": [from, to, step] |
//             "folder": "dir", "pattern": "*.nrrd", "parallel": N} (optional)} ... ],
//  "screenshot": "file.png" (optional, taken when every run has ended)}
// Relative paths are read from the script's folder. Does not own the window.
class ScriptSession : public QObject
{
    Q_OBJECT
public:
    static constexpr qint64 maxScriptBytes = 1 << 20;

    ScriptSession(
        StudioWindow *window, QJsonObject script, QString scriptDir, QObject *parent = nullptr);

    // Reads a script without ever blocking (a FIFO, a device, a directory, a file over
    // maxScriptBytes or one whose reads would block is refused) and checks it; nullopt with
    // *error naming the file and the cause, or the place in the script ("runs[2].batch.range:
    // the step is 0"). Any thread.
    static std::optional<QJsonObject> load(const QString &path, QString *error);
    // The script's structure: known keys only, each of the right type and range; an empty
    // string when it is a script this class can perform.
    static QString check(const QJsonObject &script);

    // Starts once discovery has finished; finished() follows when every run has ended.
    void start();
    QJsonObject summary() const;
    int exitCode() const; // 0 when every run ended as expected

Q_SIGNALS:
    void finished();

private:
    struct Entry
    {
        QJsonObject spec;
        QString module;
        quint64 taskId = 0;
        QString expect;
        QString launchError;
    };
    void launch();
    void checkDone();
    QString saveScreenshot(const QString &path) const;
    QJsonObject describe(const Entry &e) const;

    StudioWindow *m_window;
    QJsonObject m_script;
    QString m_dir;
    std::vector<Entry> m_entries;
    std::vector<double> m_lagSamples; // this session's, from the window's probe
    QString m_screenshotError; // why the screenshot was not saved
    bool m_launched = false, m_done = false;
};

} // namespace studio
