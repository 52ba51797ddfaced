// Specification of Studio's run history: round trips, search, removal, restarts, writes queued
// at destruction, files that must be refused untouched, locks, and sharing one file.
#include "runhistory.h"

#include "../common/testsupport.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <optional>

#include <sys/stat.h>
#include <unistd.h>

using namespace studio;
using offload::TaskHandle;
using offload::TaskState;

namespace {

constexpr int waitMs = 20000; // generous for sanitizer builds; a lock is held 2 s at most

// Waits (bounded, running the event loop) until the handle's callbacks have been delivered:
// RunHistory's own callbacks were registered first, so its state and signals are up to date.
template<typename T> [[nodiscard]] bool delivered(const TaskHandle<T> &handle)
{
    auto done = std::make_shared<bool>(false);
    handle.onFinished([done](const TaskHandle<T> &) { *done = true; });
    return QTest::qWaitFor([&] { return *done; }, waitMs);
}

std::optional<QList<RunRecord>> find(
    RunHistory &history, const QString &text = {}, int limit = 100000)
{
    const auto handle = history.search(text, limit);
    if (!delivered(handle) || handle.state() != TaskState::Finished) {
        qWarning("search failed: %s", qPrintable(handle.error().summary()));
        return std::nullopt;
    }
    return handle.result();
}

QDateTime at(int minute)
{
    return QDateTime(QDate(2024, 5, 17), QTime(10, minute, 0, 123), Qt::UTC);
}

RunRecord run(const QString &title, int endedMinute = 1)
{
    RunRecord r;
    r.modulePath = QStringLiteral("/opt/modules/") + title.toLower();
    r.moduleTitle = title;
    r.values = { { QStringLiteral("sigma"), 2LL } };
    r.commandLine = { r.modulePath, QStringLiteral("--sigma"), QStringLiteral("2") };
    r.started = at(0);
    r.ended = at(endedMinute);
    r.state = QStringLiteral("finished");
    r.exitCode = 0;
    r.peakRssBytes = 1 << 20;
    return r;
}

QStringList titles(const QList<RunRecord> &runs)
{
    QStringList out;
    for (const auto &r : runs)
        out << r.moduleTitle;
    return out;
}

QByteArray readAll(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("<unreadable>");
}

// The test's own connection, standing for another program (or another Studio) on the file.
class OtherConnection
{
public:
    explicit OtherConnection(const QString &path)
        : m_name(QStringLiteral("other-%1").arg(++s_counter))
    {
        auto db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_name);
        db.setDatabaseName(path);
        m_ok = db.open();
    }
    ~OtherConnection()
    {
        QSqlDatabase::database(m_name, false).close();
        QSqlDatabase::removeDatabase(m_name);
    }
    bool exec(const QString &sql)
    {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (q.exec(sql))
            return true;
        qWarning("%s: %s", qPrintable(sql), qPrintable(q.lastError().text()));
        return false;
    }
    bool isOpen() const { return m_ok; }

private:
    static inline int s_counter = 0;
    QString m_name;
    bool m_ok = false;
};

} // namespace

class tst_RunHistory : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void everyFieldSurvivesARoundTrip();
    void searchIsNewestFirstAndLimited();
    void searchMatchesEveryTextFieldIgnoringCase();
    void searchTakesPercentAndUnderscoreLiterally();
    void removeDeletesOneRun();
    void runsSurviveARestart();
    void writesQueuedAtDestructionAreStored();
    void recordWithoutAHistoryKeepsTheRun();
    void notADatabaseIsRefusedUntouched_data();
    void notADatabaseIsRefusedUntouched();
    void anotherProgramsDatabaseIsRefusedUntouched();
    void newerSchemaIsRefusedUntouched();
    void lockedDatabaseFailsOpenWithinTheBusyTimeout();
    void writeLockedDatabaseFailsRecordAndKeepsTheRun();
    void pathsThatAreNotFilesAreRefusedAtOnce();
    void unwritableLocationsAreRefused();
    void twoHistoriesShareOneFile();
    void reopeningSwitchesFiles();
    void insertCost();
};

