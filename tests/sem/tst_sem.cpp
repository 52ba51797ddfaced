// Specification of the Slicer Execution Model description parser.
#include <offload/sem/commandline.h>
#include <offload/sem/semdescription.h>

#include <offload/sem/parameterfile.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>
#include <unistd.h>

#include <limits>

using namespace offload::sem;

namespace {
QByteArray module(const QByteArray &parameters)
{
    return "<?xml version=\"1.0\" "
           "encoding=\"utf-8\"?>\n<executable>\n<title>T</title>\n<parameters>\n<label>P</label>\n"
        + parameters + "</parameters>\n</executable>\n";
}
} // namespace

class tst_Sem : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void fullDescriptionWithEveryParameterType();
    void flagsWithOrWithoutDashesAndAliases();
    void bannerBeforeTheXmlIsSkipped();
    void invalidXmlReportsLineAndColumn();
    void unknownElementsAreIgnoredWithAWarning();
    void badDescriptions_data();
    void badDescriptions();
    void commandLineFromTypedValues();
    void commandLineRejectsBadValues_data();
    void commandLineRejectsBadValues();
    void returnParametersAreTypedAndTolerant();
    void deepNestingIsAnErrorWithLineAndColumnNotACrash();
    void moderateNestingInTextIsRead();
    void entityDeclarationsAreRefused();
    void doctypeWithoutEntitiesIsAccepted();
    void aDtdInternalSubsetIsRefusedWhereItOpensBeforeAnyExpansion();
    void nonFiniteNumbersAreRejected_data();
    void nonFiniteNumbersAreRejected();
    void theModuleReceivesTheValueAsValidated();
    void positionalValuesStartingWithADashFollowADoubleDash();
    // Conformance with Slicer's ModuleDescriptionParser.
    void namelessParametersAreNamedAsSlicerNamesThem();
    void elementsOutsideTheSchemaAreKeptAsTextParameters();
    void attributesAreReadWhereSlicerReadsThem();
    void pointsAggregatesAndUnknownElementsOnTheCommandLine();
    void theDocumentStartsAtTheFirstOfDeclarationAndRoot();
    void validateValueGivesBuildCommandLinesMessage();
    void whatSlicerRefusesButCanBeReadIsReadWithAWarning_data();
    void whatSlicerRefusesButCanBeReadIsReadWithAWarning();
    void whatCannotBeReadIsRefusedWithLineAndColumn_data();
    void whatCannotBeReadIsRefusedWithLineAndColumn();
    void descriptionsSlicerAcceptsAreAcceptedWithWarnings();
    void channelIsReadAsWritten();
    void moduleLevelElementsAndReferences();
    void textIsTrimmedAsSlicerTrimsIt();

    // Hostile values and parameter files.
    void integersAboveTheMaximumBeyondDoublePrecisionAreRefused();
    void nonFiniteConstraintsAreNotSilentlyIgnored();
    void aNulInsideAValueIsNotSilentlyCut();
    void parameterFilesThatCannotBeReadAreRefusedQuickly();
};

namespace {
Description blurModule()
{
    const ParseResult r = parseDescription(module(
        "<image><name>input</name><channel>input</channel><index>0</index></image>\n"
        "<image><name>output</name><channel>output</channel><index>1</index></image>\n"
        "<double><name>sigma</name><longflag>sigma</longflag><default>1</default>"
        "<constraints><minimum>0</minimum><maximum>10</maximum></constraints></double>\n"
        "<integer-vector><name>radius</name><flag>r</flag></integer-vector>\n"
        "<boolean><name>verbose</name><longflag>verbose</longflag><default>false</default></"
        "boolean>\n"
        "<string-enumeration><name>mode</name><longflag>mode</longflag><default>fast</default>"
        "<element>fast</element><element>exact</element></string-enumeration>\n"
        "<point multiple=\"true\"><name>seed</name><longflag>seed</longflag></point>\n"
        "<double><name>volume</name><channel>output</channel></double>\n"
        "<integer-vector><name>counts</name><channel>output</channel></integer-vector>\n"
        "<boolean><name>converged</name><channel>output</channel></boolean>\n"
        "<string><name>label</name><channel>output</channel></string>\n"));
    Q_ASSERT(r.ok());
    return *r.description;
}
} // namespace

void tst_Sem::fullDescriptionWithEveryParameterType()
{
    QByteArray params;
    const QStringList tags { QStringLiteral("integer"), QStringLiteral("float"),
        QStringLiteral("double"), QStringLiteral("boolean"), QStringLiteral("string"),
        QStringLiteral("integer-vector"), QStringLiteral("float-vector"),
        QStringLiteral("double-vector"), QStringLiteral("string-vector"), QStringLiteral("point"),
        QStringLiteral("point-vector"), QStringLiteral("pointfile"), QStringLiteral("region"),
        QStringLiteral("region-vector"), QStringLiteral("file"), QStringLiteral("directory"),
        QStringLiteral("image"), QStringLiteral("geometry"), QStringLiteral("transform"),
        QStringLiteral("table"), QStringLiteral("measurement") };
    for (const QString &t : tags)
        params += QStringLiteral("<%1><name>p_%2</name><longflag>%2</longflag></%1>\n")
                      .arg(t, QString(t).replace(QLatin1Char('-'), QLatin1Char('_')))
                      .toUtf8();
    for (const char *e :
        { "integer-enumeration", "float-enumeration", "double-enumeration", "string-enumeration" })
        params += QStringLiteral("<%1><name>e_%2</name><longflag>e%3</longflag><element>1</"
                                 "element><element>2</element></%1>\n")
                      .arg(QLatin1String(e), QString::fromLatin1(e).left(3),
                          QString::number(qHash(QLatin1String(e)) % 100))
                      .toUtf8();
    const QByteArray xml
        = "<?xml "
          "version=\"1.0\"?>\n<executable>\n<category>Filtering</category><title>Everything</title>"
          "<description>All "
          "types</description><version>1.2</version><documentation-url>http://x</documentation-url>"
          "<license>BSD</license><contributor>Me</contributor><acknowledgements>You</"
          "acknowledgements>\n"
          "<parameters>\n<label>All</label>\n"
        + params
        + "</parameters>\n"
          "<parameters advanced=\"true\">\n<label>IO</label><description>In and out</description>\n"
          "<image type=\"label\" fileExtensions=\".nrrd, .nii\" reference=\"input\" "
          "hidden=\"true\">"
          "<name>input</name><label>Input</label><channel>input</channel><index>0</"
          "index><description>d</description></image>\n"
          "<double><name>sigma</name><longflag>--sigma</longflag><default>1.5</default>"
          "<constraints><minimum>0</minimum><maximum>10</maximum><step>0.5</step></constraints></"
          "double>\n"
          "<point multiple=\"true\" "
          "coordinateSystem=\"ras\"><name>seeds</name><longflag>seeds</longflag></point>\n"
          "<string><name>report</name><channel>output</channel></string>\n"
          "</parameters>\n</executable>\n";
    const ParseResult r = parseDescription(xml);
    QVERIFY2(
        r.ok(), qPrintable(QStringLiteral("%1 at %2:%3").arg(r.error).arg(r.line).arg(r.column)));
    const Description &d = *r.description;
    QCOMPARE(d.title, QStringLiteral("Everything"));
    QCOMPARE(d.category, QStringLiteral("Filtering"));
    QCOMPARE(d.version, QStringLiteral("1.2"));
    QCOMPARE(d.groups.size(), size_t(2));
    QCOMPARE(int(d.groups[0].parameters.size()), tags.size() + 4);
    for (const QString &t : tags) {
        const Parameter *p = d.parameter(
            QStringLiteral("p_") + QString(t).replace(QLatin1Char('-'), QLatin1Char('_')));
        QCOMPARE(p->tag, t);
        // Slicer's parser has no point-vector or region-vector: they are kept as text parameters.
        QCOMPARE(p->unknownElement,
            t == QLatin1String("point-vector") || t == QLatin1String("region-vector"));
    }
    QVERIFY(d.parameter(QStringLiteral("p_integer_vector"))->isVector());
    QCOMPARE(d.parameter(QStringLiteral("e_str"))->elements,
        (QStringList { QStringLiteral("1"), QStringLiteral("2") }));
    QVERIFY(d.parameter(QStringLiteral("e_str"))->isEnumeration());

    const Parameter *in = d.parameter(QStringLiteral("input"));
    QVERIFY(in->advanced && in->hidden);
    QCOMPARE(in->index.value_or(-1), 0);
    QCOMPARE(in->channel, QStringLiteral("input"));
    QCOMPARE(in->type, QStringLiteral("label"));
    QCOMPARE(in->reference, QStringLiteral("input"));
    QCOMPARE(in->fileExtensions, (QStringList { QStringLiteral(".nrrd"), QStringLiteral(".nii") }));
    const Parameter *sigma = d.parameter(QStringLiteral("sigma"));
    QCOMPARE(sigma->longflag, QStringLiteral("sigma"));
    QCOMPARE(sigma->defaultValue, QStringLiteral("1.5"));
    QCOMPARE(sigma->minimum.value_or(-1), 0.0);
    QCOMPARE(sigma->maximum.value_or(-1), 10.0);
    QCOMPARE(sigma->step.value_or(-1), 0.5);
    const Parameter *seeds = d.parameter(QStringLiteral("seeds"));
    QVERIFY(seeds->multiple);
    QCOMPARE(seeds->coordinateSystem, QStringLiteral("ras"));
    QVERIFY(d.parameter(QStringLiteral("report"))->isReturnParameter());
    QVERIFY(!sigma->isReturnParameter());
    QCOMPARE(d.warnings.size(), 2); // point-vector and region-vector
}

