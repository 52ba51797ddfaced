// ModuleForm: the form generated from a module description, driven through its widgets.
#include <offload/forms/moduleform.h>
#include <offload/modules/modulerunner.h>
#include <offload/sem/commandline.h>
#include <offload/sem/parameterfile.h>

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QKeySequence>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

#include <sys/stat.h>

using namespace offload;
using namespace std::chrono_literals;

namespace {

sem::Description parse(const QByteArray &xml)
{
    const sem::ParseResult r = sem::parseDescription(xml);
    if (!r.ok())
        qFatal("description does not parse: %s (line %lld)", qPrintable(r.error), r.line);
    return *r.description;
}

sem::Description tour()
{
    QFile f(QStringLiteral(OFFLOAD_FORMS_TEST_DIR "/tour.xml"));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot read tour.xml");
    return parse(f.readAll());
}

// The label the form put beside an editor.
QLabel *labelOf(const ModuleForm &form, QWidget *editor)
{
    for (QLabel *label : form.findChildren<QLabel *>())
        if (label->buddy() == editor)
            return label;
    return nullptr;
}

template<typename T> T *editorAs(const ModuleForm &form, const char *name)
{
    return qobject_cast<T *>(form.editor(QLatin1String(name)));
}

void setCell(QTableWidget *table, int row, const QStringList &cells)
{
    for (int c = 0; c < cells.size(); ++c)
        table->setItem(row, c, new QTableWidgetItem(cells[c]));
}

QString binPath(const char *name)
{
    return QCoreApplication::applicationDirPath() + QLatin1Char('/') + QLatin1String(name);
}

// A description with n parameters of the common types, in groups of 20.
QByteArray bigDescription(int n)
{
    QByteArray xml = "<?xml version=\"1.0\"?><executable><title>Big</title>";
    for (int i = 0; i < n; ++i) {
        if (i % 20 == 0)
            xml += QByteArray(i ? "</parameters>" : "") + "<parameters"
                + (i >= 100 ? " advanced=\"true\"" : "") + "><label>Group "
                + QByteArray::number(i / 20) + "</label>";
        const QByteArray name = "p" + QByteArray::number(i);
        const char *tags[]
            = { "integer", "double", "boolean", "string", "string-enumeration", "file" };
        const QByteArray tag = tags[i % 6];
        xml += "<" + tag + "><name>" + name + "</name><longflag>" + name
            + "</longflag><label>Parameter " + QByteArray::number(i)
            + "</label><description>d</description>";
        if (tag == "integer" || tag == "double")
            xml += "<default>1</default><constraints><minimum>0</minimum><maximum>100</maximum></"
                   "constraints>";
        if (tag == "string-enumeration")
            xml += "<default>a</default><element>a</element><element>b</element>";
        xml += "</" + tag + ">";
    }
    return xml + "</parameters></executable>";
}

// A one-parameter description: body is the parameter element.
sem::Description one(const QByteArray &body, const QByteArray &groupLabel = "G")
{
    return parse("<executable><title>One</title><parameters><label>" + groupLabel + "</label>"
        + body + "</parameters></executable>");
}

QSlider *sliderOf(const ModuleForm &form, const char *name)
{
    QWidget *editor = form.editor(QLatin1String(name));
    return editor ? editor->parentWidget()->findChild<QSlider *>() : nullptr;
}

} // namespace

class tst_Forms : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void everyParameterTypeGetsItsEditorWithBoundsAndDefault();
    void sectionsFollowTheFileWithAdvancedCollapsed();
    void requiredIndicesAreMarkedAndEveryEditorLabelled();
    void valuesSetThroughTheWidgetsGiveTheExpectedCommandLine();
    void invalidInputShowsTheMessageAndBlocksIsValid();
    void sliderAndSpinBoxMoveTogether();
    void setValuesReportsWhatItCannotApply();
    void emptiedFieldsAreLeftOutOfTheCommandLine();
    void resetAndNullsReturnEveryFieldToItsDefault();
    void valuesChangedReportsChangedValuesOnly();
    void parameterFileRoundTripsAndBadFilesChangeNothing();
    void valuesPersistPerModuleInSettings();
    void tabOrderFollowsTheForm();
    void outputsAreFilledAfterARunOfAnInTreeModule();
    void twoHundredParametersBuildAFullForm();
    void elementsOutsideTheSchemaAndNamelessParametersGetEditors();
    void markupInADescriptionIsShownAsWritten();
    void everyCorpusDescriptionGivesAFormThatRunsItsValues_data();
    void everyCorpusDescriptionGivesAFormThatRunsItsValues();
    void screenshotsOfThreeDescriptions();

    // Hostile descriptions and values.
    void infiniteSpanSliderIsDefined();
    void nanStepIsDefined();
    void integerNanOrHugeNegativeConstraintsAreDefined();
    void integerSliderAtMinimumOfHugeRangeIsDefined();
    void integerSliderSyncOfTinyRangeIsDefined();
    void integersBeyondIntAreNotLost();
    void decimalsBeyondTheSpinBoxAreNotLost();
    void coordinatesBeyondThreeAreNotDropped();
    void valuesOfTheWrongShapeAreReported();
    void longTextIsNotTruncated();
    void labelsAreShownAsPlainText();
    void ampersandsInLabelsAreShown();
    void manyPathsAreSetInOnePass();
    void longLabelsDoNotWidenTheFormBeyondAnyScreen();
    void aValidFormGivesACommandLine();
};

