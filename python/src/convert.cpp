#include "pyoffload.h"

#include <QAbstractEventDispatcher>
#include <QJsonArray>
#include <QJsonObject>
#include <QObject>
#include <QThread>

#include <cmath>
#include <mutex>
#include <vector>

namespace offload::python {

namespace {
constexpr int maxDepth = 256; // nesting of lists and dicts sent as JSON

QJsonValue jsonFrom(py::handle value, int depth)
{
    if (depth > maxDepth)
        throw py::value_error("too deeply nested to send as JSON");
    if (value.is_none())
        return QJsonValue(QJsonValue::Null);
    if (py::isinstance<py::bool_>(value)) // before int: bool is one
        return value.cast<bool>();
    if (py::isinstance<py::int_>(value)) {
        try {
            return QJsonValue(value.cast<qint64>());
        } catch (py::cast_error &) {
            throw py::value_error("an integer beyond 64 bits cannot be sent as JSON");
        }
    }
    if (py::isinstance<py::float_>(value)) {
        const double d = value.cast<double>();
        if (!std::isfinite(d))
            throw py::value_error("NaN and infinity cannot be sent as JSON");
        return d;
    }
    if (py::isinstance<py::str>(value))
        return stringFrom(value);
    if (py::isinstance<py::dict>(value)) {
        QJsonObject object;
        for (const auto &[k, v] : py::reinterpret_borrow<py::dict>(value)) {
            if (!py::isinstance<py::str>(k))
                throw py::type_error("JSON object keys must be str");
            object.insert(stringFrom(k), jsonFrom(v, depth + 1));
        }
        return object;
    }
    if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
        QJsonArray array;
        for (py::handle item : value)
            array.append(jsonFrom(item, depth + 1));
        return array;
    }
    throw py::type_error(std::string("cannot send a ")
        + std::string(py::str(value.get_type().attr("__name__")))
        + " as JSON (None, bool, int, float, str, list, tuple and dict can be)");
}
} // namespace

namespace {
std::mutex queueMutex;
std::vector<py::object *> *queued = new std::vector<py::object *>; // never destroyed

int releaseQueuedCall(void *)
{
    releaseQueued();
    return 0;
}
} // namespace

PyRef::PyRef(py::object object)
    : m_object(new py::object(std::move(object)), [](py::object *o) {
        if (!interpreterAlive()) // finalizing: never touched again
            return;
        if (PyGILState_Check()) {
            delete o;
            return;
        }
        bool first = false;
        {
            std::lock_guard lock(queueMutex);
            first = queued->empty();
            queued->push_back(o);
        }
        if (first) // callable without the GIL; if Python's queue is full, the next entry drains
            Py_AddPendingCall(&releaseQueuedCall, nullptr);
    })
{ }

void releaseQueued()
{
    std::vector<py::object *> drop;
    {
        std::lock_guard lock(queueMutex);
        drop.swap(*queued);
    }
    for (py::object *o : drop)
        delete o;
}

bool interpreterAlive()
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsInitialized() && !Py_IsFinalizing();
#else
    return Py_IsInitialized() && !_Py_IsFinalizing();
#endif
}

void guarded(const char *what, const std::function<void()> &body)
{
    py::gil_scoped_acquire gil;
    releaseQueued();
    try {
        body();
    } catch (py::error_already_set &e) {
        if (e.matches(PyExc_KeyboardInterrupt)) {
            PyErr_SetInterrupt(); // Ctrl+C still ends the application
            return;
        }
        e.discard_as_unraisable(what);
    } catch (std::exception &e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
        PyErr_WriteUnraisable(py::str(what).ptr());
    }
}

py::str toPython(const QString &text)
{
    const QByteArray utf8 = text.toUtf8();
    return py::str(utf8.constData(), size_t(utf8.size()));
}

py::bytes toPython(const QByteArray &bytes)
{
    return py::bytes(bytes.constData(), size_t(bytes.size()));
}