void tst_Sem::flagsWithOrWithoutDashesAndAliases()
{
    const ParseResult r = parseDescription(
        module("<integer><name>a</name><flag alias=\"-x,y\">-a</flag><longflag "
               "deprecatedalias=\"--old\">--alpha</longflag></integer>\n"
               "<integer><name>b</name><flag>b</flag><longflag>beta</longflag></integer>\n"));
    QVERIFY(r.ok());
    const Parameter *a = r.description->parameter(QStringLiteral("a"));
    QCOMPARE(a->flag, QStringLiteral("a"));
    QCOMPARE(a->longflag, QStringLiteral("alpha"));
    QCOMPARE(a->flagAliases, (QStringList { QStringLiteral("x"), QStringLiteral("y") }));
    QVERIFY(a->longflagAliases.isEmpty());
    QCOMPARE(a->deprecatedLongflagAliases,
        QStringList { QStringLiteral("old") }); // kept apart, as Slicer does
    QCOMPARE(r.description->parameter(QStringLiteral("b"))->longflag, QStringLiteral("beta"));
}

void tst_Sem::bannerBeforeTheXmlIsSkipped()
{
    const ParseResult r = parseDescription("Loading plugins...\nwarning: something\n"
        + module("<integer><name>n</name><index>0</index></integer>\n"));
    QVERIFY2(r.ok(), qPrintable(r.error));
    QVERIFY(r.description->parameter(QStringLiteral("n")));
}

void tst_Sem::invalidXmlReportsLineAndColumn()
{
    const ParseResult r
        = parseDescription("banner\n<?xml "
                           "version=\"1.0\"?>\n<executable>\n<parameters>\n<integer><name>n</"
                           "name>\n</parameters>\n</executable>\n");
    QVERIFY(!r.ok());
    QVERIFY(!r.error.isEmpty());
    QCOMPARE(r.line, qint64(6)); // line in the text as given, banner included
    QVERIFY(r.column > 0);
}

void tst_Sem::unknownElementsAreIgnoredWithAWarning()
{
    const ParseResult r = parseDescription(
        module("<integer><name>n</name><index>0</index><fancy>1</fancy></integer>\n<widget/>\n"));
    QVERIFY(r.ok());
    QCOMPARE(r.description->warnings.size(),
        3); // <fancy>, <widget> outside the schema, <widget> has no name
    QVERIFY(r.description->warnings.at(0).contains(QStringLiteral("fancy")));
    // An unknown element in a group is kept as a parameter (see
    // elementsOutsideTheSchemaAreKeptAsTextParameters).
    QCOMPARE(int(r.description->parameters().size()), 2);
    QVERIFY(r.description->parameters().back()->unknownElement);
}

void tst_Sem::badDescriptions_data()
{
    QTest::addColumn<QByteArray>("xml");
    QTest::addColumn<QString>("error");
    QTest::newRow("two nameless") << module(
        "<image><index>0</index></image>\n<image><index>1</index></image>\n")
                                  << "no name";
    QTest::newRow("duplicate name")
        << module("<integer><name>n</name></integer>\n<double><name>n</name></double>\n")
        << "duplicate parameter name 'n'";
    QTest::newRow("bad index") << module("<integer><name>n</name><index>-1</index></integer>\n")
                               << "<index>";
    QTest::newRow("not a module") << QByteArray("<?xml version=\"1.0\"?><html/>")
                                  << "not <executable>";
    QTest::newRow("no xml at all")
        << QByteArray("usage: module [options]\n") << "no XML description";
    QTest::newRow("garbage") << QByteArray("<?xml version=\"1.0\"?>\n<executable><<<") << "";
}

void tst_Sem::badDescriptions()
{
    QFETCH(QByteArray, xml);
    QFETCH(QString, error);
    const ParseResult r = parseDescription(xml);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(error), qPrintable(r.error));
    QVERIFY(r.line > 0);
}

