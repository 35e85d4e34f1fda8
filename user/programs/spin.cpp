// spin: says so on its standard error (the shell's StdIO), then
// spins in user mode for ever, without a system call: for trying `kill` and
// Ctrl-C on a program that never stops by itself.
#include "user/rt/rt.h"

int main() {
    capos::rt::debug_write_line("spin: spinning until stopped");
    for (;;)
        asm volatile("" ::: "memory");
}
