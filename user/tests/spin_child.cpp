// A child that never ends by itself and never enters the kernel: only the
// timer interrupt takes the CPU from it, so ProcessHandle.kill must end it on
// the way back to user mode from an interrupt.
int main() {
    for (;;)
        asm volatile("" ::: "memory");
}
