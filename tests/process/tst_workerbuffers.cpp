// Shared buffers in worker calls: handed over as memory files to a local worker (nothing
// copied), inline over the stdio channel, sealed ones read-only in the worker, buffers that
// come back, hostile answers, and nothing left behind by crashes, cancels or many cycles.
#include <offload/process/sharedbuffer.h>
#include <offload/process/workerpool.h>

#include "../common/testsupport.h"
#include "processtestsupport.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QTest>

#include <csignal>
#include <cstring>

using namespace offload;
using namespace std::chrono_literals;

namespace {
SharedBuffer filled(qint64 size, unsigned char byte)
{
    SharedBuffer b = SharedBuffer::create(size);
    std::memset(b.data(), byte, size_t(size));
    return b;
}

bool allBytes(const SharedBuffer &b, unsigned char byte)
{
    for (std::byte c : b.constBytes()) {
        if (c != std::byte(byte))
            return false;
    }
    return b.size() > 0;
}

WorkerPoolSpec spec(bool stdio)
{
    WorkerPoolSpec s = testWorkerSpec(1);
    s.stdioChannel = stdio;
    return s;
}

QJsonObject obj(std::initializer_list<std::pair<QString, QJsonValue>> fields)
{
    QJsonObject o;
    for (const auto &[k, v] : fields)
        o.insert(k, v);
    return o;
}
} // namespace

class tst_WorkerBuffers : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void aLocalWorkerWritesTheApplicationsMemory();
    void theStdioChannelCarriesTheBytesInline();
    void aWorkerHandsBackABufferOfItsOwn_data();
    void aWorkerHandsBackABufferOfItsOwn();
    void aSealedBufferIsReadOnlyInTheWorker_data();
    void aSealedBufferIsReadOnlyInTheWorker();
    void aBufferFromOneWorkerGoesOnToAnother();
    void aPythonWorkerReadsAndWritesBuffers_data();
    void aPythonWorkerReadsAndWritesBuffers();
    void nullOrTooManyBuffersAreRefusedBeforeAnythingRuns();
    void aPooledBufferReturnsToItsPoolAfterTheCall();
    void aWorkerKeepsThePoolsBuffersMappedAndNoOthers_data();
    void aWorkerKeepsThePoolsBuffersMappedAndNoOthers();
    void aResultCannotCarryABufferPoolsBuffer_data();
    void aResultCannotCarryABufferPoolsBuffer();
    void hostileBufferAnswersFailTheCall_data();
    void hostileBufferAnswersFailTheCall();
    void crashesCancelsAndManyCyclesLeaveNothingBehind();
};

void tst_WorkerBuffers::aLocalWorkerWritesTheApplicationsMemory()
{
    WorkerPool pool(spec(false));
    QObject context;
    SharedBuffer b = filled(4 << 20, 1);
    auto call = pool.submit(&context,
        WorkerCall { QStringLiteral("touch"), obj({ { QStringLiteral("write"), 7 } }), {}, { b } });
    QVERIFY(call.waitForFinished(20s));
    QCOMPARE(call.state(), TaskState::Finished);
    const WorkerResult r = call.result();
    QCOMPARE(r.value[QLatin1String("sum")].toInteger(), (4 << 20) / 4096); // a 1 per page
    QCOMPARE(r.value[QLatin1String("sizes")].toArray().at(0).toInteger(), 4 << 20);
    // The worker wrote into this process's memory: the very bytes, not a copy.
    QVERIFY(allBytes(b, 7));
    QCOMPARE(r.buffers.size(), size_t(1));
    QVERIFY(allBytes(r.buffers[0], 7));
    // Handed back: the caller's own buffer, with its mapping, not a second one.
    QCOMPARE(r.buffers[0].constData(), b.constData());
}

