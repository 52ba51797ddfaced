// Private: an intrusive doubly linked list of tasks. Linking and unlinking allocate nothing,
// which matters at hundreds of thousands of tasks per second. Callers provide the locking.
#pragma once

namespace offload::detail {

class TaskCore;

struct ListHook
{
    ListHook *prev = nullptr;
    ListHook *next = nullptr;
    TaskCore *owner = nullptr;
    bool isLinked() const { return next != nullptr; }
};

class IntrusiveList
{
public:
    IntrusiveList() { m_head.prev = m_head.next = &m_head; }
    IntrusiveList(const IntrusiveList &) = delete;
    IntrusiveList &operator=(const IntrusiveList &) = delete;

    void pushBack(ListHook *hook)
    {
        hook->prev = m_head.prev;
        hook->next = &m_head;
        m_head.prev->next = hook;
        m_head.prev = hook;
        ++m_size;
    }
    void remove(ListHook *hook)
    {
        if (!hook->isLinked())
            return;
        hook->prev->next = hook->next;
        hook->next->prev = hook->prev;
        hook->prev = hook->next = nullptr;
        --m_size;
    }
    template<typename F> void forEach(F &&f) const
    {
        for (ListHook *h = m_head.next; h != &m_head; h = h->next)
            f(h->owner);
    }
    void clear()
    {
        while (m_head.next != &m_head)
            remove(m_head.next);
    }
    bool isEmpty() const { return m_size == 0; }
    long size() const { return m_size; }

private:
    ListHook m_head;
    long m_size = 0;
};

} // namespace offload::detail