void tst_RunHistory::everyFieldSurvivesARoundTrip()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    RunHistory history;
    QSignalSpy available(&history, &RunHistory::availabilityChanged);
    QSignalSpy recorded(&history, &RunHistory::recorded);
    const auto opened = history.open(dir.filePath(QStringLiteral("history.db")));
    QVERIFY(delivered(opened));
    QCOMPARE(opened.state(), TaskState::Finished);
    QVERIFY(history.isAvailable());
    QVERIFY(history.problem().isEmpty());
    QCOMPARE(available.size(), 1);
    QCOMPARE(available.at(0).at(0).toBool(), true);

    RunRecord full;
    full.modulePath = QStringLiteral("/opt/módulos/glätten.py");
    full.moduleTitle = QStringLiteral("Glätten 平滑 ✓");
    full.values = {
        { QStringLiteral("sigma"), QStringLiteral("0.0001") },
        { QStringLiteral("iterations"), 12LL },
        { QStringLiteral("verbose"), true },
        { QStringLiteral("inputs"),
            QVariantList { QStringLiteral("/data/ä.nrrd"), QStringLiteral("/data/b \"q\".nrrd") } },
        { QStringLiteral("empty"), QString() },
    };
    full.commandLine = { QStringLiteral("/usr/bin/python3"), full.modulePath,
        QStringLiteral("--sigma"), QStringLiteral("0.0001"), QStringLiteral("--"),
        QStringLiteral("-negative"), QStringLiteral("mit Leerzeichen ü") };
    full.started = QDateTime(QDate(2024, 2, 29), QTime(23, 59, 58, 7), Qt::UTC);
    // Given in another zone: it is the instant that is stored, and it comes back as UTC.
    full.ended = QDateTime(QDate(2024, 3, 1), QTime(1, 0, 1, 999), Qt::OffsetFromUTC, 3600);
    full.state = QStringLiteral("failed");
    full.exitCode = -1;
    full.peakRssBytes = -1;
    full.returnValues = {
        { QStringLiteral("stats"),
            QVariantMap { { QStringLiteral("mean"), 2.5 },
                { QStringLiteral("histogram"), QVariantList { 1LL, 2LL, 3LL } },
                { QStringLiteral("deeper"), QVariantMap { { QStringLiteral("ok"), false } } } } },
        { QStringLiteral("label"), QStringLiteral("Zoë") },
    };
    full.error = QStringLiteral("crash [signal 9]: „killed“");

    RunRecord sparse; // what a run that never started may leave: defaults everywhere
    sparse.moduleTitle = QStringLiteral("Sparse");
    sparse.state = QStringLiteral("cancelled");

    const auto first = history.record(full);
    const auto second = history.record(sparse);
    QVERIFY(delivered(first));
    QVERIFY(delivered(second));
    QCOMPARE(first.state(), TaskState::Finished);
    QCOMPARE(second.state(), TaskState::Finished);
    QVERIFY(first.result() > 0);
    QVERIFY(second.result() > first.result());
    QCOMPARE(recorded.size(), 2);
    QCOMPARE(recorded.at(0).at(0).value<RunRecord>().id, first.result());
    QCOMPARE(recorded.at(0).at(0).value<RunRecord>().moduleTitle, full.moduleTitle);
    QVERIFY(history.unsaved().isEmpty());

    const auto runs = find(history);
    QVERIFY(runs);
    QCOMPARE(runs->size(), 2);
    // sparse has no ended time: it sorts last.
    const RunRecord &got = runs->at(0);
    QCOMPARE(got.id, first.result());
    QCOMPARE(got.modulePath, full.modulePath);
    QCOMPARE(got.moduleTitle, full.moduleTitle);
    QCOMPARE(got.values, full.values);
    QCOMPARE(got.values.value(QStringLiteral("iterations")).typeId(), int(QMetaType::LongLong));
    QCOMPARE(got.commandLine, full.commandLine);
    QCOMPARE(got.started, full.started);
    QCOMPARE(got.ended, full.ended);
    QCOMPARE(got.started.timeSpec(), Qt::UTC);
    QCOMPARE(got.ended.timeSpec(), Qt::UTC);
    QCOMPARE(got.state, full.state);
    QCOMPARE(got.exitCode, -1);
    QCOMPARE(got.peakRssBytes, qint64(-1));
    QCOMPARE(got.returnValues, full.returnValues);
    QCOMPARE(got.error, full.error);

    const RunRecord &none = runs->at(1);
    QCOMPARE(none.id, second.result());
    QCOMPARE(none.moduleTitle, sparse.moduleTitle);
    QVERIFY(none.modulePath.isEmpty());
    QVERIFY(none.values.isEmpty());
    QVERIFY(none.commandLine.isEmpty());
    QVERIFY(!none.started.isValid());
    QVERIFY(!none.ended.isValid());
    QCOMPARE(none.exitCode, -1);
    QCOMPARE(none.peakRssBytes, qint64(-1));
    QVERIFY(none.returnValues.isEmpty());
    QVERIFY(none.error.isEmpty());
}

