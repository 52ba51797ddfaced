#include "sshremote_p.h"

#include <offload/process/shellquote.h>

#include <QFile>

namespace offload::detail::ssh {

namespace {

// The control script (see controlCommand). A run is named by its nonce; it registers itself
// in $d/<nonce> ("PGID starttime") before it starts the program. Only registered groups are
// ever signalled, and one whose leader's pid now names another process (its start time
// differs) is left alone. A stop that comes before the registration leaves $d/<nonce>.stop,
// which the run checks after registering: one of the two always sees the other.
const char controlScript[] = R"SH(
d=$(mktemp -d "${TMPDIR:-/tmp}/offload-ssh.XXXXXX") || exit 1
started() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
tree() {
  ps -e -o pid= -o ppid= -o pgid= 2>/dev/null | awk -v g="$1" '
    { p[$1] = $2; if ($3 == g) s[$1] = 1 }
    END { do { c = 0; for (x in p) if (!(x in s) && (p[x] in s)) { s[x] = 1; c = 1 } } while (c)
          for (x in s) print x }'
}
hit() {
  f=$d/$2
  # Not registered yet: the run finds the stop file once it has registered and stops itself.
  [ -f "$f" ] || { : > "$f.stop"; [ -f "$f" ] || return 0; }
  read -r g st < "$f" || return 0
  case $g in ''|*[!0-9]*) return 0 ;; esac
  now=$(started "$g")
  if [ -n "$now" ] && [ -n "$st" ] && [ "$now" != "$st" ]; then rm -f "$f" "$f.esc"; return 0; fi
  for p in $(tree "$g"); do echo "$p $(started "$p")" >> "$f.esc"; done
  kill -"$1" -"$g" 2>/dev/null
  if [ -f "$f.esc" ]; then
    while read -r p ps; do
      if [ -z "$ps" ] || [ "$(started "$p")" = "$ps" ]; then kill -"$1" "$p" 2>/dev/null; fi
    done < "$f.esc"
  fi
  if [ "$1" = 9 ]; then rm -f "$f" "$f.esc" "$f.stop"; fi
}
all() { for f in "$d"/*; do n=${f##*/}; case $n in ''|*[!0-9a-f]*) ;; *) hit "$1" "$n" ;; esac; done; }
# A run's return-parameter file, sent as "\036offload:file:NONCE:STATUS:SIZE" and SIZE bytes
# (a snapshot, so that the size holds); its private directory goes.
get() {
  r=$d/$1.rp; t=; s=missing; n=0
  [ -f "$r" ] && read -r t < "$r"
  f=$t/returnparameters.txt
  if [ -z "$t" ]; then :
  elif [ -L "$f" ]; then s=notregular
  elif [ -f "$f" ]; then
    if cp "$f" "$d/$1.snap" 2>/dev/null; then
      n=$(wc -c < "$d/$1.snap"); n=$((n + 0))
      if [ "$n" -gt 16777216 ]; then s=toolarge n=0; else s=ok; fi
    fi
  elif [ -e "$f" ]; then s=notregular
  fi
  printf '\036offload:file:%s:%s:%s\n' "$1" "$s" "$n"
  [ "$s" != ok ] || cat "$d/$1.snap"
  rm -f "$d/$1.snap" "$r"
  if [ -n "$t" ]; then rm -f "$f"; rmdir "$t" 2>/dev/null; fi
}
printf '\036offload:ready:%s\n' "$d"
while read -r c s g; do
  case $g in ''|*[!0-9a-f]*) continue ;; esac
  case $c:$s in
    get:-) get "$g" ;;
    sig:*[!0-9]*|sig:) ;;
    sig:*) hit "$s" "$g" ;;
  esac