void tst_Forms::everyParameterTypeGetsItsEditorWithBoundsAndDefault()
{
    const ModuleForm form(tour());

    auto *iterations = editorAs<QSpinBox>(form, "iterations");
    QVERIFY(iterations);
    QCOMPARE(iterations->minimum(), 1);
    QCOMPARE(iterations->maximum(), 500);
    QCOMPARE(iterations->singleStep(), 1);
    QCOMPARE(iterations->value(), 20);
    QVERIFY(iterations->parentWidget()->findChild<QSlider *>()); // both bounds: a slider beside

    auto *seed = editorAs<QSpinBox>(form, "seed");
    QVERIFY(seed);
    QCOMPARE(seed->value(), 7);
    QCOMPARE(seed->minimum(), std::numeric_limits<int>::min());
    QVERIFY(!seed->parentWidget()->findChild<QSlider *>()); // unbounded: no slider

    auto *sigma = editorAs<QDoubleSpinBox>(form, "sigma");
    QVERIFY(sigma);
    QCOMPARE(sigma->minimum(), 0.05);
    QCOMPARE(sigma->maximum(), 10.0);
    QCOMPARE(sigma->singleStep(), 0.05);
    QCOMPARE(sigma->value(), 1.25);
    QCOMPARE(form.values().value(QStringLiteral("sigma")), QVariant(QStringLiteral("1.25")));

    auto *tolerance = editorAs<QDoubleSpinBox>(form, "tolerance");
    QVERIFY(tolerance);
    QCOMPARE(tolerance->value(), 0.0001); // not rounded away by too few decimals
    QVERIFY(tolerance->decimals() >= 4);
    QVERIFY(tolerance->sizeHint().width() < 400); // unbounded, yet sized for ordinary numbers

    auto *verbose = editorAs<QCheckBox>(form, "verbose");
    QVERIFY(verbose);
    QVERIFY(!verbose->isChecked());
    QCOMPARE(editorAs<QLineEdit>(form, "note")->text(), QStringLiteral("hello"));

    auto *method = editorAs<QComboBox>(form, "method");
    QVERIFY(method);
    QCOMPARE(method->count(), 3);
    QCOMPARE(method->currentText(), QStringLiteral("box"));
    QCOMPARE(editorAs<QComboBox>(form, "order")->currentText(), QStringLiteral("3"));

    QCOMPARE(editorAs<QLineEdit>(form, "radius")->text(), QStringLiteral("1,2,3"));
    QCOMPARE(editorAs<QLineEdit>(form, "spacing")->text(), QStringLiteral("0.5,0.5,1"));
    QVERIFY(editorAs<QLineEdit>(form, "tags")->text().isEmpty());

    auto *seeds = editorAs<QTableWidget>(form, "seeds");
    QVERIFY(seeds);
    QCOMPARE(seeds->columnCount(), 3);
    QCOMPARE(seeds->rowCount(), 0); // multiple: rows are added
    auto *system = seeds->parentWidget()->findChild<QLabel *>(QStringLiteral("coordinateSystem"));
    QVERIFY(system);
    QVERIFY2(system->text().contains(QLatin1String("LPS")), qPrintable(system->text()));
    auto *centre = editorAs<QTableWidget>(form, "centre");
    QCOMPARE(centre->rowCount(), 1);
    QCOMPARE(centre->item(0, 2)->text(), QStringLiteral("0"));
    QCOMPARE(editorAs<QTableWidget>(form, "roi")->columnCount(), 6); // centre and radius

    for (const char *path : { "inputVolume", "outputVolume", "workdir", "transform", "stats",
             "surface", "curve", "landmarks" }) {
        auto *edit = editorAs<QLineEdit>(form, path);
        QVERIFY2(edit, path);
        QVERIFY2(!edit->isReadOnly(), path);
        QVERIFY2(edit->parentWidget()->findChild<QToolButton *>(), path); // a browse button
    }
    QVERIFY(editorAs<QListWidget>(form, "extras")); // multiple paths: a list

    QCOMPARE(editorAs<QSpinBox>(form, "threads")->value(), 2);
    QVERIFY(!form.editor(QStringLiteral("secret"))); // hidden
    QVERIFY(!form.editor(QStringLiteral("nonexistent")));

    auto *count = editorAs<QLineEdit>(form, "count"); // a return parameter: read-only
    QVERIFY(count);
    QVERIFY(count->isReadOnly());
    QVERIFY(editorAs<QLineEdit>(form, "centroid")->isReadOnly());
}

