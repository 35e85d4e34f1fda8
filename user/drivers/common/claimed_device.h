// The PCI function a driver holds (a manifest `device` grant, docs/devices.md
// "Driver authority"), and what every driver takes from it: the function as
// the kernel read it (BARs, MSI-X, whether an IOMMU translates its DMA), its
// configuration space, mapped BARs, DMA memory from one pool (every
// DMABuffer held while the driver runs) and routed MSI-X entries. A call
// that fails ends the driver (user/drivers/common/driver.h).
#pragma once

#include "lib/pci/select.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"

#include <optional>
#include <span>
#include <string_view>

namespace capos::drivers {

inline constexpr uint64_t page_size = 4096;

// DMA memory of the claim, mapped into the driver.
struct DmaArea {
    uint8_t* memory = nullptr;
    uint64_t device_address = 0;
};

// DMA memory for a client: its MemoryObject (to move to the client) and
// where the device reaches it.
struct SharedDma {
    uint32_t memory = 0; // a CapId of the driver's
    uint64_t device_address = 0;
};

// One I/O BAR's registers (DevicePorts): each access is a call to the
// kernel, of the width the field has; one that fails ends the driver.
class PortRegisters {
public:
    PortRegisters() = default;
    PortRegisters(abi::CapId ports, uint32_t count) : m_ports(ports), m_count(count) {}
    // How many ports the BAR has.
    uint32_t count() const { return m_count; }
    template <typename T>
    T read(uint32_t offset) const {
        static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4);
        return T(read_port(offset, sizeof(T)));
    }
    template <typename T>
    void write(uint32_t offset, T value) const {
        static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4);
        write_port(offset, sizeof(T), uint32_t(value));
    }

private:
    uint32_t read_port(uint32_t offset, uint8_t width) const;
    void write_port(uint32_t offset, uint8_t width, uint32_t value) const;

    abi::CapId m_ports;
    uint32_t m_count = 0;
};

class ClaimedDevice {
public:
    explicit ClaimedDevice(rt::Capability<schema::Device>& device) : m_device(device) {}

    // Device.info: the function's BARs and MSI-X (required: each queue's
    // interrupt needs a vector of its own), its ids and address.
    void read_function();
    const pci::Function& function() const { return m_function; }
    uint16_t vendor_id() const { return m_vendor_id; }
    uint16_t device_id() const { return m_device_id; }
    // Class, subclass and programming interface, 0xCCSSPP.
    uint32_t class_triple() const { return m_class_triple; }
    // "bb:dd.f" (with the segment first when not 0).
    std::string_view address() const { return {m_address, m_address_length}; }
    bool dma_isolated() const { return m_dma_isolated; }

    // Configuration space (Device.config), all of it.
    void read_config(std::span<uint8_t, pci::config_space_size> config);

    // BAR `bar` mapped whole (once; later calls give the same mapping); the
    // driver fails saying `too_small` when it has fewer than `needed` bytes.
    uint8_t* map_bar(uint8_t bar, uint64_t needed, std::string_view too_small);
    // Whether BAR `bar` is an I/O BAR (function() leaves those out: they
    // map nothing).
    bool io_bar(uint8_t bar) const { return bar < pci::max_bars && m_io_bars[bar].size != 0; }
    // BAR `bar`'s I/O ports (Device.ports); the driver fails saying
    // `too_small` when it has fewer than `needed` of them.
    PortRegisters ports(uint8_t bar, uint32_t needed, std::string_view too_small);
    // Whether MSI-X is enabled in the function now (its message control
    // register, read through Device.config).
    bool msix_enabled();

    // The claim's DMA pool, of `pages` in all (Device.dmaPool); once.
    void make_pool(uint32_t pages);
    // `pages` of DMA memory mapped into the driver, held until it ends.
    // With `memory`, also a MemoryObject of the same pages for the driver
    // to share (a copy of it) with a client: its CapId there.
    DmaArea allocate_dma(uint32_t pages, std::string_view what, abi::CapId* memory = nullptr);
    // `pages` for a client, held by the driver too; Overloaded when the pool
    // has no memory left (anything else ends the driver).
    Result<SharedDma, gen::Exception> allocate_shared(uint32_t pages);

    // MSI-X entry `entry` routed to an Interrupt (Device.interrupt).
    abi::CapId route_interrupt(uint16_t entry);

private:
    void keep(rt::Capability<schema::DMABuffer>& buffer);

    rt::Capability<schema::Device>& m_device;
    pci::Function m_function;
    uint16_t m_vendor_id = 0;
    uint16_t m_device_id = 0;
    uint32_t m_class_triple = 0;
    bool m_dma_isolated = false;
    char m_address[16] = {};
    size_t m_address_length = 0;
    uint8_t* m_bars[pci::max_bars] = {};
    pci::Bar m_io_bars[pci::max_bars];
    std::optional<rt::Capability<schema::DMAPool>> m_pool;
    // Every DMABuffer made. Behind an IOMMU a buffer leaves the device's
    // domain when its last capability goes: the driver holds each for as
    // long as it runs.
    abi::CapId m_kept[64];
    size_t m_kept_count = 0;
};

} // namespace capos::drivers
