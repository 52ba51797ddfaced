// Streams of frames from a worker: the latest reaches the context when it falls behind, with
// the frames it missed counted; a frame's buffers go back to the worker's pool when the
// application drops them (a stream over a pool of N buffers could not go on otherwise); a
// cancelled stream leaves nothing behind.
#include <offload/process/workerpool.h>

#include "../common/testsupport.h"
#include "processtestsupport.h"

#include <QJsonObject>
#include <QTest>

using namespace offload;
using namespace std::chrono_literals;

namespace {
WorkerPoolSpec spec(bool stdio)
{
    WorkerPoolSpec s = testWorkerSpec(1);
    s.stdioChannel = stdio;
    return s;
}

QJsonObject streamArgs(int count, int size, int buffers)
{
    return QJsonObject { { QStringLiteral("count"), count }, { QStringLiteral("size"), size },
        { QStringLiteral("buffers"), buffers } };
}

// Frame i of the test worker's stream holds the byte i % 251 throughout.
bool holdsItsNumber(const WorkerFrame &f)
{
    if (f.buffers.size() != 1 || f.buffers[0].size() == 0)
        return false;
    for (std::byte b : f.buffers[0].constBytes()) {
        if (b != std::byte(f.sequence % 251))
            return false;
    }
    return true;
}
} // namespace

class tst_WorkerFrames : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void everyFrameIsDeliveredOrCounted_data();
    void everyFrameIsDeliveredOrCounted();
    void aContextThatFellBehindGetsOnlyTheLatest();
    void aFrameHeldByTheApplicationHoldsItsBuffer();
    void framesWithoutAListenerGoBackAtOnce();
    void aCancelledStreamLeavesNothingBehind();
    void aDestroyedContextLetsItsLatestFrameGo();
    void aPythonWorkerStreamsFrames_data();
    void aPythonWorkerStreamsFrames();
};

void tst_WorkerFrames::everyFrameIsDeliveredOrCounted_data()
{
    QTest::addColumn<bool>("stdio");
    QTest::newRow("socket") << false;
    QTest::newRow("stdio") << true;
}

void tst_WorkerFrames::everyFrameIsDeliveredOrCounted()
{
    QFETCH(bool, stdio);
    WorkerPool pool(spec(stdio));
    QObject context;
    constexpr int count = 300;
    std::vector<quint64> sequences;
    quint64 skipped = 0;
    int wrong = 0;
    auto call = pool.submit(&context,
        WorkerCall { QStringLiteral("stream"), streamArgs(count, 64 * 1024, 3), {}, {},
            [&](const WorkerFrame &f) {
                sequences.push_back(f.sequence);
                skipped += f.skipped;
                wrong += holdsItsNumber(f) ? 0 : 1;
            } });
    bool finishedSeen = false;
    quint64 framesBeforeFinish = 0;
    call.onFinished([&](const auto &) {
        finishedSeen = true;
        framesBeforeFinish = sequences.size();
    });
    QTRY_VERIFY_WITH_TIMEOUT(finishedSeen, 60000);
    QCOMPARE(call.state(), TaskState::Finished);
    QCOMPARE(call.result().value[QLatin1String("published")].toInteger(), count);
    // Three buffers served the whole stream (the pool allows no more): that it ended at all
    // shows each came back when its frame was dropped.
    QVERIFY(!sequences.empty());
    QCOMPARE(framesBeforeFinish, quint64(sequences.size())); // frames come before the end
    QCOMPARE(sequences.back(), quint64(count)); // the last frame is never lost
    QVERIFY(std::is_sorted(sequences.begin(), sequences.end()));
    QCOMPARE(quint64(sequences.size()) + skipped, quint64(count));
    QCOMPARE(wrong, 0);
}

void tst_WorkerFrames::aContextThatFellBehindGetsOnlyTheLatest()
{
    WorkerPool pool(spec(false));
    QObject context;
    std::vector<WorkerFrame> got;
    auto call = pool.submit(&context,
        WorkerCall { QStringLiteral("stream"), streamArgs(200, 4096, 2), {}, {},
            [&](const WorkerFrame &f) { got.push_back(f); } });
    // This thread does not take a single event until the stream has ended: frames replaced
    // on the way were dropped there, so two buffers were enough for all 200.
    QVERIFY(call.waitForFinished(60s));
    QCOMPARE(call.state(), TaskState::Finished);
    QVERIFY(got.empty());
    QTRY_COMPARE_WITH_TIMEOUT(got.size(), size_t(1), 10000);
    QCOMPARE(got[0].sequence, quint64(200));
    QCOMPARE(got[0].skipped, quint64(199));
    QCOMPARE(got[0].value[QLatin1String("i")].toInteger(), 200);
    QVERIFY(holdsItsNumber(got[0]));
}

