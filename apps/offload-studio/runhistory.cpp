#include "runhistory.h"

#include <offload/core/error.h>
#include <offload/core/threadpool.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStorageInfo>
#include <QThread>

#include <algorithm>
#include <atomic>

Q_LOGGING_CATEGORY(lcHistory, "offload.studio.history")

namespace studio {

namespace {

using offload::Error;
using offload::ErrorKind;

// Marks a file as ours (PRAGMA application_id), so that an SQLite database of another
// program is refused before anything is written to it. "OfSt".
constexpr int applicationId = 0x4F665374;
constexpr int busyTimeoutMs = 2000;

// SQLite's primary result codes (the low byte of an extended code).
enum SqliteCode {
    Busy = 5,
    Locked = 6,
    ReadOnly = 8,
    Corrupt = 11,
    Full = 13,
    CantOpen = 14,
    NotADb = 26
};

[[noreturn]] void fail(ErrorKind kind, const QString &message, const QString &origin = {})
{
    Error error;
    error.kind = kind;
    error.message = message;
    error.origin = origin;
    throw offload::Exception(std::move(error));
}

// A sentence naming the file and what SQLite said, worded for the cause a user can act on.
QString describe(const QString &path, const QSqlError &error, const QString &doing)
{
    const QString text = error.databaseText().isEmpty() ? error.text() : error.databaseText();
    switch (error.nativeErrorCode().toInt() & 0xff) {
    case NotADb:
        return QStringLiteral("%1 is not an SQLite database (%2)").arg(path, text);
    case Busy:
    case Locked:
        return QStringLiteral("%1 is locked by another program (%2); it was busy for more than "
                              "%3 s")
            .arg(path, text)
            .arg(busyTimeoutMs / 1000);
    case ReadOnly:
        return QStringLiteral("%1 is read-only (%2)").arg(path, text);
    case Corrupt:
        return QStringLiteral("%1 is damaged (%2)").arg(path, text);
    case Full:
        return QStringLiteral("the disk holding %1 is full (%2)").arg(path, text);
    case CantOpen:
        return QStringLiteral("cannot open %1 (%2)").arg(path, text);
    default:
        return QStringLiteral("%1: %2 failed (%3)").arg(path, doing, text);
    }
}

QString jsonText(const QJsonDocument &document)
{
    return QString::fromUtf8(document.toJson(QJsonDocument::Compact));
}

QVariantMap mapFromJson(const QString &text)
{
    return QJsonDocument::fromJson(text.toUtf8()).object().toVariantMap();
}

QStringList listFromJson(const QString &text)
{
    QStringList list;
    const QJsonArray array = QJsonDocument::fromJson(text.toUtf8()).array();
    list.reserve(array.size());
    for (const QJsonValue &v : array)
        list << v.toString();
    return list;
}

QVariant msecs(const QDateTime &time)
{
    return time.isValid() ? QVariant(time.toMSecsSinceEpoch()) : QVariant();
}

QDateTime timeFrom(const QVariant &value)
{
    return value.isNull() ? QDateTime()
                          : QDateTime::fromMSecsSinceEpoch(value.toLongLong(), Qt::UTC);
}

// Values as a user would type them in a search ("sigma=2.5", a path as it is) rather than as
// JSON, whose escaping would hide a backslash or a quote.
void appendPlain(QString &out, const QVariant &value)
{
    switch (value.typeId()) {
    case QMetaType::QVariantMap: {
        const QVariantMap map = value.toMap();
        for (auto it = map.begin(); it != map.end(); ++it) {
            out += it.key() + QLatin1Char('=');
            appendPlain(out, it.value());
            out += QLatin1Char('\n');
        }
        break;
    }
    case QMetaType::QVariantList:
    case QMetaType::QStringList: {
        const QVariantList list = value.toList();
        for (qsizetype i = 0; i < list.size(); ++i) {
            if (i > 0)
                out += QLatin1Char(' ');
            appendPlain(out, list[i]);
        }
        break;
    }
    default:
        out += value.toString();
    }
}

// One case-folded text per run that search() looks in: folding here and in the query makes
// the match ignore case beyond ASCII, which SQLite's LIKE and lower() do not.
QString searchText(const RunRecord &run)
{
    QString text = run.moduleTitle + QLatin1Char('\n') + run.modulePath + QLatin1Char('\n')
        + run.state + QLatin1Char('\n') + run.error + QLatin1Char('\n')
        + run.commandLine.join(QLatin1Char(' ')) + QLatin1Char('\n');
    appendPlain(text, run.values);
    return text.toCaseFolded();
}

const char *const schema[] = {
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," // never reused: the GUI may hold a removed id
    " module_path TEXT,"
    " module_title TEXT,"
    " parameter_values TEXT," // JSON object
    " command_line TEXT," // JSON array of strings
    " started_ms INTEGER," // milliseconds since the epoch (UTC); NULL: unknown
    " ended_ms INTEGER,"
    " state TEXT,"
    " exit_code INTEGER,"
    " peak_rss_bytes INTEGER,"
    " return_values TEXT," // JSON object
    " error TEXT,"
    " search_text TEXT)", // see searchText()
    "CREATE INDEX runs_by_end ON runs (ended_ms DESC, id DESC)",
};

const char columns[] = "id, module_path, module_title, parameter_values, command_line, "
                       "started_ms, ended_ms, state, exit_code, peak_rss_bytes, "
                       "return_values, error";

RunRecord recordFrom(const QSqlQuery &q)
{
    RunRecord run;
    run.id = q.value(0).toLongLong();
    run.modulePath = q.value(1).toString();
    run.moduleTitle = q.value(2).toString();
    run.values = mapFromJson(q.value(3).toString());
    run.commandLine = listFromJson(q.value(4).toString());
    run.started = timeFrom(q.value(5));
    run.ended = timeFrom(q.value(6));
    run.state = q.value(7).toString();
    run.exitCode = q.value(8).toInt();
    run.peakRssBytes = q.value(9).toLongLong();
    run.returnValues = mapFromJson(q.value(10).toString());
    run.error = q.value(11).toString();
    return run;
}

// The database side of a history. Used only on the history's thread; shared by its tasks so
// that a thread detached at shutdown (see ~RunHistory) never touches freed memory.
class Store
{
public:
    explicit Store(QString connectionName) : m_connection(std::move(connectionName)) { }
    ~Store()
    {
        if (!m_connected)
            return;
        if (QThread::currentThread() == m_thread) {
            close();
        } else {
            // The closing task never ran (shutdown timed out); SQL objects belong to their
            // thread, so leaking the connection is the only safe choice here.
            qCWarning(lcHistory, "run history %s was not closed", qPrintable(m_path));
            (void)m_insert.release();
        }
    }