void tst_RunHistory::searchIsNewestFirstAndLimited()
{
    QTemporaryDir dir;
    RunHistory history;
    QVERIFY(delivered(history.open(dir.filePath(QStringLiteral("h.db")))));
    // Recorded out of order: the ended time orders them, the id breaks ties.
    QVERIFY(delivered(history.record(run(QStringLiteral("B"), 20))));
    QVERIFY(delivered(history.record(run(QStringLiteral("A"), 10))));
    QVERIFY(delivered(history.record(run(QStringLiteral("D"), 30))));
    QVERIFY(delivered(history.record(run(QStringLiteral("C"), 20))));

    auto runs = find(history);
    QVERIFY(runs);
    QCOMPARE(titles(*runs), (QStringList { "D", "C", "B", "A" }));
    runs = find(history, {}, 2);
    QVERIFY(runs);
    QCOMPARE(titles(*runs), (QStringList { "D", "C" }));
    runs = find(history, {}, 0); // clamped to 1
    QVERIFY(runs);
    QCOMPARE(titles(*runs), QStringList { "D" });
    runs = find(history, {}, -5);
    QVERIFY(runs);
    QCOMPARE(runs->size(), 1);
    runs = find(history, {}, 1'000'000'000); // clamped to 100000
    QVERIFY(runs);
    QCOMPARE(runs->size(), 4);
}

void tst_RunHistory::searchMatchesEveryTextFieldIgnoringCase()
{
    QTemporaryDir dir;
    RunHistory history;
    QVERIFY(delivered(history.open(dir.filePath(QStringLiteral("h.db")))));

    RunRecord byTitle = run(QStringLiteral("Ärger Filter"), 1);
    RunRecord byPath = run(QStringLiteral("Second"), 2);
    byPath.modulePath = QStringLiteral("/srv/Special-Place/bin/tool");
    byPath.commandLine = { byPath.modulePath };
    RunRecord byState = run(QStringLiteral("Third"), 3);
    byState.state = QStringLiteral("cancelled");
    RunRecord byError = run(QStringLiteral("Fourth"), 4);
    byError.state = QStringLiteral("failed");
    byError.error = QStringLiteral("Exception: Disk Quota exceeded");
    RunRecord byCommand = run(QStringLiteral("Fifth"), 5);
    byCommand.commandLine << QStringLiteral("--Mask=/data/Brain.nrrd");
    RunRecord byValue = run(QStringLiteral("Sixth"), 6);
    byValue.values.insert(QStringLiteral("output"), QStringLiteral("C:\\Ergebnisse\\Öl.nrrd"));
    RunRecord inReturnOnly = run(QStringLiteral("Seventh"), 7);
    inReturnOnly.returnValues.insert(QStringLiteral("note"), QStringLiteral("zebra"));
    for (const auto &r : { byTitle, byPath, byState, byError, byCommand, byValue, inReturnOnly })
        QVERIFY(delivered(history.record(r)));

    const auto match = [&](const QString &text) {
        const auto runs = find(history, text);
        return runs ? titles(*runs) : QStringList { QStringLiteral("<search failed>") };
    };
    QCOMPARE(match(QStringLiteral("ärger")), QStringList { byTitle.moduleTitle });
    QCOMPARE(match(QStringLiteral("ÄRGER FIL")), QStringList { byTitle.moduleTitle });
    QCOMPARE(match(QStringLiteral("special-place")), QStringList { byPath.moduleTitle });
    QCOMPARE(match(QStringLiteral("CANCELLED")), QStringList { byState.moduleTitle });
    QCOMPARE(match(QStringLiteral("disk quota")), QStringList { byError.moduleTitle });
    QCOMPARE(match(QStringLiteral("brain.NRRD")), QStringList { byCommand.moduleTitle });
    QCOMPARE(match(QStringLiteral("c:\\ergebnisse\\öl")), QStringList { byValue.moduleTitle });
    QCOMPARE(match(QStringLiteral("output=")), QStringList { byValue.moduleTitle });
    QCOMPARE(match(QStringLiteral("zebra")), QStringList {}); // return values are not searched
    QCOMPARE(match(QStringLiteral("/opt/modules/")).size(), 6); // all but byPath
    QCOMPARE(match(QStringLiteral("nothing like this")), QStringList {});
}

void tst_RunHistory::searchTakesPercentAndUnderscoreLiterally()
{
    QTemporaryDir dir;
    RunHistory history;
    QVERIFY(delivered(history.open(dir.filePath(QStringLiteral("h.db")))));
    RunRecord percent = run(QStringLiteral("Percent"), 1);
    percent.values.insert(QStringLiteral("threshold"), QStringLiteral("50%"));
    RunRecord fifty = run(QStringLiteral("Fifty"), 2);
    fifty.values.insert(QStringLiteral("threshold"), QStringLiteral("50 units"));
    RunRecord underscore = run(QStringLiteral("Under_score"), 3);
    underscore.modulePath = QStringLiteral("/opt/plain");
    underscore.commandLine = { underscore.modulePath };
    RunRecord backslash = run(QStringLiteral("Back"), 4);
    backslash.error = QStringLiteral("a\\b");
    for (const auto &r : { percent, fifty, underscore, backslash })
        QVERIFY(delivered(history.record(r)));

    auto runs = find(history, QStringLiteral("50%"));
    QVERIFY(runs);
    QCOMPARE(titles(*runs), QStringList { "Percent" });
    runs = find(history, QStringLiteral("_"));
    QVERIFY(runs);
    QCOMPARE(titles(*runs), QStringList { "Under_score" });
    runs = find(history, QStringLiteral("%"));
    QVERIFY(runs);
    QCOMPARE(titles(*runs), QStringList { "Percent" });
    runs = find(history, QStringLiteral("a\\b"));
    QVERIFY(runs);
    QCOMPARE(titles(*runs), QStringList { "Back" });
}

void tst_RunHistory::removeDeletesOneRun()
{
    QTemporaryDir dir;
    RunHistory history;
    QVERIFY(delivered(history.open(dir.filePath(QStringLiteral("h.db")))));
    const auto a = history.record(run(QStringLiteral("A"), 1));
    const auto b = history.record(run(QStringLiteral("B"), 2));
    QVERIFY(delivered(a));
    QVERIFY(delivered(b));
    const auto removed = history.remove(b.result());
    QVERIFY(delivered(removed));
    QCOMPARE(removed.state(), TaskState::Finished);
    auto runs = find(history);
    QVERIFY(runs);
    QCOMPARE(titles(*runs), QStringList { "A" });
    QCOMPARE(runs->at(0).id, a.result());

    const auto again = history.remove(b.result()); // gone already: not an error
    QVERIFY(delivered(again));
    QCOMPARE(again.state(), TaskState::Finished);

    // Ids are not reused, so an id the GUI still holds never names a newer run.
    const auto c = history.record(run(QStringLiteral("C"), 3));
    QVERIFY(delivered(c));
    QVERIFY(c.result() > b.result());
}

void tst_RunHistory::runsSurviveARestart()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("h.db"));
    {
        RunHistory history;
        QVERIFY(delivered(history.open(path)));
        for (const auto *title : { "One", "Two", "Three" })
            QVERIFY(delivered(history.record(run(QLatin1String(title)))));
    }
    RunHistory history;
    const auto opened = history.open(path);
    QVERIFY(delivered(opened));
    QCOMPARE(opened.state(), TaskState::Finished);
    const auto runs = find(history);
    QVERIFY(runs);
    QCOMPARE(titles(*runs), (QStringList { "Three", "Two", "One" }));
}