void tst_Sem::commandLineFromTypedValues()
{
    const Description d = blurModule();
    const QVariantMap values { { QStringLiteral("input"), QStringLiteral("in.nrrd") },
        { QStringLiteral("output"), QStringLiteral("out.nrrd") }, { QStringLiteral("sigma"), 2.5 },
        { QStringLiteral("radius"), QVariantList { 1, 2, 3 } }, { QStringLiteral("verbose"), true },
        { QStringLiteral("seed"),
            QStringList { QStringLiteral("1,2,3"), QStringLiteral("4,5,6") } } };
    const CommandLine cl = buildCommandLine(d, values, QStringLiteral("/tmp/ret.txt"));
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    const QStringList expected { QStringLiteral("--sigma"), QStringLiteral("2.5"),
        QStringLiteral("-r"), QStringLiteral("1,2,3"), QStringLiteral("--verbose"),
        QStringLiteral("--mode"), QStringLiteral("fast"), QStringLiteral("--seed"),
        QStringLiteral("1,2,3"), QStringLiteral("--seed"), QStringLiteral("4,5,6"),
        QStringLiteral("--returnparameterfile"), QStringLiteral("/tmp/ret.txt"),
        QStringLiteral("in.nrrd"), QStringLiteral("out.nrrd") };
    QCOMPARE(cl.arguments, expected);
}

void tst_Sem::commandLineRejectsBadValues_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QVariant>("value");
    QTest::addColumn<QString>("error");
    QTest::newRow("not a number") << "sigma" << QVariant(QStringLiteral("wide"))
                                  << "expects a double";
    QTest::newRow("below minimum") << "sigma" << QVariant(-1) << "below the minimum";
    QTest::newRow("above maximum") << "sigma" << QVariant(11) << "above the maximum";
    QTest::newRow("not in enumeration")
        << "mode" << QVariant(QStringLiteral("slow")) << "is not one of fast, exact";
    QTest::newRow("vector element")
        << "radius" << QVariant(QStringLiteral("1,x")) << "expects an integer";
    QTest::newRow("boolean") << "verbose" << QVariant(QStringLiteral("maybe"))
                             << "expects true or false";
    QTest::newRow("unknown name") << "sigmaa" << QVariant(1) << "unknown parameter 'sigmaa'";
    // Values of the wrong shape, as a JSON script or a Python caller may pass them: never
    // dropped (an object reads as an empty string) nor joined into one argument.
    const QVariantMap object { { QStringLiteral("x"), 1 } };
    QTest::newRow("object for a number") << "sigma" << QVariant(object) << "got an object";
    QTest::newRow("object for a file") << "output" << QVariant(object) << "got an object";
    QTest::newRow("list for one file")
        << "output" << QVariant(QVariantList { QStringLiteral("a"), QStringLiteral("b") })
        << "takes one value, got a list of 2";
    QTest::newRow("list inside a vector")
        << "radius" << QVariant(QVariantList { QVariantList { 1, 2 }, 3 }) << "got a list";
    QTest::newRow("object inside a vector")
        << "radius" << QVariant(QVariantList { 1, object }) << "got an object";
}

void tst_Sem::commandLineRejectsBadValues()
{
    QFETCH(QString, name);
    QFETCH(QVariant, value);
    QFETCH(QString, error);
    QVariantMap values { { QStringLiteral("input"), QStringLiteral("a") },
        { QStringLiteral("output"), QStringLiteral("b") } };
    values.insert(name, value);
    const CommandLine cl = buildCommandLine(blurModule(), values);
    QVERIFY(!cl.ok());
    QVERIFY2(cl.error.contains(error), qPrintable(cl.error));

    const CommandLine missing
        = buildCommandLine(blurModule(), { { QStringLiteral("input"), QStringLiteral("a") } });
    QVERIFY(missing.error.contains(QStringLiteral("'output'")));
}

void tst_Sem::returnParametersAreTypedAndTolerant()
{
    const ReturnValues r
        = parseReturnParameters("volume = 12.5\ncounts=1, 2,3\nconverged = true\nlabel = a = "
                                "b\nmystery = 7\nno equals sign\n"
                                "volume2 =\n\n",
            blurModule());
    QCOMPARE(r.values.value(QStringLiteral("volume")).toDouble(), 12.5);
    QCOMPARE(r.values.value(QStringLiteral("counts")).toList(), (QVariantList { 1LL, 2LL, 3LL }));
    QCOMPARE(r.values.value(QStringLiteral("converged")).toBool(), true);
    QCOMPARE(r.values.value(QStringLiteral("label")).toString(),
        QStringLiteral("a = b")); // split at the first '='
    QVERIFY(!r.values.contains(QStringLiteral("mystery")));
    QCOMPARE(r.warnings.size(), 3); // mystery, no '=', volume2 (unknown)

    const ReturnValues bad = parseReturnParameters("volume = lots\nlabel =\n", blurModule());
    QCOMPARE(bad.values.value(QStringLiteral("volume")).toString(),
        QStringLiteral("lots")); // kept as text
    QCOMPARE(bad.values.value(QStringLiteral("label")).toString(), QString()); // empty allowed
    QCOMPARE(bad.warnings.size(), 1);
}

void tst_Sem::deepNestingIsAnErrorWithLineAndColumnNotACrash()
{
    // 60,000 nested elements used to overflow the stack in the recursive text reading.
    const int depth = 60000;
    QByteArray deep = "<?xml version=\"1.0\"?>\n<executable>\n<title>T</title>\n<description>";
    deep += QByteArray("<b>").repeated(depth) + "x" + QByteArray("</b>").repeated(depth);
    deep += "</description>\n</executable>\n";
    const ParseResult r = parseDescription(deep);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(QStringLiteral("nested")), qPrintable(r.error));
    QCOMPARE(r.line, qint64(4));
    QVERIFY(r.column > 0);

    // Anywhere in the document: inside an unknown element, too.
    const ParseResult unknown = parseDescription(
        module(QByteArray("<x>").repeated(depth) + QByteArray("</x>").repeated(depth)));
    QVERIFY(!unknown.ok());
    QVERIFY2(unknown.error.contains(QStringLiteral("nested")), qPrintable(unknown.error));
}

void tst_Sem::moderateNestingInTextIsRead()
{
    const ParseResult r = parseDescription(
        "<executable><title>T</title><description>a<b>b<i>c<!-- no -->d</i></b>e</description>"
        "<parameters><label>P</label></parameters></executable>");
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.description->description, QStringLiteral("abcde"));

    const int depth = 90; // within the cap, with <executable> and <description> around it
    const QByteArray nested = "<executable><title>T</title><description>"
        + QByteArray("<b>").repeated(depth) + "deep" + QByteArray("</b>").repeated(depth)
        + "</description></executable>";
    const ParseResult ok = parseDescription(nested);
    QVERIFY2(ok.ok(), qPrintable(ok.error));
    QCOMPARE(ok.description->description, QStringLiteral("deep"));
}

void tst_Sem::entityDeclarationsAreRefused()
{
    // Each reference to an entity just under Qt's per-entity limit (4096 characters) adds 4000:
    // a few hundred kilobytes of them expand to gigabytes. SEM descriptions need no DTD, so a
    // DTD that declares entities is refused before any is used (here 7 KB would become 8 MB).
    QByteArray laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE executable [\n<!ENTITY a \""
        + QByteArray("ha").repeated(2000) + "\">\n]>\n";
    laughs += "<executable><title>T</title><description>" + QByteArray("&a;").repeated(2000)
        + "</description></executable>\n";
    const ParseResult r = parseDescription(laughs);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(QStringLiteral("entit")), qPrintable(r.error));
    QVERIFY(r.line > 0);

    const ParseResult one
        = parseDescription("<?xml version=\"1.0\"?><!DOCTYPE executable [<!ENTITY t \"Title\">]>\n"
                           "<executable><title>&t;</title></executable>");
    QVERIFY(!one.ok());
    QVERIFY2(one.error.contains(QStringLiteral("entit")), qPrintable(one.error));
    QCOMPARE(one.line, qint64(1));
}

