// Started by init with small resource limits from its manifest entry
// (tests/scenarios/manifests/limits.capnp): 64 frames and 4 capability slots.
// Checks the kernel holds it to exactly those bounds.
#include "common/test.h"
#include "schema/capos.capnp.capos.h"

int main() {
    using namespace capos;
    test::Suite suite("limits");
    schema::VirtualMemory::Client<rt::RingTransport> vm(rt::transport(), test::cap_id("vm"));
    schema::FrameAllocator::Client<rt::RingTransport> frames(rt::transport(),
                                                             test::cap_id("frames"));

    // 64 frames in all; the stack, ring, CapSet and program already use some.
    suite.check_ok("mapping 16 pages fits the frame limit",
                   vm.map(0, 16 * 4096, schema::Access::ReadWrite));
    suite.check_exception("mapping 64 more pages is overloaded",
                          vm.map(0, 64 * 4096, schema::Access::ReadWrite),
                          schema::ExceptionType::Overloaded);
    suite.check_exception("a 64-page memory object is overloaded too", frames.allocate(64, false),
                          schema::ExceptionType::Overloaded);

    // 4 slots: console, vm and frames use three; one memory object fills it.
    suite.check_ok("one more capability fits the slot limit", frames.allocate(1, false));
    suite.check_exception("a fifth capability does not", frames.allocate(1, false),
                          schema::ExceptionType::Overloaded);
    return suite.finish();
}
