#include "pyoffload.h"

#include <offload/monitor/taskmodel.h>
#include <offload/widgets/taskmonitorwidget.h>

#include <QCoreApplication>
#include <QThread>
#include <QWidget>

namespace offload::python {

// The monitor's objects belong to the GUI thread, as every QObject of a widget does.
void requireGuiThread(const char *what)
{
    auto *app = QCoreApplication::instance();
    if (!app)
        throw py::value_error(std::string(what) + " needs a QApplication (make one first)");
    if (QThread::currentThread() != app->thread())
        throw py::value_error(std::string(what) + " must be made on the GUI thread");
}

namespace {
QObject *optionalParent(py::handle parent)
{
    return parent.is_none() ? nullptr : contextFrom(parent);
}
} // namespace

void bindQtObjects(py::module_ &m)
{
    m.def(
        "TaskModel",
        [](py::object parent, py::object maxFinished) {
            requireGuiThread("a TaskModel");
            const int keep = maxFinished.is_none() ? -1 : maxFinished.cast<int>();
            if (!maxFinished.is_none() && keep < 0)
                throw py::value_error("max_finished: a count, 0 or more");
            auto *model = new TaskModel(optionalParent(parent));
            if (keep >= 0)
                model->setMaxFinished(keep);
            return wrapQObject(model, "PyQt6.QtCore", "QAbstractItemModel");
        },
        py::arg("parent") = py::none(), py::kw_only(), py::arg("max_finished") = py::none(),
        "Every Offload task as a tree model, for any PyQt6 view (a PyQt6 QAbstractItemModel). "
        "max_finished: finished rows kept (200 by default; the property 'maxFinished'); "
        "QMetaObject.invokeMethod(model, 'clearFinished') clears them. GUI thread only; owned "
        "by parent, else by Python.");
    m.def(
        "TaskMonitorWidget",
        [](py::object parent) {
            requireGuiThread("a TaskMonitorWidget");
            QWidget *p = nullptr;
            if (!parent.is_none()) {
                QObject *o = contextFrom(parent);
                p = qobject_cast<QWidget *>(o);
                if (!p)
                    throw py::type_error("the parent of a widget must be a QWidget");
            }
            auto *widget = new TaskMonitorWidget(p);
            return wrapQObject(widget, "PyQt6.QtWidgets", "QWidget");
        },
        py::arg("parent") = py::none(),
        "Offload's task monitor (a tree of every task with Cancel and Clear finished), as a "
        "PyQt6 QWidget. GUI thread only; owned by parent, else by Python.");
}

} // namespace offload::python