void tst_Sem::aDtdInternalSubsetIsRefusedWhereItOpensBeforeAnyExpansion()
{
    // Parameter entities are expanded while the DTD itself is read, before the reader reports
    // it: 2,000 references to one of 4,000 characters make 8 MB of DTD text from 8 KB (the
    // tester's 604 KB made gigabytes). The internal subset is refused where it opens, '['.
    const QByteArray head
        = "<?xml version=\"1.0\"?>\n<!-- a comment -->\n<!DOCTYPE executable SYSTEM \"x[1].dtd\" [";
    const QByteArray xml = head + "<!ENTITY % a \"<!-- " + QByteArray(3990, 'h') + " -->\">"
        + QByteArray("%a;").repeated(2000) + "]>\n<executable><title>T</title></executable>\n";
    const ParseResult r = parseDescription("banner\n" + xml);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(QStringLiteral("DTD")), qPrintable(r.error));
    QCOMPARE(r.line, qint64(4)); // in the text as given, banner included
    QCOMPARE(r.column, qint64(head.size() - 1 - head.lastIndexOf('\n'))); // the '[', 1-based
}

void tst_Sem::doctypeWithoutEntitiesIsAccepted()
{
    const ParseResult r = parseDescription("<?xml version=\"1.0\"?>\n<!DOCTYPE executable SYSTEM "
                                           "\"sem[1].dtd\">\n<executable><title>A "
                                           "&amp; B &#65;</title></executable>");
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.description->title, QStringLiteral("A & B A"));
}

void tst_Sem::nonFiniteNumbersAreRejected_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QVariant>("value");
    QTest::newRow("nan within constraints") << "sigma" << QVariant(QStringLiteral("nan"));
    QTest::newRow("NaN double") << "sigma" << QVariant(std::numeric_limits<double>::quiet_NaN());
    QTest::newRow("inf") << "sigma" << QVariant(QStringLiteral("inf"));
    QTest::newRow("-inf") << "sigma" << QVariant(QStringLiteral("-inf"));
    QTest::newRow("nan without constraints") << "gain" << QVariant(QStringLiteral("nan"));
    QTest::newRow("inf in a vector") << "weights" << QVariant(QStringLiteral("1,inf,2"));
}

void tst_Sem::nonFiniteNumbersAreRejected()
{
    QFETCH(QString, name);
    QFETCH(QVariant, value);
    const ParseResult r = parseDescription(
        module("<double><name>sigma</name><longflag>sigma</longflag><constraints><minimum>0</"
               "minimum><maximum>10</maximum></constraints></double>\n"
               "<float><name>gain</name><longflag>gain</longflag></float>\n"
               "<float-vector><name>weights</name><longflag>weights</longflag></float-vector>\n"));
    QVERIFY2(r.ok(), qPrintable(r.error));
    const CommandLine cl = buildCommandLine(*r.description, { { name, value } });
    QVERIFY2(!cl.ok(), qPrintable(cl.arguments.join(QLatin1Char(' '))));
    QVERIFY2(cl.error.contains(QStringLiteral("'%1'").arg(name)), qPrintable(cl.error));
    QVERIFY2(cl.error.contains(QStringLiteral("finite")), qPrintable(cl.error));
}

void tst_Sem::theModuleReceivesTheValueAsValidated()
{
    // Numbers and enumerations are validated without surrounding blanks, and passed so.
    const QVariantMap values { { QStringLiteral("input"),
                                   QStringLiteral(" in.nrrd") }, // a string: kept exactly
        { QStringLiteral("output"), QStringLiteral("out.nrrd") },
        { QStringLiteral("sigma"), QStringLiteral(" 2.5 ") },
        { QStringLiteral("radius"), QStringLiteral("1, 2 ,3") },
        { QStringLiteral("mode"), QStringLiteral(" exact") } };
    const CommandLine cl = buildCommandLine(blurModule(), values);
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    const QStringList expected { QStringLiteral("--sigma"), QStringLiteral("2.5"),
        QStringLiteral("-r"), QStringLiteral("1,2,3"), QStringLiteral("--mode"),
        QStringLiteral("exact"), QStringLiteral(" in.nrrd"), QStringLiteral("out.nrrd") };
    QCOMPARE(cl.arguments, expected);
}

void tst_Sem::positionalValuesStartingWithADashFollowADoubleDash()
{
    const CommandLine cl = buildCommandLine(blurModule(),
        { { QStringLiteral("input"), QStringLiteral("in.nrrd") },
            { QStringLiteral("output"), QStringLiteral("-out.nrrd") } },
        QStringLiteral("/tmp/ret.txt"));
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    const QStringList expected { QStringLiteral("--sigma"), QStringLiteral("1"),
        QStringLiteral("--mode"), QStringLiteral("fast"), QStringLiteral("--returnparameterfile"),
        QStringLiteral("/tmp/ret.txt"), QStringLiteral("--"), QStringLiteral("in.nrrd"),
        QStringLiteral("-out.nrrd") };
    QCOMPARE(cl.arguments, expected);
}

// Slicer's parser names a parameter without <name> from its <longflag> (dashes stripped); an
// explicit <name> wins wherever it stands. Slicer leaves a parameter with neither nameless;
// Offload names it from its <flag> (so that a value can be given to it), or accepts it
// nameless with a warning.
void tst_Sem::namelessParametersAreNamedAsSlicerNamesThem()
{
    const ParseResult r = parseDescription(
        module("<file><longflag>--file1</longflag><channel>input</channel></file>\n"
               "<integer><flag>-n</flag><default>3</default></integer>\n"
               "<integer><longflag>lf</longflag><name>explicitName</name></integer>\n"
               "<image><channel>input</channel><index>0</index></image>\n"));
    QVERIFY2(r.ok(), qPrintable(r.error));
    const Description &d = *r.description;
    QCOMPARE(int(d.parameters().size()), 4);
    QVERIFY(d.parameter(QStringLiteral("file1")));
    QCOMPARE(d.parameter(QStringLiteral("file1"))->longflag, QStringLiteral("file1"));
    QVERIFY(d.parameter(QStringLiteral("n")));
    QVERIFY(d.parameter(QStringLiteral("explicitName")));
    QVERIFY(!d.parameter(QStringLiteral("lf")));
    const Parameter *nameless = d.parameters().back();
    QCOMPARE(nameless->name, QString());
    QCOMPARE(nameless->index.value_or(-1), 0);
    QCOMPARE(d.warnings.size(), 2); // the one named from its flag, the nameless one
    QVERIFY2(d.warnings.at(0).contains(QStringLiteral("flag")), qPrintable(d.warnings.at(0)));
    QVERIFY2(d.warnings.at(1).contains(QStringLiteral("no name")), qPrintable(d.warnings.at(1)));

    const CommandLine cl = buildCommandLine(d,
        { { QStringLiteral("file1"), QStringLiteral("a.txt") },
            { QString(), QStringLiteral("in.nrrd") } });
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    QCOMPARE(cl.arguments,
        (QStringList { QStringLiteral("--file1"), QStringLiteral("a.txt"), QStringLiteral("-n"),
            QStringLiteral("3"), QStringLiteral("in.nrrd") }));
}

