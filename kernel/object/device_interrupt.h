// A device interrupt routed to the kernel: a PCI function's MSI, or an entry
// of its MSI-X table, given a vector of its own on the boot CPU. Each
// interrupt that arrives is counted, and a thread may wait for the count to
// pass what it has seen (a later driver capability waits here). An
// interrupt on a vector whose object is gone (a stale one) finds no handler:
// the interrupt controller counts it as unexpected, nothing else happens.
//
// Creating one turns the function's INTx signalling off and its message
// signalling on; destroying it turns MSI (or the MSI-X entry) off again and
// frees the vector. Under the kernel lock.
#pragma once

#include "kernel/ipc/completion.h"
#include "kernel/object/kernel_object.h"
#include "kernel/object/thread.h"
#include "lib/base/result.h"
#include "lib/pci/scan.h"
#include <cstdint>

namespace capos::kernel {

class Thread;

enum class DeviceInterruptError : uint8_t {
    NoMessageSignalling, // the function has no (well-formed) MSI / MSI-X capability
    NoSuchEntry,         // past the MSI-X table
    TableNotMapped,      // the MSI-X table's BAR is not a memory BAR that holds it
    NoVector,            // every device vector is taken
    NoConfigAccess,      // configuration space cannot be reached
    OutOfMemory,
};
const char* to_string(DeviceInterruptError error);

class DeviceInterrupt final : public KernelObject {
public:
    static constexpr ObjectType object_type = ObjectType::DeviceInterrupt;

    // The function's MSI, its first vector.
    static Result<RefPtr<DeviceInterrupt>, DeviceInterruptError>
    create_msi(const pci::Function& function);
    // Entry `entry` of the function's MSI-X table (MSI-X enabled, the entry
    // unmasked, the others left as they are).
    static Result<RefPtr<DeviceInterrupt>, DeviceInterruptError>
    create_msix(const pci::Function& function, uint16_t entry);

    uint8_t vector() const { return m_vector; }
    // The CPU its messages go to, and the one that took the last interrupt.
    uint32_t cpu() const { return m_cpu; }
    uint32_t handled_on() const { return __atomic_load_n(&m_handled_on, __ATOMIC_ACQUIRE); }
    // Interrupts taken so far.
    uint64_t count() const { return __atomic_load_n(&m_count, __ATOMIC_ACQUIRE); }
    // Waits until count() is past `seen`, or until uptime reaches
    // `deadline_us`; returns count(). One waiter at a time: while one waits,
    // another call returns count() at once.
    uint64_t wait(uint64_t seen, uint64_t deadline_us);
    // The Interrupt capability's view (kernel/cap/device.cpp): interrupts
    // past the count last acknowledged are pending. Answers `reply` with
    // count() once one is (at once if one is); false, with `reply` left
    // alone, when an answer is owed already. The object's end answers an
    // owed one as Disconnected.
    bool wait_pending(PendingReply& reply) CAPOS_REQUIRES(g_kernel_lock);
    bool waiting() const { return bool(m_reply); }
    // The interrupts up to `count` are handled; false when `count` is past
    // count().
    bool acknowledge(uint64_t count);
    // MSI-X only: the entry's mask bit, as the table holds it now.
    bool masked() const;
    void set_masked(bool masked);
    // Whether set_masked does anything (MSI-X).
    bool maskable() const { return m_msix; }

private:
    DeviceInterrupt(const pci::Function& function, uint8_t vector, uint32_t cpu,
                    arch::MessageSignal message)
        : KernelObject(object_type), m_function(function), m_vector(vector), m_cpu(cpu),
          m_message(message) {}
    void destroy() override;
    // An object with a vector of its own, not yet signalled by the function.
    static Result<DeviceInterrupt*, DeviceInterruptError> create(const pci::Function& function);
    static void on_vector(uint8_t vector);

    pci::Function m_function;
    uint8_t m_vector;
    uint32_t m_cpu;
    arch::MessageSignal m_message;
    uint32_t m_handled_on = UINT32_MAX;
    bool m_msix = false;
    uint16_t m_entry = 0;
    volatile uint32_t* m_table = nullptr; // the MSI-X table, mapped
    uint64_t m_count = 0;
    uint64_t m_acknowledged = 0;
    Thread* m_waiter = nullptr;
    PendingReply m_reply; // Interrupt.wait's, while owed
};

} // namespace capos::kernel
