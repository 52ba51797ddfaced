// offload.SharedBuffer: the process library's SharedBuffer for Python, with the buffer protocol
// (memoryview(buf), numpy.frombuffer(buf)) over its mapping: no copy on either side.
#include "pyoffload.h"

#include <offload/process/sharedbuffer.h>

namespace offload::python {

// The Python object: a SharedBuffer and whether a view of its bytes was ever handed out
// (sealing remaps the bytes, which a view would still point at).
struct PySharedBuffer
{
    SharedBuffer buffer;
    bool exported = false;
};

py::object sharedBufferObject(const SharedBuffer &b)
{
    return py::cast(PySharedBuffer { b });
}

SharedBuffer sharedBufferFrom(py::handle object)
{
    if (!py::isinstance<PySharedBuffer>(object))
        throw py::type_error("buffers are offload.SharedBuffer objects");
    return object.cast<PySharedBuffer &>().buffer;
}

void bindSharedBuffer(py::module_ &m)
{
    py::class_<PySharedBuffer>(m, "SharedBuffer", py::buffer_protocol(),
        "Memory shared with worker processes without copies: an anonymous memory file mapped "
        "here. memoryview(buf) (or numpy.frombuffer(buf)) reads and writes it in place; a "
        "local worker given it in submit(..., buffers=[buf]) maps the same memory. Sealed, it "
        "is read-only for everyone. Copies share the memory; it goes with the last holder, in "
        "any process. Any thread.")
        .def(py::init([](py::handle size, bool prefault) {
            const qint64 n = size.cast<qint64>();
            QString error;
            SharedBuffer b;
            {
                py::gil_scoped_release release; // prefaulting a large buffer takes a while
                b = SharedBuffer::create(
                    n, prefault ? SharedBuffer::Fill::Prefault : SharedBuffer::Fill::Lazy, &error);
            }
            if (b.isNull()) {
                if (n < 1)
                    throw py::value_error(error.toStdString());
                throw std::runtime_error("cannot make a shared buffer: " + error.toStdString());
            }
            return PySharedBuffer { b };
        }),
            py::arg("size"), py::kw_only(), py::arg("prefault") = false,
            "A zero-filled buffer of size bytes; prefault=True maps every page now.")
        .def_property_readonly("size", [](const PySharedBuffer &b) { return b.buffer.size(); })
        .def_property_readonly(
            "sealed", [](const PySharedBuffer &b) { return b.buffer.isSealed(); })
        .def("__len__", [](const PySharedBuffer &b) { return b.buffer.size(); })
        .def(
            "seal",
            [](PySharedBuffer &b) {
                if (b.buffer.isSealed())
                    return;
                if (b.exported)
                    throw py::value_error("seal a buffer before making a view of it "
                                          "(memoryview, numpy): sealing moves its bytes");
                QString error;
                if (!b.buffer.seal(&error))
                    throw py::value_error("cannot seal the buffer: " + error.toStdString());
            },
            "Read-only for good, for everyone. Only before it is shared or viewed: before any "
            "submit() holds it and any memoryview of it was made (ValueError otherwise).")
        .def_buffer([](PySharedBuffer &b) {
            b.exported = true;
            const bool readOnly = b.buffer.isSealed();
            auto *p = const_cast<std::byte *>(b.buffer.constData());
            return py::buffer_info(p, 1, py::format_descriptor<unsigned char>::format(), 1,
                { py::ssize_t(b.buffer.size()) }, { py::ssize_t(1) }, readOnly);
        })
        .def("__repr__", [](const PySharedBuffer &b) {
            return py::str("<offload.SharedBuffer {} bytes{}>")
                .format(b.buffer.size(), b.buffer.isSealed() ? ", sealed" : "");
        });
}

} // namespace offload::python