void tst_RunHistory::writesQueuedAtDestructionAreStored()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("h.db"));
    {
        auto history = std::make_unique<RunHistory>();
        history->open(path); // not awaited: the writes queue behind it
        for (int i = 0; i < 200; ++i)
            history->record(run(QStringLiteral("Run %1").arg(i), i % 60));
        history.reset();
    }
    RunHistory history;
    QVERIFY(delivered(history.open(path)));
    const auto runs = find(history);
    QVERIFY(runs);
    QCOMPARE(runs->size(), 200);
}

void tst_RunHistory::recordWithoutAHistoryKeepsTheRun()
{
    RunHistory history;
    QSignalSpy problems(&history, &RunHistory::problemOccurred);
    QSignalSpy recorded(&history, &RunHistory::recorded);
    QVERIFY(!history.isAvailable());
    QVERIFY(!history.problem().isEmpty());
    const auto handle = history.record(run(QStringLiteral("Lonely")));
    QVERIFY(delivered(handle));
    QCOMPARE(handle.state(), TaskState::Failed);
    QCOMPARE(handle.error().kind, offload::ErrorKind::Exception);
    QVERIFY2(handle.error().message.contains(QLatin1String("Lonely")),
        qPrintable(handle.error().message));
    QCOMPARE(history.unsaved().size(), 1);
    QCOMPARE(history.unsaved().at(0).moduleTitle, QStringLiteral("Lonely"));
    QCOMPARE(problems.size(), 1);
    QCOMPARE(problems.at(0).at(0).toString(), handle.error().message);
    QCOMPARE(recorded.size(), 0);

    const auto searched = history.search();
    QVERIFY(delivered(searched));
    QCOMPARE(searched.state(), TaskState::Failed);
    const auto removed = history.remove(1);
    QVERIFY(delivered(removed));
    QCOMPARE(removed.state(), TaskState::Failed);
}

