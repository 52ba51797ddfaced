// bench_forms: generated module forms and description parsing, each beside its floor, in one run.
//   form_build_ms       a ModuleForm for a description with 200 parameters, built, laid out and
//                       drawn once (what opening a module costs before the first frame);
//                       peer: the same 200 editors written by hand in QFormLayouts, no
//                       description, no validation (the floor a generated form can approach)
//   describe_corpus_ms  sem::parseDescription over every description of the test corpus;
//                       peer: QXmlStreamReader reading the same documents token by token without
//                       interpreting them (the XML floor)
#include "../common/benchreport.h"

#include <offload/forms/moduleform.h>

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFile>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QSlider>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>
#include <QXmlStreamReader>

namespace {

constexpr int kRuns = 5;
constexpr int kParameters = 200;

// The common types in the proportions real modules use, 20 to a group, the second half advanced.
QByteArray description(int n)
{
    QByteArray xml = "<?xml version=\"1.0\"?><executable><title>Bench</title>";
    const char *tags[] = { "integer", "double", "boolean", "string", "string-enumeration", "file" };
    for (int i = 0; i < n; ++i) {
        if (i % 20 == 0)
            xml += QByteArray(i ? "</parameters>" : "") + "<parameters"
                + (i >= n / 2 ? " advanced=\"true\"" : "") + "><label>Group "
                + QByteArray::number(i / 20) + "</label>";
        const QByteArray tag = tags[i % 6], name = "p" + QByteArray::number(i);
        xml += "<" + tag + "><name>" + name + "</name><longflag>" + name
            + "</longflag><label>Parameter " + QByteArray::number(i)
            + "</label><description>What parameter " + QByteArray::number(i)
            + " does</description>";
        if (tag == "integer" || tag == "double")
            xml += "<default>1</default><constraints><minimum>0</minimum><maximum>100</maximum>"
                   "</constraints>";
        if (tag == "string-enumeration")
            xml += "<default>a</default><element>a</element><element>b</element>";
        xml += "</" + tag + ">";
    }
    return xml + "</parameters></executable>";
}

// Built, laid out and drawn once: the cost before a user sees the form.
double timeFirstFrame(const std::function<QWidget *()> &build)
{
    QElapsedTimer t;
    t.start();
    std::unique_ptr<QWidget> w(build());
    w->resize(600, 800);
    (void)w->grab();
    return double(t.nsecsElapsed()) / 1e6;
}

template<typename Spin> QWidget *spinWithSlider(QWidget *parent)
{
    auto *row = new QWidget(parent);
    auto *h = new QHBoxLayout(row);
    auto *spin = new Spin(row);
    spin->setRange(0, 100);
    h->addWidget(spin);
    h->addWidget(new QSlider(Qt::Horizontal, row));
    return row;
}

// Ours and the peer alternately, kRuns each, who goes first swapping every run.
void alternate(
    bench::Figure &f, const std::function<double()> &ours, const std::function<double()> &peer)
{
    ours(), peer(); // warm-up: fonts, styles, first allocations
    for (int run = 0; run < kRuns; ++run) {
        if (run % 2) {
            f.peer.push_back(peer());
            f.ours.push_back(ours());
        } else {
            f.ours.push_back(ours());
            f.peer.push_back(peer());
        }
    }
}

QWidget *handWritten(int n)
{
    auto *top = new QWidget;
    auto *layout = new QVBoxLayout(top);
    QFormLayout *rows = nullptr;
    for (int i = 0; i < n; ++i) {
        if (i % 20 == 0) {
            auto *box = new QGroupBox(QStringLiteral("Group %1").arg(i / 20), top);
            box->setVisible(i < n / 2);
            rows = new QFormLayout(box);
            layout->addWidget(box);
        }
        QWidget *editor = nullptr;
        auto *parent = rows->parentWidget();
        switch (i % 6) {
        case 0:
            editor = spinWithSlider<QSpinBox>(parent);
            break;
        case 1:
            editor = spinWithSlider<QDoubleSpinBox>(parent);
            break;
        case 2:
            editor = new QCheckBox(parent);
            break;
        case 3:
            editor = new QLineEdit(parent);
            break;
        case 4: {
            auto *combo = new QComboBox(parent);
            combo->addItems({ QStringLiteral("a"), QStringLiteral("b") });
            editor = combo;
            break;
        }
        default: {
            auto *row = new QWidget(parent);
            auto *h = new QHBoxLayout(row);
            h->addWidget(new QLineEdit(row));
            h->addWidget(new QToolButton(row));
            editor = row;
            break;
        }
        }
        editor->setToolTip(QStringLiteral("What parameter %1 does").arg(i));
        rows->addRow(QStringLiteral("Parameter %1").arg(i), editor);
    }
    return top;
}

void formBuild()
{
    bench::Figure f { QStringLiteral("forms"), QStringLiteral("form_build_ms"),
        QStringLiteral("ms") };
    f.peerName = QStringLiteral("the same 200 editors hand-written in QFormLayouts");
    const offload::sem::ParseResult parsed
        = offload::sem::parseDescription(description(kParameters));
    if (!parsed.ok()) {
        std::fprintf(stderr, "bench_forms: %s\n", qPrintable(parsed.error));
        std::exit(1);
    }
    const auto ours = [&] {
        return timeFirstFrame([&] { return new offload::ModuleForm(*parsed.description); });
    };
    const auto peer = [&] { return timeFirstFrame([] { return handWritten(kParameters); }); };
    alternate(f, ours, peer);
    f.extra.insert(QStringLiteral("parameters"), kParameters);
    f.extra.insert(QStringLiteral("target_ms"), 50);
    f.extra.insert(QStringLiteral("met"), bench::median(f.ours) <= 50);
    f.extra.insert(QStringLiteral("per_run_ours"), QJsonArray::fromVariantList([&] {
        QVariantList l;
        for (double v : f.ours)
            l << v;
        return l;
    }()));
    bench::report(f);
}

void describeCorpus()
{
    bench::Figure f { QStringLiteral("forms"), QStringLiteral("describe_corpus_ms"),
        QStringLiteral("ms") };
    f.peerName = QStringLiteral("QXmlStreamReader reading every token, no interpretation");
    const QDir dir(QStringLiteral(OFFLOAD_SEM_CORPUS_DIR));
    std::vector<QByteArray> docs;
    qint64 bytes = 0;
    for (const QString &name : dir.entryList({ QStringLiteral("*.xml") }, QDir::Files)) {
        QFile file(dir.filePath(name));
        if (file.open(QIODevice::ReadOnly))
            docs.push_back(file.readAll()), bytes += docs.back().size();
    }
    constexpr int kPasses = 20; // the corpus is small: parse it 20 times per run
    int failed = 0;
    const auto ours = [&] {
        QElapsedTimer t;
        t.start();
        for (int pass = 0; pass < kPasses; ++pass)
            for (const QByteArray &d : docs)
                failed += offload::sem::parseDescription(d).ok() ? 0 : 1;
        return double(t.nsecsElapsed()) / 1e6 / kPasses;
    };
    const auto peer = [&] {
        QElapsedTimer t;
        t.start();
        qint64 tokens = 0;
        for (int pass = 0; pass < kPasses; ++pass)
            for (const QByteArray &d : docs) {
                QXmlStreamReader r(d);
                while (!r.atEnd())
                    r.readNext(), ++tokens;
            }
        return tokens > 0 ? double(t.nsecsElapsed()) / 1e6 / kPasses : 0;
    };
    alternate(f, ours, peer);
    f.extra.insert(QStringLiteral("descriptions"), int(docs.size()));
    f.extra.insert(QStringLiteral("bytes"), bytes);
    f.extra.insert(QStringLiteral("failed_parses"), failed);
    bench::report(f);
}

} // namespace

int main(int argc, char **argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen"); // measured without a display
    QApplication app(argc, argv);
    formBuild();
    describeCorpus();
    return 0;
}