void tst_WorkerBuffers::theStdioChannelCarriesTheBytesInline()
{
    WorkerPool pool(spec(true));
    QObject context;
    SharedBuffer b = filled(300 * 1024 + 3, 1);
    auto call = pool.submit(&context,
        WorkerCall { QStringLiteral("touch"), obj({ { QStringLiteral("write"), 7 } }),
            QByteArray("own payload"), { b } });
    QVERIFY(call.waitForFinished(20s));
    QCOMPARE(call.state(), TaskState::Finished);
    const WorkerResult r = call.result();
    QCOMPARE(r.value[QLatin1String("sum")].toInteger(), (300 * 1024 + 3 + 4095) / 4096);
    QVERIFY(allBytes(b, 1)); // inline: the worker wrote into its copy...
    QCOMPARE(r.buffers.size(), size_t(1));
    QCOMPARE(r.buffers[0].size(), b.size());
    QVERIFY(allBytes(r.buffers[0], 7)); // ...which came back the same way
    QVERIFY(r.payload.isEmpty());
}

void tst_WorkerBuffers::aWorkerHandsBackABufferOfItsOwn_data()
{
    QTest::addColumn<bool>("stdio");
    QTest::addColumn<bool>("seal");
    for (bool stdio : { false, true }) {
        for (bool seal : { false, true })
            QTest::addRow("%s, %s", stdio ? "stdio" : "socket", seal ? "sealed" : "writable")
                << stdio << seal;
    }
}

void tst_WorkerBuffers::aWorkerHandsBackABufferOfItsOwn()
{
    QFETCH(bool, stdio);
    QFETCH(bool, seal);
    WorkerPool pool(spec(stdio));
    QObject context;
    auto call = pool.submit(&context, QStringLiteral("make"),
        obj({ { QStringLiteral("size"), 1 << 20 }, { QStringLiteral("byte"), 9 },
            { QStringLiteral("seal"), seal } }));
    QVERIFY(call.waitForFinished(20s));
    QCOMPARE(call.state(), TaskState::Finished);
    WorkerResult r = call.result();
    QCOMPARE(r.buffers.size(), size_t(1));
    QCOMPARE(r.buffers[0].size(), 1 << 20);
    QVERIFY(allBytes(r.buffers[0], 9));
    QCOMPARE(r.buffers[0].isSealed(), seal);
    QCOMPARE(r.buffers[0].data() == nullptr, seal);
    // The worker maps a buffer it sent over the socket too: it cannot be sealed here.
    if (!seal && !stdio) {
        QString why;
        QVERIFY(!r.buffers[0].seal(&why));
        QVERIFY2(why.contains(QLatin1String("received from a worker")), qPrintable(why));
    }
}

void tst_WorkerBuffers::aSealedBufferIsReadOnlyInTheWorker_data()
{
    QTest::addColumn<bool>("stdio");
    QTest::newRow("socket") << false;
    QTest::newRow("stdio") << true;
}

void tst_WorkerBuffers::aSealedBufferIsReadOnlyInTheWorker()
{
    QFETCH(bool, stdio);
    WorkerPool pool(spec(stdio));
    QObject context;
    SharedBuffer b = filled(8192, 3);
    QVERIFY(b.seal());
    auto call = pool.submit(&context, WorkerCall { QStringLiteral("tryWrite"), {}, {}, { b } });
    QVERIFY(call.waitForFinished(20s));
    QCOMPARE(call.state(), TaskState::Finished);
    const QJsonObject answer = call.result().value.toArray().at(0).toObject();
    QCOMPARE(answer.value(QLatin1String("mapped")).toBool(), false);
    QCOMPARE(answer.value(QLatin1String("wrote")).toBool(), false);
    QCOMPARE(answer.value(QLatin1String("spanEmpty")).toBool(), true);
    QVERIFY(allBytes(b, 3));
}

