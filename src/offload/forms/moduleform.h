// ModuleForm: the form a Slicer Execution Model module's description generates, one editor per
// parameter, whose values() ModuleRunner::run takes as they are.
#pragma once

#include <offload/forms/export.h>
#include <offload/sem/semdescription.h>

#include <QVariantMap>
#include <QWidget>

#include <memory>

class QSettings;

namespace offload::sem {
struct ParameterFile;
}

namespace offload {

// One collapsible section per <parameters> group, in file order (advanced groups collapsed),
// each parameter a labelled row with its description as tooltip and its default as the initial
// value: spin boxes within the constraints (with a slider when both bounds are set) for
// numbers, a check box for booleans, a combo box for enumerations, a comma list for vectors, a
// table of coordinates for points and regions (with the coordinate system shown), a path with
// a browse button for files, directories, images, geometry, transforms, tables, measurements
// and point files (a list of paths when the parameter takes several), a line edit for strings
// and for elements outside the schema. Hidden parameters are not shown and keep their default.
// Return parameters (outputs with neither flag nor index, which the module writes to its
// return-parameter file) are read-only, filled by setOutputValues(); an output with a flag or
// an index (a path to write, say) is on the command line and is edited like an input.
// Labels, titles and messages are plain text: markup in a description is shown as written.
// Each field is validated as the user types, by sem::validateValue (the rules buildCommandLine
// applies), with the message under the field; required (index) parameters are marked "*".
// Every editor carries the parameter's label as its accessible name, and tab order follows the
// form.
//
// Thread-safety: GUI thread only, like every widget. Owns its editors.
class OFFLOAD_FORMS_EXPORT ModuleForm : public QWidget
{
    Q_OBJECT
public:
    explicit ModuleForm(sem::Description description, QWidget *parent = nullptr);
    ~ModuleForm() override;

    const sem::Description &description() const;

    // The value of every shown input by parameter name, as ModuleRunner::run and
    // sem::buildCommandLine take them: qlonglong for integers, bool for booleans, QString for
    // floating-point numbers (their shortest exact decimal text, "0.0001") and for everything
    // else that holds one value, QStringList for paths and points of parameters that take
    // several. An emptied field gives an empty string (the parameter is left out of the command
    // line, as Slicer leaves it out). Hidden parameters and return parameters are not included.
    QVariantMap values() const;
    // Sets the fields named in values (strings, numbers, booleans or lists of those); other
    // fields keep their value. Returns, one sentence each, what could not be applied, and
    // leaves those fields as they were: a name the module does not have, a hidden parameter, a
    // return parameter, a value of the wrong shape (a map, a list of lists, a list for a single
    // path), a value the editor cannot hold exactly (a number outside the bounds, a fraction
    // for an integer, more than 30 decimals, a text that is not an element of an enumeration,
    // more coordinates than a point or region has). valuesChanged() is emitted for each field
    // that changed.
    QStringList setValues(const QVariantMap &values);
    // Every field back to its default; one without a default the editor can hold back to the
    // state a new form shows (0 within the bounds, unchecked, the first element, empty).
    void resetToDefaults();

    // True when buildCommandLine takes values(): every shown field valid, and every hidden
    // parameter's default too (a hidden required parameter without one makes a form that can
    // never be valid; its message says to fix the description).
    bool isValid() const;
    // One message per invalid field, in form order, as buildCommandLine words them, then those
    // of hidden parameters.
    QStringList errors() const;
    // The message under the named field, empty when it is valid.
    QString error(const QString &name) const;

    // Fills the read-only outputs from a run's return parameters (ModuleRunner::returnValues);
    // names that are not outputs are ignored.
    void setOutputValues(const QVariantMap &returnValues);
    void clearOutputValues();

    // The widget that takes the parameter's value (a QSpinBox, QDoubleSpinBox, QCheckBox,
    // QComboBox, QLineEdit, QListWidget or QTableWidget), or nullptr for a hidden or unknown
    // name. For customisation and tests; the form keeps ownership.
    QWidget *editor(const QString &name) const;
    // The sections, in file order: one per group with a shown parameter (a group whose
    // parameters are all hidden has none, so a section number is not a group index).
    int sectionCount() const;
    bool isSectionExpanded(int section) const;
    void setSectionExpanded(int section, bool expanded);

    // Values persist per module: saved under "offload/forms/<settingsKey>/values" as a parameter
    // file's JSON, the key percent-encoded (so that "A/B" and "A_B" stay apart). The key is the
    // module's title unless set; two modules with the same title share it, so set the module's
    // path as the key where that matters.
    QString settingsKey() const;
    void setSettingsKey(const QString &key);
    void saveSettings(QSettings &settings) const;
    // Restores what saveSettings saved, if anything; returns setValues()'s complaints (a saved
    // name the module no longer has, say).
    QStringList restoreSettings(QSettings &settings);

    // A JSON parameter file, the shape `offload module MODULE --params FILE` reads. Both return
    // an empty string or the error (naming the file); loading a file that cannot be read or
    // parsed changes nothing. A null value puts that field back to its default. Saving writes
    // on the calling thread (a local file, replaced atomically); loading never waits.
    QString saveParameterFile(const QString &path) const;
    QString loadParameterFile(const QString &path, QStringList *notApplied = nullptr);

Q_SIGNALS:
    void valuesChanged(); // a field changed, through the user or setValues
    void validityChanged(bool valid); // isValid() turned

private:
    QStringList apply(const sem::ParameterFile &file);
    void onFieldChanged(size_t index);

    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace offload
