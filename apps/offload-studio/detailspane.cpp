#include "detailspane.h"

#include "runcontroller.h"
#include <offload/process/shellquote.h>

#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QScrollBar>
#include <QTabWidget>
#include <QTableWidget>
#include <QTimerEvent>
#include <QVBoxLayout>

namespace studio {

static QPlainTextEdit *textBox(QWidget *parent)
{
    auto *t = new QPlainTextEdit(parent);
    t->setReadOnly(true);
    t->setLineWrapMode(QPlainTextEdit::NoWrap);
    t->setFont(QFont(QStringLiteral("monospace")));
    return t;
}

DetailsPane::DetailsPane(RunController *controller, QWidget *parent)
    : QWidget(parent)
    , m_controller(controller)
    , m_headline(new QLabel(this))
    , m_error(textBox(this))
    , m_stdout(textBox(this))
    , m_stderr(textBox(this))
    , m_command(textBox(this))
    , m_returns(new QTableWidget(0, 2, this))
    , m_tabs(new QTabWidget(this))
{
    m_headline->setTextFormat(Qt::PlainText);
    m_headline->setWordWrap(true);
    m_error->setLineWrapMode(QPlainTextEdit::WidgetWidth);
    m_error->setMaximumHeight(140);
    m_command->setLineWrapMode(QPlainTextEdit::WidgetWidth);
    m_returns->setHorizontalHeaderLabels({ tr("Return parameter"), tr("Value") });
    m_returns->horizontalHeader()->setStretchLastSection(true);
    m_returns->verticalHeader()->hide();
    m_returns->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_tabs->addTab(m_stderr, tr("stderr"));
    m_tabs->addTab(m_stdout, tr("stdout"));
    m_tabs->addTab(m_returns, tr("Return parameters"));
    m_tabs->addTab(m_command, tr("Command line"));
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(m_headline);
    layout->addWidget(m_error);
    layout->addWidget(m_tabs, 1);
    connect(controller, &RunController::runOutput, this, [this](quint64 id) {
        if (id == taskId())
            m_dirty = true;
    });
    connect(controller, &RunController::runEnded, this, [this](quint64 id) {
        if (id == taskId())
            refresh();
    });
    m_timer.start(200, this);
    showTask({});
}

void DetailsPane::showTask(const offload::TaskHandleBase &task)
{
    const bool changed = !(task == m_task);
    m_task = task;
    refresh();
    if (changed && task.isValid()) {
        const RunInfo *run = m_controller->info(task.id());
        m_tabs->setCurrentWidget(run && run->stdoutTail.isEmpty() && !run->stderrTail.isEmpty()
                ? m_stderr
                : task.state() == offload::TaskState::Failed ? m_stderr
                                                             : m_stdout);
    }
}

void DetailsPane::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_timer.timerId())
        return QWidget::timerEvent(event);
    // Live headline (state, elapsed) and output, at a human pace.
    if (m_task.isValid() && (m_dirty || !m_task.isFinal()))
        refresh();
}

// Replaces a text box's contents keeping the view at the end when it was there.
static void setTail(QPlainTextEdit *box, const QByteArray &bytes)
{
    const QString text = QString::fromUtf8(bytes); // invalid UTF-8 becomes U+FFFD, never a crash
    if (box->toPlainText() == text)
        return;
    QScrollBar *bar = box->verticalScrollBar();
    const bool atEnd = bar->value() >= bar->maximum() - 2;
    box->setPlainText(text);
    if (atEnd)
        bar->setValue(bar->maximum());
}

void DetailsPane::refresh()
{
    m_dirty = false;
    if (!m_task.isValid()) {
        m_headline->setText(tr("Select a task to see its details."));
        m_error->hide();
        for (auto *b : { m_stdout, m_stderr, m_command })
            b->clear();
        m_returns->setRowCount(0);
        return;
    }
    const RunInfo *run = m_controller->info(m_task.id());
    QString head = QStringLiteral("%1 — %2, %3 s")
                       .arg(m_task.name(), offload::stateName(m_task.state()))
                       .arg(double(m_task.elapsed().count()) / 1000.0, 0, 'f', 1);
    const offload::Error error = m_task.error();
    if (run && m_task.isFinal() && error.exitCode)
        head += tr(", exit code %1").arg(*error.exitCode);
    if (run && run->peakRssBytes > 0)
        head += tr(", peak memory %1 MiB").arg(double(run->peakRssBytes) / (1 << 20), 0, 'f', 1);
    m_headline->setText(head);

    if (m_task.state() == offload::TaskState::Failed) {
        QString text = error.summary();
        if (!error.traceback.isEmpty())
            text += QLatin1Char('\n') + error.traceback;
        if (run && !run->returnWarnings.isEmpty())
            text += QLatin1Char('\n') + run->returnWarnings.join(QLatin1Char('\n'));
        m_error->setPlainText(text);
        m_error->show();
    } else {
        m_error->hide();
    }
    if (run) {
        setTail(m_stdout, run->stdoutTail);
        setTail(m_stderr, run->stderrTail);
        const QString cmd = offload::shellQuote(run->commandLine);
        if (m_command->toPlainText() != cmd)
            m_command->setPlainText(cmd);
        if (m_returns->rowCount() != run->returnValues.size()
            || returnValuesShown() != run->returnValues) {
            m_returns->setRowCount(int(run->returnValues.size()));
            int row = 0;
            for (auto it = run->returnValues.cbegin(); it != run->returnValues.cend();
                 ++it, ++row) {
                m_returns->setItem(row, 0, new QTableWidgetItem(it.key()));
                const QVariant v = it.value();
                m_returns->setItem(row, 1,
                    new QTableWidgetItem(v.typeId() == QMetaType::QVariantList
                            ? v.toStringList().join(QLatin1String(", "))
                            : v.toString()));
                m_returns->item(row, 1)->setData(Qt::UserRole, v);
            }
        }
    } else {
        setTail(m_stdout, {});
        setTail(m_stderr, error.stderrTail);
        m_command->setPlainText(tr("(not a module run: %1 task)").arg(m_task.kind()));
        m_returns->setRowCount(0);
    }
}

QString DetailsPane::headline() const
{
    return m_headline->text();
}
QString DetailsPane::errorText() const
{
    return m_error->isVisibleTo(this) ? m_error->toPlainText() : QString();
}
QString DetailsPane::stdoutText() const
{
    return m_stdout->toPlainText();
}
QString DetailsPane::stderrText() const
{
    return m_stderr->toPlainText();
}
QString DetailsPane::commandLineText() const
{
    return m_command->toPlainText();
}

QVariantMap DetailsPane::returnValuesShown() const
{
    QVariantMap shown;
    for (int r = 0; r < m_returns->rowCount(); ++r)
        if (m_returns->item(r, 0) && m_returns->item(r, 1))
            shown.insert(m_returns->item(r, 0)->text(), m_returns->item(r, 1)->data(Qt::UserRole));
    return shown;
}

} // namespace studio
