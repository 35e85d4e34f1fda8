// An intrusive doubly linked list: the links live in the elements, so linking
// and unlinking never allocate and never fail, and an element unlinks in O(1)
// from wherever it is. The kernel keeps its ready threads, sleeping threads,
// an endpoint's queued and in-flight calls and a process's outgoing calls on
// such lists.
//
// An element type T derives (publicly) from IntrusiveListNode<Tag> once for
// each list it can be on at a time; Tag is any type, usually an empty struct
// that names the list, and tells the nodes apart when T has several:
//
//     struct ReadyLink;
//     class Thread : public IntrusiveListNode<ReadyLink> { ... };
//     IntrusiveList<Thread, ReadyLink> ready;
//
// A base-class node rather than a member: the list can be declared where T is
// still incomplete (a forward declaration is enough until a member function
// is used), and getting from a node to its element is a static_cast, not
// address arithmetic.
//
// The list is circular through a sentinel node inside the list object, so no
// operation branches on an empty list or an end; the list object therefore
// never moves or copies. Its constructor is constexpr: a global list is
// constant-initialized (`constinit`), with no constructor to run at boot.
//
// Misuse that cannot be recovered traps (__builtin_trap): linking an element
// that is already on a list of its Tag, removing one that is not on this list
// (each node records the list it is on: one store per link and unlink, and one
// comparison per unlink), destroying a list that still has elements or an
// element that is still linked.
//
// Iteration: erase(iterator) returns the iterator after the erased element,
// and remove_if() unlinks every element a predicate picks; any other change to
// the list while iterating invalidates the iterators at the changed elements.
//
// Not thread-safe: the owner of the list serialises every call (the kernel's
// lists are touched with interrupts off, or under the owning object's lock).
#pragma once

#include <cstddef>

namespace capos {

template <typename T, typename Tag>
class IntrusiveList;

template <typename Tag = void>
class IntrusiveListNode {
public:
    constexpr IntrusiveListNode() = default;
    IntrusiveListNode(const IntrusiveListNode&) = delete;
    IntrusiveListNode& operator=(const IntrusiveListNode&) = delete;
    constexpr ~IntrusiveListNode() {
        if (m_owner)
            __builtin_trap(); // destroyed while linked: its neighbours would dangle
    }

private:
    template <typename, typename>
    friend class IntrusiveList;

    IntrusiveListNode* m_next = nullptr;
    IntrusiveListNode* m_prev = nullptr;
    const void* m_owner = nullptr; // the list this element is on; null when unlinked
};

template <typename T, typename Tag = void>
class IntrusiveList {
    using Node = IntrusiveListNode<Tag>;

public:
    class Iterator {
    public:
        constexpr Iterator() = default;
        T& operator*() const { return IntrusiveList::element(*m_node); }
        T* operator->() const { return &IntrusiveList::element(*m_node); }
        Iterator& operator++() {
            m_node = m_node->m_next;
            return *this;
        }
        Iterator operator++(int) {
            Iterator before = *this;
            m_node = m_node->m_next;
            return before;
        }
        bool operator==(const Iterator&) const = default;

    private:
        friend class IntrusiveList;
        constexpr explicit Iterator(Node* node) : m_node(node) {}
        Node* m_node = nullptr;
    };

    constexpr IntrusiveList() {
        m_root.m_next = &m_root;
        m_root.m_prev = &m_root;
    }
    IntrusiveList(const IntrusiveList&) = delete;
    IntrusiveList& operator=(const IntrusiveList&) = delete;
    constexpr ~IntrusiveList() {
        if (m_size != 0)
            __builtin_trap(); // its elements would point at a list that is gone
    }

    bool empty() const { return m_size == 0; }
    size_t size() const { return m_size; }

    // The first / last element, or null when the list is empty.
    T* front() { return empty() ? nullptr : &element(*m_root.m_next); }
    T* back() { return empty() ? nullptr : &element(*m_root.m_prev); }

    void push_back(T& item) { link_before(m_root, node(item)); }
    void push_front(T& item) { link_before(*m_root.m_next, node(item)); }
    // Links `item` before `position`, an iterator of this list (end(): at
    // the back).
    void insert_before(Iterator position, T& item) {
        if (position.m_node != &m_root && position.m_node->m_owner != this)
            __builtin_trap(); // `position` is not on this list
        link_before(*position.m_node, node(item));
    }
    // Links `item` before the first element e with less(item, e), so a list
    // kept in `less` order stays so, and equal elements stay in the order
    // they were inserted. O(n).
    template <typename Less>
    void insert_sorted(T& item, Less less) {
        Node* at = m_root.m_next;
        while (at != &m_root && !less(item, element(*at)))
            at = at->m_next;
        link_before(*at, node(item));
    }

    // Unlinks and returns the first / last element, or null when empty.
    T* pop_front() {
        if (empty())
            return nullptr;
        Node& first = *m_root.m_next;
        unlink(first);
        return &element(first);
    }
    T* pop_back() {
        if (empty())
            return nullptr;
        Node& last = *m_root.m_prev;
        unlink(last);
        return &element(last);
    }

    // Unlinks `item`, which must be on this list. O(1).
    void remove(T& item) {
        Node& n = node(item);
        if (n.m_owner != this)
            __builtin_trap(); // not on this list
        unlink(n);
    }
    // Unlinks the element at `position` and returns the iterator after it.
    Iterator erase(Iterator position) {
        Node* next = position.m_node->m_next;
        remove(element(*position.m_node));
        return Iterator(next);
    }
    // Unlinks every element for which pred(element) is true, front to back;
    // returns how many. `pred` must not change the list.
    template <typename Pred>
    size_t remove_if(Pred pred) {
        size_t removed = 0;
        for (Node* at = m_root.m_next; at != &m_root;) {
            Node* next = at->m_next;
            if (pred(element(*at))) {
                unlink(*at);
                ++removed;
            }
            at = next;
        }
        return removed;
    }
    // Unlinks every element.
    void clear() {
        while (pop_front()) {
        }
    }

    // The first element for which pred(element) is true, or null. O(n).
    template <typename Pred>
    T* find_if(Pred pred) {
        for (Node* at = m_root.m_next; at != &m_root; at = at->m_next) {
            if (pred(element(*at)))
                return &element(*at);
        }
        return nullptr;
    }

    // Whether `item` is on this list / on any list of this Tag. O(1).
    bool contains(const T& item) const { return node(item).m_owner == this; }
    static bool is_linked(const T& item) { return node(item).m_owner != nullptr; }

    Iterator begin() { return Iterator(m_root.m_next); }
    Iterator end() { return Iterator(&m_root); }

private:
    static Node& node(T& item) { return static_cast<Node&>(item); }
    static const Node& node(const T& item) { return static_cast<const Node&>(item); }
    static T& element(Node& n) { return static_cast<T&>(n); }

    void link_before(Node& next, Node& n) {
        if (n.m_owner)
            __builtin_trap(); // already on a list of this Tag
        Node& prev = *next.m_prev;
        n.m_next = &next;
        n.m_prev = &prev;
        prev.m_next = &n;
        next.m_prev = &n;
        n.m_owner = this;
        ++m_size;
    }
    void unlink(Node& n) {
        n.m_prev->m_next = n.m_next;
        n.m_next->m_prev = n.m_prev;
        n.m_next = nullptr;
        n.m_prev = nullptr;
        n.m_owner = nullptr;
        --m_size;
    }

    Node m_root; // the sentinel: m_root.m_next is the front, m_root.m_prev the back
    size_t m_size = 0;
};

} // namespace capos
