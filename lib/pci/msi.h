// Programming a function's message-signalled interrupts (PCI Local Bus 3.0,
// 6.8): MSI through its capability in configuration space, MSI-X through its
// table in a memory BAR. What is written where is pure logic: the kernel
// passes its configuration access and the mapped table, the host tests a
// fake function and an array.
//
// The kernel uses one vector per function for MSI (multiple message enable
// 0), the message of lib/apic's msi_message.
#pragma once

#include "lib/pci/pci.h"
#include "lib/pci/scan.h"
#include <cstddef>
#include <cstdint>

namespace capos::pci {

// Where an MSI capability keeps its registers, as offsets in configuration
// space (0: the capability has no such register).
struct MsiLayout {
    uint16_t control = 0;
    uint16_t address_low = 0;
    uint16_t address_high = 0;
    uint16_t data = 0; // 16 bits
    uint16_t mask = 0; // per-vector mask bits
};
MsiLayout msi_layout(const MsiCapability& msi);

// Sets, then clears, bits of the command register (command_bus_master,
// ...). Its status half is write-one-to-clear: written as 0.
void change_command(ConfigAccess& access, FunctionAddress at, uint16_t set, uint16_t clear);

// Turns legacy INTx signalling off or on (the command register's Interrupt
// Disable bit), writing no status bit back.
void set_intx_disabled(ConfigAccess& access, FunctionAddress at, bool disabled);

// Points the function's first MSI vector at `address` / `data`, unmasks it
// (when the function masks per vector), makes the function a bus master (a
// message is a memory write), turns INTx off and MSI on. False when
// the address needs 64 bits and the function has only 32.
bool msi_enable(ConfigAccess& access, FunctionAddress at, const MsiCapability& msi,
                uint64_t address, uint32_t data);
// MSI off (INTx stays off: the caller decides).
void msi_disable(ConfigAccess& access, FunctionAddress at, const MsiCapability& msi);

// MSI-X: the table has 16 bytes per entry: address low and high, data,
// vector control (bit 0: masked). `table` is the entries' 32-bit registers.
inline constexpr size_t msix_entry_words = 4;
inline constexpr uint32_t msix_vector_masked = 1u << 0;
// Writes entry `index` masked, then its address and data, then unmasks it
// when `masked` is false (so the device never sees a half-written entry).
void msix_write_entry(volatile uint32_t* table, uint16_t index, uint64_t address, uint32_t data,
                      bool masked);
void msix_set_masked(volatile uint32_t* table, uint16_t index, bool masked);
bool msix_masked(const volatile uint32_t* table, uint16_t index);
// The function's MSI-X enable and function-mask bits; enabling makes it a
// bus master and turns INTx off.
void msix_set_control(ConfigAccess& access, FunctionAddress at, const MsixCapability& msix,
                      bool enabled, bool function_masked);

} // namespace capos::pci