// Slicer refuses elements it does not know; slicer_cli_web adds some (<item> for Girder items).
// Offload keeps them as parameters, read like any other, and passes their values as text.
void tst_Sem::elementsOutsideTheSchemaAreKeptAsTextParameters()
{
    const ParseResult r = parseDescription(
        module("<item><name>folder</name><longflag>folder</longflag><label>Folder</label>"
               "<description>A Girder item</description><channel>input</channel>"
               "<default>abc</default></item>\n"
               "<item><name>positional</name><channel>input</channel><index>0</index></item>\n"
               "<point-vector><name>pv</name><longflag>pv</longflag></point-vector>\n"
               "<region-vector><name>rv</name><flag>r</flag></region-vector>\n"
               "<integer><name>n</name><longflag>n</longflag></integer>\n"));
    QVERIFY2(r.ok(), qPrintable(r.error));
    const Description &d = *r.description;
    QCOMPARE(int(d.parameters().size()), 5);
    const Parameter *folder = d.parameter(QStringLiteral("folder"));
    QVERIFY(folder);
    QCOMPARE(folder->tag, QStringLiteral("item"));
    QVERIFY(folder->unknownElement);
    QCOMPARE(folder->longflag, QStringLiteral("folder"));
    QCOMPARE(folder->label, QStringLiteral("Folder"));
    QCOMPARE(folder->description, QStringLiteral("A Girder item"));
    QCOMPARE(folder->channel, QStringLiteral("input"));
    QCOMPARE(folder->defaultValue, QStringLiteral("abc"));
    QCOMPARE(d.parameter(QStringLiteral("positional"))->index.value_or(-1), 0);
    // point-vector and region-vector are in Slicer's schema file but not in its parser.
    QVERIFY(d.parameter(QStringLiteral("pv"))->unknownElement);
    QVERIFY(d.parameter(QStringLiteral("rv"))->unknownElement);
    QVERIFY(!d.parameter(QStringLiteral("n"))->unknownElement);
    QCOMPARE(d.warnings.size(), 4);
    for (const QString &w : d.warnings)
        QVERIFY2(
            w.contains(QStringLiteral("outside the schema")) && w.contains(QStringLiteral("text")),
            qPrintable(w));
    QVERIFY(d.warnings.at(0).contains(QStringLiteral("<item>")));

    const CommandLine cl = buildCommandLine(d,
        { { QStringLiteral("folder"), QStringLiteral(" my folder, 2 ") },
            { QStringLiteral("positional"), QStringLiteral("5f0c1d") } });
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    QCOMPARE(cl.arguments,
        (QStringList { QStringLiteral("--folder"), QStringLiteral(" my folder, 2 "),
            QStringLiteral("5f0c1d") }));
}

// Which attribute each tag reads, as Slicer's parser does: multiple only where it reads it (not
// on vectors, booleans or enumerations; on scalars only the exact value "true"), hidden only on
// scalars, booleans, enumerations, image, table and measurement, type with Slicer's default.
void tst_Sem::attributesAreReadWhereSlicerReadsThem()
{
    const QByteArray xml
        = "<?xml version=\"1.0\"?>\n<executable><title>A</title>\n"
          "<parameters advanced=\"True\"><label>G1</label>\n"
          "<integer multiple=\"true\" "
          "hidden=\"true\"><name>i</name><longflag>i</longflag></integer>\n"
          "<string multiple=\"True\"><name>s</name><longflag>s</longflag></string>\n"
          "<integer-vector multiple=\"true\" "
          "hidden=\"true\"><name>iv</name><longflag>iv</longflag></integer-vector>\n"
          "<boolean multiple=\"true\" "
          "hidden=\"false\"><name>b</name><longflag>b</longflag></boolean>\n"
          "<string-enumeration "
          "hidden=\"true\"><name>e</name><longflag>e</longflag><element>x</element></"
          "string-enumeration>\n"
          "<directory multiple=\"true\"><name>dirs</name><longflag>dirs</longflag></directory>\n"
          "<directory multiple=\"true\" "
          "fileExtensions=\".x\"><name>dir</name><longflag>dir</longflag></directory>\n"
          "</parameters>\n"
          "<parameters advanced=\"true\"><label>G2</label>\n"
          "<image><name>img</name><longflag>img</longflag></image>\n"
          "<transform><name>tfm</name><longflag>tfm</longflag></transform>\n"
          "<pointfile><name>pf</name><longflag>pf</longflag></pointfile>\n"
          "<pointfile type=\"closedcurve\" "
          "coordinateSystem=\"lps\"><name>curve</name><longflag>curve</longflag></pointfile>\n"
          "<file><name>f</name><longflag>f</longflag></file>\n"
          "<geometry multiple=\"true\" aggregate=\"true\" "
          "type=\"model\"><name>g</name><longflag>g</longflag></geometry>\n"
          "<table type=\"color\" hidden=\"true\"><name>t</name><longflag>t</longflag></table>\n"
          "<measurement type=\"anything\"><name>m</name><longflag>m</longflag></measurement>\n"
          "<file hidden=\"true\"><name>hf</name><longflag>hf</longflag></file>\n"
          "<point hidden=\"true\" "
          "coordinateSystem=\"ijk\"><name>pt</name><longflag>pt</longflag></point>\n"
          "</parameters>\n"
          "<parameters advanced=\"true\" id=\"x\"><label>G3</label></parameters>\n"
          "</executable>\n";
    const ParseResult r = parseDescription(xml);
    QVERIFY2(r.ok(), qPrintable(r.error));
    const Description &d = *r.description;
    const auto p = [&d](const char *name) { return d.parameter(QLatin1String(name)); };
    QVERIFY(!d.groups[0].advanced); // "True" is not "true"
    QVERIFY(d.groups[1].advanced);
    QVERIFY(!d.groups[2].advanced); // Slicer reads advanced only when it is the only attribute
    QVERIFY(p("i")->multiple && p("i")->hidden);
    QVERIFY(!p("s")->multiple);
    QVERIFY(!p("iv")->multiple && !p("iv")->hidden);
    QVERIFY(!p("b")->multiple && !p("b")->hidden);
    QVERIFY(p("e")->hidden);
    QVERIFY(p("dirs")->multiple);
    QVERIFY(!p("dir")->multiple); // Slicer reads multiple on a directory only as its only attribute
    QCOMPARE(p("img")->type, QStringLiteral("scalar"));
    QCOMPARE(p("tfm")->type, QStringLiteral("unknown"));
    QCOMPARE(p("pf")->type, QStringLiteral("point"));
    QCOMPARE(p("curve")->type, QStringLiteral("closedcurve"));
    QCOMPARE(p("curve")->coordinateSystem, QStringLiteral("lps"));
    QCOMPARE(p("f")->type, QStringLiteral("scalar"));
    QVERIFY(p("g")->multiple && p("g")->aggregate);
    QCOMPARE(p("g")->type, QStringLiteral("model"));
    QVERIFY(p("t")->hidden);
    QCOMPARE(p("t")->type, QStringLiteral("color"));
    QCOMPARE(p("m")->type, QStringLiteral("anything"));
    // Slicer refuses attributes a tag does not have; Offload ignores them with a warning.
    QVERIFY(!p("hf")->hidden);
    QVERIFY(!p("pt")->hidden);
    QCOMPARE(p("pt")->coordinateSystem, QStringLiteral("ijk"));
    QCOMPARE(d.warnings.size(), 2);
    QVERIFY2(d.warnings.at(0).contains(QStringLiteral("hidden")), qPrintable(d.warnings.at(0)));
}

