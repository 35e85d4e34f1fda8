// The device ledger: every PCI function a driver holds, and what the claim
// gave it (docs/devices.md, "Driver authority"). A function is held by one
// claim at a time; a claim lasts until end() (its last Device capability
// gone), which quiesces the function before anything it had is reused: bus
// mastering off (no DMA, no message), its interrupts off and their vectors
// freed, then its DMA memory let go and every handle of the claim stale.
//
// Its register windows (MemoryObject::create_device_window) outlive the claim
// while a process maps them; the ledger counts them, and the function is not
// claimed again until the last is gone (no two holders ever share its
// registers).
//
// With an IOMMU unit that covers the function, the claim has a DMA domain
// of its own (kernel/platform/iommu.h): its device reaches only the claim's
// DMA buffers, each unmapped (and the unit's caches invalidated) before its
// frames go back. Without one a device's DMA reaches all of memory: bus
// mastering, and with it DMA memory and interrupts (a message is a DMA
// write), is given only to a claim the manifest trusts with unisolated DMA;
// any other claim gets the registers alone.
//
// Under the kernel lock.
#pragma once

#include "kernel/object/device_interrupt.h"
#include "kernel/object/kernel_object.h"
#include "kernel/object/memory_object.h"
#include "kernel/platform/iommu.h"
#include "lib/base/result.h"
#include "lib/pci/select.h"

#include <optional>

namespace capos::kernel {

class DeviceClaim final : public KernelObject {
public:
    static constexpr ObjectType object_type = ObjectType::DeviceClaim;
    static constexpr uint32_t max_interrupts = 32;   // routed entries a claim
    static constexpr uint32_t max_dma_buffers = 256; // buffers a claim
    static constexpr uint32_t max_dma_pages = 16384; // 64 MiB a claim

    enum class Error : uint8_t {
        NoSuchFunction,
        Bridge,
        HostBridge,
        Claimed,         // another claim holds it
        RegistersMapped, // a window of an earlier claim is still mapped
        NoConfigAccess,
        OutOfMemory,
    };
    static const char* describe(Error error);

    static Result<RefPtr<DeviceClaim>, Error> claim(const pci::Selector& selector,
                                                    bool unisolated_dma)
        CAPOS_REQUIRES(g_kernel_lock);

    const pci::Function& function() const { return *m_function; }
    bool active() const { return m_active; }
    // Each reset starts a generation; a handle made in an earlier one (an
    // Interrupt, a DMAPool, a DMABuffer, a DeviceMmio, DevicePorts) is stale.
    uint32_t generation() const { return m_generation; }
    bool current(uint32_t generation) const { return m_active && generation == m_generation; }
    // An IOMMU confines the device's DMA to the claim's buffers.
    bool dma_isolated() const { return m_domain != nullptr; }
    // Whether the device may be a bus master: DMA memory and interrupts.
    bool dma_allowed() const { return dma_isolated() || m_unisolated_dma; }

    enum class WindowError : uint8_t { NotMemory, NotPageSized, OutOfMemory };
    // BAR `bar`'s registers (one object a BAR, made on first use).
    Result<RefPtr<MemoryObject>, WindowError> window(uint8_t bar) CAPOS_REQUIRES(g_kernel_lock);

    // BAR `bar`'s I/O ports: the first and how many. None for a memory or
    // unassigned BAR, or one past the 64 Ki ports x86_64 has.
    struct PortRange {
        uint16_t first = 0;
        uint32_t count = 0;
    };
    std::optional<PortRange> ports(uint8_t bar) const;

    enum class RouteError : uint8_t { AlreadyRouted, TooMany, Interrupt };
    // Routes entry `entry` (MSI-X, or MSI when the function has none);
    // returns the slot the interrupt is kept in (`failure` says why an
    // Interrupt error happened).
    Result<uint32_t, RouteError> route(uint16_t entry, DeviceInterruptError& failure)
        CAPOS_REQUIRES(g_kernel_lock);
    // The interrupt in `slot` routed in `generation`; null once that
    // generation has passed.
    DeviceInterrupt* interrupt(uint32_t slot, uint32_t generation) const {
        return current(generation) && slot < max_interrupts ? m_interrupts[slot].get() : nullptr;
    }

    enum class DmaError : uint8_t { Ended, TooMany, OutOfMemory, UnitFailed };
    // Makes `buffer` reachable by the device; returns the device address
    // of its first page (its pages follow at consecutive addresses). With
    // an IOMMU they are mapped in the claim's domain; without one the
    // buffer must be contiguous, the address is physical, and the claim
    // keeps the buffer until it ends (the device may still write to a
    // buffer its driver let go).
    // Ended when `generation` has passed.
    Result<uint64_t, DmaError> attach_dma(RefPtr<MemoryObject> buffer, uint32_t generation)
        CAPOS_REQUIRES(g_kernel_lock);
    // The buffer attached at `address` in `generation` is let go: with an
    // IOMMU it is unmapped and the unit's caches invalidated before this
    // returns.
    void detach_dma(uint64_t address, uint32_t pages, uint32_t generation)
        CAPOS_REQUIRES(g_kernel_lock);

    // Quiesces the function as the end does and starts a new generation
    // (a fresh, empty DMA domain; bus mastering back on where allowed);
    // the device's own state is its driver's to reset through its
    // registers. False (the claim ended) when it could not.
    bool reset() CAPOS_REQUIRES(g_kernel_lock);

    // Ends the claim (above); a second call does nothing.
    void end() CAPOS_REQUIRES(g_kernel_lock);

private:
    DeviceClaim(const pci::Function& function, uint32_t slot, bool unisolated_dma)
        : KernelObject(object_type), m_function(&function), m_slot(slot),
          m_unisolated_dma(unisolated_dma) {}
    void destroy() override;
    // Bus mastering and message signalling off, the interrupts, the domain
    // and the DMA memory gone; the next generation.
    void quiesce() CAPOS_REQUIRES(g_kernel_lock);

    const pci::Function* m_function; // in the boot scan's table
    uint32_t m_slot;                 // the function's index there
    bool m_unisolated_dma;
    bool m_active = true;
    uint32_t m_generation = 0;
    RefPtr<MemoryObject> m_windows[pci::max_bars];
    RefPtr<DeviceInterrupt> m_interrupts[max_interrupts];
    uint16_t m_entries[max_interrupts] = {};
    DmaDomain* m_domain = nullptr;
    RefPtr<MemoryObject> m_dma[max_dma_buffers]; // without a domain
    uint32_t m_dma_count = 0;
};

// The ledger's count of a function's register windows (MemoryObject).
void device_window_made(uint32_t slot) CAPOS_REQUIRES(g_kernel_lock);
void device_window_gone(uint32_t slot) CAPOS_REQUIRES(g_kernel_lock);

} // namespace capos::kernel