void tst_RunHistory::notADatabaseIsRefusedUntouched_data()
{
    QTest::addColumn<QByteArray>("content");
    QByteArray garbage(4096, Qt::Uninitialized);
    for (int i = 0; i < garbage.size(); ++i)
        garbage[i] = char((i * 7919 + 13) % 251);
    QTest::newRow("4 KiB of garbage") << garbage;
    QTest::newRow("text file") << QByteArray("These are my notes, not a database.\n");
    QByteArray header("SQLite format 3");
    header.append('\0');
    QTest::newRow("truncated header") << header + QByteArray(200, 'x');
}

void tst_RunHistory::notADatabaseIsRefusedUntouched()
{
    QFETCH(QByteArray, content);
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("notes.db"));
    {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        QCOMPARE(f.write(content), content.size());
    }
    RunHistory history;
    QSignalSpy available(&history, &RunHistory::availabilityChanged);
    QSignalSpy problems(&history, &RunHistory::problemOccurred);
    const auto opened = history.open(path);
    QVERIFY(delivered(opened));
    QCOMPARE(opened.state(), TaskState::Failed);
    const QString message = opened.error().message;
    QVERIFY2(message.contains(path), qPrintable(message));
    QVERIFY2(message.contains(QLatin1String("is not an SQLite database"))
            || message.contains(QLatin1String("not a database")),
        qPrintable(message));
    QCOMPARE(available.size(), 1);
    QCOMPARE(available.at(0).at(0).toBool(), false);
    QCOMPARE(problems.size(), 1);
    QVERIFY(!history.isAvailable());
    QCOMPARE(history.problem(), message);
    QCOMPARE(history.path(), path);

    const auto recorded = history.record(run(QStringLiteral("Kept")));
    QVERIFY(delivered(recorded));
    QCOMPARE(recorded.state(), TaskState::Failed);
    QVERIFY2(recorded.error().message.contains(QLatin1String("is not an SQLite database")),
        qPrintable(recorded.error().message));
    QCOMPARE(history.unsaved().size(), 1);

    QCOMPARE(readAll(path), content);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files), QStringList { "notes.db" });
}

void tst_RunHistory::anotherProgramsDatabaseIsRefusedUntouched()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("addresses.db"));
    {
        OtherConnection other(path);
        QVERIFY(other.isOpen());
        QVERIFY(other.exec(QStringLiteral("CREATE TABLE people (name TEXT)")));
        QVERIFY(other.exec(QStringLiteral("INSERT INTO people VALUES ('Ada')")));
    }
    const QByteArray before = readAll(path);
    RunHistory history;
    const auto opened = history.open(path);
    QVERIFY(delivered(opened));
    QCOMPARE(opened.state(), TaskState::Failed);
    QVERIFY2(opened.error().message.contains(path), qPrintable(opened.error().message));
    QVERIFY2(opened.error().message.contains(QLatin1String("another program")),
        qPrintable(opened.error().message));
    QCOMPARE(readAll(path), before);
}

