// CPU hogs for "under load" figures: child processes that spin at nice 0.
#pragma once

#include <vector>

#include <csignal>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

// count spinning children (forked from the calling thread, so at its nice value) for as long as the
// object lives; killed and reaped after, and killed with the benchmark if it dies first.
struct Hogs
{
    std::vector<pid_t> pids;
    explicit Hogs(size_t count)
    {
        for (size_t i = 0; i < count; ++i) {
            const pid_t pid = ::fork();
            if (pid == 0) {
                ::prctl(PR_SET_PDEATHSIG, SIGKILL);
                volatile unsigned long n = 0;
                for (;;)
                    n = n + 1;
            }
            if (pid > 0)
                pids.push_back(pid);
        }
    }
    ~Hogs()
    {
        for (pid_t pid : pids)
            ::kill(pid, SIGKILL);
        for (pid_t pid : pids)
            ::waitpid(pid, nullptr, 0);
    }
    Hogs(const Hogs &) = delete;
    Hogs &operator=(const Hogs &) = delete;
};

// How many CPUs this process may run on.
inline size_t allowedCpuCount()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    return ::sched_getaffinity(0, sizeof set, &set) == 0 ? size_t(CPU_COUNT(&set)) : 1;
}

} // namespace bench