py::object toPython(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Bool:
        return py::bool_(value.toBool());
    case QJsonValue::Double: {
        // Integers stay integers: JSON has one number type, Python two.
        const QVariant v = value.toVariant();
        if (v.typeId() == QMetaType::LongLong)
            return py::int_(v.toLongLong());
        return py::float_(value.toDouble());
    }
    case QJsonValue::String:
        return toPython(value.toString());
    case QJsonValue::Array: {
        py::list list;
        for (const QJsonValue &item : value.toArray())
            list.append(toPython(item));
        return list;
    }
    case QJsonValue::Object: {
        py::dict dict;
        const QJsonObject object = value.toObject();
        for (auto it = object.begin(); it != object.end(); ++it)
            dict[toPython(it.key())] = toPython(it.value());
        return dict;
    }
    default:
        return py::none();
    }
}

py::object toPython(const QVariant &value)
{
    switch (value.typeId()) {
    case QMetaType::UnknownType:
        return py::none();
    case QMetaType::Bool:
        return py::bool_(value.toBool());
    case QMetaType::Int:
    case QMetaType::LongLong:
    case QMetaType::UInt:
        return py::int_(value.toLongLong());
    case QMetaType::Double:
    case QMetaType::Float:
        return py::float_(value.toDouble());
    case QMetaType::QByteArray:
        return toPython(value.toByteArray());
    case QMetaType::QVariantList:
    case QMetaType::QStringList: {
        py::list list;
        for (const QVariant &item : value.toList())
            list.append(toPython(item));
        return list;
    }
    case QMetaType::QVariantMap: {
        py::dict dict;
        const QVariantMap map = value.toMap();
        for (auto it = map.begin(); it != map.end(); ++it)
            dict[toPython(it.key())] = toPython(it.value());
        return dict;
    }
    default:
        return toPython(value.toString());
    }
}

QString stringFrom(py::handle text)
{
    if (!py::isinstance<py::str>(text))
        throw py::type_error("a str is needed");
    Py_ssize_t size = 0;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
    if (!utf8) // lone surrogates: not text Qt can hold
        throw py::error_already_set();
    return QString::fromUtf8(utf8, qsizetype(size));
}

QByteArray bytesFrom(py::handle data)
{
    if (py::isinstance<py::str>(data))
        return stringFrom(data).toUtf8();
    if (py::isinstance<py::bytes>(data)) {
        char *p = nullptr;
        Py_ssize_t n = 0;
        PyBytes_AsStringAndSize(data.ptr(), &p, &n);
        return QByteArray(p, qsizetype(n));
    }
    if (PyObject_CheckBuffer(data.ptr())) { // bytearray, memoryview, array, numpy
        // Any layout (a strided or reversed view too), copied in C order.
        Py_buffer view;
        if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_FULL_RO) != 0)
            throw py::error_already_set();
        QByteArray out(qsizetype(view.len), Qt::Uninitialized);
        const int rc = PyBuffer_ToContiguous(out.data(), &view, view.len, 'C');
        PyBuffer_Release(&view);
        if (rc != 0)
            throw py::error_already_set();
        return out;
    }
    throw py::type_error("bytes, bytearray, memoryview or str are needed");
}

QJsonValue jsonFrom(py::handle value)
{
    return jsonFrom(value, 0);
}

QVariant variantFrom(py::handle value)
{
    if (value.is_none())
        return {};
    if (py::isinstance<py::bool_>(value))
        return value.cast<bool>();
    if (py::isinstance<py::int_>(value)) {
        try {
            return QVariant::fromValue(value.cast<qlonglong>());
        } catch (py::cast_error &) {
            throw py::value_error("an integer beyond 64 bits cannot be passed");
        }
    }
    if (py::isinstance<py::float_>(value))
        return value.cast<double>();
    if (py::isinstance<py::str>(value))
        return stringFrom(value);
    if (py::isinstance<py::bytes>(value))
        return bytesFrom(value);
    if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
        QVariantList list;
        for (py::handle item : value)
            list << variantFrom(item);
        return list;
    }
    if (py::isinstance<py::dict>(value)) {
        QVariantMap map;
        for (const auto &[k, v] : py::reinterpret_borrow<py::dict>(value))
            map.insert(stringFrom(k), variantFrom(v));
        return map;
    }
    throw py::type_error(std::string("cannot pass a ")
        + std::string(py::str(value.get_type().attr("__name__")))
        + " (None, bool, int, float, str, bytes, list and dict can be passed)");
}

