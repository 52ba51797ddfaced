// Private: a titled section whose contents fold away under its header, as Slicer's
// collapsible groups do. GUI thread only; owns its header and body.
#pragma once

#include <QWidget>

class QToolButton;

namespace offload::forms::detail {

class CollapsibleSection : public QWidget
{
    Q_OBJECT
public:
    CollapsibleSection(const QString &title, const QString &toolTip, QWidget *parent = nullptr);

    QWidget *body() const { return m_body; } // put the section's contents in here
    QToolButton *header() const { return m_header; }
    bool isExpanded() const;
    void setExpanded(bool expanded);

private:
    QToolButton *m_header;
    QWidget *m_body;
};

} // namespace offload::forms::detail
