// The fixed names generic kernel code uses to reach the CPU and the machine.
// Each architecture implements them under kernel/arch/<arch>/; generic code
// includes only this header.
#pragma once

#include "abi/exit_code.h"
#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace capos::kernel::arch {

// Sets up the CPU tables (segments, task state, exception vectors) so that any
// fault from here on is reported. Runs once, first thing, on the boot CPU.
void early_init();

// Turns on the protections this CPU offers (SMEP, SMAP, global pages) and
// reports which it found.
struct ProtectionFeatures {
    bool nx;
    bool smep;
    bool smap;
};
ProtectionFeatures enable_protection();
// What is switched on now, and what the CPU reports it could switch on.
ProtectionFeatures protection_state();
ProtectionFeatures protection_supported();

// True when writes through read-only mappings fault in kernel mode (CR0.WP).
bool kernel_write_protect_enabled();

// Gives the double-fault and NMI handlers their guarded stacks (top addresses).
void set_emergency_stacks(uint64_t double_fault_top, uint64_t nmi_top, uint64_t machine_check_top);

// The early console: a UART the kernel writes its log to. write() never takes a
// lock and is safe from any context, including exception handlers.
void console_init();
void console_write(std::string_view text);

// Entropy from the CPU's random number instructions (RDSEED, else RDRAND).
// Fills `out` and returns true, or returns false when the CPU has neither or
// they keep failing.
bool hardware_entropy(uint64_t* out, size_t words);

// A monotonic cycle counter and its calibrated rate. The counter is read on
// every kernel call's path, so each architecture defines it inline, in its
// arch_inline.h (included at the end of this header).
inline uint64_t read_cycle_counter();
// Lets pending interrupts in for a moment (interrupts on, then off again)
// from kernel code that holds nothing an interrupt handler touches; the
// kernel lock is given up meanwhile, so other CPUs may take it too.
void open_interrupt_window();
uint64_t calibrate_cycles_per_microsecond();

// Switches to a new stack and calls entry() there; never returns.
[[noreturn]] void switch_stack_and_call(uint64_t stack_top, void (*entry)());

// Ends the run: QEMU exits with abi::qemu_status(code). On a machine without the
// debug-exit device it stops the CPU instead.
[[noreturn]] void exit_machine(abi::ExitCode code);
// Tells QEMU's debug-exit device to end the run with `code`; returns on a
// machine without it.
void debug_exit(abi::ExitCode code);

// Whether the machine is QEMU's (the hypervisor leaf names TCG or KVM): the
// power-off fallback without ACPI writes QEMU's PM1a control port only then.
bool machine_is_qemu();

// Port I/O: the firmware's registers (ACPI's PM1 control and reset), PCI
// configuration through the legacy ports, and a claimed device's I/O BAR
// (DevicePorts).
uint8_t port_read8(uint16_t port);
uint16_t port_read16(uint16_t port);
uint32_t port_read32(uint16_t port);
void port_write8(uint16_t port, uint8_t value);
void port_write16(uint16_t port, uint16_t value);
void port_write32(uint16_t port, uint32_t value);

// Stops this CPU for good, and every other one first (a non-maskable
// interrupt each: one spinning with interrupts off stops too), so that
// nothing runs on after a panic or a power-off that did not happen.
[[noreturn]] void halt_forever();
// Only the others (the panic path, before it prints): returns how many of
// the CPUs started said they stopped (each within a second).
size_t stop_other_cpus();

// Resets the machine: the chipset's reset control register, then the
// keyboard controller, then a triple fault. Never returns.
[[noreturn]] void reset_machine();

// Disables interrupts and returns the previous state for interrupts_restore().
uint64_t interrupts_save_disable();
void interrupts_restore(uint64_t state);

// ---------------------------------------------------------------------------
// Interrupts and the timer

// Sets up the interrupt controllers of the boot CPU from what ACPI found
// (acpi_init first): the local one, and the routing of device interrupts
// with every line masked. Options of the command line: `x2apic=off`,
// `ioapic=off`. Before it, an interrupt is reported as unexpected.
void interrupt_controllers_init(std::string_view command_line);