    void open(const QString &path)
    {
        close();
        m_path = path;
        m_problem.clear();
        QElapsedTimer waited;
        waited.start();
        for (;;) {
            m_busy = false;
            try {
                checkPath();
                connect();
                prepareSchema();
                return;
            } catch (const offload::Exception &e) {
                close();
                // Where waiting could deadlock (two Studios setting up one new file at the same
                // moment) SQLite answers "busy" at once instead of waiting: tried again, on this
                // thread, until the busy timeout has passed.
                if (m_busy && waited.elapsed() < busyTimeoutMs) {
                    QThread::msleep(10);
                    continue;
                }
                m_problem = e.error().message;
                throw;
            }
        }
    }

    void close()
    {
        m_insert.reset();
        if (m_connected) {
            QSqlDatabase::database(m_connection, false).close();
            QSqlDatabase::removeDatabase(m_connection);
            m_connected = false;
        }
        m_ready = false;
        m_problem = QStringLiteral("the history is closed");
    }

    qint64 insert(const RunRecord &run)
    {
        const auto notSaved = [&](const QString &why) {
            return QStringLiteral("The run of %1 was not saved to the history: %2")
                .arg(run.moduleTitle.isEmpty() ? run.modulePath : run.moduleTitle, why);
        };
        if (!m_ready)
            fail(ErrorKind::Exception, notSaved(m_problem));
        QSqlQuery &q = *m_insert;
        q.bindValue(0, run.modulePath);
        q.bindValue(1, run.moduleTitle);
        q.bindValue(2, jsonText(QJsonDocument(QJsonObject::fromVariantMap(run.values))));
        q.bindValue(3, jsonText(QJsonDocument(QJsonArray::fromStringList(run.commandLine))));
        q.bindValue(4, msecs(run.started));
        q.bindValue(5, msecs(run.ended));
        q.bindValue(6, run.state);
        q.bindValue(7, run.exitCode);
        q.bindValue(8, run.peakRssBytes);
        q.bindValue(9, jsonText(QJsonDocument(QJsonObject::fromVariantMap(run.returnValues))));
        q.bindValue(10, run.error);
        q.bindValue(11, searchText(run));
        if (!q.exec())
            fail(ErrorKind::Exception,
                notSaved(describe(m_path, q.lastError(), QStringLiteral("saving a run"))),
                QStringLiteral("SQLite"));
        const qint64 id = q.lastInsertId().toLongLong();
        q.finish();
        return id;
    }