void tst_Sem::pointsAggregatesAndUnknownElementsOnTheCommandLine()
{
    const ParseResult r = parseDescription(
        module("<point "
               "multiple=\"true\"><name>seed</name><longflag>seed</longflag><default>0,0,0</"
               "default></point>\n"
               "<region><name>roi</name><longflag>roi</longflag></region>\n"
               "<geometry multiple=\"true\" "
               "aggregate=\"true\"><name>models</name><longflag>models</longflag></geometry>\n"
               "<point-vector><name>pv</name><longflag>pv</longflag></point-vector>\n"));
    QVERIFY2(r.ok(), qPrintable(r.error));
    const Description &d = *r.description;
    QVERIFY(d.parameter(QStringLiteral("pv"))->unknownElement);
    QVERIFY(!d.parameter(QStringLiteral("pv"))->isVector());

    // A multiple point's default is one point, not three numbers.
    QCOMPARE(buildCommandLine(d, {}).arguments, QStringList({ "--seed", "0,0,0" }));
    // Several points in one text, separated by ';'; a region is centre and radius.
    CommandLine cl = buildCommandLine(d,
        { { "seed", " 1,2,3 ; 4, 5 ,6" }, { "roi", QVariantList { 0, 0, 0, 1, 1, 1 } },
            { "models", QStringList { "a.vtk", "b.vtk" } }, { "pv", "1,2,3,4,5,6" } });
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    QCOMPARE(cl.arguments,
        QStringList({ "--seed", "1,2,3", "--seed", "4,5,6", "--roi", "0,0,0,1,1,1", "--models",
            "a.vtk,b.vtk", "--pv", "1,2,3,4,5,6" }));
    // Points as lists of coordinates, as JSON gives them.
    cl = buildCommandLine(d,
        { { "seed", QVariantList { QVariantList { 1, 2, 3 }, QVariantList { 4, 5, 6 } } },
            { "roi", QVariantList { 0, 0, 0, 1, 1, 1 } } });
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    QCOMPARE(cl.arguments,
        QStringList({ "--seed", "1,2,3", "--seed", "4,5,6", "--roi", "0,0,0,1,1,1" }));
    cl = buildCommandLine(d, { { "roi", "1,2,3" } });
    QVERIFY(cl.error.contains(QLatin1String("expects 6 finite numbers")));
    cl = buildCommandLine(d, { { "seed", "1,2,inf" } });
    QVERIFY(cl.error.contains(QLatin1String("expects 3 finite numbers")));
}

void tst_Sem::theDocumentStartsAtTheFirstOfDeclarationAndRoot()
{
    // No declaration, and "<?xml" inside a description: read from <executable>.
    const ParseResult r = parseDescription(
        "<executable><title>T</title><description><![CDATA[print('<?xml version=\"1.0\"?>')]]>"
        "</description><parameters><integer><name>n</name><longflag>n</longflag></integer>"
        "</parameters></executable>");
    QVERIFY2(r.ok(), qPrintable(r.error));
    QVERIFY(r.description->description.contains(QLatin1String("<?xml")));

    // A banner on the line where the document starts: the column counts the banner.
    const QByteArray banner = "loading... ";
    const ParseResult bad
        = parseDescription(banner + "<executable><title>T</title><oops></executable>");
    QVERIFY(!bad.ok());
    QCOMPARE(bad.line, qint64(1));
    QVERIFY2(bad.column > banner.size() + 30, qPrintable(QString::number(bad.column)));

    // An empty <longflag/> beside an <index> is no longflag, as an empty <flag/> is no flag.
    const ParseResult empty = parseDescription(module(
        "<string><name>s</name><index>0</index><longflag></longflag><flag></flag></string>\n"));
    QVERIFY2(empty.ok(), qPrintable(empty.error));
}

void tst_Sem::validateValueGivesBuildCommandLinesMessage()
{
    const Description d = blurModule();
    const Parameter &sigma = *d.parameter(QStringLiteral("sigma"));
    QCOMPARE(validateValue(sigma, 2.5), QString());
    QCOMPARE(validateValue(sigma, QString()), QString()); // empty: left out, valid
    const QString message = validateValue(sigma, 99);
    QVERIFY(message.contains(QLatin1String("above the maximum")));
    QCOMPARE(buildCommandLine(d, { { "input", "a" }, { "output", "b" }, { "sigma", 99 } }).error,
        message);
    // An index parameter is required: empty is an error.
    QVERIFY(validateValue(*d.parameter(QStringLiteral("input")), QString())
                .contains(QLatin1String("missing value")));
    // Given empty, a parameter with a default is left out (Slicer leaves out empty values).
    const CommandLine cl
        = buildCommandLine(d, { { "input", "a" }, { "output", "b" }, { "mode", "" } });
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    QVERIFY(!cl.arguments.contains(QStringLiteral("--mode")));
}