QByteArrayList argumentsFrom(py::handle list)
{
    if (list.is_none())
        return {};
    if (py::isinstance<py::str>(list) || py::isinstance<py::bytes>(list))
        throw py::type_error("arguments must be a list of str or bytes, not one string");
    QByteArrayList out;
    for (py::handle item : list) {
        if (!py::isinstance<py::str>(item) && !py::isinstance<py::bytes>(item))
            throw py::type_error("every argument must be a str or bytes");
        out << bytesFrom(item);
    }
    return out;
}

std::chrono::milliseconds durationFrom(py::handle seconds)
{
    if (py::isinstance<py::bool_>(seconds)
        || (!py::isinstance<py::int_>(seconds) && !py::isinstance<py::float_>(seconds)))
        throw py::type_error("a duration is a number of seconds");
    const double s = seconds.cast<double>();
    if (!(s >= 0) || s > 1e9)
        throw py::value_error("a duration must be between 0 and 1e9 seconds");
    return std::chrono::milliseconds(qint64(std::llround(s * 1000)));
}

py::str pyStateName(TaskState state)
{
    static const char *const names[]
        = { "queued", "starting", "running", "finished", "failed", "cancelled" };
    return py::str(names[int(state)]);
}

py::object outputStreamName(OutputChunk::Stream stream)
{
    switch (stream) {
    case OutputChunk::Stdout:
        return py::str("stdout");
    case OutputChunk::Stderr:
        return py::str("stderr");
    default:
        return py::str("log");
    }
}

py::object progressObject(const Progress &p)
{
    py::object cls = py::module_::import("offload").attr("Progress");
    return cls(p.value, p.minimum, p.maximum, p.fraction(), toPython(p.text),
        p.stage.isNull() ? py::object(py::none())
                         : py::make_tuple(toPython(p.stage.name), p.stage.index, p.stage.count));
}

py::object processInfoObject(const ProcessInfo &info)
{
    py::object cls = py::module_::import("offload").attr("ProcessInfo");
    return cls(info.pid, info.rssBytes, info.cpuSeconds, toPython(info.location));
}

QObject *contextFrom(py::handle object)
{
    py::object qobject = py::module_::import("PyQt6.QtCore").attr("QObject");
    if (object.is_none() || !py::isinstance(object, qobject))
        throw py::type_error("the context must be a PyQt6 QObject (a window, a widget, a "
                             "QObject living as long as the work may report to it)");
    py::object sip = py::module_::import("PyQt6.sip");
    if (sip.attr("isdeleted")(object).cast<bool>())
        throw py::value_error("the context's C++ object has been deleted");
    auto *context
        = reinterpret_cast<QObject *>(sip.attr("unwrapinstance")(object).cast<uintptr_t>());
    // Callbacks are delivered by the context thread's event loop: a thread without one (a
    // QObject made in a Python thread) would never hear of its tasks.
    if (!QAbstractEventDispatcher::instance(context->thread()))
        throw py::value_error("the context lives in a thread without a Qt event loop: nothing "
                              "could be delivered to it (use an object of the GUI thread)");
    return context;
}

py::object wrapQObject(QObject *object, const char *module, const char *className)
{
    py::object sip = py::module_::import("PyQt6.sip");
    py::object cls = py::module_::import(module).attr(className);
    py::object wrapper = sip.attr("wrapinstance")(reinterpret_cast<uintptr_t>(object), cls);
    if (!object->parent())
        sip.attr("transferback")(wrapper); // Python owns it: deleted with its last reference
    return wrapper;
}

} // namespace offload::python
