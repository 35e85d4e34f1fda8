#include "kernel/object/kernel_object.h"
#include "kernel/mm/heap.h"

namespace capos::kernel {

void KernelObject::destroy() {
    this->~KernelObject();
    heap_free(this);
}

} // namespace capos::kernel