done
all 15
[ -z "$(ls "$d")" ] || sleep 1
all 9
for r in "$d"/*.rp; do [ -f "$r" ] && read -r t < "$r" && rm -f "$t/returnparameters.txt" && rmdir "$t"; done 2>/dev/null
rm -rf "$d"
)SH";

// The wrapper of one program (see runCommand). It runs as its own process group's leader
// (sshd makes every session one; setsid where not), so the group is the program's tree.
const char runScript[] = R"SH(
if ! kill -0 -$$ 2>/dev/null && command -v setsid >/dev/null 2>&1; then
  exec setsid /bin/sh -c 'eval "$0"' "$0" "$@"
fi
n=$1 d=$2 w=$3 ni=$4 e=$5 rp=$6
shift 6
m() { printf '\036offload:%s:%s\n' "$n" "$1"; printf '\036offload:%s:%s\n' "$n" "$1" >&2; }
kill -0 -$$ 2>/dev/null || { m nogroup; exit 126; }
while [ "$e" -gt 0 ]; do
  case $1 in -*) unset -v "${1#-}" ;; *) export "$1" ;; esac
  shift; e=$((e - 1))
done
if [ -n "$w" ] && ! cd "$w" 2>/dev/null; then m nodir; exit 127; fi
case $1 in
  */*) [ -f "$1" ] && [ -x "$1" ] ;;
  *) command -v "$1" >/dev/null 2>&1 ;;
esac || { m missing; exit 127; }
# The return-parameter file: a private directory, its path put in for the placeholder.
if [ -n "$rp" ] && [ -n "$d" ]; then
  t=$(mktemp -d "${TMPDIR:-/tmp}/offload-return.XXXXXX") || { m notemp; exit 126; }
  echo "$t" > "$d/$n.rp"
  for a do
    shift
    if [ "$a" = "$rp" ]; then set -- "$@" "$t/returnparameters.txt"; else set -- "$@" "$a"; fi
  done
fi
if [ -n "$d" ]; then
  st=; [ -r /proc/$$/stat ] && st=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)
  echo "$$ $st" > "$d/$n" 2>/dev/null
  if [ -e "$d/$n.stop" ]; then rm -f "$d/$n" "$d/$n.stop"; m stopped; exit 143; fi
fi
trap : HUP INT TERM
m "pid:$$ ${SLURM_JOB_ID-} ${SLURMD_NODENAME-}"
if [ "$ni" -gt 0 ]; then nice -n "$ni" "$@"; else "$@"; fi
s=$?
[ -n "$d" ] && rm -f "$d/$n"
printf '\036offload:%s:exit:%s\n' "$n" "$s" >&2
kill -9 -$$
)SH";

QByteArray viaSh(const char *script, const QByteArrayList &arguments)
{
    // The login shell reads one line of plain words and single-quoted ones; the script runs
    // in /bin/sh whatever the login shell is ($0 holds it, so it can run itself again).
    QByteArrayList words { "exec", "/bin/sh", "-c", "eval \"$0\"", QByteArray(script) };
    words += arguments;
    return shellQuote(words);
}

} // namespace

QStringList baseArguments(const SshTarget &t)
{
    QStringList a;
    if (!t.configFile.isEmpty())
        a << QStringLiteral("-F") << t.configFile;
    a << QStringLiteral("-T") << QStringLiteral("-x") << QStringLiteral("-a")
      << QStringLiteral("-e") << QStringLiteral("none");
    a << QStringLiteral("-o") << QStringLiteral("BatchMode=yes");
    a << QStringLiteral("-o")
      << QStringLiteral("ConnectTimeout=%1").arg(qMax<qint64>(1, t.connectTimeout.count()));
    a << QStringLiteral("-o") << QStringLiteral("ServerAliveInterval=15");
    a << QStringLiteral("-o") << QStringLiteral("ServerAliveCountMax=3");
    if (t.port > 0)
        a << QStringLiteral("-p") << QString::number(t.port);
    if (!t.user.isEmpty())
        a << QStringLiteral("-l") << t.user;
    if (!t.identityFile.isEmpty())
        a << QStringLiteral("-i") << t.identityFile;
    if (!t.knownHostsFile.isEmpty())
        a << QStringLiteral("-o") << QStringLiteral("UserKnownHostsFile=") + t.knownHostsFile
          << QStringLiteral("-o") << QStringLiteral("GlobalKnownHostsFile=/dev/null")
          << QStringLiteral("-o") << QStringLiteral("StrictHostKeyChecking=yes");
    for (const QString &o : t.options)
        a << QStringLiteral("-o") << o;
    return a;
}

