// Specification of the output adapters for foreign programs: the SEM progress-tag scanner and
// the PROGRESS-lines scanner.
#include <offload/process/progresslinescanner.h>
#include <offload/process/semtagscanner.h>

#include <QJsonObject>

#include <QTest>

#include <cmath>

using namespace offload;

class tst_Adapters : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void tagsOnOneLine();
    void tagsAcrossLinesIndentedWithBlankLines();
    void progressAloneAmongOrdinaryText();
    void anySplitOfTheStreamGivesTheSameResult();
    void badProgressValuesAreIgnored_data();
    void badProgressValuesAreIgnored();
    void ctkProgressTextAndResults();
    void otherMarkupStaysText();
    void unterminatedTagIsFlushedAsTextAtTheEnd();
    void hundredMegabytesWithoutNewlineStayBounded();
    void progressLinesCompleteAndJsonResult();
    void progressLinesIgnoreBadValuesAndKeepOtherText();
    void invalidJsonAfterCompleteIsAnError_data();
    void invalidJsonAfterCompleteIsAnError();
    void noCompleteMeansNoResult();
};

namespace {
struct Scan
{
    QByteArray output;
    QList<QPair<QString, QString>> results;
    SemTagScanner scanner { [this](const QByteArray &t) { output += t; },
        [this](const QString &n, const QString &v) { results << qMakePair(n, v); } };
};
} // namespace

void tst_Adapters::tagsOnOneLine()
{
    Scan s;
    s.scanner.feed(
        QByteArray("<filter-start><filter-name>Smooth</filter-name><filter-comment>\"Gaussian "
                   "blur\"</filter-comment></filter-start>\n"
                   "<filter-progress>0.25</filter-progress>\n<filter-end><filter-name>Smooth</"
                   "filter-name><filter-time>1.5</filter-time></filter-end>\n"));
    s.scanner.finish();
    const auto &p = s.scanner.progress();
    QVERIFY(p.started && p.ended);
    QCOMPARE(p.name, QStringLiteral("Smooth"));
    QCOMPARE(p.comment, QStringLiteral("Gaussian blur"));
    QCOMPARE(p.progress.value_or(-1), 0.25);
    QCOMPARE(p.time.value_or(-1), 1.5);
    QCOMPARE(s.output, QByteArray()); // lines of tags only leave no output
}

void tst_Adapters::tagsAcrossLinesIndentedWithBlankLines()
{
    Scan s;
    s.scanner.feed(QByteArray(
        "starting up\n<filter-start>\n\n   <filter-name>\n      Register\n   </filter-name>\n"
        "   <filter-comment>\n  'rigid, 6 DOF'  \n</filter-comment>\n</filter-start>\n"
        "iteration 1\n  <filter-stage-progress>0.5</filter-stage-progress>\n"
        "<filter-progress>\n0.75\n</filter-progress>\ndone\n"));
    s.scanner.finish();
    const auto &p = s.scanner.progress();
    QCOMPARE(p.name, QStringLiteral("Register"));
    QCOMPARE(p.comment, QStringLiteral("rigid, 6 DOF"));
    QCOMPARE(p.stageProgress.value_or(-1), 0.5);
    QCOMPARE(p.progress.value_or(-1), 0.75);
    QCOMPARE(s.output, QByteArray("starting up\n\niteration 1\ndone\n"));
}

void tst_Adapters::progressAloneAmongOrdinaryText()
{
    Scan s;
    s.scanner.feed(
        QByteArray("loading a < b and c > d\nvalue <filter-progress>0.1</filter-progress> kept\n"));
    s.scanner.feed(QByteArray("<filter-progress>0.9</filter-progress>"));
    s.scanner.finish();
    QCOMPARE(s.scanner.progress().progress.value_or(-1), 0.9);
    QVERIFY(!s.scanner.progress().started);
    QCOMPARE(s.output, QByteArray("loading a < b and c > d\nvalue  kept\n"));
}

void tst_Adapters::anySplitOfTheStreamGivesTheSameResult()
{
    const QByteArray stream(
        "x<filter-start><filter-name>N</filter-name></filter-start>\ntext <b>bold</b>\n"
        "<filter-progress>0.3</filter-progress>\n<filter-progress-text "
        "progress=\"0.6\">half</filter-progress-text>\nend");
    Scan whole;
    whole.scanner.feed(stream);
    whole.scanner.finish();
    for (int chunk = 1; chunk <= 7; ++chunk) {
        Scan split;
        for (qsizetype i = 0; i < stream.size(); i += chunk)
            split.scanner.feed(stream.mid(i, chunk));
        split.scanner.finish();
        QCOMPARE(split.output, whole.output);
        QCOMPARE(split.scanner.progress().progress, whole.scanner.progress().progress);
        QCOMPARE(split.scanner.progress().name, whole.scanner.progress().name);
        QCOMPARE(split.scanner.progress().progressText, whole.scanner.progress().progressText);
    }
    QCOMPARE(whole.output, QByteArray("x\ntext <b>bold</b>\nend"));
    QCOMPARE(whole.scanner.progress().progress.value_or(-1), 0.6);
}

void tst_Adapters::badProgressValuesAreIgnored_data()
{
    QTest::addColumn<QByteArray>("value");
    QTest::newRow("garbage") << QByteArray("half");
    QTest::newRow("negative") << QByteArray("-0.2");
    QTest::newRow("NaN") << QByteArray("nan");
    QTest::newRow("above one") << QByteArray("1.5");
    QTest::newRow("infinity") << QByteArray("inf");
    QTest::newRow("empty") << QByteArray("");
}

