// The x86_64 definitions of the fixed names kernel/arch/arch.h declares
// inline: the ones on hot paths, where a call and its return would cost more
// than the instruction itself. Included by arch.h only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace capos::kernel::x86 {
// Set once protections are enabled: whether user copies must open SMAP.
extern bool smap_enabled;
// Where the per-CPU area (percpu.h) keeps the CPU's index and the generic
// kernel's pointer.
inline constexpr unsigned cpu_index_offset = 24;
inline constexpr unsigned cpu_local_offset = 32;
inline constexpr unsigned lock_shared_offset = 40;
} // namespace capos::kernel::x86

namespace capos::kernel::arch {

inline uint32_t current_cpu_index() {
    uint32_t index;
    asm volatile("movl %%gs:%c1, %0" : "=r"(index) : "i"(x86::cpu_index_offset));
    return index;
}

inline void* cpu_local() {
    void* local;
    asm volatile("movq %%gs:%c1, %0" : "=r"(local) : "i"(x86::cpu_local_offset));
    return local;
}

inline void set_cpu_local(void* local) {
    asm volatile("movq %0, %%gs:%c1" ::"r"(local), "i"(x86::cpu_local_offset) : "memory");
}

inline bool lock_shared_here() {
    bool shared;
    asm volatile("movb %%gs:%c1, %0" : "=r"(shared) : "i"(x86::lock_shared_offset));
    return shared;
}

inline void set_lock_shared_here(bool shared) {
    asm volatile("movb %0, %%gs:%c1" ::"r"(shared), "i"(x86::lock_shared_offset) : "memory");
}

inline uint64_t read_cycle_counter() {
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return uint64_t{high} << 32 | low;
}

// The user accesses themselves: the only instructions in the kernel allowed to
// touch user pages through user addresses. Each instruction that may touch one
// is listed, with where to resume, in the section .user_access_fixups
// (collected by the linker script between __user_access_fixups_start and
// __user_access_fixups_end): a page fault at one of them is not a kernel bug
// but a bad user pointer, and the fault handler resumes at the failure exit
// (x86::user_access_fixup in user_copy.cpp). Inline, so that a kernel call's
// copies cost neither a call nor a return (under TCG each return is a
// jump-cache lookup). They run inside a user-access window (UserAccessWindow).
#define CAPOS_USER_ACCESS_FIXUP(at, resume)                                                        \
    ".pushsection .user_access_fixups, \"a\"\n.balign 8\n.quad " at ", " resume "\n.popsection\n"

// Copies `length` bytes, thirty-two at a step (four words loaded, then
// stored: one pass through TCG's dispatch for four words, a File.read's
// kilobyte in 32 steps), then eight, then the rest; false on a fault.
inline bool copy_in_window(void* destination, const void* source, size_t length) {
    auto* d = static_cast<uint8_t*>(destination);
    auto* s = static_cast<const uint8_t*>(source);
    size_t words = length / 8, bytes = length % 8;
    int failed;
    asm volatile(
        "    xorl %[failed], %[failed]\n"
        "    cmpq $4, %[words]\n"
        "    jb 2f\n"
        "1:\n"
        ".Lcapos_ua_load_q0_%=: movq (%[s]), %%rax\n"
        ".Lcapos_ua_load_q1_%=: movq 8(%[s]), %%rcx\n"
        ".Lcapos_ua_load_q2_%=: movq 16(%[s]), %%rdx\n"
        ".Lcapos_ua_load_q3_%=: movq 24(%[s]), %%r8\n"
        ".Lcapos_ua_store_q0_%=: movq %%rax, (%[d])\n"
        ".Lcapos_ua_store_q1_%=: movq %%rcx, 8(%[d])\n"
        ".Lcapos_ua_store_q2_%=: movq %%rdx, 16(%[d])\n"
        ".Lcapos_ua_store_q3_%=: movq %%r8, 24(%[d])\n"
        "    addq $32, %[s]\n"
        "    addq $32, %[d]\n"
        "    subq $4, %[words]\n"
        "    cmpq $4, %[words]\n"
        "    jae 1b\n"
        "2:\n"
        "    testq %[words], %[words]\n"
        "    jz 4f\n"
        "3:\n"
        ".Lcapos_ua_load%=: movq (%[s]), %%rax\n"
        ".Lcapos_ua_store%=: movq %%rax, (%[d])\n"
        "    addq $8, %[s]\n"
        "    addq $8, %[d]\n"
        "    decq %[words]\n"
        "    jnz 3b\n"
        "4:\n"
        "    testq %[bytes], %[bytes]\n"
        "    jz 6f\n"
        "5:\n"
        ".Lcapos_ua_load_byte%=: movb (%[s]), %%al\n"
        ".Lcapos_ua_store_byte%=: movb %%al, (%[d])\n"
        "    incq %[s]\n"
        "    incq %[d]\n"
        "    decq %[bytes]\n"
        "    jnz 5b\n"
        "    jmp 6f\n"
        ".Lcapos_ua_fault%=: movl $1, %[failed]\n"
        "6:\n" CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_load_q0_%=", ".Lcapos_ua_fault%=")
            CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_load_q1_%=", ".Lcapos_ua_fault%=")
                CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_load_q2_%=", ".Lcapos_ua_fault%=")
                    CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_load_q3_%=", ".Lcapos_ua_fault%=")
                        CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_store_q0_%=", ".Lcapos_ua_fault%=")
                            CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_store_q1_%=", ".Lcapos_ua_fault%=")
                                CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_store_q2_%=",
                                                        ".Lcapos_ua_fault%=")
                                    CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_store_q3_%=",
                                                            ".Lcapos_ua_fault%=")
                                        CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_load%=",
                                                                ".Lcapos_ua_fault%=")
                                            CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_store%=",
                                                                    ".Lcapos_ua_fault%=")
                                                CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_load_byte%=",
                                                                        ".Lcapos_ua_fault%=")
                                                    CAPOS_USER_ACCESS_FIXUP(
                                                        ".Lcapos_ua_store_byte%=",
                                                        ".Lcapos_ua_fault%=")
        : [failed] "=&r"(failed), [d] "+r"(d), [s] "+r"(s), [words] "+r"(words), [bytes] "+r"(bytes)
        :
        : "rax", "rcx", "rdx", "r8", "memory", "cc");
    return failed == 0;
}

