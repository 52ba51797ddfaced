// A child process's arguments and environment travel as bytes: an argument, a file name or a
// variable need not be UTF-8, and what the application inherited reaches the child unchanged.
#pragma once

#include <offload/process/export.h>

#include <QByteArray>
#include <QByteArrayList>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

#include <map>

namespace offload {

// A value type. Any thread; no shared state.
class OFFLOAD_PROCESS_EXPORT Environment
{
public:
    Environment() = default; // empty
    // From Qt's type (its text is encoded as UTF-8), so existing code keeps working.
    Environment(const QProcessEnvironment &environment); // NOLINT: implicit on purpose

    // This process's environment, byte for byte.
    static Environment inherited();

    bool contains(const QByteArray &name) const { return m_vars.count(name) != 0; }
    QByteArray value(const QByteArray &name, const QByteArray &fallback = {}) const;
    void insert(const QByteArray &name, const QByteArray &value) { m_vars[name] = value; }
    void insert(const QString &name, const QString &value)
    {
        insert(name.toUtf8(), value.toUtf8());
    }
    void insert(const char *name, const char *value)
    {
        insert(QByteArray(name), QByteArray(value));
    }
    void remove(const QByteArray &name) { m_vars.erase(name); }
    bool isEmpty() const { return m_vars.empty(); }

    // "NAME=value" entries, sorted by name, as execve takes them.
    QByteArrayList toList() const;

private:
    std::map<QByteArray, QByteArray> m_vars;
};

// Text arguments (encoded as UTF-8) for ProgramSpec::arguments and WorkerPoolSpec::arguments.
OFFLOAD_PROCESS_EXPORT QByteArrayList toArguments(const QStringList &arguments);

} // namespace offload