    QList<RunRecord> search(const QString &text, int limit)
    {
        requireReady();
        QSqlQuery q(database());
        q.setForwardOnly(true);
        const QString where = text.isEmpty()
            ? QString()
            : QStringLiteral(" WHERE instr(search_text, ?) > 0"); // literal: no % or _
        q.prepare(QStringLiteral("SELECT %1 FROM runs%2 ORDER BY ended_ms DESC, id DESC LIMIT ?")
                      .arg(QLatin1String(columns), where));
        int index = 0;
        if (!text.isEmpty())
            q.bindValue(index++, text.toCaseFolded());
        q.bindValue(index, limit);
        if (!q.exec())
            fail(ErrorKind::Exception,
                describe(m_path, q.lastError(), QStringLiteral("searching the history")),
                QStringLiteral("SQLite"));
        QList<RunRecord> runs;
        while (q.next())
            runs << recordFrom(q);
        if (q.lastError().isValid())
            fail(ErrorKind::Exception,
                describe(m_path, q.lastError(), QStringLiteral("reading the history")),
                QStringLiteral("SQLite"));
        return runs;
    }

    void remove(qint64 id)
    {
        requireReady();
        QSqlQuery q(database());
        q.prepare(QStringLiteral("DELETE FROM runs WHERE id = ?"));
        q.bindValue(0, id);
        if (!q.exec())
            fail(ErrorKind::Exception,
                describe(m_path, q.lastError(), QStringLiteral("removing a run")),
                QStringLiteral("SQLite"));
    }

private:
    QSqlDatabase database() const { return QSqlDatabase::database(m_connection, false); }

    void requireReady() const
    {
        if (!m_ready)
            fail(ErrorKind::Exception,
                QStringLiteral("The history is not available: %1").arg(m_problem));
    }

    // Refuses, without opening it, what SQLite must not open: opening a FIFO blocks, and a
    // directory or a device is never a history.
    void checkPath() const
    {
        if (m_path.isEmpty())
            fail(ErrorKind::InvalidInput, QStringLiteral("No history file was given"));
        const QFileInfo file(m_path);
        const QString folder = file.absolutePath();
        const QFileInfo folderInfo(folder);
        // Kernel file systems hold files that are no database and may block a read for ever
        // (/proc/kmsg): refused by what they are, before anything opens them.
        if (folderInfo.isDir()) {
            static const QByteArrayList kernel { "proc", "sysfs", "devtmpfs", "devpts", "debugfs",
                "tracefs", "securityfs", "configfs", "cgroup", "cgroup2", "pstore", "bpf",
                "efivarfs", "fusectl", "mqueue" };
            const QByteArray type = QStorageInfo(folder).fileSystemType();
            if (kernel.contains(type))
                fail(ErrorKind::InvalidInput,
                    QStringLiteral("%1 is on the kernel's %2 file system, not on a disk; the "
                                   "history needs a database file")
                        .arg(m_path, QString::fromLatin1(type)));
        }
        if (file.exists()) {
            if (!file.isFile())
                fail(ErrorKind::InvalidInput,
                    QStringLiteral("%1 is not a regular file (it is a %2); the history needs a "
                                   "database file")
                        .arg(m_path,
                            file.isDir() ? QStringLiteral("folder")
                                         : QStringLiteral("FIFO, socket or device")));
            if (!file.isReadable() || !file.isWritable())
                fail(ErrorKind::InvalidInput,
                    QStringLiteral("%1 is not readable and writable by this user").arg(m_path));
        } else if (folderInfo.exists() && !folderInfo.isDir()) {
            fail(ErrorKind::InvalidInput,
                QStringLiteral("Cannot create %1: %2 is not a folder").arg(m_path, folder));
        } else if (!folderInfo.exists() && !QDir().mkpath(folder)) {
            // The default location (~/.local/share/...) does not exist on a fresh account.
            fail(ErrorKind::InvalidInput,
                QStringLiteral("Cannot create %1: the folder %2 cannot be created")
                    .arg(m_path, folder));
        }
        // SQLite writes its -wal and -shm files beside the database.
        if (!folderInfo.isWritable())
            fail(ErrorKind::InvalidInput,
                QStringLiteral("Cannot use %1: the folder %2 is not writable").arg(m_path, folder));
    }

