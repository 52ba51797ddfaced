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
    // Back to the description's default or, where it gives none the editor can hold, to the
    // editor's empty state (0 within the bounds, unchecked, the first element, no text).
    void reset()
    {
        if (!setValue(m_parameter.defaultValue))
            clear();
    }

Q_SIGNALS:
    void changed();

protected:
    virtual void clear() = 0;

private:
    sem::Parameter m_parameter;
};

// A value of one piece (text, a number, a boolean), or a list of such pieces: the shapes a
// field takes. Anything else (a map, a list of lists) is refused, never shown as "".
bool isScalar(const QVariant &value);
bool isFlatList(const QVariant &value);

// Text a description gives, made fit for a label or a button: at most maxChars characters
// (longer text ends in "…": a 100 KB label would make the form as wide as 500,000 pixels),
// and '&' doubled, since a label with a buddy and a button take '&' as a shortcut marker.
QString displayText(const QString &text, int maxChars);

// An integer, float or double that takes one value: a spin box, with a slider when bounded.
std::unique_ptr<Field> makeNumberField(const sem::Parameter &parameter, QWidget *parent);

// outputOnly: an output the module reports (a return parameter): shown read-only.
std::unique_ptr<Field> makeField(const sem::Parameter &parameter, bool outputOnly, QWidget *parent);

} // namespace offload::forms::detail