void tst_RunHistory::newerSchemaIsRefusedUntouched()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("h.db"));
    {
        RunHistory history;
        QVERIFY(delivered(history.open(path)));
        QVERIFY(delivered(history.record(run(QStringLiteral("Old")))));
    }
    {
        OtherConnection newer(path); // a newer Studio migrated the file
        QVERIFY(newer.isOpen());
        QVERIFY(newer.exec(
            QStringLiteral("PRAGMA user_version=%1").arg(RunHistory::schemaVersion + 1)));
        // Back to a rollback journal, so that the whole database is the one file compared.
        QVERIFY(newer.exec(QStringLiteral("PRAGMA journal_mode=DELETE")));
    }
    const QByteArray before = readAll(path);
    RunHistory history;
    const auto opened = history.open(path);
    QVERIFY(delivered(opened));
    QCOMPARE(opened.state(), TaskState::Failed);
    QVERIFY2(opened.error().message.contains(path), qPrintable(opened.error().message));
    QVERIFY2(opened.error().message.contains(QLatin1String("written by a newer Offload Studio")),
        qPrintable(opened.error().message));
    QVERIFY(!history.isAvailable());
    QCOMPARE(readAll(path), before);
}

void tst_RunHistory::lockedDatabaseFailsOpenWithinTheBusyTimeout()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("busy.db"));
    // Another program holds an exclusive lock on a rollback-journal database: nobody may read.
    OtherConnection other(path);
    QVERIFY(other.isOpen());
    QVERIFY(other.exec(QStringLiteral("CREATE TABLE t (x)")));
    QVERIFY(other.exec(QStringLiteral("BEGIN EXCLUSIVE")));
    QVERIFY(other.exec(QStringLiteral("INSERT INTO t VALUES (1)")));
    const QByteArray before = readAll(path);

    RunHistory history;
    QElapsedTimer timer;
    timer.start();
    const auto opened = history.open(path);
    QVERIFY(delivered(opened));
    const qint64 ms = timer.elapsed();
    QCOMPARE(opened.state(), TaskState::Failed);
    QVERIFY2(opened.error().message.contains(path), qPrintable(opened.error().message));
    QVERIFY2(opened.error().message.contains(QLatin1String("locked")),
        qPrintable(opened.error().message));
    QVERIFY2(ms >= 1500 && ms < 10000, qPrintable(QString::number(ms))); // waited, not hung
    QVERIFY(!history.isAvailable());
    QCOMPARE(readAll(path), before);
    QVERIFY(other.exec(QStringLiteral("ROLLBACK")));

    // Once the lock is gone, the same object opens the file (no longer "another program's":
    // the table the other program made is gone with the rollback, only an empty one remains).
    QVERIFY(other.exec(QStringLiteral("DROP TABLE t")));
    const auto retried = history.open(path);
    QVERIFY(delivered(retried));
    QCOMPARE(retried.state(), TaskState::Finished);
    QVERIFY(history.isAvailable());
}

void tst_RunHistory::writeLockedDatabaseFailsRecordAndKeepsTheRun()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("h.db"));
    RunHistory history;
    QVERIFY(delivered(history.open(path)));
    QVERIFY(history.isAvailable());
    QSignalSpy problems(&history, &RunHistory::problemOccurred);

    // In WAL mode the other writer does not stop readers, only writers.
    OtherConnection other(path);
    QVERIFY(other.isOpen());
    QVERIFY(other.exec(QStringLiteral("BEGIN EXCLUSIVE")));
    QVERIFY(other.exec(QStringLiteral("INSERT INTO runs (state) VALUES ('other')")));

    QElapsedTimer timer;
    timer.start();
    const auto blocked = history.record(run(QStringLiteral("Blocked")));
    QVERIFY(delivered(blocked));
    QVERIFY2(timer.elapsed() < 10000, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(blocked.state(), TaskState::Failed);
    QVERIFY2(blocked.error().message.contains(QLatin1String("locked")),
        qPrintable(blocked.error().message));
    QVERIFY2(blocked.error().message.contains(path), qPrintable(blocked.error().message));
    QCOMPARE(history.unsaved().size(), 1);
    QCOMPARE(history.unsaved().at(0).moduleTitle, QStringLiteral("Blocked"));
    QCOMPARE(problems.size(), 1);
    QVERIFY(history.isAvailable()); // a lock passes; the history stays usable

    auto runs = find(history); // readers are not blocked in WAL mode
    QVERIFY(runs);
    QCOMPARE(runs->size(), 0);

    QVERIFY(other.exec(QStringLiteral("ROLLBACK")));
    const auto later = history.record(run(QStringLiteral("Later")));
    QVERIFY(delivered(later));
    QCOMPARE(later.state(), TaskState::Finished);
}