void tst_Sem::whatSlicerRefusesButCanBeReadIsReadWithAWarning_data()
{
    // Slicer's parser refuses these descriptions; Offload read them before it followed Slicer,
    // and refusing them now would break modules that run: it reads them and says Slicer would
    // not load them.
    QTest::addColumn<QByteArray>("xml");
    QTest::addColumn<QString>("warning");
    QTest::addColumn<QString>("argument"); // what the parameter gives on the command line
    const auto row = [](const char *name, const char *xml, const char *warning, const char *arg) {
        QTest::newRow(name) << module(xml) << QString::fromLatin1(warning)
                            << QString::fromLatin1(arg);
    };
    row("hidden not true/false",
        "<integer "
        "hidden=\"TRUE\"><name>n</name><longflag>n</longflag><default>1</default></integer>\n",
        "hidden=\"TRUE\" read as true", "--n");
    row("multiple on a file",
        "<file multiple=\"yes\"><name>n</name><longflag>n</longflag><default>a</default></file>\n",
        "multiple=\"yes\" read as false", "--n");
    row("coordinate system",
        "<point "
        "coordinateSystem=\"RAS\"><name>n</name><longflag>n</longflag><default>1,2,3</default></"
        "point>\n",
        "coordinateSystem 'RAS' kept", "--n");
    row("image type",
        "<image type=\"volume\"><name>n</name><longflag>n</longflag><default>a</default></image>\n",
        "type 'volume' kept", "--n");
    row("transform type",
        "<transform "
        "type=\"affine\"><name>n</name><longflag>n</longflag><default>a</default></transform>\n",
        "type 'affine' kept", "--n");
    row("aggregate",
        "<geometry "
        "aggregate=\"1\"><name>n</name><longflag>n</longflag><default>a</default></geometry>\n",
        "aggregate=\"1\" read as false", "--n");
    row("name with a dash",
        "<integer><name>my-name</name><longflag>x</longflag><default>1</default></integer>\n",
        "<name> 'my-name' is not an identifier", "--x");
    row("name starting with a digit",
        "<integer><name>1st</name><longflag>x</longflag><default>1</default></integer>\n",
        "<name> '1st' is not an identifier", "--x");
    row("longflag with a dash",
        "<integer><name>n</name><longflag>--output-dir</longflag><default>1</default></integer>\n",
        "<longflag> 'output-dir' is not an identifier", "--output-dir");
    row("flag of two characters",
        "<integer><name>n</name><flag>-ab</flag><default>1</default></integer>\n",
        "<flag> 'ab' has more than one character", "-ab");
}

void tst_Sem::whatSlicerRefusesButCanBeReadIsReadWithAWarning()
{
    QFETCH(QByteArray, xml);
    QFETCH(QString, warning);
    QFETCH(QString, argument);
    const ParseResult r = parseDescription(xml);
    QVERIFY2(r.ok(), qPrintable(r.error));
    QCOMPARE(r.description->warnings.size(), 1);
    QVERIFY2(r.description->warnings.first().contains(warning),
        qPrintable(r.description->warnings.first()));
    QVERIFY2(r.description->warnings.first().contains(QLatin1String("Slicer's parser refuses")),
        qPrintable(r.description->warnings.first()));
    QVERIFY(r.description->warnings.first().startsWith(QLatin1String("line 6:")));
    const CommandLine cl = buildCommandLine(*r.description, {});
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    QCOMPARE(cl.arguments.value(0), argument);
}

void tst_Sem::whatCannotBeReadIsRefusedWithLineAndColumn_data()
{
    QTest::addColumn<QByteArray>("xml");
    QTest::addColumn<QString>("error");
    QTest::newRow("index then flag")
        << module("<integer><name>n</name><index>0</index><flag>n</flag></integer>\n") << "index";
    QTest::newRow("longflag then index")
        << module("<integer><name>n</name><longflag>n</longflag><index>0</index></integer>\n")
        << "index";
    QTest::newRow("nested parameters")
        << module("<parameters><label>x</label></parameters>\n") << "<parameters>";
}

void tst_Sem::whatCannotBeReadIsRefusedWithLineAndColumn()
{
    QFETCH(QByteArray, xml);
    QFETCH(QString, error);
    const ParseResult r = parseDescription(xml);
    QVERIFY(!r.ok());
    QVERIFY2(r.error.contains(error), qPrintable(r.error));
    QCOMPARE(r.line, qint64(6));
    QVERIFY(r.column > 0);
}

// Slicer's parser does not check constraints or enumerations; Offload reads what it can and warns.
void tst_Sem::descriptionsSlicerAcceptsAreAcceptedWithWarnings()
{
    const ParseResult r = parseDescription(
        module("<integer><name>a</name><longflag>a</longflag><constraints><minimum>low</minimum>"
               "<maximum>9</maximum></constraints></integer>\n"
               "<integer><name>b</name><longflag>b</longflag><constraints><minimum>5</minimum>"
               "<maximum>1</maximum></constraints></integer>\n"
               "<double><name>c</name><longflag>c</longflag><constraints><step>0</step></"
               "constraints></double>\n"
               "<string-enumeration><name>e</name><longflag>e</longflag></string-enumeration>\n"
               "<double><name>d</name><longflag>d</longflag><minimum>1</minimum><maximum>2</"
               "maximum></double>\n"));
    QVERIFY2(r.ok(), qPrintable(r.error));
    const Description &d = *r.description;
    QVERIFY(!d.parameter(QStringLiteral("a"))->minimum);
    QCOMPARE(d.parameter(QStringLiteral("a"))->maximum.value_or(-1), 9.0);
    QCOMPARE(d.parameter(QStringLiteral("b"))->minimum.value_or(-1), 5.0);
    QCOMPARE(d.parameter(QStringLiteral("c"))->step.value_or(-1), 0.0);
    QVERIFY(d.parameter(QStringLiteral("e"))->elements.isEmpty());
    // Slicer reads <minimum> and <maximum> outside <constraints> too.
    QCOMPARE(d.parameter(QStringLiteral("d"))->minimum.value_or(-1), 1.0);
    QCOMPARE(d.parameter(QStringLiteral("d"))->maximum.value_or(-1), 2.0);
    QCOMPARE(d.warnings.size(), 4);
    QVERIFY2(d.warnings.at(0).contains(QStringLiteral("not a finite number")),
        qPrintable(d.warnings.at(0)));
    QVERIFY2(
        d.warnings.at(1).contains(QStringLiteral("greater than")), qPrintable(d.warnings.at(1)));
    QVERIFY2(d.warnings.at(2).contains(QStringLiteral("step")), qPrintable(d.warnings.at(2)));
    QVERIFY2(
        d.warnings.at(3).contains(QStringLiteral("no <element>")), qPrintable(d.warnings.at(3)));

    // An empty <executable> is a description Slicer accepts, too.
    const ParseResult empty = parseDescription("<?xml version=\"1.0\"?>\n<executable/>\n");
    QVERIFY2(empty.ok(), qPrintable(empty.error));
    QVERIFY(empty.description->groups.empty());
}

// Slicer keeps <channel> as written and compares it case-sensitively.
void tst_Sem::channelIsReadAsWritten()
{
    const ParseResult r
        = parseDescription(module("<double><name>v</name><channel>Output</channel></double>\n"
                                  "<double><name>w</name><channel> output </channel></double>\n"));
    QVERIFY2(r.ok(), qPrintable(r.error));
    const Parameter *v = r.description->parameter(QStringLiteral("v"));
    QCOMPARE(v->channel, QStringLiteral("Output"));
    QVERIFY(!v->isReturnParameter());
    QVERIFY(r.description->parameter(QStringLiteral("w"))->isReturnParameter());
    QCOMPARE(r.description->warnings.size(), 1);
    QVERIFY(r.description->warnings.at(0).contains(QStringLiteral("Output")));
}

