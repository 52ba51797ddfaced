// Reading the output of Offload's remote wrapper (ssh and Slurm): markers taken out, a login
// script's chatter and the launcher's own lines kept apart from the program's, whatever
// chunks the bytes arrive in. The private class is compiled into this test.
#include "../../src/offload/process/wrapperstreams_p.h"

#include <QRandomGenerator>
#include <QTest>

using namespace offload;
using namespace offload::detail;

namespace {
const QByteArray marker = "\036offload:n0nce:";

struct Read
{
    QByteArray out, err;
    int outEnds = 0, errEnds = 0;
    std::unique_ptr<WrapperStreams> streams;

    explicit Read(const QByteArray &clientPrefix = {})
    {
        streams = std::make_unique<WrapperStreams>(
            marker,
            [this](const char *d, size_t n) {
                if (n == 0)
                    ++outEnds;
                else
                    out.append(d, qsizetype(n));
            },
            [this](const char *d, size_t n) {
                if (n == 0)
                    ++errEnds;
                else
                    err.append(d, qsizetype(n));
            });
        if (!clientPrefix.isEmpty())
            streams->setClientLinePrefix(clientPrefix);
    }
    // Feeds both streams in the given chunks (sizes cycle), then ends them.
    void feed(const QByteArray &o, const QByteArray &e, const QList<int> &sizes)
    {
        int k = 0;
        for (qsizetype at = 0; at < o.size();) {
            const qsizetype n = std::min<qsizetype>(sizes[k++ % sizes.size()], o.size() - at);
            streams->stdoutData(o.constData() + at, size_t(n));
            at += n;
        }
        for (qsizetype at = 0; at < e.size();) {
            const qsizetype n = std::min<qsizetype>(sizes[k++ % sizes.size()], e.size() - at);
            streams->stderrData(e.constData() + at, size_t(n));
            at += n;
        }
        streams->stdoutData(nullptr, 0);
        streams->stderrData(nullptr, 0);
    }
};

// A whole run as srun carries it: chatter, markers, output, a return file, the exit, and
// srun's own line after it.
const QByteArray runOut = "Welcome to the login node\n" + marker + "pid:4242 17 node1\n"
    + "program out 1\nprogram out 2 without newline";
// A return file whose bytes look like a marker and hold a NUL and invalid UTF-8.
const QByteArray fileBytes = "a=1\n" + marker + "exit:9\nb=" + QByteArray(1, '\0') + "\xff";
const QByteArray runErr = "bashrc: warning\n" + marker + "pid:4242 17 node1\n"
    + "program err \036 with a record separator\n" + "srun: not the client's: mid-run\n" + marker
    + "file:ok:" + QByteArray::number(fileBytes.size()) + "\n" + fileBytes + marker + "exit:3\n"
    + "escaped descendant\n" + "srun: error: node1: task 0: Exited with exit code 3\n";
const QByteArray programErr = "program err \036 with a record separator\n"
                              "srun: not the client's: mid-run\n"
                              "escaped descendant\n";
} // namespace

class tst_WrapperStreams : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void wholeRunInEveryChunking();
    void refusalBeforeTheProgram();
    void withoutClientPrefixEverythingAfterExitIsTheProgramsToo();
    void aLongLineIsNotTakenForAMarker();
    void srunsExitNoticeAheadOfTheExitMarkerIsStillTheClients();
};