void tst_WorkerBuffers::aBufferFromOneWorkerGoesOnToAnother()
{
    WorkerPool first(spec(false));
    WorkerPool second(spec(false));
    QObject context;
    auto made = first.submit(&context, QStringLiteral("make"),
        obj({ { QStringLiteral("size"), 64 * 1024 }, { QStringLiteral("byte"), 2 } }));
    QVERIFY(made.waitForFinished(20s));
    const SharedBuffer fromFirst = made.result().buffers.at(0);
    auto touched = second.submit(&context,
        WorkerCall {
            QStringLiteral("touch"), obj({ { QStringLiteral("write"), 5 } }), {}, { fromFirst } });
    QVERIFY(touched.waitForFinished(20s));
    QCOMPARE(touched.state(), TaskState::Finished);
    QCOMPARE(touched.result().value[QLatin1String("sum")].toInteger(), 2 * 16);
    QVERIFY(allBytes(fromFirst, 5)); // one memory, three processes
}

void tst_WorkerBuffers::aPythonWorkerReadsAndWritesBuffers_data()
{
    QTest::addColumn<bool>("stdio");
    QTest::newRow("socket: the application's memory") << false;
    QTest::newRow("stdio: inline") << true;
}

void tst_WorkerBuffers::aPythonWorkerReadsAndWritesBuffers()
{
    QFETCH(bool, stdio);
    WorkerPool pool(pythonWorkerSpec(stdio));
    QObject context;
    SharedBuffer writable = filled(64 * 1024, 1);
    SharedBuffer sealed = filled(8192, 2);
    QVERIFY(sealed.seal());
    auto call = pool.submit(&context,
        WorkerCall { QStringLiteral("touch"), obj({ { QStringLiteral("write"), 6 } }),
            QByteArray("p"), { writable, sealed } });
    QVERIFY(call.waitForFinished(20s));
    QVERIFY2(call.state() == TaskState::Finished, qPrintable(call.error().message));
    const WorkerResult r = call.result();
    QCOMPARE(r.value[QLatin1String("sum")].toInteger(), 16 * 1 + 2 * 2);
    QCOMPARE(r.value[QLatin1String("sealed")].toArray(), QJsonArray({ false, true }));
    QCOMPARE(r.value[QLatin1String("readonly")].toArray(), QJsonArray({ false, true }));
    QCOMPARE(allBytes(writable, 6), !stdio); // its own memory, or a copy of its bytes
    QCOMPARE(r.buffers.size(), size_t(2));
    QVERIFY(allBytes(r.buffers[0], 6));
    QVERIFY(allBytes(r.buffers[1], 2));
    QVERIFY(r.buffers[1].isSealed());
    auto made = pool.submit(&context, QStringLiteral("make"),
        obj({ { QStringLiteral("size"), 100000 }, { QStringLiteral("byte"), 4 },
            { QStringLiteral("seal"), true } }));
    QVERIFY(made.waitForFinished(20s));
    QVERIFY2(made.state() == TaskState::Finished, qPrintable(made.error().message));
    QCOMPARE(made.result().buffers.size(), size_t(1));
    QVERIFY(allBytes(made.result().buffers[0], 4));
    QVERIFY(made.result().buffers[0].isSealed());
}

void tst_WorkerBuffers::aPooledBufferReturnsToItsPoolAfterTheCall()
{
    WorkerPool pool(spec(false));
    SharedBufferPool buffers(1 << 20, 2);
    QObject context;
    const std::byte *memory = nullptr;
    for (int round = 0; round < 3; ++round) {
        SharedBuffer b = buffers.acquire();
        QCOMPARE(buffers.idleCount(), 0);
        if (memory)
            QCOMPARE(b.constData(), memory); // the one from the round before
        memory = b.constData();
        auto call = pool.submit(&context,
            WorkerCall { QStringLiteral("touch"), obj({ { QStringLiteral("write"), round } }), {},
                { std::move(b) } });
        QVERIFY(call.waitForFinished(20s));
        QCOMPARE(call.state(), TaskState::Finished);
        QCOMPARE(call.result().buffers.at(0).constData(), memory);
        QVERIFY(allBytes(call.result().buffers.at(0), round));
        call = {};
        // The pool's thread lets go of the call just after finishing it.
        QTRY_COMPARE_WITH_TIMEOUT(buffers.idleCount(), 1, 10000);
    }
}

