// The root of every kernel object that a capability can name or that has a
// lifetime of its own (processes, threads, endpoints, memory objects, ...).
//
// Objects are reference counted: a capability table slot, a run queue or a
// wait holds one reference each, through RefPtr. There is no RTTI: the type
// tag says what an object is, and downcast<T>() checks it.
#pragma once

#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/log.h"
#include <cstdint>
#include <utility>

namespace capos::kernel {

enum class ObjectType : uint8_t {
    Process,
    Thread,
    KernelService, // an object serving one kernel capability interface
    MemoryObject,
    Endpoint,        // an endpoint's state (not itself a capability)
    EndpointOwner,   // the capability to receive and return on an endpoint
    EndpointClient,  // the capability to call through an endpoint
    Ledger,          // a process's frame ledger (not a capability)
    DeviceInterrupt, // a device interrupt routed to the kernel (MSI, MSI-X)
    DeviceClaim,     // a PCI function held by a driver (the device ledger)
};

class KernelObject {
public:
    KernelObject(const KernelObject&) = delete;
    KernelObject& operator=(const KernelObject&) = delete;

    ObjectType type() const { return m_type; }

    // Counts are atomic: CPUs in the shared part of cap_enter take and drop
    // references at once (kernel/lib/kernel_lock.h).
    void add_reference() { __atomic_fetch_add(&m_references, 1u, __ATOMIC_RELAXED); }
    // Drops a reference; the last one destroys the object, at once under the
    // kernel lock held exclusively, else (a shared holder) when this CPU next
    // takes it exclusively (destroy_deferred).
    void release_reference() {
        uint32_t before = __atomic_fetch_sub(&m_references, 1u, __ATOMIC_ACQ_REL);
        VERIFY(before > 0);
        if (before == 1)
            last_reference_dropped();
    }
    uint32_t reference_count() const { return __atomic_load_n(&m_references, __ATOMIC_RELAXED); }
    // Destroys the objects whose last reference this CPU dropped while it
    // held the kernel lock shared. Under the kernel lock, exclusively.
    static void destroy_deferred();

protected:
    explicit KernelObject(ObjectType type) : m_type(type) {}
    virtual ~KernelObject() = default;
    // Frees the object (heap_destroy by default); objects with their own
    // teardown order override it.
    virtual void destroy();

private:
    void last_reference_dropped();

    ObjectType m_type;
    uint32_t m_references = 1;               // the creator's reference
    KernelObject* m_next_deferred = nullptr; // on this CPU's list of deferred destroys
};

template <typename T>
T* downcast(KernelObject* object) {
    return object && object->type() == T::object_type ? static_cast<T*>(object) : nullptr;
}

// An owning reference to a kernel object.
template <typename T>
class RefPtr {
public:
    RefPtr() = default;
    // Takes over an existing reference (typically the creator's).
    static RefPtr adopt(T* object) { return RefPtr(object); }
    RefPtr(const RefPtr& other) : m_object(other.m_object) {
        if (m_object)
            m_object->add_reference();
    }
    RefPtr(RefPtr&& other) noexcept : m_object(std::exchange(other.m_object, nullptr)) {}
    template <typename U>
    RefPtr(RefPtr<U>&& other) noexcept : m_object(other.leak()) {}
    RefPtr& operator=(RefPtr other) {
        std::swap(m_object, other.m_object);
        return *this;
    }
    ~RefPtr() noexcept { reset(); }

    void reset() {
        if (T* object = std::exchange(m_object, nullptr))
            object->release_reference();
    }
    // Gives up the reference without dropping it.
    T* leak() { return std::exchange(m_object, nullptr); }

    T* get() const { return m_object; }
    T* operator->() const { return m_object; }
    T& operator*() const { return *m_object; }
    explicit operator bool() const { return m_object != nullptr; }

private:
    explicit RefPtr(T* object) : m_object(object) {}
    T* m_object = nullptr;
};

// A new reference to an object the caller already holds one to.
template <typename T>
RefPtr<T> retain(T* object) {
    object->add_reference();
    return RefPtr<T>::adopt(object);
}

} // namespace capos::kernel
