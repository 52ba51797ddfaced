// ModuleLibrary: the modules Studio knows, discovered in the background; GUI thread only.
#pragma once

#include <offload/modules/modulerunner.h>

#include <QAbstractListModel>

#include <chrono>
#include <vector>

namespace studio {

// One module file and what discovery made of it.
struct ModuleEntry
{
    enum Status { Discovering, Ready, Broken };
    QString path; // absolute, as found (a symbolic link is kept as the link)
    Status status = Discovering;
    offload::Module module; // valid when Ready
    QString error; // why it is Broken
    bool bundled = false; // shipped with Studio
    QString title() const; // the module's title, else the file name
};

// A list model of modules, sorted by title. Folders are listed on Offload's thread pool and
// every candidate is described through ModuleRunner::describe (a sidecar read, or a --xml run
// under the discovery timeout), so nothing here blocks the GUI thread; a module that cannot be
// described stays in the list as Broken with its error rather than disappearing.
// Candidates in a folder: executable regular files and ".py" scripts (not ".xml" sidecars);
// the bundled folder contributes only files named "offload-example-*".
// Thread-safety: GUI thread only. Ownership: owns its discovery runner.
class ModuleLibrary : public QAbstractListModel
{
    Q_OBJECT
public:
    enum Role { StatusRole = Qt::UserRole + 1, PathRole, SearchTextRole, CategoryRole };

    explicit ModuleLibrary(QObject *parent = nullptr);
    ~ModuleLibrary() override;

    // How long a module may take to print its description; default 5 s.
    void setDiscoveryTimeout(std::chrono::milliseconds timeout);

    void addBundledFolder(const QString &dir);
    // A module file or a folder of modules; already known paths are skipped.
    void addPath(const QString &path);
    // Forgets everything and discovers the given paths (and the bundled folder) again.
    void reload(const QStringList &paths);

    bool isDiscovering() const; // folder listings or descriptions still pending
    int count() const { return int(m_entries.size()); }
    const ModuleEntry &entry(int row) const { return m_entries[size_t(row)]; }
    int rowOfPath(const QString &path) const; // -1 if absent
    // A ready module by title, file name (with or without extension) or path; -1 if none.
    int find(const QString &nameOrPath) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void entryChanged(int row);
    void discoveryFinished(); // nothing is pending any more

private:
    void listFolder(const QString &dir, bool bundled);
    void describe(const QString &path, bool bundled);
    void settle(const QString &path, ModuleEntry entry);
    void finishOne();

    offload::ModuleRunner m_runner { 2 };
    std::vector<ModuleEntry> m_entries;
    QString m_bundledDir;
    std::chrono::milliseconds m_timeout { 5000 };
    int m_pending = 0;
    quint64 m_generation = 0; // reload() makes earlier discoveries' results stale
};

} // namespace studio
