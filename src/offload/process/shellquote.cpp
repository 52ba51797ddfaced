#include <offload/process/shellquote.h>

namespace offload {

namespace {

bool isPlain(const QByteArray &word, bool first)
{
    if (word.isEmpty() || word.front() == '=' || word.front() == '~')
        return false;
    for (const char c : word) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || c == '_' || c == '-' || c == '.' || c == '/' || c == ',' || c == ':' || c == '+'
            || c == '@' || c == '%' || (c == '=' && !first);
        if (!ok)
            return false;
    }
    return true;
}

} // namespace

QByteArray shellQuote(const QByteArrayList &words)
{
    QByteArray line;
    for (qsizetype i = 0; i < words.size(); ++i) {
        const QByteArray &w = words[i];
        if (i > 0)
            line += ' ';
        if (isPlain(w, i == 0))
            line += w;
        else
            line += '\'' + QByteArray(w).replace("'", "'\\''") + '\'';
    }
    return line;
}

QString shellQuote(const QStringList &words)
{
    QByteArrayList bytes;
    bytes.reserve(words.size());
    for (const QString &w : words)
        bytes << w.toUtf8();
    return QString::fromUtf8(shellQuote(bytes));
}

} // namespace offload
