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

// One finished run as stored. Times are UTC, to the millisecond.
// values and returnValues are stored as JSON, so they come back as JSON gives them: qlonglong,
// double, bool, QString, QVariantList (a QStringList comes back as a QVariantList of strings,
// which ModuleForm::setValues takes as well), QVariantMap; NaN and infinities cannot be stored.
struct RunRecord
{
    qint64 id = 0; // the database's row id; 0 until stored
    QString modulePath; // the module's executable or script
    QString moduleTitle;
    QVariantMap values; // the form's values, by parameter name
    QStringList commandLine; // program and arguments, as run
    QDateTime started, ended; // an invalid time stays invalid
    QString state; // "finished", "failed" or "cancelled"
    int exitCode = -1; // -1: none (not started, killed by a signal)
    qint64 peakRssBytes = -1; // -1: unknown
    QVariantMap returnValues; // return parameters, by name
    QString error; // the error's summary for a failed run
};

// Thread-safety: create, call and destroy on one thread (the GUI's); results are delivered on
// it. Ownership: owns its thread and its database connection; destroying it finishes the
// queued writes first (bounded), so a finished run is never dropped at exit.
// Tasks run one at a time in the order they were asked for, so a record() made right after
// open() goes to the new database and a search() sees every record() asked for before it.
// Several RunHistory objects (in this process or in other Studios) may share one file.
class RunHistory : public QObject
{
    Q_OBJECT
public:
    static constexpr int schemaVersion = 1; // PRAGMA user_version of the files this one writes

    explicit RunHistory(QObject *parent = nullptr);
    // Waits for the queued tasks and closes the database: at most about twice
    // offload::ThreadPoolOptions::shutdownTimeout (5 s) if the disk or a lock holds them up;
    // runs still queued after that are lost.
    ~RunHistory() override;

    // Opens (creating if needed) the database at path. A file that is not an SQLite database,
    // a database locked by another process, a newer schema or an unwritable location fails
    // the task with a message naming the path and the cause, and leaves the file untouched;
    // the history is then unavailable and record() keeps runs in memory only. A path that
    // exists but is not a regular file (a directory, a FIFO) is refused without opening it.
    // A lock is waited for at most about 2 s. Opening again closes the previous database.
    // When the task ends: problem() and isAvailable() change, availabilityChanged() is
    // emitted (also when the availability stays false) and, on failure, problemOccurred();
    // then the handle's own callbacks run.
    offload::TaskHandle<void> open(const QString &path);
    bool isAvailable() const;
    QString path() const; // as given to the last open(); empty before
    QString problem() const; // why the history is unavailable; empty when it is available

    // Stores a finished run. Fails (and emits problemOccurred) if the history is unavailable
    // or the database refuses it (a lock held longer than about 2 s, a full disk); the record
    // is then kept in unsaved() so that it is still shown and not lost silently. On success
    // recorded() is emitted. Both happen before the handle's own callbacks run. A record()
    // the caller cancels while queued is not stored, and not kept either.
    offload::TaskHandle<qint64> record(const RunRecord &run);
    // Newest first (by ended time, then id; runs without an ended time last). A non-empty
    // text keeps runs whose module title or path, values, state, error or command line
    // contain it, ignoring case; '%' and '_' are plain characters. limit is clamped to
    // [1, 100000]. Fails while the history is unavailable.
    offload::TaskHandle<QList<RunRecord>> search(const QString &text = {}, int limit = 500);
    // Deletes the run with this id; an id that is not stored (any more) is not an error.
    // Fails while the history is unavailable.
    offload::TaskHandle<void> remove(qint64 id);
    QList<RunRecord> unsaved() const; // oldest first

Q_SIGNALS:
    void availabilityChanged(bool available);
    void problemOccurred(const QString &message); // an open() or record() failed
    void recorded(const studio::RunRecord &run); // with its id, after the insert committed

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace studio

Q_DECLARE_METATYPE(studio::RunRecord)
