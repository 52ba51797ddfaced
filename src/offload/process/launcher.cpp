#include <offload/process/launcher.h>

#include <QUrl>

namespace offload {

Launcher Launcher::ssh(SshTarget target)
{
    Launcher l;
    l.m_kind = Kind::Ssh;
    l.m_ssh = std::move(target);
    return l;
}

Launcher Launcher::slurm(SlurmTarget target)
{
    Launcher l;
    l.m_kind = Kind::Slurm;
    l.m_slurm = std::move(target);
    return l;
}

std::optional<Launcher> Launcher::parse(const QString &text, QString *error)
{
    const auto fail = [error](const QString &why) -> std::optional<Launcher> {
        if (error)
            *error = why;
        return std::nullopt;
    };
    if (text == QLatin1String("local"))
        return local();
    for (const char *scheme : { "slurm", "sbatch" }) {
        const QString name = QLatin1String(scheme);
        if (text != name && !text.startsWith(name + QLatin1Char(':')))
            continue;
        SlurmTarget t;
        t.batch = name == QLatin1String("sbatch");
        t.partition = text.mid(name.size() + 1);
        if (text.size() > name.size() && t.partition.isEmpty())
            return fail(QStringLiteral("'%1': no partition after ':'").arg(text));
        for (const QChar c : t.partition)
            if (!(c.isLetterOrNumber() || c == QLatin1Char('_') || c == QLatin1Char('-')
                    || c == QLatin1Char('.') || c == QLatin1Char(',')))
                return fail(QStringLiteral("'%1' is not a partition name").arg(t.partition));
        return slurm(std::move(t));
    }
    if (!text.startsWith(QLatin1String("ssh://")))
        return fail(QStringLiteral("'%1' is not a place to run: use local, "
                                   "ssh://[user@]host[:port], slurm[:PARTITION] or "
                                   "sbatch[:PARTITION]")
                        .arg(text));
    const QUrl url(text, QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty() || !url.password().isEmpty()
        || !(url.path().isEmpty() || url.path() == QLatin1String("/")) || url.hasQuery()
        || url.hasFragment())
        return fail(QStringLiteral("'%1' is not an ssh address of the form "
                                   "ssh://[user@]host[:port]")
                        .arg(text));
    SshTarget t;
    t.host = url.host();
    t.user = url.userName();
    t.port = url.port(0);
    // ssh reads an argument starting with '-' as an option: never let a name be one.
    if (t.host.startsWith(QLatin1Char('-')) || t.user.startsWith(QLatin1Char('-')))
        return fail(QStringLiteral("'%1': a host or user name cannot start with '-'").arg(text));
    return ssh(std::move(t));
}

QString Launcher::toString() const
{
    if (m_kind == Kind::Local)
        return QStringLiteral("local");
    if (m_kind == Kind::Slurm)
        return QLatin1String(m_slurm.batch ? "sbatch" : "slurm")
            + (m_slurm.partition.isEmpty() ? QString() : QLatin1Char(':') + m_slurm.partition);
    QString s = QStringLiteral("ssh://");
    if (!m_ssh.user.isEmpty())
        s += m_ssh.user + QLatin1Char('@');
    s += m_ssh.host.contains(QLatin1Char(':')) ? QLatin1Char('[') + m_ssh.host + QLatin1Char(']')
                                               : m_ssh.host;
    if (m_ssh.port > 0)
        s += QLatin1Char(':') + QString::number(m_ssh.port);
    return s;
}

} // namespace offload
