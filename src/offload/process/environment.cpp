#include <offload/process/environment.h>

#include <unistd.h>

extern char **environ;

namespace offload {

Environment::Environment(const QProcessEnvironment &environment)
{
    for (const QString &name : environment.keys())
        insert(name, environment.value(name));
}

Environment Environment::inherited()
{
    Environment env;
    for (char **e = environ; e && *e; ++e) {
        const QByteArray entry(*e);
        const qsizetype eq = entry.indexOf('=');
        if (eq > 0)
            env.m_vars.emplace(entry.left(eq), entry.mid(eq + 1));
    }
    return env;
}

QByteArray Environment::value(const QByteArray &name, const QByteArray &fallback) const
{
    const auto it = m_vars.find(name);
    return it == m_vars.end() ? fallback : it->second;
}

QByteArrayList Environment::toList() const
{
    QByteArrayList out;
    out.reserve(qsizetype(m_vars.size()));
    for (const auto &[name, value] : m_vars)
        out << name + '=' + value;
    return out;
}

QByteArrayList toArguments(const QStringList &arguments)
{
    QByteArrayList out;
    out.reserve(arguments.size());
    for (const QString &a : arguments)
        out << a.toUtf8();
    return out;
}

} // namespace offload