    void connect()
    {
        m_thread = QThread::currentThread();
        m_connected = true;
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
        db.setDatabaseName(m_path);
        // Another Studio sharing the file holds its lock for one short transaction at a time.
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=%1").arg(busyTimeoutMs));
        if (!db.open())
            failSql(db.lastError(), QStringLiteral("opening"));
    }

    [[noreturn]] void failSql(const QSqlError &error, const QString &doing)
    {
        const int code = error.nativeErrorCode().toInt() & 0xff;
        m_busy = code == Busy || code == Locked;
        fail(ErrorKind::Exception, describe(m_path, error, doing), QStringLiteral("SQLite"));
    }

    // Runs one statement, reads its first column and ends it, so that no statement keeps a
    // read transaction open across the next (which would stop a journal mode change).
    QVariant scalar(const QString &sql, const QString &doing)
    {
        QSqlQuery q(database());
        if (!q.exec(sql))
            failSql(q.lastError(), doing);
        const QVariant value = q.next() ? q.value(0) : QVariant();
        q.finish();
        return value;
    }

    // Nothing is written before the file is known to be an SQLite database that is ours (or
    // empty) and not newer than this code: a refused file stays byte-for-byte as it was.
    void prepareSchema()
    {
        // One statement, so one snapshot: read one by one, another Studio creating the same
        // new file could commit in between and the file look like another program's.
        const QString reading = QStringLiteral("reading the history version");
        QSqlQuery q(database());
        if (!q.exec(QStringLiteral("SELECT (SELECT user_version FROM pragma_user_version), "
                                   "(SELECT application_id FROM pragma_application_id), "
                                   "(SELECT count(*) FROM sqlite_master)"))
            || !q.next())
            failSql(q.lastError(), reading);
        const int version = q.value(0).toInt();
        const int appId = q.value(1).toInt();
        const int tables = q.value(2).toInt();
        q.finish();
        if (appId != applicationId && (version != 0 || tables != 0))
            fail(ErrorKind::InvalidInput,
                QStringLiteral("%1 is an SQLite database of another program, not an Offload "
                               "Studio history")
                    .arg(m_path));
        if (version > RunHistory::schemaVersion)
            fail(ErrorKind::InvalidInput,
                QStringLiteral("%1 was written by a newer Offload Studio (history version %2; "
                               "this one reads version %3)")
                    .arg(m_path)
                    .arg(version)
                    .arg(RunHistory::schemaVersion));

        // WAL: another Studio can read while this one writes. NORMAL: a commit does not wait
        // for the disk (the WAL is synced at checkpoints); a power cut may lose the newest
        // runs, an application crash loses nothing.
        const QString mode
            = scalar(QStringLiteral("PRAGMA journal_mode=WAL"), QStringLiteral("switching to WAL"))
                  .toString();
        if (mode.compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0)
            qCWarning(
                lcHistory, "%s: journal mode is %s, not WAL", qPrintable(m_path), qPrintable(mode));
        scalar(QStringLiteral("PRAGMA synchronous=NORMAL"), QStringLiteral("setting up"));
        if (version == 0)
            createSchema();

        m_insert = std::make_unique<QSqlQuery>(database());
        if (!m_insert->prepare(QStringLiteral(
                "INSERT INTO runs (module_path, module_title, parameter_values, "
                "command_line, started_ms, ended_ms, state, exit_code, peak_rss_bytes, "
                "return_values, error, search_text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")))
            fail(ErrorKind::Exception,
                describe(m_path, m_insert->lastError(), QStringLiteral("preparing")),
                QStringLiteral("SQLite"));
        m_ready = true;
    }

    void createSchema()
    {
        const QString creating = QStringLiteral("creating the history");
        // IMMEDIATE takes the write lock first (waiting for it), so that two Studios creating
        // the same new file one after the other see each other's schema.
        scalar(QStringLiteral("BEGIN IMMEDIATE"), creating);
        try {
            if (scalar(QStringLiteral("PRAGMA user_version"), creating).toInt() == 0) {
                for (const char *sql : schema)
                    scalar(QLatin1String(sql), creating);
                scalar(QStringLiteral("PRAGMA application_id=%1").arg(applicationId), creating);
                scalar(QStringLiteral("PRAGMA user_version=%1").arg(RunHistory::schemaVersion),
                    creating);
            }
            scalar(QStringLiteral("COMMIT"), creating);
        } catch (...) {
            QSqlQuery(database()).exec(QStringLiteral("ROLLBACK"));
            throw;
        }
    }

