// Started by init with small resource limits from its manifest entry
// (tests/scenarios/manifests/limits.capnp): 64 frames and 4 capability slots.
// Checks the kernel holds it to exactly those bounds, page tables included.
#include "common/test.h"
#include "schema/capos.capnp.capos.h"

int main() {
    using namespace capos;
    test::Suite suite("limits");
    schema::VirtualMemory::Client<rt::RingTransport> vm(rt::transport(), test::cap_id("vm"));
    schema::FrameAllocator::Client<rt::RingTransport> frames(rt::transport(),
                                                             test::cap_id("frames"));

    // 64 frames in all; the stack, ring, CapSet and program already use some.
    auto sixteen = vm.map(0, 16 * 4096, schema::Access::ReadWrite);
    suite.check_ok("mapping 16 pages fits the frame limit", sixteen);
    uint64_t sixteen_at = sixteen.is_ok() ? sixteen.value().address() : 0;
    suite.check_exception("mapping 64 more pages is overloaded",
                          vm.map(0, 64 * 4096, schema::Access::ReadWrite),
                          schema::ExceptionType::Overloaded);
    suite.check_exception("a 64-page memory object is overloaded too", frames.allocate(64, false),
                          schema::ExceptionType::Overloaded);

    // 4 slots: console, vm and frames use three; one memory object fills it.
    suite.check_ok("one more capability fits the slot limit", frames.allocate(1, false));
    suite.check_exception("a fifth capability does not", frames.allocate(1, false),
                          schema::ExceptionType::Overloaded);

    // Page tables are charged too: single pages 2 MiB apart each need a page
    // table of their own, so about half as many fit as pages side by side
    // (a regression test: tables were free, so a process could make the
    // kernel allocate as many table pages as its limit allowed pages).
    constexpr uint64_t page = 4096, apart = 2 * 1024 * 1024;
    constexpr uint64_t base = 0x200000000000;
    auto fill = [&](uint64_t step) {
        uint64_t count = 0;
        while (count < 64 && vm.map(base + count * step, page, schema::Access::ReadWrite).is_ok())
            ++count;
        return count;
    };
    auto unmap_all = [&](uint64_t step, uint64_t count) {
        bool all = true;
        for (uint64_t i = 0; i < count; ++i)
            all = vm.unmap(base + i * step, page).is_ok() && all;
        return all;
    };
    (void)vm.unmap(sixteen_at, 16 * page); // room to count in
    uint64_t side_by_side = fill(page);
    bool unmapped = unmap_all(page, side_by_side);
    uint64_t spread = fill(apart);
    suite.check("pages 2 MiB apart cost a page table each",
                side_by_side >= 8 && spread >= 1 && spread <= side_by_side / 2 + 2,
                test::Line("side by side ").udec(side_by_side).add(", spread ").udec(spread));
    unmapped = unmap_all(apart, spread) && unmapped;
    suite.check("unmapping gives the pages and their tables back",
                unmapped && fill(page) == side_by_side);
    return suite.finish();
}