// A handler of a vector the local controller delivers (a timer, a routed
// device line, an interprocessor interrupt). The interrupt is acknowledged
// before the handler runs; a vector without a handler is acknowledged and
// counted.
using InterruptHandler = void (*)(uint8_t vector);
void set_interrupt_handler(uint8_t vector, InterruptHandler handler);

// Vectors of interprocessor interrupts. ipi_vector_test is for the kernel's
// self-tests; ipi_vector_unhandled is never given a handler.
inline constexpr uint8_t ipi_vector_test = 0xFD;
inline constexpr uint8_t ipi_vector_unhandled = 0xFC;
// A CPU is asked to look at its run queue (the scheduler), or to flush its
// TLB (the architecture's shootdowns).
inline constexpr uint8_t ipi_vector_reschedule = 0xFB;
inline constexpr uint8_t ipi_vector_tlb = 0xFA;

// Serves the TLB shootdown another CPU asked of this one, if any (from the
// kernel lock's spin loop and the shootdown interrupt).
void serve_tlb_requests();

// Vectors for message-signalled device interrupts (MSI, MSI-X), the same on
// every CPU: a free one given `handler`, or nullopt when all are taken. A vector freed goes back to
// having no handler (an interrupt that still arrives on it is acknowledged and counted as
// unexpected). Under the kernel lock.
std::optional<uint8_t> allocate_device_vector(InterruptHandler handler);
void free_device_vector(uint8_t vector);
// The address and data a device writes to raise `vector` on the CPU whose
// interrupt controller id is `interrupt_id`; nullopt when a message cannot
// name that CPU (an x2APIC id above 255: no interrupt remapping).
struct MessageSignal {
    uint64_t address;
    uint32_t data;
};
std::optional<MessageSignal> device_vector_message(uint8_t vector, uint32_t interrupt_id);

// Routes ISA interrupt line `irq` to `handler` on the boot CPU and unmasks it.
void enable_isa_irq(uint8_t irq, InterruptHandler handler);

// How an ISA line is routed now (I/O APIC machines only), as read back from
// the controller.
struct IsaRouteState {
    uint32_t gsi;
    uint8_t vector;
    bool masked;
    bool level;
    bool active_low;
    uint32_t destination;
};
std::optional<IsaRouteState> isa_route_state(uint8_t irq);

// This CPU's id in the interrupt controller (the APIC id on x86), and
// interprocessor interrupts: to the CPU with id `target` (false when the
// controller cannot name it) and to this CPU.
uint32_t this_cpu_interrupt_id();
bool send_ipi(uint32_t target, uint8_t vector);
void send_ipi_self(uint8_t vector);

// What arrived that nobody asked for: spurious interrupts of the
// controllers, and vectors or lines without a handler.
struct InterruptCounts {
    uint64_t spurious = 0;
    uint64_t unexpected = 0;
};
InterruptCounts interrupt_counts();

// ---------------------------------------------------------------------------
// Other CPUs

// What a CPU being started gets: its index, the top of its first stack and
// of its emergency stacks, and the function it runs there once its tables,
// protections, system-call entry and interrupt controller are set up. When
// entry returns, the CPU waits for interrupts with them on, for good.
struct CpuStart {
    uint32_t index = 0;
    uint64_t stack_top = 0;
    uint64_t double_fault_top = 0;
    uint64_t nmi_top = 0;
    uint64_t machine_check_top = 0;
    void (*entry)(void*) = nullptr;
    void* argument = nullptr;
};
enum class CpuStartError : uint8_t {
    NoStartPage,   // no free page where the start-up code must go
    TablesTooHigh, // the start-up page tables are out of the start-up code's reach
    OutOfMemory,
    CannotAddress, // the interrupt controller cannot name the CPU
    NoAnswer,      // the CPU did not arrive in time
};
const char* to_string(CpuStartError error);

