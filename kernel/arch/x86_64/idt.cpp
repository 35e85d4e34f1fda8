// The interrupt descriptor table and the dispatch of every vector.
//
// An exception in the kernel is a kernel bug, with one exception: a page fault
// in the user-copy routines, which fails the copy. Otherwise the handler prints
// what happened (vector, error code decoded, fault address, every register, the
// stack trace) and stops the machine with ExitCode::Fault. An exception raised
// by user code goes to handle_user_fault, which ends only that process.
// Hardware interrupts go to the handler registered for their vector.
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/apic.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/trap_frame.h"
#include "kernel/arch/x86_64/user_copy.h"
#include "kernel/lib/interrupts_off.h"
#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"

extern "C" const uint64_t interrupt_stub_table[256];

namespace capos::kernel::x86 {

namespace {

struct [[gnu::packed]] IdtEntry {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attributes;
    uint16_t offset_middle;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(IdtEntry) == 16);

struct [[gnu::packed]] IdtPointer {
    uint16_t limit;
    uint64_t base;
};

CAPOS_LARGE_BSS alignas(16) IdtEntry g_idt[256];
bool g_handling_exception = false;
CAPOS_LARGE_BSS arch::InterruptHandler g_handlers[256];

constexpr uint8_t interrupt_gate = 0x8E;  // present, ring 0, 64-bit interrupt gate
constexpr uint8_t gate_dpl_user = 3 << 5; // `int n` from ring 3 may use the gate

// The breakpoint vector: user code reaches it with int3, which is reported as
// #BP (it ends the process like any fault). Every other gate is ring 0 only,
// so `int n` from user mode for any other vector is a #GP.
constexpr int breakpoint_vector = 3;

void set_gate(int vector, uint64_t handler, IstSlot* ist) {
    IdtEntry& e = g_idt[vector];
    e.offset_low = handler & 0xFFFF;
    e.selector = selector_kernel_code;
    e.ist = ist ? static_cast<uint8_t>(*ist) : 0;
    e.type_attributes = interrupt_gate | (vector == breakpoint_vector ? gate_dpl_user : 0);
    e.offset_middle = (handler >> 16) & 0xFFFF;
    e.offset_high = uint32_t(handler >> 32);
    e.reserved = 0;
}

constexpr const char* exception_mnemonics[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};
constexpr const char* exception_names[32] = {
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point error",
    "virtualization exception",
    "control protection",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection",
    "VMM communication",
    "security exception",
    "reserved",
};

void print_page_fault_detail(uint64_t error_code) {
    const char* access = (error_code & (1 << 4))   ? "instruction fetch"
                         : (error_code & (1 << 1)) ? "write"
                                                   : "read";
    const char* cause = (error_code & 1) ? "protection violation" : "page not present";
    const char* mode = (error_code & (1 << 2)) ? "user" : "kernel";
    emergency_print("page fault: {} access by {} mode, {}{}", access, mode, cause,
                    (error_code & (1 << 3)) ? ", reserved bit set" : "");
}

} // namespace

namespace {

void report_kernel_exception(TrapFrame* frame) {
    uint64_t vector = frame->vector;
    uint64_t cr2 = read_cr2();
    if (g_handling_exception) {
        emergency_print("EXCEPTION {} while reporting an exception at rip={}",
                        exception_mnemonics[vector], Hex{frame->rip, 16});
        arch::exit_machine(abi::ExitCode::Fault);
    }
    g_handling_exception = true;

    emergency_print("EXCEPTION {} ({}, vector {}) error={} in kernel mode",
                    exception_mnemonics[vector], exception_names[vector], vector,
                    Hex{frame->error_code});
    if (vector == 14) {
        emergency_print("fault address (cr2)={}", Hex{cr2, 16});
        print_page_fault_detail(frame->error_code);
    }
    emergency_print("rip={} cs={} rflags={}", Hex{frame->rip, 16}, Hex{frame->cs, 4},
                    Hex{frame->rflags, 8});
    emergency_print("rsp={} ss={}", Hex{frame->rsp, 16}, Hex{frame->ss, 4});
    emergency_print("rax={} rbx={} rcx={}", Hex{frame->rax, 16}, Hex{frame->rbx, 16},
                    Hex{frame->rcx, 16});
    emergency_print("rdx={} rsi={} rdi={}", Hex{frame->rdx, 16}, Hex{frame->rsi, 16},
                    Hex{frame->rdi, 16});
    emergency_print("rbp={} r8 ={} r9 ={}", Hex{frame->rbp, 16}, Hex{frame->r8, 16},
                    Hex{frame->r9, 16});
    emergency_print("r10={} r11={} r12={}", Hex{frame->r10, 16}, Hex{frame->r11, 16},
                    Hex{frame->r12, 16});
    emergency_print("r13={} r14={} r15={}", Hex{frame->r13, 16}, Hex{frame->r14, 16},
                    Hex{frame->r15, 16});
    emergency_print("cr0={} cr3={} cr4={}", Hex{read_cr0(), 8}, Hex{read_cr3(), 16},
                    Hex{read_cr4(), 8});
    emergency_print("  #- {} (faulting instruction)", Hex{frame->rip, 16});
    print_stack_trace(frame->rbp);
    arch::exit_machine(abi::ExitCode::Fault);
}

} // namespace

namespace {

// Vectors whose handlers touch nothing the kernel lock guards: they run
// without it, so a CPU that holds it can wait for them (a TLB shootdown, the
// self-tests' interrupts, before the scheduler has started).
bool runs_without_kernel_lock(uint64_t vector) {
    return vector == arch::ipi_vector_tlb || vector == arch::ipi_vector_test;
}

// The interrupted context had interrupts on (user mode, the idle loop, an
// interrupt window): this entry begins a stretch with them off, and the
// return to it ends one. The stretch holds the kernel lock (a CPU with
// interrupts on never holds it), unless the vector needs none: shared for
// the timer's tick of user code (Scheduler::tick_shared), else exclusively.
struct InterruptsOffStretch {
    explicit InterruptsOffStretch(const TrapFrame& frame)
        : m_opened((frame.rflags & rflags_interrupts) != 0),
          m_locked(m_opened && !runs_without_kernel_lock(frame.vector & 0xFF)),
          m_shared(m_locked && (frame.vector & 0xFF) == timer_vector && frame.from_user()) {
        if (m_opened)
            interrupts_off::begin();
        if (m_shared)
            g_kernel_lock.enter_shared();
        else if (m_locked)
            g_kernel_lock.enter();
    }
    ~InterruptsOffStretch() CAPOS_NO_THREAD_SAFETY_ANALYSIS {
        if (m_shared)
            g_kernel_lock.leave_shared();
        else if (m_locked)
            g_kernel_lock.leave();
        if (m_opened)
            interrupts_off::end();
    }
    void make_exclusive() CAPOS_NO_THREAD_SAFETY_ANALYSIS {
        g_kernel_lock.leave_shared();
        g_kernel_lock.enter();
        m_shared = false;
    }
    bool m_opened;
    bool m_locked;
    bool m_shared;
};

// The timer's tick of user code, its stretch holding the kernel lock shared:
// the shared part, then what it left under the lock held exclusively.
void timer_tick_of_user(InterruptsOffStretch& stretch) {
    local_apic_end_of_interrupt();
    arch::SharedTick outcome = arch::handle_timer_tick_shared();
    if (outcome == arch::SharedTick::Done)
        return;
    stretch.make_exclusive();
    if (outcome == arch::SharedTick::Declined)
        arch::handle_timer_tick();
    arch::handle_return_to_user();
}

} // namespace

extern bool g_stopping;
extern uint32_t g_stopped;

extern "C" void interrupt_dispatch(TrapFrame* frame) {
    // Another CPU stops the machine (arch::stop_other_cpus): this one halts
    // where it is, before taking any lock.
    if ((frame->vector & 0xFF) == 2 && __atomic_load_n(&g_stopping, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&g_stopped, 1u, __ATOMIC_RELEASE);
        for (;;)
            asm volatile("cli; hlt");
    }
    InterruptsOffStretch stretch(*frame);
    if (stretch.m_shared) {
        timer_tick_of_user(stretch);
        return;
    }
    uint64_t vector = frame->vector & 0xFF;
    if (vector < 32) {
        // #NM from user mode: the first x87/SSE/AVX instruction of a thread
        // that had not used them (arch::user_state_trap), run again.
        if (vector == 7 && frame->from_user()) {
            arch::handle_user_state_trap();
            arch::handle_return_to_user();
            return;
        }
        if (frame->from_user()) {
            arch::UserFault fault{
                .vector = uint8_t(vector),
                .error_code = frame->error_code,
                .rip = frame->rip,
                .address = vector == 14 ? read_cr2() : 0,
                .name = exception_names[vector],
                .mnemonic = exception_mnemonics[vector],
            };
            handle_user_fault(fault); // does not return to this thread
        }
        // A page fault inside the user-copy routines is the user's bad pointer,
        // not a kernel bug: resume at the routine's failure exit.
        if (vector == 14) {
            if (uint64_t fixup = user_copy_fixup(frame->rip)) {
                frame->rip = fixup;
                return;
            }
        }
        report_kernel_exception(frame);
    }
    if (arch::InterruptHandler handler = g_handlers[vector]) {
        handler(uint8_t(vector));
        // (Not after a handler run without the kernel lock: what a return
        // to user mode looks at is guarded by it.)
        if (frame->from_user() && !runs_without_kernel_lock(vector))
            arch::handle_return_to_user();
        return;
    }
    log_warn("interrupt: unexpected vector {}", vector);
}

void set_handler(uint8_t vector, arch::InterruptHandler handler) {
    g_handlers[vector] = handler;
}

void idt_load();

void idt_init() {
    for (int vector = 0; vector < 256; ++vector) {
        IstSlot slot;
        IstSlot* ist = nullptr;
        if (vector == 8) {
            slot = IstSlot::DoubleFault;
            ist = &slot;
        } else if (vector == 2) {
            slot = IstSlot::Nmi;
            ist = &slot;
        } else if (vector == 18) {
            slot = IstSlot::MachineCheck;
            ist = &slot;
        }
        set_gate(vector, interrupt_stub_table[vector], ist);
    }
    idt_load();
}

void idt_load() {
    IdtPointer pointer{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile("lidt %0" ::"m"(pointer));
}

} // namespace capos::kernel::x86