void tst_WorkerFrames::aFrameHeldByTheApplicationHoldsItsBuffer()
{
    WorkerPool pool(spec(false));
    QObject context;
    std::vector<WorkerFrame> held;
    // An endless stream over two buffers; every frame delivered is kept. Frames replaced on
    // the way give their buffer back, so deliveries go on until both buffers are held here;
    // from then on the worker waits.
    auto call = pool.submit(&context,
        WorkerCall { QStringLiteral("stream"), streamArgs(0, 8192, 2), {}, {},
            [&](const WorkerFrame &f) { held.push_back(f); } });
    QTRY_COMPARE_WITH_TIMEOUT(held.size(), size_t(2), 20000);
    QVERIFY(held[0].sequence < held[1].sequence);
    QVERIFY(held[0].buffers.at(0).constData() != held[1].buffers.at(0).constData());
    // Whatever happens meanwhile, a held frame's bytes stay its own.
    QCoreApplication::processEvents();
    QVERIFY(holdsItsNumber(held[0]));
    QVERIFY(holdsItsNumber(held[1]));
    QCOMPARE(held.size(), size_t(2));
    // Letting them go lets the stream go on.
    const quint64 last = held[1].sequence;
    held.clear();
    QTRY_VERIFY_WITH_TIMEOUT(!held.empty(), 20000);
    QVERIFY(held.front().sequence > last);
    QVERIFY(holdsItsNumber(held.front()));
    QVERIFY(!call.isFinal());
    call.cancel();
    QVERIFY(call.waitForFinished(20s));
    QCOMPARE(call.state(), TaskState::Cancelled);
}

void tst_WorkerFrames::framesWithoutAListenerGoBackAtOnce()
{
    WorkerPool pool(spec(false));
    QObject context;
    auto call = pool.submit(&context, QStringLiteral("stream"), streamArgs(100, 4096, 1));
    QVERIFY(call.waitForFinished(60s));
    QCOMPARE(call.state(), TaskState::Finished);
    QCOMPARE(call.result().value[QLatin1String("published")].toInteger(), 100);
}

void tst_WorkerFrames::aCancelledStreamLeavesNothingBehind()
{
    const int before = sharedBufferMappings();
    const int fdsBefore = openFdCount();
    {
        WorkerPool pool(spec(false));
        QObject context;
        int frames = 0;
        auto call = pool.submit(&context,
            WorkerCall { QStringLiteral("stream"), streamArgs(0, 1 << 20, 3), {}, {},
                [&](const WorkerFrame &) { ++frames; } });
        QTRY_VERIFY_WITH_TIMEOUT(frames >= 10, 20000);
        call.cancel();
        QVERIFY(call.waitForFinished(20s));
        QCOMPARE(call.state(), TaskState::Cancelled);
        call = {};
        QCoreApplication::processEvents(); // deliveries hold their task until then
    }
    QTRY_COMPARE_WITH_TIMEOUT(sharedBufferMappings(), before, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(openFdCount(), fdsBefore, 10000);
}

void tst_WorkerFrames::aDestroyedContextLetsItsLatestFrameGo()
{
    WorkerPool pool(spec(false));
    auto *context = new QObject;
    int frames = 0;
    auto call = pool.submit(context,
        WorkerCall { QStringLiteral("stream"), streamArgs(0, 1 << 20, 2), {}, {},
            [&](const WorkerFrame &) { ++frames; } });
    QTRY_VERIFY_WITH_TIMEOUT(frames >= 3, 20000);
    delete context; // the call is cancelled; the handle stays
    QVERIFY(call.waitForFinished(20s));
    QCOMPARE(call.state(), TaskState::Cancelled);
    // A frame still waiting for the context's thread was dropped with the context, not kept
    // with the handle: the worker, its stream ended, holds no lent buffer.
    const auto pids = pool.status().pids;
    QVERIFY(!pids.empty());
    QTRY_COMPARE_WITH_TIMEOUT(sharedBufferMappings(pids.front()), 0, 10000);
    QCOMPARE(call.state(), TaskState::Cancelled); // the handle is still held here
}

void tst_WorkerFrames::aPythonWorkerStreamsFrames_data()
{
    QTest::addColumn<bool>("stdio");
    QTest::newRow("socket") << false;
    QTest::newRow("stdio") << true;
}

void tst_WorkerFrames::aPythonWorkerStreamsFrames()
{
    QFETCH(bool, stdio);
    WorkerPool pool(pythonWorkerSpec(stdio));
    QObject context;
    constexpr int count = 100;
    std::vector<quint64> sequences;
    quint64 skipped = 0;
    int wrong = 0;
    auto call = pool.submit(&context,
        WorkerCall { QStringLiteral("stream"), streamArgs(count, 16384, 2), {}, {},
            [&](const WorkerFrame &f) {
                sequences.push_back(f.sequence);
                skipped += f.skipped;
                wrong += holdsItsNumber(f) ? 0 : 1;
            } });
    bool finished = false;
    call.onFinished([&](const auto &) { finished = true; });
    QTRY_VERIFY_WITH_TIMEOUT(finished, 60000);
    QCOMPARE(call.state(), TaskState::Finished);
    QCOMPARE(call.result().value[QLatin1String("published")].toInteger(), count);
    QCOMPARE(sequences.back(), quint64(count));
    QCOMPARE(quint64(sequences.size()) + skipped, quint64(count));
    QCOMPARE(wrong, 0);
}

QTEST_GUILESS_MAIN(tst_WorkerFrames)
#include "tst_workerframes.moc"
