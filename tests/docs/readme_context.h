// The context the README's C++ snippets are written in (tests/docs/readme_snippets.py): a
// window with the members they name. Only declared here, so that every snippet must include
// the headers it uses itself, as a reader copying it would.
#pragma once

#include <QObject>
#include <QVariantMap>

#include <map>

class QLabel;
class QPushButton;
class QUrl;

namespace offload {
class ModuleRunner;
class TaskControl;
struct Module;
template<typename T> class Task;
template<typename T> class TaskHandle;
template<typename T> class TaskPromise;
} // namespace offload

qint64 countPrimes(offload::TaskControl &task); // the application's own work

class Window : public QObject
{
public:
    Window(); // declared only: nothing here is ever run
    offload::Task<void> analyse(); // a README snippet defines it
    // The other snippets are its body, with these names in scope.
    void snippet(const offload::Module &module, QPushButton *runButton);

    offload::ModuleRunner &m_modules;
    const offload::Module &m_blur;
    const QVariantMap &m_values;
    QLabel *m_label = nullptr;
};

// The README's own kind of task: downloads ended by the downloader's callbacks.
class Downloader : public QObject
{
public:
    Downloader(); // declared only
    offload::TaskHandle<QByteArray> fetch(const QUrl &url); // a README snippet defines it
    void abort(quint64 id);

    std::map<quint64, offload::TaskPromise<QByteArray>> &m_downloads;
};