void tst_WorkerBuffers::aWorkerKeepsThePoolsBuffersMappedAndNoOthers_data()
{
    QTest::addColumn<bool>("python");
    QTest::newRow("C++ SDK") << false;
    QTest::newRow("Python SDK") << true;
}

void tst_WorkerBuffers::aWorkerKeepsThePoolsBuffersMappedAndNoOthers()
{
    QFETCH(bool, python);
    WorkerPool pool(python ? pythonWorkerSpec(false) : spec(false));
    SharedBufferPool buffers(1 << 20, 1);
    QObject context;
    const auto where = [&](const SharedBuffer &b) {
        auto call = pool.submit(&context, WorkerCall { QStringLiteral("where"), {}, {}, { b } });
        return call.waitForFinished(20s) ? call.result().value.toArray().at(0).toInteger() : -1;
    };
    // A pooled buffer comes back to the worker as the mapping it already has (no faults)...
    const SharedBuffer pooled = buffers.acquire();
    const qint64 first = where(pooled);
    QVERIFY(first > 0);
    QCOMPARE(where(pooled), first);
    QCOMPARE(where(pooled), first);
    // ...any other buffer is mapped for its call only, and unmapped after it.
    const auto workerMappings = [&] {
        const auto pids = pool.status().pids;
        return pids.empty() ? -1 : sharedBufferMappings(pids.front());
    };
    // The worker lets a call's buffers go just after answering: waited for, not assumed.
    QTRY_COMPARE_WITH_TIMEOUT(workerMappings(), 1, 10000);
    for (int i = 0; i < 3; ++i) {
        const SharedBuffer plain = SharedBuffer::create(1 << 20);
        QVERIFY(where(plain) > 0);
    }
    QTRY_COMPARE_WITH_TIMEOUT(workerMappings(), 1, 10000); // only the pool's
}

void tst_WorkerBuffers::aResultCannotCarryABufferPoolsBuffer_data()
{
    QTest::addColumn<bool>("python");
    QTest::newRow("C++ SDK") << false;
    QTest::newRow("Python SDK") << true;
}

void tst_WorkerBuffers::aResultCannotCarryABufferPoolsBuffer()
{
    QFETCH(bool, python);
    WorkerPool pool(python ? pythonWorkerSpec(false) : spec(false));
    QObject context;
    auto call = pool.submit(&context, QStringLiteral("pooledResult"));
    QVERIFY(call.waitForFinished(20s));
    QCOMPARE(call.state(), TaskState::Failed);
    QCOMPARE(call.error().kind, ErrorKind::WorkerError);
    QVERIFY2(call.error().message.contains(QLatin1String("BufferPool")),
        qPrintable(call.error().message));
}

void tst_WorkerBuffers::nullOrTooManyBuffersAreRefusedBeforeAnythingRuns()
{
    WorkerPool pool(spec(false));
    QObject context;
    auto withNull
        = pool.submit(&context, WorkerCall { QStringLiteral("touch"), {}, {}, { SharedBuffer() } });
    QVERIFY(withNull.waitForFinished(10s));
    QCOMPARE(withNull.state(), TaskState::Failed);
    QCOMPARE(withNull.error().kind, ErrorKind::InvalidInput);
    std::vector<SharedBuffer> many(65, SharedBuffer::create(16));
    auto tooMany = pool.submit(&context, WorkerCall { QStringLiteral("touch"), {}, {}, many });
    QVERIFY(tooMany.waitForFinished(10s));
    QCOMPARE(tooMany.error().kind, ErrorKind::InvalidInput);
    QCOMPARE(pool.status().workers, 0); // nothing was started for them
}