    const QString m_connection;
    QString m_path;
    QString m_problem = QStringLiteral("the history has not been opened");
    QThread *m_thread = nullptr;
    bool m_connected = false; // the connection is registered (and must be removed)
    bool m_ready = false;
    bool m_busy = false; // the last SQL failure was SQLite's "busy" or "locked"
    std::unique_ptr<QSqlQuery> m_insert; // prepared once: an insert only binds and steps
};

std::atomic<quint64> connectionCounter { 0 };

offload::ThreadPoolOptions poolOptions()
{
    offload::ThreadPoolOptions options;
    // One thread that never expires: the connection lives on it, and tasks run in order.
    options.maxThreads = 1;
    options.niceness = 0; // a history write is tiny and the GUI waits for its result
    options.name = QStringLiteral("runhistory");
    return options;
}

} // namespace

struct RunHistory::Private
{
    Private()
        : options(poolOptions())
        , pool(options)
        , store(std::make_shared<Store>(
              QStringLiteral("offload-studio-history-%1").arg(++connectionCounter)))
    { }

    const offload::ThreadPoolOptions options;
    offload::ThreadPool pool;
    std::shared_ptr<Store> store;
    QString path;
    QString problem = QStringLiteral("the history has not been opened");
    bool available = false;
    bool opened = false; // open() was called: the destructor must close
    quint64 openGeneration = 0;
    QList<RunRecord> unsaved;
};

RunHistory::RunHistory(QObject *parent) : QObject(parent), d(std::make_unique<Private>()) { }

RunHistory::~RunHistory()
{
    if (!d->opened)
        return;
    // Queued behind every write asked for so far (one thread, FIFO), so waiting for it waits
    // for them. No context: nothing is delivered while this object is going away.
    const auto close = d->pool.run(
        nullptr, [store = d->store] { store->close(); },
        offload::TaskOptions { QStringLiteral("close run history") });
    if (!close.waitForFinished(d->options.shutdownTimeout))
        qCWarning(
            lcHistory, "run history %s: queued writes did not finish in time", qPrintable(d->path));
    // ~ThreadPool then cancels whatever is left, waiting once more at most shutdownTimeout.
}

offload::TaskHandle<void> RunHistory::open(const QString &path)
{
    d->path = path;
    d->opened = true;
    const quint64 generation = ++d->openGeneration;
    auto handle = d->pool.run(
        this, [store = d->store, path] { store->open(path); },
        offload::TaskOptions { QStringLiteral("open run history") });
    handle.onFinished([this, generation](const offload::TaskHandle<void> &h) {
        if (generation != d->openGeneration)
            return; // a later open() decides
        const bool ok = h.state() == offload::TaskState::Finished;
        d->available = ok;
        d->problem = ok ? QString()
            : h.state() == offload::TaskState::Failed
            ? h.error().message
            : QStringLiteral("opening %1 was cancelled").arg(d->path);
        Q_EMIT availabilityChanged(ok);
        if (!ok)
            Q_EMIT problemOccurred(d->problem);
    });
    return handle;
}

bool RunHistory::isAvailable() const
{
    return d->available;
}

QString RunHistory::path() const
{
    return d->path;
}

QString RunHistory::problem() const
{
    return d->problem;
}

offload::TaskHandle<qint64> RunHistory::record(const RunRecord &run)
{
    auto handle = d->pool.run(
        this, [store = d->store, run] { return store->insert(run); },
        offload::TaskOptions { QStringLiteral("record run") });
    handle.onFinished([this, run](const offload::TaskHandle<qint64> &h) {
        if (h.state() == offload::TaskState::Finished) {
            RunRecord stored = run;
            stored.id = h.result();
            Q_EMIT recorded(stored);
        } else if (h.state() == offload::TaskState::Failed) {
            d->unsaved.append(run);
            Q_EMIT problemOccurred(h.error().message);
        }
    });
    return handle;
}

offload::TaskHandle<QList<RunRecord>> RunHistory::search(const QString &text, int limit)
{
    limit = std::clamp(limit, 1, 100000);
    return d->pool.run(
        this, [store = d->store, text, limit] { return store->search(text, limit); },
        offload::TaskOptions { QStringLiteral("search run history") });
}

offload::TaskHandle<void> RunHistory::remove(qint64 id)
{
    return d->pool.run(
        this, [store = d->store, id] { store->remove(id); },
        offload::TaskOptions { QStringLiteral("remove run") });
}

QList<RunRecord> RunHistory::unsaved() const
{
    return d->unsaved;
}

} // namespace studio