// Sets up (and cpu_start_finish takes down) what starting CPUs needs; in
// between, start_cpu starts the CPU with interrupt controller id
// `interrupt_id` and waits until it runs kernel code (about a second at
// most), one at a time.
Result<void, CpuStartError> cpu_start_prepare();
Result<void, CpuStartError> start_cpu(uint32_t interrupt_id, const CpuStart& start);
void cpu_start_finish();

// The index of the CPU running this (0: the boot CPU). Inline
// (arch_inline.h): the scheduler and the kernel lock read it on every call.
inline uint32_t current_cpu_index();
// A pointer the generic kernel keeps per CPU (the scheduler's state of the
// CPU), in the per-CPU area every kernel entry touches anyway; null until
// set on that CPU.
inline void* cpu_local();
inline void set_cpu_local(void* local);
// Whether this CPU holds the kernel lock shared (kernel/lib/kernel_lock.h),
// in the per-CPU area too: every object lock asks it, twice a section.
inline bool lock_shared_here();
inline void set_lock_shared_here(bool shared);

// Starts a periodic timer interrupt at `hz` on this CPU that calls
// handle_timer_tick(). Needs interrupt_controllers_init and the calibrated
// cycle counter. The boot CPU calibrates the timer against the cycle
// counter; the others, started later, reuse its figure.
void timer_init(uint32_t hz, uint64_t cycles_per_microsecond);
// Stops this CPU's timer interrupt (an idle CPU that needs no tick), and
// starts it again; each does nothing when the timer already is so.
void timer_pause();
void timer_resume();

// Enables interrupts and halts until one arrives (the idle loop's body).
void wait_for_interrupt();

// Delivers every byte the console UART receives to `handler`, from its
// interrupt (interrupts off, one call per byte), from now on. Needs
// interrupt_controllers_init.
using ConsoleReceiveHandler = void (*)(uint8_t byte);
void console_receive_start(ConsoleReceiveHandler handler);

// ---------------------------------------------------------------------------
// Threads and user mode

// The saved kernel-mode state of a thread that is not running: its stack
// pointer (the callee-saved registers are on that stack).
struct ThreadContext {
    uint64_t stack_pointer = 0;
};

// Saves the running thread's state in `from` and resumes `to`. Returns when
// some later switch resumes `from`.
void context_switch(ThreadContext& from, const ThreadContext& to);

// The context of a new thread that, when first switched to, runs
// entry(argument) on the stack ending at `stack_top`, below the space
// enter_user_mode needs at the very top. entry must not return.
ThreadContext make_thread_context(uint64_t stack_top, void (*entry)(void*), void* argument);

// ---------------------------------------------------------------------------
// User floating-point and vector state (x87, SSE, AVX)
//
// The kernel never uses these registers itself (it is compiled without them),
// so between a user thread's entries into the kernel they keep its values. The
// scheduler saves them when a thread that uses them leaves a CPU and loads
// them before it returns to user mode there; a thread that has not used them
// runs with the trap armed, and its first use loads its (reset) state
// (kernel/sched/scheduler.cpp).

struct UserStateFormat {
    const char* mechanism; // the save instruction: "xsaveopt", "xsave" or "fxsave"
    uint64_t components;   // as in XCR0: bit 0 x87, 1 SSE, 2 AVX, 5-7 AVX-512
    size_t size;           // bytes of one thread's save area
};
// Lets user mode use the registers on this CPU. The boot CPU's call decides the
// format (every component the CPU offers of x87, SSE, AVX and AVX-512), before
// any thread exists; each other CPU's applies the same.
UserStateFormat user_state_init();
inline constexpr size_t user_state_alignment = 64;
size_t user_state_size();
// Fills a save area with the state after reset (x87 control word 0x37F, MXCSR
// 0x1F80, every register zero), so that a new thread starts clean and never
// sees another's values.
void user_state_clear(void* area);
void user_state_save(void* area);
void user_state_load(const void* area);
// Puts the registers in the reset state (as user_state_clear describes).
void user_state_reset();
// Makes the next x87/SSE/AVX instruction in user mode trap (CR0.TS), or not;
// the trap calls handle_user_state_trap. The kernel's own save, load and reset
// need it off.
void user_state_trap(bool on);