void tst_WrapperStreams::wholeRunInEveryChunking()
{
    QList<QList<int>> chunkings;
    for (int n = 1; n <= 40; ++n)
        chunkings << QList<int> { n };
    for (int i = 0; i < 200; ++i) {
        QList<int> sizes;
        for (int j = 0; j < 16; ++j)
            sizes << 1 + int(QRandomGenerator::global()->bounded(64));
        chunkings << sizes;
    }
    chunkings << QList<int> { 1 << 20 };
    for (const QList<int> &sizes : chunkings) {
        Read r("srun: ");
        r.feed(runOut, runErr, sizes);
        QCOMPARE(r.out, QByteArray("program out 1\nprogram out 2 without newline"));
        QCOMPARE(r.err, programErr);
        QCOMPARE(r.outEnds, 1);
        QCOMPARE(r.errEnds, 1);
        QCOMPARE(r.streams->pid(), 4242);
        QCOMPARE(r.streams->job(), QByteArray("17"));
        QCOMPARE(r.streams->node(), QByteArray("node1"));
        QCOMPARE(r.streams->exitStatus(), std::optional<int>(3));
        QVERIFY(r.streams->refusal().isEmpty());
        QCOMPARE(r.streams->fileStatus(), QByteArray("ok"));
        QCOMPARE(r.streams->file(), std::optional<QByteArray>(fileBytes));
        QVERIFY(r.streams->prelude().startsWith("bashrc: warning\n"));
        QVERIFY(
            r.streams->prelude().endsWith("srun: error: node1: task 0: Exited with exit code 3\n"));
        QCOMPARE(r.streams->stderrTail(), programErr);
    }
}

void tst_WrapperStreams::refusalBeforeTheProgram()
{
    for (int n : { 1, 3, 1000 }) {
        Read r("srun: ");
        r.feed("chatter\n" + marker + "missing\n", "motd\n" + marker + "missing\n", { n });
        QVERIFY(!r.streams->started());
        QCOMPARE(r.streams->refusal(), QByteArray("missing"));
        QVERIFY(r.out.isEmpty());
        QVERIFY(r.err.isEmpty());
        QCOMPARE(r.streams->prelude(), QByteArray("motd\n"));
        QCOMPARE(r.outEnds, 1);
        QCOMPARE(r.errEnds, 1);
    }
}

void tst_WrapperStreams::withoutClientPrefixEverythingAfterExitIsTheProgramsToo()
{
    Read r; // over ssh: nothing after the exit is ssh's
    r.feed(marker + "pid:1\n", marker + "pid:1\n" + marker + "exit:0\nsrun: late\n", { 5 });
    QCOMPARE(r.err, QByteArray("srun: late\n"));
}

void tst_WrapperStreams::aLongLineIsNotTakenForAMarker()
{
    // A record separator and the marker's start in the program's own output, then a "word"
    // too long to be a marker's: passed on as the program's text.
    const QByteArray fake = marker + QByteArray(1000, 'x') + "\n";
    Read r;
    r.feed(marker + "pid:1\n" + fake, marker + "pid:1\n" + fake + marker + "exit:0\n", { 7 });
    QCOMPARE(r.out, fake);
    QCOMPARE(r.err, fake);
    QCOMPARE(r.streams->exitStatus(), std::optional<int>(0));
}

// srun prints its notice of the task's exit when the task ends, and forwards the task's last
// bytes (the wrapper's exit marker) on its own schedule: the notice can come first. It is
// the client's if only markers follow it; a line like it that the program's output follows
// was the program's.
void tst_WrapperStreams::srunsExitNoticeAheadOfTheExitMarkerIsStillTheClients()
{
    const QByteArray notice = "srun: error: node1: task 0: Exited with exit code 3\n";
    const QByteArray early = marker + "pid:7 17 node1\n" + "to-stderr\n" + notice + marker
        + "file:missing:0\n" + marker + "exit:3\n";
    const QByteArray programs
        = marker + "pid:7 17 node1\n" + notice + "more\n" + marker + "exit:3\n";
    for (int n : { 1, 2, 3, 7, 1000 }) {
        Read r("srun: ");
        r.feed(marker + "pid:7 17 node1\n", early, { n });
        QCOMPARE(r.err, QByteArray("to-stderr\n"));
        QCOMPARE(r.streams->stderrTail(), QByteArray("to-stderr\n"));
        QVERIFY(r.streams->prelude().endsWith(notice));
        QCOMPARE(r.streams->exitStatus(), std::optional<int>(3));
        Read p("srun: ");
        p.feed(marker + "pid:7 17 node1\n", programs, { n });
        QCOMPARE(p.err, notice + "more\n");
    }
}

QTEST_APPLESS_MAIN(tst_WrapperStreams)
#include "tst_wrapperstreams.moc"
