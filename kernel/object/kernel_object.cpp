#include "kernel/object/kernel_object.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/kernel_lock.h"
#include "kernel/mm/heap.h"

namespace capos::kernel {

void KernelObject::destroy() {
    this->~KernelObject();
    heap_free(this);
}

void KernelObject::last_reference_dropped() {
    if (g_kernel_lock.held_here()) {
        destroy();
        return;
    }
    // A shared holder: destroying may touch anything the kernel lock guards.
    KernelObject*& list = KernelLock::here().deferred_destroys;
    m_next_deferred = list;
    list = this;
}

void KernelObject::destroy_deferred() {
    VERIFY(g_kernel_lock.held_here());
    KernelObject*& list = KernelLock::here().deferred_destroys;
    while (KernelObject* object = list) {
        list = object->m_next_deferred;
        object->destroy();
    }
}

} // namespace capos::kernel