void tst_Forms::sectionsFollowTheFileWithAdvancedCollapsed()
{
    const ModuleForm form(tour());
    QCOMPARE(form.sectionCount(), 6);
    for (int i = 0; i < form.sectionCount(); ++i)
        QCOMPARE(form.isSectionExpanded(i), i != 4); // "Advanced" is the fifth
    const QList<QToolButton *> headers = form.findChildren<QToolButton *>();
    QStringList titles;
    for (QToolButton *b : headers)
        if (b->isCheckable())
            titles << b->text();
    QCOMPARE(titles,
        QStringList({ "Scalars", "Choices and vectors", "Geometry", "Input and output", "Advanced",
            "Results" }));

    // A group with only hidden parameters has no section.
    const ModuleForm hiddenOnly(parse(R"(<executable><title>H</title>
        <parameters><label>Shown</label><integer><name>a</name><longflag>a</longflag></integer></parameters>
        <parameters><label>Gone</label><integer hidden="true"><name>b</name><longflag>b</longflag></integer></parameters>
        </executable>)"));
    QCOMPARE(hiddenOnly.sectionCount(), 1);
}

void tst_Forms::requiredIndicesAreMarkedAndEveryEditorLabelled()
{
    const ModuleForm form(tour());
    QCOMPARE(labelOf(form, form.editor(QStringLiteral("inputVolume")))->text(),
        QStringLiteral("Input volume *"));
    QCOMPARE(labelOf(form, form.editor(QStringLiteral("sigma")))->text(), QStringLiteral("Sigma"));
    for (const sem::Parameter *p : form.description().parameters()) {
        QWidget *editor = form.editor(p->name);
        if (p->hidden) {
            QVERIFY(!editor);
            continue;
        }
        QVERIFY2(editor, qPrintable(p->name));
        QCOMPARE(editor->accessibleName(), p->label);
        QVERIFY2(editor->accessibleDescription().contains(p->description), qPrintable(p->name));
        QCOMPARE(
            editor->toolTip(), QStringLiteral("<p>%1</p>").arg(p->description.toHtmlEscaped()));
        QVERIFY2(labelOf(form, editor), qPrintable(p->name));
    }
    QVERIFY(form.editor(QStringLiteral("inputVolume"))
                ->accessibleDescription()
                .contains(QLatin1String("Required")));
}

void tst_Forms::valuesSetThroughTheWidgetsGiveTheExpectedCommandLine()
{
    ModuleForm form(tour());
    editorAs<QSpinBox>(form, "iterations")->setValue(42);
    editorAs<QDoubleSpinBox>(form, "sigma")->setValue(2.5);
    editorAs<QCheckBox>(form, "verbose")->setChecked(true);
    auto *note = editorAs<QLineEdit>(form, "note");
    note->clear();
    QTest::keyClicks(note, QStringLiteral("two words"));
    editorAs<QComboBox>(form, "method")->setCurrentText(QStringLiteral("median"));
    auto *radius = editorAs<QLineEdit>(form, "radius");
    radius->clear();
    QTest::keyClicks(radius, QStringLiteral("4, 5,6"));
    auto *seeds = editorAs<QTableWidget>(form, "seeds");
    auto *addPoint = seeds->parentWidget()->findChild<QToolButton *>();
    QVERIFY(addPoint);
    QCOMPARE(addPoint->text(), QStringLiteral("Add point"));
    addPoint->click();
    addPoint->click();
    QCOMPARE(seeds->rowCount(), 2);
    setCell(seeds, 0, { "1", "2", "3" });
    setCell(seeds, 1, { "-4.5", "5", "6" });
    setCell(editorAs<QTableWidget>(form, "roi"), 0, { "0", "0", "0", "10", "10", "5" });
    QTest::keyClicks(editorAs<QLineEdit>(form, "inputVolume"), QStringLiteral("in.nrrd"));
    QTest::keyClicks(editorAs<QLineEdit>(form, "outputVolume"), QStringLiteral("out.nrrd"));
    editorAs<QSpinBox>(form, "threads")->setValue(8);
    QVERIFY2(form.isValid(), qPrintable(form.errors().join('\n')));

    const sem::CommandLine cl
        = sem::buildCommandLine(form.description(), form.values(), QStringLiteral("/tmp/ret.txt"));
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    const QStringList expected { "--iterations", "42", "-s", "7", "--sigma", "2.5", "--tolerance",
        "0.0001", "--verbose", "--note", "two words", "--method", "median", "--order", "3",
        "--radius", "4,5,6", "--spacing", "0.5,0.5,1", "--seed", "1,2,3", "--seed", "-4.5,5,6",
        "--centre", "0,0,0", "--roi", "0,0,0,10,10,5", "--threads", "8", "--secret", "s3",
        "--returnparameterfile", "/tmp/ret.txt", "in.nrrd", "out.nrrd" };
    QCOMPARE(cl.arguments, expected);
}

void tst_Forms::invalidInputShowsTheMessageAndBlocksIsValid()
{
    ModuleForm form(tour());
    // A fresh form lacks the two required images.
    QVERIFY(!form.isValid());
    QVERIFY(form.error(QStringLiteral("inputVolume")).contains(QLatin1String("missing value")));
    QTest::keyClicks(editorAs<QLineEdit>(form, "inputVolume"), QStringLiteral("in.nrrd"));
    QSignalSpy validity(&form, &ModuleForm::validityChanged);
    QTest::keyClicks(editorAs<QLineEdit>(form, "outputVolume"), QStringLiteral("o"));
    QCOMPARE(validity.count(), 1);
    QCOMPARE(validity.last().first().toBool(), true);
    QVERIFY(form.isValid());

    // A vector element that is not an integer: the message is under the field as it is typed.
    auto *radius = editorAs<QLineEdit>(form, "radius");
    radius->clear();
    QTest::keyClicks(radius, QStringLiteral("1,x"));
    QVERIFY(!form.isValid());
    QCOMPARE(validity.count(), 2);
    const QString message = form.error(QStringLiteral("radius"));
    QVERIFY2(message.contains(QLatin1String("expects an integer")), qPrintable(message));
    QLabel *shown = nullptr;
    for (QLabel *l : radius->parentWidget()->findChildren<QLabel *>())
        if (l->text() == message)
            shown = l;
    QVERIFY(shown);
    QVERIFY(!shown->isHidden());
    QCOMPARE(form.errors(), QStringList { message });
    // The same words buildCommandLine gives.
    QCOMPARE(sem::buildCommandLine(form.description(), form.values()).error, message);

    QTest::keyClick(radius, Qt::Key_Backspace);
    QTest::keyClicks(radius, QStringLiteral("2"));
    QVERIFY(form.isValid());
    QVERIFY(shown->isHidden());

    // A point with a coordinate missing.
    auto *centre = editorAs<QTableWidget>(form, "centre");
    centre->item(0, 1)->setText(QString());
    QVERIFY(!form.isValid());
    QVERIFY(form.error(QStringLiteral("centre")).contains(QLatin1String("3 finite numbers")));
    centre->item(0, 1)->setText(QStringLiteral("nan"));
    QVERIFY(form.error(QStringLiteral("centre")).contains(QLatin1String("3 finite numbers")));
    centre->item(0, 1)->setText(QStringLiteral("1.5"));
    QVERIFY(form.isValid());
}

void tst_Forms::sliderAndSpinBoxMoveTogether()
{
    const ModuleForm form(tour());
    auto *sigma = editorAs<QDoubleSpinBox>(form, "sigma");
    auto *slider = sigma->parentWidget()->findChild<QSlider *>();
    QVERIFY(slider);
    slider->setValue(slider->maximum());
    QCOMPARE(sigma->value(), 10.0);
    slider->setValue(slider->minimum());
    QCOMPARE(sigma->value(), 0.05);
    sigma->setValue(5.05);
    QCOMPARE(slider->value(), 100); // (5.05 - 0.05) / 0.05
    QCOMPARE(form.values().value(QStringLiteral("sigma")).toDouble(), 5.05);
}

void tst_Forms::setValuesReportsWhatItCannotApply()
{
    ModuleForm form(tour());
    const QStringList complaints = form.setValues({ { "iterations", 33 }, { "method", "gaussian" },
        { "verbose", "true" }, { "extras", QStringList { "a.txt", "b.txt" } },
        { "seeds", QVariantList { "1,2,3", "4,5,6" } }, { "order", 4 }, { "secret", "x" },
        { "count", 3 }, { "nosuch", 1 }, { "sigma", 99 } });
    QCOMPARE(complaints.size(), 5);
    QVERIFY(complaints.filter(QLatin1String("'order'")).size() == 1); // not an element
    QVERIFY(complaints.filter(QLatin1String("'secret' is hidden")).size() == 1);
    QVERIFY(complaints.filter(QLatin1String("'count' is an output")).size() == 1);
    QVERIFY(complaints.filter(QLatin1String("'nosuch' is not a parameter")).size() == 1);
    QVERIFY(complaints.filter(QLatin1String("'sigma'")).size() == 1); // above the maximum
    const QVariantMap v = form.values();
    QCOMPARE(v.value("iterations").toInt(), 33);
    QCOMPARE(v.value("method").toString(), QStringLiteral("gaussian"));
    QCOMPARE(v.value("verbose").toBool(), true);
    QCOMPARE(v.value("extras").toStringList(), QStringList({ "a.txt", "b.txt" }));
    QCOMPARE(v.value("seeds").toStringList(), QStringList({ "1,2,3", "4,5,6" }));
    QCOMPARE(v.value("order").toString(), QStringLiteral("3"));
    QCOMPARE(v.value("sigma").toDouble(), 1.25);
    QVERIFY(!v.contains("secret"));
    QVERIFY(!v.contains("count"));

    form.resetToDefaults();
    QCOMPARE(form.values().value("iterations").toInt(), 20);
    QCOMPARE(form.values().value("method").toString(), QStringLiteral("box"));
    QVERIFY(form.values().value("extras").toStringList().isEmpty());
}

void tst_Forms::emptiedFieldsAreLeftOutOfTheCommandLine()
{
    ModuleForm form(tour());
    form.setValues({ { "inputVolume", "in.nrrd" }, { "outputVolume", "out.nrrd" } });
    editorAs<QLineEdit>(form, "note")->clear(); // had a default: cleared means not passed
    editorAs<QLineEdit>(form, "radius")->clear();
    editorAs<QTableWidget>(form, "centre")->clearContents();
    const sem::CommandLine cl = sem::buildCommandLine(form.description(), form.values());
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    QVERIFY(!cl.arguments.contains(QStringLiteral("--note")));
    QVERIFY(!cl.arguments.contains(QStringLiteral("--radius")));
    QVERIFY(!cl.arguments.contains(QStringLiteral("--centre")));
    QVERIFY(cl.arguments.contains(QStringLiteral("--spacing"))); // untouched: its default

    editorAs<QLineEdit>(form, "inputVolume")->clear(); // an index parameter is required
    QVERIFY(!form.isValid());
}

void tst_Forms::resetAndNullsReturnEveryFieldToItsDefault()
{
    // Fields without a default go back to the editor's empty state, as a fresh form has them.
    ModuleForm form(one("<boolean><name>b</name><longflag>b</longflag></boolean>"
                        "<string-enumeration><name>e</name><longflag>e</longflag>"
                        "<element>x</element><element>y</element></string-enumeration>"
                        "<integer><name>n</name><longflag>n</longflag><constraints><minimum>5"
                        "</minimum></constraints></integer>"
                        "<string><name>s</name><longflag>s</longflag><default>d</default></string>"
                        "<file multiple=\"true\"><name>f</name><longflag>f</longflag></file>"
                        "<point multiple=\"true\"><name>p</name><longflag>p</longflag></point>"));
    const QVariantMap fresh = form.values();
    QCOMPARE(fresh.value("e").toString(), QStringLiteral("x"));
    QCOMPARE(fresh.value("n").toInt(), 5);
    QCOMPARE(form.setValues({ { "b", true }, { "e", "y" }, { "n", 9 }, { "s", "t" },
                 { "f", QStringList { "a" } }, { "p", QStringList { "1,2,3" } } }),
        QStringList());
    QVERIFY(form.values() != fresh);
    form.resetToDefaults();
    QCOMPARE(form.values(), fresh);

    // null in a parameter file: that parameter back to its default; the others as given.
    form.setValues({ { "b", true }, { "s", "t" }, { "n", 9 } });
    QTemporaryDir dir;
    QFile file(dir.filePath(QStringLiteral("p.json")));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(R"({"b": null, "s": null, "n": 7, "gone": null})");
    file.close();
    QStringList notApplied;
    QCOMPARE(form.loadParameterFile(file.fileName(), &notApplied), QString());
    QCOMPARE(notApplied.size(), 1);
    QVERIFY(notApplied.first().contains(QLatin1String("'gone'")));
    QCOMPARE(form.values().value("b").toBool(), false);
    QCOMPARE(form.values().value("s").toString(), QStringLiteral("d"));
    QCOMPARE(form.values().value("n").toInt(), 7);
}

void tst_Forms::valuesChangedReportsChangedValuesOnly()
{
    ModuleForm form(tour());
    QSignalSpy changed(&form, &ModuleForm::valuesChanged);
    form.setOutputValues({ { "count", 3 }, { "centroid", QVariantList { 1, 2 } } });
    form.clearOutputValues();
    QCOMPARE(changed.count(), 0); // outputs are not values
    form.setValues({ { "seeds", QStringList {} } }); // already empty
    form.setValues({ { "extras", QStringList {} } });
    QCOMPARE(changed.count(), 0);
    form.setValues({ { "iterations", 21 }, { "seeds", QStringList { "1,2,3" } } });
    QCOMPARE(changed.count(), 2);
}

void tst_Forms::parameterFileRoundTripsAndBadFilesChangeNothing()
{
    QTemporaryDir dir;
    ModuleForm form(tour());
    form.setValues({ { "iterations", 77 }, { "sigma", 0.35 }, { "verbose", true },
        { "note", "é ü 漢" }, { "radius", "9,8,7" }, { "seeds", QStringList { "1,2,3" } },
        { "roi", "1,2,3,4,5,6" }, { "inputVolume", "/data/in put.nrrd" },
        { "outputVolume", "out.nrrd" }, { "extras", QStringList { "x.txt" } } });
    const QString path = dir.filePath(QStringLiteral("params.json"));
    QCOMPARE(form.saveParameterFile(path), QString());

    ModuleForm loaded(tour());
    QStringList notApplied;
    QCOMPARE(loaded.loadParameterFile(path, &notApplied), QString());
    QVERIFY2(notApplied.isEmpty(), qPrintable(notApplied.join('\n')));
    QCOMPARE(sem::buildCommandLine(loaded.description(), loaded.values()).arguments,
        sem::buildCommandLine(form.description(), form.values()).arguments);
    QCOMPARE(loaded.values().value("note").toString(), QStringLiteral("é ü 漢"));

    // What cannot be read leaves the form as it was, and says why.
    const QVariantMap before = loaded.values();
    QFile bad(dir.filePath(QStringLiteral("bad.json")));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write("{\"iterations\": 5, \"sigma\": {\"nested\": 1}}");
    bad.close();
    QVERIFY(loaded.loadParameterFile(bad.fileName()).contains(QLatin1String("'sigma'")));
    QVERIFY(loaded.loadParameterFile(dir.filePath(QStringLiteral("missing.json")))
                .contains(QLatin1String("missing.json")));
    const QByteArray fifo = QFile::encodeName(dir.filePath(QStringLiteral("fifo.json")));
    QCOMPARE(::mkfifo(fifo.constData(), 0600), 0);
    QVERIFY(!loaded.loadParameterFile(QFile::decodeName(fifo)).isEmpty()); // refused, not blocked
    QVERIFY(!loaded.loadParameterFile(dir.path()).isEmpty());
    QCOMPARE(loaded.values(), before);
}

void tst_Forms::valuesPersistPerModuleInSettings()
{
    QTemporaryDir dir;
    QSettings settings(dir.filePath(QStringLiteral("s.ini")), QSettings::IniFormat);
    {
        ModuleForm form(tour());
        form.setValues({ { "iterations", 64 }, { "method", "median" }, { "tags", "a,b" } });
        form.saveSettings(settings);
        ModuleForm other(parse(
            "<executable><title>Other/Module</title><parameters>"
            "<integer><name>iterations</name><longflag>i</longflag><default>1</default></integer>"
            "</parameters></executable>"));
        other.saveSettings(settings);
    }
    ModuleForm again(tour());
    QCOMPARE(again.restoreSettings(settings), QStringList());
    QCOMPARE(again.values().value("iterations").toInt(), 64);
    QCOMPARE(again.values().value("method").toString(), QStringLiteral("median"));
    QCOMPARE(again.values().value("tags").toString(), QStringLiteral("a,b"));

    ModuleForm renamed(tour());
    renamed.setSettingsKey(QStringLiteral("never saved"));
    QCOMPARE(renamed.restoreSettings(settings), QStringList());
    QCOMPARE(renamed.values().value("iterations").toInt(), 20); // nothing saved under this key
}

void tst_Forms::tabOrderFollowsTheForm()
{
    ModuleForm form(tour());
    for (int i = 0; i < form.sectionCount(); ++i)
        form.setSectionExpanded(i, true);
    form.show();
    form.activateWindow(); // keyboard focus needs the active window in a real X server
    QVERIFY(QTest::qWaitForWindowActive(&form));
    // Tab from the first editor through the form: every shown editor is reached, in form order.
    QStringList expected;
    for (const sem::Parameter *p : form.description().parameters())
        if (!p->hidden)
            expected << p->name;
    QWidget *first = form.editor(expected.first());
    first->setFocus();
    QTRY_VERIFY_WITH_TIMEOUT(
        first->hasFocus() || first->isAncestorOf(QApplication::focusWidget()), 5000);
    QStringList reached;
    for (int i = 0; i < 400 && reached.size() < expected.size(); ++i) {
        QWidget *focus = QApplication::focusWidget();
        for (const QString &name : expected) {
            QWidget *editor = form.editor(name);
            if ((focus == editor || editor->isAncestorOf(focus)) && !reached.contains(name))
                reached << name;
        }
        QTest::keyClick(focus, Qt::Key_Tab); // tables too: their cells are reached with arrows
    }
    QCOMPARE(reached, expected);
}

void tst_Forms::outputsAreFilledAfterARunOfAnInTreeModule()
{
    QTemporaryDir dir;
    ModuleRunner runner(1);
    QObject context;
    auto described = runner.describe(&context, binPath("offload-example-blur"));
    QVERIFY(described.waitForFinished(20s));
    QCOMPARE(described.state(), TaskState::Finished);
    const Module module = described.result();

    ModuleForm form(module.description);
    QVERIFY(!form.isValid()); // the summary file (index 0) is required
    QTest::keyClicks(
        editorAs<QLineEdit>(form, "summary"), dir.filePath(QStringLiteral("summary.txt")));
    editorAs<QSpinBox>(form, "iterations")->setValue(5);
    editorAs<QComboBox>(form, "method")->setCurrentText(QStringLiteral("box"));
    QVERIFY2(form.isValid(), qPrintable(form.errors().join('\n')));
    auto *checksum = editorAs<QLineEdit>(form, "checksum");
    QVERIFY(checksum && checksum->isReadOnly() && checksum->text().isEmpty());

    auto run = runner.run(&context, module, form.values()); // taken as it is
    QVERIFY(run.waitForFinished(30s));
    QCOMPARE(run.state(), TaskState::Finished);
    const sem::ReturnValues returned = ModuleRunner::returnValues(module, run.result());
    QVERIFY(returned.values.contains(QStringLiteral("checksum")));
    form.setOutputValues(returned.values);
    QCOMPARE(checksum->text(), returned.values.value(QStringLiteral("checksum")).toString());
    QVERIFY(!checksum->text().isEmpty());
    QCOMPARE(editorAs<QLineEdit>(form, "status")->text(),
        returned.values.value(QStringLiteral("status")).toString());
    QVERIFY(QFile::exists(dir.filePath(QStringLiteral("summary.txt"))));
    QVERIFY(!form.values().contains(QStringLiteral("checksum")));

    form.clearOutputValues();
    QVERIFY(checksum->text().isEmpty());
}

void tst_Forms::twoHundredParametersBuildAFullForm()
{
    const ModuleForm form(parse(bigDescription(200)));
    QCOMPARE(form.sectionCount(), 10);
    QCOMPARE(form.values().size(), 200);
    QVERIFY(form.isValid());
    QCOMPARE(form.isSectionExpanded(4), true);
    QCOMPARE(form.isSectionExpanded(5), false); // groups from parameter 100 on are advanced
    QVERIFY(editorAs<QDoubleSpinBox>(form, "p199"));
}

void tst_Forms::elementsOutsideTheSchemaAndNamelessParametersGetEditors()
{
    const ModuleForm form(parse(R"(<executable><title>Girder</title><parameters><label>I/O</label>
        <item><name>annotation</name><longflag>annotation</longflag><label>Annotation item</label>
          <description>A Girder item id</description><default>abc</default></item>
        <file><longflag>input-file</longflag><label>Input</label><channel>input</channel>
          <description>Named from its longflag</description></file>
        </parameters></executable>)"));
    QVERIFY(form.description().warnings.size() >= 2);
    auto *item = editorAs<QLineEdit>(form, "annotation");
    QVERIFY(item);
    QCOMPARE(item->text(), QStringLiteral("abc"));
    QVERIFY(item->placeholderText().contains(QLatin1String("<item>")));
    QTest::keyClicks(editorAs<QLineEdit>(form, "input-file"), QStringLiteral("in.tif"));
    item->clear();
    QTest::keyClicks(item, QStringLiteral("65a1,f0"));
    QVERIFY(form.isValid());
    QCOMPARE(sem::buildCommandLine(form.description(), form.values()).arguments,
        QStringList({ "--annotation", "65a1,f0", "--input-file", "in.tif" }));
}

void tst_Forms::markupInADescriptionIsShownAsWritten()
{
    const ModuleForm form(parse(R"(<executable><title>T</title><parameters><label>G</label>
        <integer><name>n</name><longflag>n</longflag><label>&lt;b&gt;bold&lt;/b&gt; &lt;img src="x.png"&gt;</label>
          <description>&lt;a href="http://example.com"&gt;link&lt;/a&gt; &amp; more</description></integer>
        </parameters></executable>)"));
    QLabel *label = labelOf(form, form.editor(QStringLiteral("n")));
    QVERIFY(label);
    QCOMPARE(label->textFormat(), Qt::PlainText);
    QCOMPARE(label->text(), QStringLiteral("<b>bold</b> <img src=\"x.png\">"));
    QCOMPARE(form.editor(QStringLiteral("n"))->toolTip(),
        QStringLiteral(
            "<p>&lt;a href=&quot;http://example.com&quot;&gt;link&lt;/a&gt; &amp; more</p>"));
}

void tst_Forms::everyCorpusDescriptionGivesAFormThatRunsItsValues_data()
{
    QTest::addColumn<QString>("xml");
    const QDir corpus(QStringLiteral(OFFLOAD_SEM_CORPUS_DIR));
    const QStringList files
        = corpus.entryList({ QStringLiteral("*.xml") }, QDir::Files, QDir::Name);
    QVERIFY(files.size() >= 30);
    for (const QString &f : files)
        QTest::newRow(qPrintable(f)) << corpus.filePath(f);
}

// The form of every description in the sem corpus: each shown parameter has a labelled editor,
// the corpus's values can be set through the form, and the command line built from the form
// holds every argument the corpus expects (the form adds the values it shows, such as a
// number without a default).
void tst_Forms::everyCorpusDescriptionGivesAFormThatRunsItsValues()
{
    QFETCH(QString, xml);
    QFile file(xml);
    QVERIFY(file.open(QIODevice::ReadOnly));
    ModuleForm form(parse(file.readAll()));
    for (const sem::Parameter *p : form.description().parameters()) {
        if (p->hidden)
            continue;
        QWidget *editor = form.editor(p->name);
        QVERIFY2(editor, qPrintable(p->name));
        QVERIFY2(!editor->accessibleName().isEmpty(), qPrintable(p->name));
    }
    QFile expectFile(xml.chopped(4) + QStringLiteral(".expect.json"));
    QVERIFY(expectFile.open(QIODevice::ReadOnly));
    const QJsonObject expect = QJsonDocument::fromJson(expectFile.readAll()).object();
    const QVariantMap given = expect.value(QStringLiteral("values")).toObject().toVariantMap();
    for (const QString &complaint : form.setValues(given))
        QVERIFY2(complaint.contains(QLatin1String("hidden")), qPrintable(complaint));
    const QString returnFile = expect.value(QStringLiteral("returnParameterFile")).toString();
    const sem::CommandLine cl
        = sem::buildCommandLine(form.description(), form.values(), returnFile);
    QVERIFY2(cl.ok(), qPrintable(cl.error));
    QCOMPARE(form.isValid(), true);
    // Numbers compare as numbers: the form writes 2e+13 as 20000000000000.
    const auto same = [](const QString &a, const QString &b) {
        bool okA = false, okB = false;
        const double x = a.toDouble(&okA), y = b.toDouble(&okB);
        return a == b || (okA && okB && x == y);
    };
    QStringList remaining = cl.arguments;
    const auto take = [&](const QString &arg) {
        for (qsizetype i = 0; i < remaining.size(); ++i)
            if (same(remaining[i], arg))
                return remaining.removeAt(i), true;
        return false;
    };
    for (const QJsonValue &arg : expect.value(QStringLiteral("arguments")).toArray())
        QVERIFY2(take(arg.toString()),
            qPrintable(QStringLiteral("'%1' missing from %2")
                           .arg(arg.toString(), cl.arguments.join(QLatin1Char(' ')))));
}

// Screenshots of the forms of three descriptions, for people to look at: saved as PNG in
// $OFFLOAD_SCREENSHOT_DIR (when set). Run under Xvfb by the forms_xvfb test, where the
// platform must be a real X server (OFFLOAD_EXPECT_PLATFORM=xcb); the pixels are checked to
// hold a drawn form, not a blank window.
void tst_Forms::screenshotsOfThreeDescriptions()
{
    const QByteArray expectPlatform = qgetenv("OFFLOAD_EXPECT_PLATFORM");
    if (!expectPlatform.isEmpty())
        QCOMPARE(QGuiApplication::platformName(), QString::fromLatin1(expectPlatform));
    QFile blur(binPath("offload-example-blur.xml"));
    QVERIFY(blur.open(QIODevice::ReadOnly));
    const QByteArray registration = R"(<?xml version="1.0"?>
<executable><category>Registration</category><title>Rigid Registration</title>
<parameters><label>Volumes</label><description>Images to register</description>
<image><name>fixed</name><label>Fixed image</label><channel>input</channel><index>0</index><description>The reference</description></image>
<image><name>moving</name><label>Moving image</label><channel>input</channel><index>1</index><description>The image moved</description></image>
<transform type="linear"><name>result</name><longflag>result</longflag><label>Result transform</label><channel>output</channel><description>Fixed to moving</description></transform>
</parameters>
<parameters><label>Optimiser</label><description>How the search runs</description>
<integer><name>iterations</name><longflag>iterations</longflag><label>Iterations</label><description>Per level</description><default>200</default><constraints><minimum>1</minimum><maximum>5000</maximum><step>10</step></constraints></integer>
<double><name>learningRate</name><longflag>learningRate</longflag><label>Learning rate</label><description>Step size</description><default>0.01</default><constraints><minimum>0.0001</minimum><maximum>1</maximum><step>0.0001</step></constraints></double>
<string-enumeration><name>metric</name><longflag>metric</longflag><label>Metric</label><description>Similarity</description><default>MattesMI</default><element>MattesMI</element><element>MeanSquares</element><element>Correlation</element></string-enumeration>
<integer-vector><name>shrink</name><longflag>shrink</longflag><label>Shrink factors</label><description>Per level</description><default>4,2,1</default></integer-vector>
<point multiple="true" coordinateSystem="ras"><name>landmarks</name><longflag>landmark</longflag><label>Landmarks</label><description>Corresponding points</description></point>
</parameters>
<parameters advanced="true"><label>Advanced</label><description>Rarely changed</description>
<boolean><name>histogramMatch</name><longflag>histogramMatch</longflag><label>Histogram matching</label><description>Match intensities first</description></boolean>
</parameters></executable>)";
    struct Shot
    {
        const char *file;
        QByteArray xml;
        std::function<void(ModuleForm &)> fill;
    };
    const std::vector<Shot> shots {
        { "form-tour.png",
            [] {
                QFile f(QStringLiteral(OFFLOAD_FORMS_TEST_DIR "/tour.xml"));
                return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
            }(),
            [](ModuleForm &f) {
                f.setValues({ { "seeds", QStringList { "1,2,3", "-4.5,5,6" } },
                    { "inputVolume", "/data/head.nrrd" }, { "radius", "1,x" } });
            } },
        { "form-blur.png", blur.readAll(),
            [](ModuleForm &f) {
                f.setOutputValues(
                    { { "checksum", 123456 }, { "mean", 0.5 }, { "status", "done" } });
            } },
        { "form-registration.png", registration,
            [](ModuleForm &f) {
                f.setValues({ { "fixed", "/data/fixed.nrrd" } });
            } },
    };
    const QString dir = qEnvironmentVariable("OFFLOAD_SCREENSHOT_DIR");
    for (const Shot &shot : shots) {
        ModuleForm form(parse(shot.xml));
        shot.fill(form);
        form.show();
        const int width = 560; // wrapped messages make the height depend on the width
        form.resize(width, std::max(form.sizeHint().height(), form.heightForWidth(width)));
        QVERIFY(QTest::qWaitForWindowExposed(&form));
        const QImage image = form.grab().toImage();
        QVERIFY(image.width() >= 500 && image.height() >= 200);
        // A drawn form has many colours (text, frames, widgets), a blank window one.
        QSet<QRgb> colours;
        for (int y = 0; y < image.height(); y += 3)
            for (int x = 0; x < image.width(); x += 3)
                colours.insert(image.pixel(x, y));
        QVERIFY2(colours.size() > 20, shot.file);
        if (!dir.isEmpty())
            QVERIFY(image.save(dir + QLatin1Char('/') + QLatin1String(shot.file)));
    }
}

// A float bounded by -1e308 and 1e308 (or by infinities): the span overflows to infinity, and
// the slider's step count is round(inf / (inf / 1000)) = NaN, converted to int (undefined
// behaviour; UBSan aborts in NumberField's constructor). A plain build gets INT_MIN steps: a
// slider that cannot move.
void tst_Forms::infiniteSpanSliderIsDefined()
{
    for (const QByteArray &bounds :
        { QByteArray("<minimum>-1e308</minimum><maximum>1e308</maximum>"),
            QByteArray("<minimum>-inf</minimum><maximum>inf</maximum>") }) {
        const ModuleForm form(one("<double><name>x</name><longflag>x</longflag><default>0</default>"
                                  "<constraints>"
            + bounds + "</constraints></double>"));
        QVERIFY(form.isValid());
        if (QSlider *slider = sliderOf(form, "x")) {
            QVERIFY2(slider->maximum() > slider->minimum(), bounds.constData());
            slider->setValue(slider->maximum());
            QVERIFY2(form.isValid(), qPrintable(form.errors().join('\n')));
            slider->setValue(slider->minimum());
            QVERIFY2(form.isValid(), qPrintable(form.errors().join('\n')));
        }
    }
}

// step NaN ("nan" is a number to QString::toDouble): round(span / NaN) converted to int.
void tst_Forms::nanStepIsDefined()
{
    const ModuleForm form(one("<double><name>x</name><longflag>x</longflag><default>0.5</default>"
                              "<constraints><minimum>0</minimum><maximum>1</maximum>"
                              "<step>nan</step></constraints></double>"));
    QSlider *slider = sliderOf(form, "x");
    QVERIFY(slider);
    QVERIFY(slider->maximum() > slider->minimum());
    auto *spin = editorAs<QDoubleSpinBox>(form, "x");
    spin->stepBy(1); // a NaN single step would make the value NaN
    QVERIFY2(form.isValid(), qPrintable(form.errors().join('\n')));
}

// Integer constraints that are NaN or -1e308: int(NaN) and int(-1e308) in NumberField's
// constructor (setRange, setSingleStep) are undefined behaviour.
void tst_Forms::integerNanOrHugeNegativeConstraintsAreDefined()
{
    for (const QByteArray &constraints :
        { QByteArray("<minimum>nan</minimum>"), QByteArray("<maximum>nan</maximum>"),
            QByteArray("<step>nan</step>"), QByteArray("<step>-1e308</step>") }) {
        const ModuleForm form(one("<integer><name>n</name><longflag>n</longflag>"
                                  "<default>3</default><constraints>"
            + constraints + "</constraints></integer>"));
        QCOMPARE(form.values().value("n").toInt(), 3);
    }
}

// An integer between -1e308 and 1e308: moving the slider to its minimum computes
// -1e308 + inf * 0 = NaN and converts it to int (undefined behaviour in setNumber).
void tst_Forms::integerSliderAtMinimumOfHugeRangeIsDefined()
{
    for (const QByteArray &bounds :
        { QByteArray("<minimum>-1e308</minimum><maximum>1e308</maximum>"),
            QByteArray("<minimum>-1e300</minimum><maximum>1e300</maximum>") }) {
        const ModuleForm form(
            one("<integer><name>n</name><longflag>n</longflag><default>3</default>"
                "<constraints>"
                + bounds + "</constraints></integer>"));
        QCOMPARE(form.values().value("n").toLongLong(), 3);
        // A span beyond any double (2e308) gets no slider; 2e300 does, and its ends are defined.
        if (QSlider *slider = sliderOf(form, "n")) {
            slider->setValue(slider->maximum() / 2);
            slider->setValue(slider->maximum());
            slider->setValue(slider->minimum());
            QVERIFY(form.isValid());
            QVERIFY(std::abs(form.values().value("n").toDouble()) <= 9007199254740992.0);
        }
    }
    QVERIFY(!sliderOf(ModuleForm(one("<integer><name>n</name><longflag>n</longflag><constraints>"
                                     "<minimum>-1e308</minimum><maximum>1e308</maximum>"
                                     "</constraints></integer>")),
        "n"));
}

// An integer with fractional bounds closer than 1: the spin box holds ceil(minimum), far
// outside [minimum, maximum] relative to the span, and syncSlider converts
// (1 - 1e-10) / 1e-10 = 1e10 to int (undefined behaviour).
void tst_Forms::integerSliderSyncOfTinyRangeIsDefined()
{
    const ModuleForm form(one("<integer><name>n</name><longflag>n</longflag><default>1</default>"
                              "<constraints><minimum>1e-10</minimum><maximum>2e-10</maximum>"
                              "</constraints></integer>"));
    QVERIFY(form.editor(QStringLiteral("n")));
}

// Integers are 64-bit to buildCommandLine (toLongLong) but the form's QSpinBox holds an int:
// a default of 5000000000 is silently replaced by 0 in a valid form, and a module whose
// integer lies in [3e9, 4e9] can never be given a valid value.
void tst_Forms::integersBeyondIntAreNotLost()
{
    {
        const ModuleForm form(one("<integer><name>seed</name><longflag>seed</longflag>"
                                  "<default>5000000000</default></integer>"));
        QVERIFY2(form.values().value("seed").toLongLong() == 5000000000LL || !form.isValid(),
            qPrintable(form.values().value("seed").toString()));
    }
    {
        ModuleForm form(one("<integer><name>big</name><longflag>big</longflag>"
                            "<default>3500000000</default><constraints><minimum>3e9</minimum>"
                            "<maximum>4e9</maximum></constraints></integer>"));
        QCOMPARE(form.setValues({ { "big", QStringLiteral("3500000000") } }), QStringList());
        QCOMPARE(form.values().value("big").toLongLong(), 3500000000LL);
        QVERIFY2(form.isValid(), qPrintable(form.errors().join('\n')));
    }
}

// A double shows as many decimals as the description's numbers need, at most 15: a value
// with more is rounded without a word (setValues and loadParameterFile report nothing), and a
// default of 1e-17 becomes 0.
void tst_Forms::decimalsBeyondTheSpinBoxAreNotLost()
{
    QStringList problems;
    {
        ModuleForm form(one("<double><name>x</name><longflag>x</longflag><default>0.5</default>"
                            "</double>"));
        const QStringList complaints = form.setValues({ { "x", 0.123456 } });
        if (form.values().value("x").toString() != QLatin1String("0.123456")
            && complaints.isEmpty())
            problems << QStringLiteral("0.123456 set without a complaint, the form holds ")
                    + form.values().value("x").toString();
    }
    {
        const ModuleForm form(one("<double><name>eps</name><longflag>eps</longflag>"
                                  "<default>1e-17</default></double>"));
        if (form.values().value("eps").toString().toDouble() != 1e-17)
            problems << QStringLiteral("default 1e-17 became ")
                    + form.values().value("eps").toString();
    }
    {
        // 1e-20 as the minimum rounds to a spin box minimum of 0: the slider's (and the spin
        // box's) lowest value is below the constraint, and the form turns invalid.
        const ModuleForm form(
            one("<double><name>x</name><longflag>x</longflag><default>0.5</default>"
                "<constraints><minimum>1e-20</minimum><maximum>1</maximum>"
                "</constraints></double>"));
        QSlider *slider = sliderOf(form, "x");
        QVERIFY(slider);
        slider->setValue(slider->minimum());
        if (!form.isValid())
            problems << QStringLiteral("the slider's minimum gives: ") + form.errors().join(' ');
    }
    {
        // 100000.1 printed with 15 decimals is 100000.100000000005821: the spin box shows those
        // digits and the module receives them.
        const ModuleForm form(one("<double><name>x</name><longflag>x</longflag>"
                                  "<default>100000.1</default></double>"));
        if (form.values().value("x").toString() != QLatin1String("100000.1")
            || editorAs<QDoubleSpinBox>(form, "x")->text() != QLatin1String("100000.1"))
            problems << QStringLiteral("default 100000.1 is passed as %1 and shown as %2")
                            .arg(form.values().value("x").toString(),
                                editorAs<QDoubleSpinBox>(form, "x")->text());
    }
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join('\n')));
}

