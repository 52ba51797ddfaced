#include "modulelibrary.h"

#include <offload/core/threadpool.h>

#include <QApplication>
#include <QDir>
#include <QFileInfo>
#include <QStyle>

#include <algorithm>

namespace studio {

QString ModuleEntry::title() const
{
    if (status == Ready && !module.description.title.trimmed().isEmpty())
        return module.description.title.trimmed();
    return QFileInfo(path).fileName();
}

ModuleLibrary::ModuleLibrary(QObject *parent) : QAbstractListModel(parent) { }

ModuleLibrary::~ModuleLibrary() = default;

void ModuleLibrary::setDiscoveryTimeout(std::chrono::milliseconds timeout)
{
    m_timeout = timeout;
}

void ModuleLibrary::addBundledFolder(const QString &dir)
{
    m_bundledDir = dir;
    listFolder(dir, true);
}

void ModuleLibrary::addPath(const QString &path)
{
    const QFileInfo info(path);
    if (info.isDir())
        listFolder(info.absoluteFilePath(), false);
    else
        describe(info.absoluteFilePath(), false);
}

void ModuleLibrary::reload(const QStringList &paths)
{
    ++m_generation;
    beginResetModel();
    m_entries.clear();
    endResetModel();
    m_pending = 0;
    if (!m_bundledDir.isEmpty())
        listFolder(m_bundledDir, true);
    for (const QString &p : paths)
        addPath(p);
    if (m_pending == 0)
        Q_EMIT discoveryFinished();
}

bool ModuleLibrary::isDiscovering() const
{
    return m_pending > 0;
}

void ModuleLibrary::listFolder(const QString &dir, bool bundled)
{
    ++m_pending;
    // A folder on a slow or hung network mount must not stall the window: list it on the pool.
    auto listing = offload::run(this,
        [dir, bundled] {
            QStringList found;
            const QDir d(dir);
            const auto infos = d.entryInfoList(QDir::Files | QDir::NoDotAndDotDot, QDir::Name);
            for (const QFileInfo &fi : infos) {
                const QString name = fi.fileName();
                if (bundled && !name.startsWith(QLatin1String("offload-example-")))
                    continue;
                if (name.endsWith(QLatin1String(".xml"), Qt::CaseInsensitive))
                    continue;
                const bool script = name.endsWith(QLatin1String(".py"));
                if (!script && !(fi.isExecutable() && fi.isFile()))
                    continue;
                found << fi.absoluteFilePath();
            }
            return found;
        },
        { QStringLiteral("List modules in %1").arg(dir) });
    const quint64 generation = m_generation;
    listing.onFinished([this, bundled, generation](const offload::TaskHandle<QStringList> &t) {
        if (generation == m_generation && t.state() == offload::TaskState::Finished)
            for (const QString &path : t.result())
                describe(path, bundled);
        if (generation == m_generation)
            finishOne();
    });
}

void ModuleLibrary::describe(const QString &path, bool bundled)
{
    if (rowOfPath(path) >= 0)
        return;
    ModuleEntry entry;
    entry.path = path;
    entry.bundled = bundled;
    // What cannot be a module is said so at once, rather than after a --xml run that an
    // interpreter reading a FIFO would hold until the discovery timeout.
    const QFileInfo info(path);
    if (info.isSymLink() && !info.exists()) {
        entry.status = ModuleEntry::Broken;
        entry.error = tr("%1 is a symbolic link to %2, which does not exist")
                          .arg(path, info.symLinkTarget());
    } else if (info.exists() && !info.isFile() && !info.isDir()) {
        entry.status = ModuleEntry::Broken;
        entry.error = tr("%1 is a FIFO, socket or device, not a module file").arg(path);
    }
    settle(path, entry);
    if (entry.status == ModuleEntry::Broken)
        return;
    ++m_pending;
    const quint64 generation = m_generation;
    m_runner.describe(this, path, m_timeout)
        .onFinished(
            [this, path, bundled, generation](const offload::TaskHandle<offload::Module> &t) {
                if (generation != m_generation)
                    return;
                ModuleEntry done;
                done.path = path;
                done.bundled = bundled;
                if (t.state() == offload::TaskState::Finished) {
                    done.status = ModuleEntry::Ready;
                    done.module = t.result();
                } else {
                    done.status = ModuleEntry::Broken;
                    done.error = t.state() == offload::TaskState::Failed
                        ? t.error().summary()
                        : tr("discovery was cancelled");
                }
                settle(path, std::move(done));
                finishOne();
            });
}

// Inserts or replaces the entry, keeping the list sorted by title (then path).
void ModuleLibrary::settle(const QString &path, ModuleEntry entry)
{
    const int old = rowOfPath(path);
    if (old >= 0) {
        beginRemoveRows({}, old, old);
        m_entries.erase(m_entries.begin() + old);
        endRemoveRows();
    }
    const auto less = [](const ModuleEntry &a, const ModuleEntry &b) {
        const int c = QString::compare(a.title(), b.title(), Qt::CaseInsensitive);
        return c != 0 ? c < 0 : a.path < b.path;
    };
    const auto at = std::upper_bound(m_entries.begin(), m_entries.end(), entry, less);
    const int row = int(at - m_entries.begin());
    beginInsertRows({}, row, row);
    m_entries.insert(at, std::move(entry));
    endInsertRows();
    Q_EMIT entryChanged(row);
}

void ModuleLibrary::finishOne()
{
    if (--m_pending == 0)
        Q_EMIT discoveryFinished();
}

int ModuleLibrary::rowOfPath(const QString &path) const
{
    for (size_t i = 0; i < m_entries.size(); ++i)
        if (m_entries[i].path == path)
            return int(i);
    return -1;
}

int ModuleLibrary::find(const QString &nameOrPath) const
{
    const QString absolute = QFileInfo(nameOrPath).absoluteFilePath();
    for (size_t i = 0; i < m_entries.size(); ++i) {
        const ModuleEntry &e = m_entries[i];
        if (e.status != ModuleEntry::Ready)
            continue;
        const QFileInfo fi(e.path);
        if (e.path == nameOrPath || e.path == absolute || e.title() == nameOrPath
            || fi.fileName() == nameOrPath || fi.completeBaseName() == nameOrPath)
            return int(i);
    }
    return -1;
}

int ModuleLibrary::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_entries.size());
}

