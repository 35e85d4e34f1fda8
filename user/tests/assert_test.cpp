// A failed CAPOS_ASSERT: its text and place on the console, then exit -1.
#include "user/rt/rt.h"

int main() {
    capos::rt::debug_write_line("assert: about to fail an assertion");
    volatile int two = 2;
    CAPOS_ASSERT(two + two == 5);
    capos::rt::debug_write_line("assert: FAILED: execution went on after the assertion");
    return 0;
}
