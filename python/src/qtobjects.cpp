#include "pyoffload.h"

#include <offload/monitor/taskmodel.h>
#include <offload/widgets/taskmonitorwidget.h>

#include <QCoreApplication>
#include <QThread>
#include <QWidget>

namespace offload::python {

namespace {
// The monitor's objects belong to the GUI thread, as every QObject of a widget does.
void requireGuiThread(const char *what)
{
    auto *app = QCoreApplication::instance();
    if (!app)
        throw py::value_error(std::string(what) + " needs a QApplication (make one first)");
    if (QThread::currentThread() != app->thread())
        throw py::value_error(std::string(what) + " must be made on the GUI thread");
}

QObject *optionalParent(py::handle parent)
{
    return parent.is_none() ? nullptr : contextFrom(parent);
}
} // namespace

void bindQtObjects(py::module_ &m)
{
    m.def(
        "TaskModel",
        [](py::object parent) {
            requireGuiThread("a TaskModel");
            auto *model = new TaskModel(optionalParent(parent));
            return wrapQObject(model, "PyQt6.QtCore", "QAbstractItemModel");
        },
        py::arg("parent") = py::none(),
        "Every Offload task as a tree model, for any PyQt6 view (a PyQt6 QAbstractItemModel). "
        "GUI thread only; owned by parent, else by Python.");
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
