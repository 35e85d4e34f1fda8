// irqoff_child: maps 60 MiB, touches every page and exits with it all
// mapped: the kernel tears the address space down (irqoff_test).
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"

using namespace capos;

int main() {
    auto vm = rt::lookup<schema::VirtualMemory>("vm");
    if (vm.is_error())
        return 2;
    constexpr uint64_t length = 15360 * 4096;
    auto mapped = vm.value()->map(0, length, schema::Access::ReadWrite);
    if (mapped.is_error())
        return 3;
    uint64_t at = mapped.value().address();
    for (uint64_t offset = 0; offset < length; offset += 4096)
        reinterpret_cast<volatile uint8_t*>(at)[offset] = 1;
    return 0;
}