void tst_Sem::moduleLevelElementsAndReferences()
{
    const ParseResult r = parseDescription(
        "<?xml version=\"1.0\"?>\n<executable><category>Registration.Tools</category>"
        "<index>3</index><title>R</title><location>/opt/r</location>\n"
        "<parameters><label>IO</label>\n"
        "<image><name>fixed</name><longflag>fixed</longflag><channel>input</channel></image>\n"
        "<transform type=\"bspline\" reference=\"fixed\"><name>t</name><longflag>t</longflag>"
        "<channel>output</channel><reference role=\"spatialRef\" "
        "parameter=\"fixed\"/></transform>\n"
        "<integer><name>n</name><flag alias=\"x, y\" deprecatedalias=\"-z\">n</flag>"
        "<longflag alias=\"num\" deprecatedalias=\"--count,--k\">number</longflag></integer>\n"
        "</parameters></executable>\n");
    QVERIFY2(r.ok(), qPrintable(r.error));
    const Description &d = *r.description;
    QCOMPARE(d.index, QStringLiteral("3"));
    QCOMPARE(d.location, QStringLiteral("/opt/r"));
    const Parameter *t = d.parameter(QStringLiteral("t"));
    QCOMPARE(t->reference, QStringLiteral("fixed"));
    QCOMPARE(t->type, QStringLiteral("bspline"));
    QCOMPARE(t->forwardReferences.size(), 1);
    QCOMPARE(t->forwardReferences.at(0).first, QStringLiteral("spatialRef"));
    QCOMPARE(t->forwardReferences.at(0).second, QStringLiteral("fixed"));
    const Parameter *n = d.parameter(QStringLiteral("n"));
    QCOMPARE(n->flagAliases, (QStringList { QStringLiteral("x"), QStringLiteral("y") }));
    QCOMPARE(n->deprecatedFlagAliases, QStringList { QStringLiteral("z") });
    QCOMPARE(n->longflagAliases, QStringList { QStringLiteral("num") });
    QCOMPARE(n->deprecatedLongflagAliases,
        (QStringList { QStringLiteral("count"), QStringLiteral("k") }));
    QVERIFY2(d.warnings.isEmpty(), qPrintable(d.warnings.join(QLatin1Char('\n'))));
}

// Slicer trims spaces, tabs and line ends around text, nothing else, and keeps quotes.
void tst_Sem::textIsTrimmedAsSlicerTrimsIt()
{
    const ParseResult r = parseDescription(
        "<?xml version=\"1.0\"?>\r\n<executable>\r\n<title>\t T \r\n</title>"
        "<description><![CDATA[ Say \"hi\" & <go> ]]> &amp; &lt;more&gt;\n</description>\n"
        "<parameters><label> L </label>\n"
        "<string><name>\tn\n</name><longflag> n </longflag><default>&#160;a&#160;</default>"
        "<element>\n e \n</element></string>\n"
        "</parameters></executable>\n");
    QVERIFY2(r.ok(), qPrintable(r.error));
    const Description &d = *r.description;
    QCOMPARE(d.title, QStringLiteral("T"));
    QCOMPARE(d.description, QStringLiteral("Say \"hi\" & <go>  & <more>"));
    QCOMPARE(d.groups.at(0).label, QStringLiteral("L"));
    const Parameter *n = d.parameter(QStringLiteral("n"));
    QVERIFY(n);
    QCOMPARE(n->defaultValue, QStringLiteral("\u00a0a\u00a0"));
    QCOMPARE(n->elements, QStringList { QStringLiteral("e") });
}

// Integers are compared with their bounds as doubles: 2^53 + 1 rounds to 2^53 and passes a
// maximum of 2^53 (normalise() in commandline.cpp: double(v.toLongLong())).
void tst_Sem::integersAboveTheMaximumBeyondDoublePrecisionAreRefused()
{
    const ParseResult r = parseDescription(module("<integer><name>n</name><longflag>n</longflag>"
                                                  "<constraints><maximum>9007199254740992</maximum>"
                                                  "</constraints></integer>"));
    QVERIFY(r.ok());
    const Parameter &p = r.description->groups[0].parameters[0];
    QCOMPARE(validateValue(p, QStringLiteral("9007199254740992")), QString());
    QVERIFY(!validateValue(p, QStringLiteral("9007199254740993")).isEmpty());
}

// "nan" is a number to QString::toDouble: <minimum>nan</minimum> is read without a warning
// and then every value passes it (NaN compares false); "inf" is read as a bound too.
void tst_Sem::nonFiniteConstraintsAreNotSilentlyIgnored()
{
    for (const char *c : { "<minimum>nan</minimum>", "<maximum>nan</maximum>",
             "<maximum>-inf</maximum>", "<step>inf</step>" }) {
        const ParseResult r = parseDescription(
            module(QByteArray("<double><name>x</name><longflag>x</longflag><constraints>") + c
                + "</constraints></double>"));
        QVERIFY(r.ok());
        const Parameter &p = r.description->groups[0].parameters[0];
        const bool constrained = p.minimum || p.maximum || p.step;
        QVERIFY2(!constrained || !r.description->warnings.isEmpty(), c);
    }
}

// A value holding a NUL is passed on, and the process layer cuts the argument there (argv is
// C strings): "a\0b" reaches the module as "a", without an error.
void tst_Sem::aNulInsideAValueIsNotSilentlyCut()
{
    const ParseResult r
        = parseDescription(module("<string><name>s</name><longflag>s</longflag>"
                                  "</string><file><name>f</name><longflag>f</longflag>"
                                  "</file>"));
    QVERIFY(r.ok());
    const QString withNul = QStringLiteral("a") + QChar(0) + QStringLiteral("b");
    const CommandLine cl = buildCommandLine(*r.description, { { "s", withNul } });
    QVERIFY2(!cl.ok(), qPrintable(cl.arguments.join(' ')));
    QVERIFY(!buildCommandLine(*r.description, { { "f", withNul } }).ok());
}

void tst_Sem::parameterFilesThatCannotBeReadAreRefusedQuickly()
{
    QTemporaryDir dir;
    QElapsedTimer t;
    t.start();
    const QString link = dir.filePath(QStringLiteral("zero.json"));
    QVERIFY(QFile::link(QStringLiteral("/dev/zero"), link));
    const QByteArray fifo = QFile::encodeName(dir.filePath(QStringLiteral("fifo.json")));
    QCOMPARE(::mkfifo(fifo.constData(), 0600), 0);
    const QString big = dir.filePath(QStringLiteral("big.json"));
    {
        QFile f(big);
        QVERIFY(f.open(QIODevice::WriteOnly));
        QVERIFY(f.resize(maxParameterFileBytes + 1));
    }
    const QString locked = dir.filePath(QStringLiteral("locked.json"));
    {
        QFile f(locked);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{}");
    }
    ::chmod(QFile::encodeName(locked).constData(), 0);
    for (const QString &path : { QStringLiteral("/dev/zero"), link, QFile::decodeName(fifo),
             dir.path(), big, locked, dir.filePath(QStringLiteral("missing.json")),
             QStringLiteral("/proc/self/status"), QString() }) {
        const ParameterFile f = readParameterFile(path);
        if (path == locked && ::geteuid() == 0)
            continue;
        QVERIFY2(!f.ok(), qPrintable(path));
        QVERIFY2(path.isEmpty() || f.error.contains(path), qPrintable(f.error));
    }
    QVERIFY(t.elapsed() < 5000);
}

QTEST_GUILESS_MAIN(tst_Sem)
#include "tst_sem.moc"