// A point given four coordinates (or a region seven) is cut to three (six) by the table
// without a complaint: the form is valid and runs a value nobody gave.
void tst_Forms::coordinatesBeyondThreeAreNotDropped()
{
    ModuleForm form(tour());
    const QVariantMap before = form.values();
    for (const QVariant &v :
        { QVariant(QStringLiteral("1,2,3,4")), QVariant(QVariantList { 1, 2, 3, 4 }) }) {
        const QStringList complaints = form.setValues({ { "centre", v } });
        QVERIFY2(!complaints.isEmpty() || !form.error(QStringLiteral("centre")).isEmpty(),
            qPrintable(form.values().value("centre").toString()));
    }
    const QStringList complaints = form.setValues({ { "roi", "1,2,3,4,5,6,7" } });
    QVERIFY2(!complaints.isEmpty() || !form.error(QStringLiteral("roi")).isEmpty(),
        qPrintable(form.values().value("roi").toString()));
    const QStringList several = form.setValues({ { "seeds", "1,2,3;4,5,6,7" } });
    QVERIFY2(!several.isEmpty() || !form.error(QStringLiteral("seeds")).isEmpty(),
        qPrintable(form.values().value("seeds").toStringList().join(';')));
}

// setValues promises to return "values an editor cannot show"; text and path fields take
// anything through QVariant::toString(), which is empty for a map or a list: the field is
// emptied and nothing is reported. A parameter file giving a list to a one-path parameter
// empties it the same way.
void tst_Forms::valuesOfTheWrongShapeAreReported()
{
    ModuleForm form(tour());
    form.setValues({ { "note", "kept" }, { "inputVolume", "in.nrrd" } });
    const QStringList complaints = form.setValues({ { "note", QVariantMap { { "a", 1 } } },
        { "inputVolume", QVariantList { "a.nrrd", "b.nrrd" } },
        { "tags", QVariantList { QVariantList { "a", "b" }, QVariantList { "c" } } } });
    QVERIFY2(complaints.size() == 3, qPrintable(complaints.join('\n')));
    QCOMPARE(form.values().value("note").toString(), QStringLiteral("kept"));
    QCOMPARE(form.values().value("inputVolume").toString(), QStringLiteral("in.nrrd"));

    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("p.json"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(R"({"inputVolume": ["x.nrrd", "y.nrrd"]})");
    f.close();
    QStringList notApplied;
    QCOMPARE(form.loadParameterFile(path, &notApplied), QString());
    QVERIFY2(!notApplied.isEmpty()
            || form.values().value("inputVolume").toString() == QLatin1String("in.nrrd"),
        qPrintable(form.values().value("inputVolume").toString()));
}

// QLineEdit's default maxLength is 32767: a longer string, vector or path is cut without a
// word (a float-vector of 5,000 values is ~45,000 characters).
void tst_Forms::longTextIsNotTruncated()
{
    ModuleForm form(tour());
    const QString note(40000, QLatin1Char('a'));
    QStringList spacing;
    for (int i = 0; i < 5000; ++i)
        spacing << QStringLiteral("0.123456");
    const QStringList complaints
        = form.setValues({ { "note", note }, { "spacing", spacing.join(QLatin1Char(',')) } });
    QCOMPARE(complaints, QStringList());
    QCOMPARE(form.values().value("note").toString().size(), note.size());
    QCOMPARE(form.values().value("spacing").toString().split(QLatin1Char(',')).size(), 5000);
}

// A label, a coordinate system or an error message that looks like HTML is rendered as rich
// text by QLabel (Qt::AutoText): "<b>x</b>" shows as a bold x, and <img src="/dev/zero"> (or a
// FIFO) is read by QTextDocument::loadResource on the GUI thread when the label is laid out.
void tst_Forms::labelsAreShownAsPlainText()
{
    const ModuleForm form(one("<string><name>s</name><longflag>s</longflag>"
                              "<label>&lt;b&gt;x&lt;/b&gt;</label></string>"
                              "<point coordinateSystem=\"&lt;b&gt;x&lt;/b&gt;\"><name>p</name>"
                              "<longflag>p</longflag></point>"
                              "<integer-vector><name>v</name><longflag>v</longflag>"
                              "<default>&lt;b&gt;x&lt;/b&gt;</default></integer-vector>"));
    QLabel *label = labelOf(form, form.editor(QStringLiteral("s")));
    QVERIFY(label);
    QVERIFY2(label->text().startsWith(QLatin1String("<b>")), qPrintable(label->text()));
    const auto plain = [](const QLabel *l) {
        return l->textFormat() == Qt::PlainText
            || (l->textFormat() == Qt::AutoText && !Qt::mightBeRichText(l->text()));
    };
    QStringList rich;
    if (!plain(label))
        rich << QStringLiteral("label: ") + label->text();
    auto *system = form.editor(QStringLiteral("p"))
                       ->parentWidget()
                       ->findChild<QLabel *>(QStringLiteral("coordinateSystem"));
    QVERIFY(system);
    if (!plain(system))
        rich << QStringLiteral("coordinate system: ") + system->text();
    // The error under the vector quotes what was typed.
    QVERIFY(!form.error(QStringLiteral("v")).isEmpty());
    QLabel *message = nullptr;
    for (QLabel *l : form.editor(QStringLiteral("v"))->parentWidget()->findChildren<QLabel *>())
        if (l->text() == form.error(QStringLiteral("v")))
            message = l;
    QVERIFY(message);
    if (!plain(message))
        rich << QStringLiteral("message: ") + message->text();

    // A label naming an image: the form reads the file while it lays itself out (with a FIFO
    // there, the ModuleForm constructor blocks in open() for ever: CollapsibleSection::
    // setExpanded -> QFormLayout -> QLabel::sizeHint -> QTextDocument::loadResource).
    QTemporaryDir dir;
    const QString png = dir.filePath(QStringLiteral("big.png"));
    QImage image(400, 400, QImage::Format_RGB32);
    image.fill(Qt::red);
    QVERIFY(image.save(png));
    const ModuleForm withImage(
        one("<string><name>s</name><longflag>s</longflag><label>&lt;img src=\"" + png.toUtf8()
            + "\"&gt;</label></string>"));
    QLabel *imageLabel = labelOf(withImage, withImage.editor(QStringLiteral("s")));
    QVERIFY(imageLabel);
    if (imageLabel->sizeHint().height() >= 400)
        rich << QStringLiteral("the label's image was read from ") + png;
    QVERIFY2(rich.isEmpty(), qPrintable(rich.join('\n')));
}

// "&" in a label with a buddy, or in a section's tool button, is a mnemonic: "Input & Output"
// shows as "Input  Output" (the ampersand is gone) and grabs Alt+Space.
void tst_Forms::ampersandsInLabelsAreShown()
{
    const ModuleForm form(one("<string><name>s</name><longflag>s</longflag>"
                              "<label>Signal &amp; noise</label></string>",
        "Input &amp; Output"));
    QLabel *label = labelOf(form, form.editor(QStringLiteral("s")));
    QVERIFY(label);
    QVERIFY2(QKeySequence::mnemonic(label->text()).isEmpty(), qPrintable(label->text()));
    const QList<QToolButton *> buttons = form.findChildren<QToolButton *>();
    for (QToolButton *b : buttons)
        if (b->accessibleName().contains(QLatin1String("Output")))
            QVERIFY2(QKeySequence::mnemonic(b->text()).isEmpty(), qPrintable(b->text()));
}

// Each path a multiple-path parameter is given is inserted and then made editable
// (PathField::addPath: setFlags after insertion emits itemChanged), and each itemChanged
// validates the whole list: setting N paths validates N times over N paths. 5,000 paths (a
// 100 KB parameter file) block the GUI thread for seconds, 20,000 for about 40 s in a release
// build. The browse dialog's getOpenFileNames goes through the same addPath.
void tst_Forms::manyPathsAreSetInOnePass()
{
    ModuleForm form(tour());
    QStringList paths;
    for (int i = 0; i < 1000; ++i)
        paths << QStringLiteral("/data/file%1.txt").arg(i);
    QSignalSpy changed(&form, &ModuleForm::valuesChanged);
    QCOMPARE(form.setValues({ { "extras", paths } }), QStringList());
    QCOMPARE(form.values().value("extras").toStringList().size(), 1000);
    QVERIFY2(changed.count() <= 2, qPrintable(QString::number(changed.count())));
}

// A 100 KB label (a section's, a parameter's) or coordinate system is laid out on one line:
// the form's minimum width is hundreds of thousands of pixels (and a 1 MB section label keeps
// the GUI thread busy for ~18 s in show(), release build).
void tst_Forms::longLabelsDoNotWidenTheFormBeyondAnyScreen()
{
    const QByteArray longText(100000, 'x');
    QStringList problems;
    const QList<QByteArray> descriptions {
        "<executable><title>T</title><parameters><label>" + longText
            + "</label><string><name>s</name><longflag>s</longflag></string></parameters>"
              "</executable>",
        "<executable><title>T</title><parameters><string><name>s</name><longflag>s</longflag>"
        "<label>"
            + longText + "</label></string></parameters></executable>",
        "<executable><title>T</title><parameters><point coordinateSystem=\"" + longText
            + "\"><name>s</name><longflag>s</longflag></point></parameters></executable>",
    };
    for (const QByteArray &xml : descriptions) {
        const ModuleForm form(parse(xml));
        if (form.minimumSizeHint().width() >= 10000)
            problems << QStringLiteral("%1 px wide: %2")
                            .arg(form.minimumSizeHint().width())
                            .arg(QString::fromUtf8(xml.left(80)));
    }
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join('\n')));
}

// isValid() checks the shown inputs only. A hidden required (index) parameter without a
// default, or an output the form shows read-only but that has an index (so it is not a
// return parameter), is never checked: the form says valid, and buildCommandLine refuses
// its values.
void tst_Forms::aValidFormGivesACommandLine()
{
    QStringList problems;
    for (const QByteArray &body :
        { QByteArray("<image hidden=\"true\"><name>in</name><index>0</index></image>"),
            QByteArray("<string><name>out</name><channel>output</channel><index>0</index>"
                       "</string>"),
            QByteArray("<integer hidden=\"true\"><name>n</name><longflag>n</longflag>"
                       "<default>abc</default></integer>") }) {
        const ModuleForm form(one(body));
        if (form.isValid()) {
            const sem::CommandLine cl = sem::buildCommandLine(form.description(), form.values());
            if (!cl.ok())
                problems << QString::fromUtf8(body) + QStringLiteral(": ") + cl.error;
        }
    }
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join('\n')));
}

QTEST_MAIN(tst_Forms)
#include "tst_forms.moc"