void tst_RunHistory::pathsThatAreNotFilesAreRefusedAtOnce()
{
    QTemporaryDir dir;
    const QString folder = dir.filePath(QStringLiteral("folder.db"));
    QVERIFY(QDir().mkpath(folder));
    const QString fifo = dir.filePath(QStringLiteral("fifo.db"));
    QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
    const QString plain = dir.filePath(QStringLiteral("plain.txt"));
    {
        QFile f(plain);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("x");
    }
    const QString underAFile = plain + QStringLiteral("/h.db");
    // A kernel file: as root it passes every permission check, and SQLite must not open it
    // (/proc/kmsg would block the history's thread for ever).
    const QString kernelFile = QStringLiteral("/proc/self/status");
    for (const QString &path : { folder, fifo, underAFile, kernelFile, QString() }) {
        RunHistory history;
        QSignalSpy available(&history, &RunHistory::availabilityChanged);
        QElapsedTimer timer;
        timer.start();
        const auto opened = history.open(path);
        QVERIFY(delivered(opened));
        // Well under the 2 s busy timeout: refused before SQLite could wait for anything.
        QVERIFY2(timer.elapsed() < 1500, qPrintable(path));
        QCOMPARE(opened.state(), TaskState::Failed);
        QCOMPARE(opened.error().kind, offload::ErrorKind::InvalidInput);
        QVERIFY2(opened.error().message.contains(path), qPrintable(opened.error().message));
        if (path == kernelFile) // refused for what it is, not after SQLite read it
            QVERIFY2(opened.error().message.contains(QLatin1String("kernel's proc file system")),
                qPrintable(opened.error().message));
        QCOMPARE(available.size(), 1);
        QVERIFY(!history.isAvailable());
        QCOMPARE(history.problem(), opened.error().message);
    }
    QVERIFY(QFileInfo(folder).isDir());
    QVERIFY(QDir(folder).isEmpty());
    QCOMPARE(QDir(dir.path()).entryList(QDir::AllEntries | QDir::System | QDir::NoDotAndDotDot),
        (QStringList { "fifo.db", "folder.db", "plain.txt" }));

    // A folder that does not exist yet (the default location on a fresh account) is created.
    const QString missingFolder = dir.filePath(QStringLiteral("no/such/folder/h.db"));
    RunHistory history;
    const auto opened = history.open(missingFolder);
    QVERIFY(delivered(opened));
    QCOMPARE(opened.state(), TaskState::Finished);
    QVERIFY(history.isAvailable());
    QVERIFY(QFileInfo(missingFolder).isFile());
}

