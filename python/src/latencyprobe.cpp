// offload.LatencyProbe: the monitor's LatencyProbe for PyQt6 applications, with pings handled
// where a Python handler would run (the GIL taken first), so that it sees what a PyQt6 window
// sees: a loop free in C++ but waiting for the interpreter is still a stalled window.
#include "pyoffload.h"

#include <offload/monitor/latencyprobe.h>

#include <pybind11/stl.h>

#include <QEvent>
#include <QThread>

#include <optional>

namespace offload::python {

namespace {

class PythonLatencyProbe : public LatencyProbe
{
public:
    explicit PythonLatencyProbe(bool python) : m_python(python) { }

protected:
    bool event(QEvent *e) override
    {
        // The base class stamps the delivery once it runs: after the GIL, when it is taken.
        // Only pings (registered types, from QEvent::User on) wait for it.
        if (m_python && e->type() >= QEvent::User && interpreterAlive()) {
            py::gil_scoped_acquire gil;
            return LatencyProbe::event(e);
        }
        return LatencyProbe::event(e);
    }

private:
    const bool m_python;
};

// Dropped on its own thread, the probe goes at once; elsewhere (the last reference dropped
// on another Python thread) its helper is stopped there and the object goes on its own
// thread, which may be handling a ping at that moment. Without the GIL either way: stopping
// joins the helper thread.
struct DeleteProbe
{
    void operator()(PythonLatencyProbe *p) const
    {
        std::optional<py::gil_scoped_release> release;
        if (PyGILState_Check())
            release.emplace();
        if (QThread::currentThread() == p->thread()) {
            delete p;
        } else {
            p->stop();
            p->deleteLater();
        }
    }
};
using OwnedProbe = std::unique_ptr<PythonLatencyProbe, DeleteProbe>;

void requireOwnThread(const LatencyProbe &probe)
{
    if (QThread::currentThread() != probe.thread())
        throw py::value_error("a LatencyProbe is used on the thread that made it");
}

py::dict statsObject(const LatencyProbe::Stats &s)
{
    py::dict d;
    d["count"] = s.count;
    d["p50_us"] = s.p50us;
    d["p99_us"] = s.p99us;
    d["max_us"] = s.maxus;
    return d;
}

} // namespace

void bindLatencyProbe(py::module_ &m)
{
    py::class_<PythonLatencyProbe, OwnedProbe>(m, "LatencyProbe",
        "How quickly the GUI thread's event loop answers: a helper thread posts a ping every "
        "interval, and each delivery's delay is a sample. Made, used and dropped on the GUI "
        "thread (after the QApplication); python=True handles pings with the GIL taken, as a "
        "Python slot would be.")
        .def(py::init([](bool python) {
            requireGuiThread("a LatencyProbe");
            return OwnedProbe(new PythonLatencyProbe(python));
        }),
            py::kw_only(), py::arg("python") = true)
        .def(
            "start",
            [](PythonLatencyProbe &p, py::handle interval) {
                requireOwnThread(p);
                const double seconds = interval.cast<double>();
                if (!(seconds >= 1e-6 && seconds <= 3600))
                    throw py::value_error("interval: seconds, from 1e-6 to 3600");
                p.start(std::chrono::microseconds(qint64(seconds * 1e6)));
            },
            py::arg("interval") = 0.001, "Starts pinging (seconds between pings); resets.")
        .def(
            "stop",
            [](PythonLatencyProbe &p) {
                requireOwnThread(p);
                py::gil_scoped_release release; // the helper thread is joined
                p.stop();
            },
            "Stops pinging; the samples stay.")
        .def_property_readonly("is_running",
            [](PythonLatencyProbe &p) {
                requireOwnThread(p);
                return p.isRunning();
            })
        .def(
            "stats",
            [](PythonLatencyProbe &p) {
                requireOwnThread(p);
                return statsObject(p.stats());
            },
            "{'count', 'p50_us', 'p99_us', 'max_us'} of the samples since start or reset.")
        .def(
            "samples",
            [](PythonLatencyProbe &p) {
                requireOwnThread(p);
                return p.samplesUs();
            },
            "Every sample since start or reset, in microseconds.")
        .def(
            "reset",
            [](PythonLatencyProbe &p) {
                requireOwnThread(p);
                p.reset();
            },
            "Drops the samples.");
}

} // namespace offload::python
