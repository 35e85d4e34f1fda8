// Regression test for the runtime's panic path: a panic raised by the ring
// client itself (here: cap_enter refusing a corrupted ring) used to report
// through that same ring, panic again, and recurse until the stack ran out
// (the process was killed by a #PF). Now the second panic exits at once with
// the panic code, -1.
#include "user/tests/common/test.h"

using namespace capos;

int main() {
    test::Suite suite("rt-panic");
    suite.note("corrupting sq_tail, then writing through the runtime");
    abi::RingHeader& header = test::raw::page().header;
    header.sq_tail = header.sq_head + 1000;
    (void)rt::debug_write_line("this line cannot be sent");
    suite.check("the runtime survived a corrupted ring", false);
    return suite.finish();
}
