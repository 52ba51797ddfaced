// RunHistory: Studio's record of finished module runs in an SQLite database (Qt SQL,
// QSQLITE); every query runs on the history's own thread, never the caller's.
#pragma once

#include <offload/core/taskhandle.h>

#include <QDateTime>
#include <QList>
#include <QObject>
#include <QStringList>
#include <QVariantMap>

#include <memory>

namespace studio {

// One finished run as stored. Times are UTC.
struct RunRecord
{
    qint64 id = 0;               // the database's row id; 0 until stored
    QString modulePath;          // the module's executable or script
    QString moduleTitle;
    QVariantMap values;          // the form's values, by parameter name
    QStringList commandLine;     // program and arguments, as run
    QDateTime started, ended;
    QString state;               // "finished", "failed" or "cancelled"
    int exitCode = -1;           // -1: none (not started, killed by a signal)
    qint64 peakRssBytes = -1;    // -1: unknown
    QVariantMap returnValues;    // return parameters, by name
    QString error;               // the error's summary for a failed run
};

// Thread-safety: create, call and destroy on one thread (the GUI's); results are delivered on
// it. Ownership: owns its thread and its database connection; destroying it finishes the
// queued writes first (bounded), so a finished run is never dropped at exit.
class RunHistory : public QObject
{
    Q_OBJECT
public:
    explicit RunHistory(QObject *parent = nullptr);
    ~RunHistory() override;

    // Opens (creating if needed) the database at path. A file that is not an SQLite database,
    // a database locked by another process, a newer schema or an unwritable location fails
    // the task with a message naming the path and the cause, and leaves the file untouched;
    // the history is then unavailable and record() keeps runs in memory only.
    offload::TaskHandle<void> open(const QString &path);
    bool isAvailable() const;
    QString path() const;
    QString problem() const; // why the history is unavailable; empty when it is available

    // Stores a finished run. Fails (and emits problem) if the database refuses it; the record
    // is then kept in unsaved() so that it is still shown and not lost silently.
    offload::TaskHandle<qint64> record(const RunRecord &run);
    // Newest first; text matches module title or path, values, state, error, command line.
    offload::TaskHandle<QList<RunRecord>> search(const QString &text = {}, int limit = 500);
    offload::TaskHandle<void> remove(qint64 id);
    QList<RunRecord> unsaved() const;

Q_SIGNALS:
    void availabilityChanged(bool available);
    void problemOccurred(const QString &message);
    void recorded(const studio::RunRecord &run); // with its id, after the insert committed

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace studio

Q_DECLARE_METATYPE(studio::RunRecord)
