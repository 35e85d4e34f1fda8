// Faults on purpose: a write to address 0, which no process has mapped. For
// trying out what becomes of a program the CPU stops (the shell reports the
// vector and the address; the kernel ends only this process).
int main() {
    asm volatile("xor %%eax, %%eax\n\tmovb $1, (%%rax)" ::: "rax", "memory");
    return 0;
}
