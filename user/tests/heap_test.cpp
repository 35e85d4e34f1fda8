// The runtime's heap. With the "vm" capability: allocations of many sizes,
// alignment, growth past the first mapping, everything returned on free,
// exhaustion reported as an error. Without it: every allocation fails cleanly.
#include "common/test.h"
#include "user/rt/heap.h"
#include <new>

int main() {
    using namespace capos;
    using test::Line;
    test::Suite suite("heap");
    bool has_vm = rt::find_capability("vm").is_ok();

    if (!has_vm) {
        suite.check("without vm, allocate fails with OutOfMemory",
                    rt::allocate(64).is_error() &&
                        rt::allocate(64).error() == HeapError::OutOfMemory);
        suite.check("without vm, new(nothrow) returns null",
                    new (std::nothrow) uint64_t(1) == nullptr);
        return suite.finish();
    }

    constexpr int count = 300;
    uint8_t* blocks[count];
    size_t sizes[count];
    bool all_ok = true;
    for (int i = 0; i < count; ++i) {
        sizes[i] = 1 + (i * 131) % 5000;
        auto block = rt::allocate(sizes[i]);
        all_ok = all_ok && block.is_ok();
        blocks[i] = block.is_ok() ? static_cast<uint8_t*>(block.value()) : nullptr;
        if (blocks[i])
            __builtin_memset(blocks[i], i & 0xff, sizes[i]);
    }
    suite.check("300 allocations of 1..5000 bytes", all_ok);
    suite.check("the heap grew past its first 64 KiB", rt::heap_stats().mapped_bytes > 64 * 1024,
                Line("mapped ").udec(rt::heap_stats().mapped_bytes));
    bool intact = true;
    for (int i = 0; i < count && blocks[i]; ++i) {
        for (size_t b = 0; b < sizes[i]; ++b)
            intact = intact && blocks[i][b] == (i & 0xff);
    }
    suite.check("every block kept its contents", intact);
    for (int i = 0; i < count; i += 2)
        rt::free(blocks[i]);
    for (int i = 1; i < count; i += 2)
        rt::free(blocks[i]);
    suite.check("everything freed is returned",
                rt::heap_stats().bytes_in_use == 0 && rt::heap_stats().allocation_count == 0);

    auto aligned = rt::allocate(100, 4096);
    suite.check("4096-byte alignment is honoured",
                aligned.is_ok() && reinterpret_cast<uint64_t>(aligned.value()) % 4096 == 0);
    if (aligned.is_ok())
        rt::free(aligned.value());

    auto* value = new (std::nothrow) uint64_t(42);
    suite.check("new(nothrow) and delete", value != nullptr && *value == 42);
    delete value;

    auto huge = rt::allocate(size_t(1) << 41);
    suite.check("a 2 TiB allocation fails with OutOfMemory",
                huge.is_error() && huge.error() == HeapError::OutOfMemory);
    auto quota = rt::allocate(size_t(100) << 20);
    suite.check("100 MiB (beyond the memory quota) fails with OutOfMemory",
                quota.is_error() && quota.error() == HeapError::OutOfMemory);
    suite.check("the heap still works after failures", rt::allocate(32).is_ok());
    return suite.finish();
}
