// Every module description in tests/sem/corpus parses without error into the expected number
// of parameters, and the values in its NAME.expect.json give exactly the expected argv.
#include <offload/sem/commandline.h>
#include <offload/sem/semdescription.h>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace offload::sem;

class tst_SemCorpus : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void corpusIsComplete();
    void parsesAndRoundTrips_data();
    void parsesAndRoundTrips();
};

namespace {
QStringList corpusFiles()
{
    return QDir(QStringLiteral(OFFLOAD_SEM_CORPUS_DIR))
        .entryList({ QStringLiteral("*.xml") }, QDir::Files, QDir::Name);
}

QByteArray readAll(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}
} // namespace

void tst_SemCorpus::corpusIsComplete()
{
    // The corpus must not silently shrink; every description has its expectations.
    const QStringList files = corpusFiles();
    QVERIFY2(files.size() >= 30, qPrintable(QString::number(files.size())));
    const QDir dir(QStringLiteral(OFFLOAD_SEM_CORPUS_DIR));
    for (const QString &f : files) {
        const QString expect
            = QString(f).replace(QLatin1String(".xml"), QLatin1String(".expect.json"));
        QVERIFY2(dir.exists(expect), qPrintable(expect));
    }
}

void tst_SemCorpus::parsesAndRoundTrips_data()
{
    QTest::addColumn<QString>("file");
    for (const QString &f : corpusFiles())
        QTest::newRow(qPrintable(f)) << f;
}

void tst_SemCorpus::parsesAndRoundTrips()
{
    QFETCH(QString, file);
    const QDir dir(QStringLiteral(OFFLOAD_SEM_CORPUS_DIR));
    const ParseResult r = parseDescription(readAll(dir.filePath(file)));
    QVERIFY2(
        r.ok(), qPrintable(QStringLiteral("%1 at %2:%3").arg(r.error).arg(r.line).arg(r.column)));

    QJsonParseError jsonError;
    const QJsonDocument doc = QJsonDocument::fromJson(
        readAll(dir.filePath(
            QString(file).replace(QLatin1String(".xml"), QLatin1String(".expect.json")))),
        &jsonError);
    QVERIFY2(doc.isObject(), qPrintable(jsonError.errorString()));
    const QJsonObject expect = doc.object();

    QCOMPARE(int(r.description->parameters().size()),
        expect.value(QLatin1String("parameters")).toInt(-1));
    if (expect.contains(QLatin1String("warnings")))
        QVERIFY2(r.description->warnings.size() == expect.value(QLatin1String("warnings")).toInt(),
            qPrintable(r.description->warnings.join(QLatin1Char('\n'))));
    else
        QVERIFY2(r.description->warnings.isEmpty(),
            qPrintable(r.description->warnings.join(QLatin1Char('\n'))));
    if (expect.contains(QLatin1String("unknownElements"))) {
        int unknown = 0;
        for (const Parameter *p : r.description->parameters())
            unknown += p->unknownElement;
        QCOMPARE(unknown, expect.value(QLatin1String("unknownElements")).toInt());
    }

    const CommandLine cl = buildCommandLine(*r.description,
        expect.value(QLatin1String("values")).toObject().toVariantMap(),
        expect.value(QLatin1String("returnParameterFile")).toString());
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    QStringList arguments;
    for (const QJsonValue &a : expect.value(QLatin1String("arguments")).toArray())
        arguments << a.toString();
    QCOMPARE(cl.arguments, arguments);
}

QTEST_GUILESS_MAIN(tst_SemCorpus)
#include "tst_sem_corpus.moc"