void tst_WorkerBuffers::hostileBufferAnswersFailTheCall_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("reason");
    QTest::newRow("a pipe") << "pipe"
                            << "not a memory file";
    QTest::newRow("no descriptor") << "missing"
                                   << "without its file descriptor";
    QTest::newRow("stray descriptors") << "stray"
                                       << "more file descriptors";
    QTest::newRow("a short file") << "short"
                                  << "not the 4096 announced";
    QTest::newRow("inline past the end") << "inline-past-end"
                                         << "past the frame's end";
}

void tst_WorkerBuffers::hostileBufferAnswersFailTheCall()
{
    QFETCH(QString, kind);
    QFETCH(QString, reason);
    const int fds = openFdCount();
    {
        WorkerPool pool(spec(false));
        QObject context;
        auto call = pool.submit(
            &context, QStringLiteral("badBuffers"), obj({ { QStringLiteral("kind"), kind } }));
        QVERIFY(call.waitForFinished(20s));
        QCOMPARE(call.state(), TaskState::Failed);
        QCOMPARE(call.error().kind, ErrorKind::Protocol);
        QVERIFY2(call.error().message.contains(reason), qPrintable(call.error().message));
    }
    QCOMPARE(openFdCount(), fds); // every descriptor it sent was closed
}

void tst_WorkerBuffers::crashesCancelsAndManyCyclesLeaveNothingBehind()
{
    { // warm-up: the supervisor and its first allocations
        WorkerPool pool(spec(false));
        QObject context;
        QVERIFY(pool.submit(&context, QStringLiteral("add")).waitForFinished(20s));
    }
    QCoreApplication::processEvents(); // what earlier tests' deliveries still hold
    const int fds = openFdCount();
    const int maps = sharedBufferMappings();
    {
        WorkerPoolSpec s = spec(false);
        s.restartLimit = 1000;
        WorkerPool pool(s);
        QObject context;
        // A worker that crashes holding a buffer, and a call cancelled while it holds one.
        for (int i = 0; i < 5; ++i) {
            auto crash = pool.submit(&context,
                WorkerCall { QStringLiteral("crash"),
                    obj({ { QStringLiteral("how"), QStringLiteral("abort") } }), {},
                    { filled(1 << 20, 1) } });
            QVERIFY(crash.waitForFinished(20s));
            QCOMPARE(crash.error().kind, ErrorKind::Crash);
            auto sleeping = pool.submit(&context,
                WorkerCall { QStringLiteral("sleep"), obj({ { QStringLiteral("ms"), 10000 } }), {},
                    { filled(1 << 20, 1) } });
            QTRY_VERIFY_WITH_TIMEOUT(sleeping.state() == TaskState::Running, 10000);
            sleeping.cancel();
            QVERIFY(sleeping.waitForFinished(20s));
            QCOMPARE(sleeping.state(), TaskState::Cancelled);
        }
        // 10,000 buffers made, sent, handed back and dropped.
        for (int i = 0; i < 10000; ++i) {
            auto call = pool.submit(&context,
                WorkerCall { QStringLiteral("touch"), {}, {},
                    { SharedBuffer::create(4096 * (1 + i % 3)) } });
            QVERIFY(call.waitForFinished(20s));
            QCOMPARE(call.result().buffers.size(), size_t(1));
            if (i % 100 == 0)
                QCoreApplication::processEvents(); // deliveries hold their task until then
        }
    }
    // The last deliveries hold their tasks until the context's thread has run them.
    QTRY_COMPARE_WITH_TIMEOUT(openFdCount(), fds, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(sharedBufferMappings(), maps, 10000);
    QCOMPARE(zombieChildren(), 0);
}

QTEST_GUILESS_MAIN(tst_WorkerBuffers)
#include "tst_workerbuffers.moc"