// The FS base user mode runs with (a user thread's thread pointer); the
// kernel does not use FS. `base` must be below the user limit.
void set_user_fs_base(uint64_t base);

// The stack the CPU switches to when the running thread enters the kernel
// from user mode (interrupts and system calls).
void set_kernel_stack(uint64_t stack_top);

// Registers a process starts with (abi/user_layout.h).
struct UserEntry {
    uint64_t instruction_pointer;
    uint64_t stack_pointer;
    uint64_t arguments[3];
};
// Leaves the kernel for user mode with `entry`'s registers, building the
// return frame at the top of the current thread's kernel stack (the space
// make_thread_context kept free for it).
[[noreturn]] void enter_user_mode(const UserEntry& entry, uint64_t kernel_stack_top);

// Enables the system-call instruction and the per-CPU area.
void syscall_init();

// Copies `length` bytes between kernel memory and user memory (either
// direction); the only code that touches user pages through user addresses
// (the kernel writes pages it set up itself through the direct map). Returns
// false when a
// user page is missing or not accessible (the copy stops part-way). Callers
// check ranges first (kernel/mm/user_copy.h). Inline (arch_inline.h): on the
// path of every call.
inline bool raw_user_copy(void* destination, const void* source, size_t length);
// Whether user mode may write every byte of [address, address + length) in
// the current address space, probed page by page the way the MMU checks a
// write (each page's content is left as it was). Callers check the range
// first (kernel/mm/user_copy.h). Inline, like raw_user_copy.
inline bool raw_user_writable(uint64_t address, size_t length);
// Both at once (a kernel call's params and result buffer), in one opening of
// the user-access window; `writable` is false when the copy failed.
inline bool raw_user_copy_and_probe(void* destination, const void* source, size_t length,
                                    uint64_t address, size_t probe_length, bool& writable);

// ---------------------------------------------------------------------------
// Implemented by the generic kernel, called from the architecture's trap paths.

struct UserFault {
    uint8_t vector;
    uint64_t error_code;
    uint64_t rip;
    uint64_t address; // the fault address for page faults, else 0
    const char* name;
    const char* mnemonic;
};
// An exception raised in user mode: ends the faulting process.
[[noreturn]] void handle_user_fault(const UserFault& fault);
// The trap user_state_trap arms: a user thread's first x87/SSE/AVX
// instruction since it was switched to, the instruction then runs again.
void handle_user_state_trap();
// Called by the architecture on the way back to user mode from an interrupt
// that interrupted user code (the process may have been asked to end
// meanwhile).
void handle_return_to_user();

struct SyscallArguments {
    uint64_t number;
    uint64_t arguments[2];
    uint64_t return_address;
};
// A system call; the return value goes back in the result register. First
// its part under the kernel lock held shared (the return value, or nullopt
// when the rest must run under the kernel lock held exclusively), then, when
// it did not finish there, the whole call under the lock held exclusively.
// Whether the shared part may have anything to do (asked with no lock held).
bool syscall_may_share(const SyscallArguments& call);
std::optional<int64_t> handle_syscall_shared(const SyscallArguments& call);
int64_t handle_syscall(const SyscallArguments& call);

void handle_timer_tick();
// The tick of a CPU that interrupted user code: first its part under the
// kernel lock held shared; what is left goes to the exclusive entries
// (handle_timer_tick when it was Declined, then handle_return_to_user).
enum class SharedTick : uint8_t {
    Declined,        // nothing done
    Done,            // the tick done and the return to user mode may follow
    ReturnExclusive, // the tick done; the return must look under the lock held exclusively
};
SharedTick handle_timer_tick_shared();

} // namespace capos::kernel::arch

#include "kernel/arch/x86_64/arch_inline.h"