void tst_Adapters::badProgressValuesAreIgnored()
{
    QFETCH(QByteArray, value);
    Scan s;
    s.scanner.feed(
        "<filter-progress>0.4</filter-progress><filter-progress>" + value + "</filter-progress>\n");
    s.scanner.finish();
    QCOMPARE(s.scanner.progress().progress.value_or(-1), 0.4); // last good value stays
}

void tst_Adapters::ctkProgressTextAndResults()
{
    Scan s;
    s.scanner.feed(
        QByteArray("<filter-progress-text progress=\"0.8\">Writing output</filter-progress-text>\n"
                   "<filter-result name=\"volume\">12.5</filter-result>\n<filter-result "
                   "name='label'> \"liver\" </filter-result>\n"));
    s.scanner.finish();
    QCOMPARE(s.scanner.progress().progressText, QStringLiteral("Writing output"));
    QCOMPARE(s.scanner.progress().progress.value_or(-1), 0.8);
    QCOMPARE(s.results.size(), 2);
    QCOMPARE(s.results[0], qMakePair(QStringLiteral("volume"), QStringLiteral("12.5")));
    QCOMPARE(s.results[1], qMakePair(QStringLiteral("label"), QStringLiteral("liver")));
}

void tst_Adapters::otherMarkupStaysText()
{
    Scan s;
    s.scanner.feed(
        QByteArray("<html><filterx>1</filterx></html> <filter-unknown>kept?</filter-unknown>\n"));
    s.scanner.finish();
    // Unknown filter-* markers are dropped as tags; other markup is text.
    QCOMPARE(s.output, QByteArray("<html><filterx>1</filterx></html> kept?\n"));
}

void tst_Adapters::unterminatedTagIsFlushedAsTextAtTheEnd()
{
    Scan s;
    s.scanner.feed(QByteArray("result <filter-progress>0.5"));
    s.scanner.finish();
    QVERIFY(!s.scanner.progress().progress);
    QCOMPARE(s.output, QByteArray("result 0.5"));
}

void tst_Adapters::hundredMegabytesWithoutNewlineStayBounded()
{
    qint64 outputBytes = 0;
    qsizetype largestChunk = 0;
    SemTagScanner scanner([&](const QByteArray &t) {
        outputBytes += t.size();
        largestChunk = std::max(largestChunk, t.size());
    });
    const QByteArray chunk(1 << 20, 'x');
    for (int i = 0; i < 100; ++i)
        scanner.feed(chunk);
    scanner.feed(QByteArray("<filter-progress>0.5</filter-progress>"));
    scanner.finish();
    QCOMPARE(outputBytes, qint64(100) << 20);
    QVERIFY(largestChunk <= 64 * 1024); // flushed as it goes, never held whole
    QCOMPARE(scanner.progress().progress.value_or(-1), 0.5);
}

void tst_Adapters::progressLinesCompleteAndJsonResult()
{
    QByteArray output;
    ProgressLineScanner scanner([&](const QByteArray &t) { output += t; });
    const QByteArray stream("loading\nPROGRESS 0.25\n  PROGRESS\t0.5  "
                            "\nworking\nCOMPLETE\n{\"area\": 12.5,\n \"ok\": true}\n");
    for (char c : stream) // byte by byte
        scanner.feed(&c, 1);
    QVERIFY(!scanner.finish());
    QCOMPARE(scanner.progress().value_or(-1), 0.5);
    QVERIFY(scanner.isComplete());
    QCOMPARE(scanner.result().toObject().value(QStringLiteral("area")).toDouble(), 12.5);
    QCOMPARE(output, QByteArray("loading\nworking\n"));
}

void tst_Adapters::progressLinesIgnoreBadValuesAndKeepOtherText()
{
    QByteArray output;
    ProgressLineScanner scanner([&](const QByteArray &t) { output += t; });
    scanner.feed(QByteArray(
        "PROGRESS 0.3\nPROGRESS nan\nPROGRESS 7\nPROGRESS -1\nPROGRESSIVE rock\nCOMPLETED\n"));
    QVERIFY(!scanner.finish());
    QCOMPARE(scanner.progress().value_or(-1), 0.3);
    QVERIFY(!scanner.isComplete());
    QCOMPARE(output, QByteArray("PROGRESSIVE rock\nCOMPLETED\n"));
}

void tst_Adapters::invalidJsonAfterCompleteIsAnError_data()
{
    QTest::addColumn<QByteArray>("tail");
    QTest::newRow("garbage") << QByteArray("not json\n");
    QTest::newRow("two documents") << QByteArray("{} {}\n");
    QTest::newRow("empty") << QByteArray("\n");
    QTest::newRow("truncated") << QByteArray("{\"a\": [1, 2");
}

void tst_Adapters::invalidJsonAfterCompleteIsAnError()
{
    QFETCH(QByteArray, tail);
    ProgressLineScanner scanner;
    scanner.feed("COMPLETE\n" + tail);
    const auto error = scanner.finish();
    QVERIFY(error.has_value());
    QVERIFY(error->contains(QStringLiteral("COMPLETE")));
}

void tst_Adapters::noCompleteMeansNoResult()
{
    QByteArray output;
    ProgressLineScanner scanner([&](const QByteArray &t) { output += t; });
    scanner.feed(QByteArray("PROGRESS 1\npartial line"));
    QVERIFY(!scanner.finish());
    QVERIFY(!scanner.isComplete());
    QVERIFY(scanner.result().isUndefined());
    QCOMPARE(output, QByteArray("partial line"));
}

QTEST_GUILESS_MAIN(tst_Adapters)
#include "tst_adapters.moc"
