// Private: one editor per parameter type, as ModuleForm lays them out. GUI thread only. A
// Field does not own its widgets: they are created under the parent given to makeField and
// live as long as it.
#pragma once

#include <offload/sem/semdescription.h>

#include <QObject>
#include <QVariant>

#include <memory>

class QWidget;

namespace offload::forms::detail {

class Field : public QObject
{
    Q_OBJECT
public:
    explicit Field(const sem::Parameter &parameter) : m_parameter(parameter) { }

    const sem::Parameter &parameter() const { return m_parameter; }
    // What the form lays out: the editor and any buttons or slider beside it.
    virtual QWidget *widget() const = 0;
    // The widget that takes the value: labelled, focused, returned by ModuleForm::editor().
    virtual QWidget *editor() const = 0;
    // The value as buildCommandLine takes it; an empty string when the field is empty.
    virtual QVariant value() const = 0;
    // From a default, a parameter file, settings or a return parameter: text, numbers,
    // booleans or lists. A value the editor cannot show leaves it unchanged and gives false.
    virtual bool setValue(const QVariant &value) = 0;

Q_SIGNALS:
    void changed();

private:
    sem::Parameter m_parameter;
};

// outputOnly: an output the module reports (a return parameter): shown read-only.
std::unique_ptr<Field> makeField(const sem::Parameter &parameter, bool outputOnly, QWidget *parent);

} // namespace offload::forms::detail
