#include "collapsiblesection_p.h"

#include "fields_p.h"

#include <QFrame>
#include <QToolButton>
#include <QVBoxLayout>

namespace offload::forms::detail {

CollapsibleSection::CollapsibleSection(
    const QString &title, const QString &toolTip, QWidget *parent)
    : QWidget(parent), m_header(new QToolButton(this)), m_body(new QFrame(this))
{
    m_header->setText(displayText(title, 120));
    m_header->setToolTip(toolTip);
    m_header->setCheckable(true);
    m_header->setChecked(true);
    m_header->setAutoRaise(true);
    m_header->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_header->setArrowType(Qt::DownArrow);
    m_header->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    QFont bold = m_header->font();
    bold.setBold(true);
    m_header->setFont(bold);
    m_header->setAccessibleName(title);
    m_header->setAccessibleDescription(tr("Shows or hides the %1 section").arg(title));
    static_cast<QFrame *>(m_body)->setFrameShape(QFrame::StyledPanel);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(m_header);
    layout->addWidget(m_body);
    connect(m_header, &QToolButton::toggled, this, &CollapsibleSection::setExpanded);
}

bool CollapsibleSection::isExpanded() const
{
    return m_header->isChecked();
}

void CollapsibleSection::setExpanded(bool expanded)
{
    m_header->setChecked(expanded);
    m_header->setArrowType(expanded ? Qt::DownArrow : Qt::RightArrow);
    m_body->setVisible(expanded);
}

} // namespace offload::forms::detail