QByteArray controlCommand()
{
    return viaSh(controlScript, {});
}

QByteArray runCommand(const RemoteRun &r)
{
    QByteArrayList args { r.nonce, r.registryDir, r.workingDirectory,
        QByteArray::number(qMax(0, r.niceness)),
        QByteArray::number(r.setVariables.size() + r.unsetVariables.size()),
        r.returnFilePlaceholder };
    for (const QByteArray &name : r.unsetVariables)
        args << '-' + name;
    args += r.setVariables;
    args << r.program;
    args += r.arguments;
    return viaSh(runScript, args);
}

bool validVariableName(const QByteArray &name)
{
    if (name.isEmpty() || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (const char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '_'))
            return false;
    return true;
}

void environmentChanges(
    const Environment &env, const Environment &local, QByteArrayList *set, QByteArrayList *unset)
{
    for (const QByteArray &entry : env.toList()) {
        const qsizetype eq = entry.indexOf('=');
        const QByteArray name = entry.left(eq);
        if (!local.contains(name) || local.value(name) != entry.mid(eq + 1))
            *set << entry;
    }
    for (const QByteArray &entry : local.toList()) {
        const QByteArray name = entry.left(entry.indexOf('='));
        if (!env.contains(name))
            *unset << name;
    }
}

QByteArray markerPrefix(const QByteArray &nonce)
{
    return "\036offload:" + nonce + ':';
}

Error classifyFailure(
    const QString &target, const QByteArray &stderrText, int exitCode, bool connected)
{
    const QString text = QString::fromLocal8Bit(stderrText);
    Error e;
    e.kind = ErrorKind::Remote;
    e.origin = target;
    e.stderrTail = stderrText.right(4096);
    struct Rule
    {
        const char *needle;
        RemoteFailure failure;
    };
    // The most specific first: a changed key also says "verification failed".
    static const Rule rules[] = {
        { "REMOTE HOST IDENTIFICATION HAS CHANGED", RemoteFailure::HostKeyChanged },
        { "Host key verification failed", RemoteFailure::HostKeyUnknown },
        { "Permission denied", RemoteFailure::AuthenticationRefused },
        { "Too many authentication failures", RemoteFailure::AuthenticationRefused },
        { "Could not resolve hostname", RemoteFailure::HostUnreachable },
        { "Connection refused", RemoteFailure::HostUnreachable },
        { "Connection timed out", RemoteFailure::HostUnreachable },
        { "No route to host", RemoteFailure::HostUnreachable },
        { "Network is unreachable", RemoteFailure::HostUnreachable },
        { "Operation timed out", RemoteFailure::HostUnreachable },
    };
    e.remoteFailure = connected ? RemoteFailure::ConnectionLost : RemoteFailure::HostUnreachable;
    for (const Rule &r : rules) {
        if (text.contains(QLatin1String(r.needle))) {
            e.remoteFailure = r.failure;
            break;
        }
    }
    // ssh's own words: its last line that is not blank or part of the warning banner.
    QString said;
    const QStringList lines = text.split(QLatin1Char('\n'));
    for (auto it = lines.rbegin(); it != lines.rend() && said.isEmpty(); ++it) {
        const QString l = it->trimmed();
        if (!l.isEmpty() && !l.startsWith(QLatin1Char('@')))
            said = l;
    }
    if (said.isEmpty())
        said = QStringLiteral("ssh exited with code %1").arg(exitCode);
    e.message = QStringLiteral("%1: %2").arg(target, said);
    return e;
}

} // namespace offload::detail::ssh