void tst_RunHistory::unwritableLocationsAreRefused()
{
    if (::geteuid() == 0)
        QSKIP("root writes into any folder");
    QTemporaryDir dir;
    const QString folder = dir.filePath(QStringLiteral("readonly"));
    QVERIFY(QDir().mkpath(folder));
    QCOMPARE(::chmod(QFile::encodeName(folder).constData(), 0555), 0);
    const QString path = folder + QStringLiteral("/h.db");
    RunHistory history;
    const auto opened = history.open(path);
    QVERIFY(delivered(opened));
    ::chmod(QFile::encodeName(folder).constData(), 0755);
    QCOMPARE(opened.state(), TaskState::Failed);
    QVERIFY2(opened.error().message.contains(path), qPrintable(opened.error().message));
    QVERIFY2(opened.error().message.contains(QLatin1String("not writable")),
        qPrintable(opened.error().message));
    QVERIFY(!QFileInfo::exists(path));

    const QString readOnly = dir.filePath(QStringLiteral("readonly.db"));
    {
        RunHistory writer;
        QVERIFY(delivered(writer.open(readOnly)));
        QVERIFY(delivered(writer.record(run(QStringLiteral("Old")))));
    }
    QCOMPARE(::chmod(QFile::encodeName(readOnly).constData(), 0444), 0);
    const QByteArray before = readAll(readOnly);
    const auto refused = history.open(readOnly);
    QVERIFY(delivered(refused));
    QCOMPARE(refused.state(), TaskState::Failed);
    QVERIFY2(refused.error().message.contains(readOnly), qPrintable(refused.error().message));
    QCOMPARE(readAll(readOnly), before);
}

void tst_RunHistory::twoHistoriesShareOneFile()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("shared.db"));
    RunHistory first, second;
    // Both create the file at once: one makes the schema, the other finds it.
    const auto a = first.open(path);
    const auto b = second.open(path);
    QVERIFY(delivered(a));
    QVERIFY(delivered(b));
    QVERIFY2(a.state() == TaskState::Finished, qPrintable(a.error().summary()));
    QVERIFY2(b.state() == TaskState::Finished, qPrintable(b.error().summary()));
    QList<TaskHandle<qint64>> writes;
    for (int i = 0; i < 20; ++i) {
        writes << first.record(run(QStringLiteral("First %1").arg(i)));
        writes << second.record(run(QStringLiteral("Second %1").arg(i)));
    }
    for (const auto &w : writes) {
        QVERIFY(delivered(w));
        QCOMPARE(w.state(), TaskState::Finished);
    }
    auto runs = find(first, QStringLiteral("second"));
    QVERIFY(runs);
    QCOMPARE(runs->size(), 20);
    runs = find(second);
    QVERIFY(runs);
    QCOMPARE(runs->size(), 40);
}

void tst_RunHistory::reopeningSwitchesFiles()
{
    QTemporaryDir dir;
    RunHistory history;
    QVERIFY(delivered(history.open(dir.filePath(QStringLiteral("one.db")))));
    QVERIFY(delivered(history.record(run(QStringLiteral("In one")))));
    // Not awaited: the record queues behind the second open and goes to the second file.
    history.open(dir.filePath(QStringLiteral("two.db")));
    const auto handle = history.record(run(QStringLiteral("In two")));
    QVERIFY(delivered(handle));
    QCOMPARE(handle.state(), TaskState::Finished);
    QCOMPARE(history.path(), dir.filePath(QStringLiteral("two.db")));
    const auto runs = find(history);
    QVERIFY(runs);
    QCOMPARE(titles(*runs), QStringList { "In two" });
}

// A figure for docs/benchmarks, not an assertion: the history thread's time per insert when
// runs arrive back to back (one transaction each), measured from the first record() to the
// last result.
void tst_RunHistory::insertCost()
{
    QTemporaryDir dir;
    RunHistory history;
    QVERIFY(delivered(history.open(dir.filePath(QStringLiteral("h.db")))));
    RunRecord typical = run(QStringLiteral("Gaussian Blur"));
    typical.values.insert(QStringLiteral("input"), QStringLiteral("/data/scans/brain_001.nrrd"));
    typical.values.insert(QStringLiteral("output"), QStringLiteral("/tmp/out_001.nrrd"));
    typical.returnValues.insert(QStringLiteral("voxels"), 16777216LL);
    constexpr int count = 1000;
    QElapsedTimer timer;
    timer.start();
    TaskHandle<qint64> last;
    for (int i = 0; i < count; ++i)
        last = history.record(typical);
    const qint64 callNs = timer.nsecsElapsed();
    QVERIFY(delivered(last));
    const qint64 ns = timer.nsecsElapsed();
    QCOMPARE(last.state(), TaskState::Finished);
    qDebug("history_insert_us %.1f per run (%d runs back to back); record() on the calling "
           "thread %.1f us",
        ns / 1000.0 / count, count, callNs / 1000.0 / count);
}

QTEST_GUILESS_MAIN(tst_RunHistory)
#include "tst_runhistory.moc"