QVariant ModuleLibrary::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const ModuleEntry &e = m_entries[size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        if (e.status == ModuleEntry::Discovering)
            return tr("%1 (discovering…)").arg(e.title());
        return e.title();
    case Qt::ToolTipRole: {
        QString tip = e.path.toHtmlEscaped();
        if (e.status == ModuleEntry::Broken)
            tip += QStringLiteral("<br><b>%1</b> %2")
                       .arg(tr("Cannot be used:"), e.error.toHtmlEscaped());
        else if (e.status == ModuleEntry::Ready && !e.module.description.description.isEmpty())
            tip += QStringLiteral("<br>")
                + e.module.description.description.trimmed().left(400).toHtmlEscaped();
        return tip;
    }
    case Qt::DecorationRole: {
        QStyle *style = QApplication::style();
        switch (e.status) {
        case ModuleEntry::Discovering:
            return style->standardIcon(QStyle::SP_BrowserReload);
        case ModuleEntry::Broken:
            return style->standardIcon(QStyle::SP_MessageBoxWarning);
        case ModuleEntry::Ready:
            return style->standardIcon(QStyle::SP_FileIcon);
        }
        return {};
    }
    case StatusRole:
        return int(e.status);
    case PathRole:
        return e.path;
    case CategoryRole:
        return e.module.description.category;
    case SearchTextRole:
        return e.title() + QLatin1Char('\n') + e.path + QLatin1Char('\n')
            + e.module.description.category + QLatin1Char('\n') + e.error;
    default:
        return {};
    }
}

} // namespace studio