// Whether user mode may write every page from the one holding `first` to the
// one holding `last`: an atomic OR of zero into a byte of each (a write as the
// MMU checks it, which changes no value); false at the first that may not.
inline bool probe_in_window(uint64_t first, uint64_t last) {
    uint64_t page = first & ~uint64_t{4095};
    int failed;
    asm volatile("1:\n"
                 ".Lcapos_ua_probe%=: lock orb $0, (%[page])\n"
                 "    addq $4096, %[page]\n"
                 "    cmpq %[last], %[page]\n"
                 "    jbe 1b\n"
                 "    xorl %[failed], %[failed]\n"
                 "    jmp 2f\n"
                 ".Lcapos_ua_probe_fault%=: movl $1, %[failed]\n"
                 "2:\n" CAPOS_USER_ACCESS_FIXUP(".Lcapos_ua_probe%=", ".Lcapos_ua_probe_fault%=")
                 : [failed] "=&r"(failed), [page] "+r"(page)
                 : [last] "r"(last)
                 : "memory", "cc");
    return failed == 0;
}

// SMAP's window (the AC flag) open for the accesses above, when SMAP is on.
class UserAccessWindow {
public:
    UserAccessWindow() {
        if (x86::smap_enabled)
            asm volatile("stac" ::: "memory");
    }
    ~UserAccessWindow() {
        if (x86::smap_enabled)
            asm volatile("clac" ::: "memory");
    }
    UserAccessWindow(const UserAccessWindow&) = delete;
    UserAccessWindow& operator=(const UserAccessWindow&) = delete;
};

inline bool raw_user_copy(void* destination, const void* source, size_t length) {
    if (length == 0)
        return true;
    UserAccessWindow window;
    return copy_in_window(destination, source, length);
}

inline bool raw_user_writable(uint64_t address, size_t length) {
    if (length == 0)
        return true;
    UserAccessWindow window;
    return probe_in_window(address, address + length - 1);
}

// raw_user_copy into the kernel, then raw_user_writable of another range,
// with the user-access window (SMAP's AC flag) opened once for both: under
// TCG each stac and clac ends a translated block and goes back through the
// emulator's dispatch. Returns whether the copy succeeded; `writable` tells
// the probe's outcome (false, not probed, when the copy failed).
inline bool raw_user_copy_and_probe(void* destination, const void* source, size_t length,
                                    uint64_t address, size_t probe_length, bool& writable) {
    UserAccessWindow window;
    bool copied = length == 0 || copy_in_window(destination, source, length);
    writable =
        copied && (probe_length == 0 || probe_in_window(address, address + probe_length - 1));
    return copied;
}

} // namespace capos::kernel::arch
