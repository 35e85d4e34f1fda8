#include "lib/pci/msi.h"

namespace capos::pci {

namespace {

constexpr uint16_t command_register = 0x04;

constexpr uint16_t msi_enable_bit = 1u << 0;
constexpr uint16_t msi_multiple_enable_mask = 0x7u << 4;
constexpr uint16_t msix_function_mask_bit = 1u << 14;
constexpr uint16_t msix_enable_bit = 1u << 15;

// 16 bits at `offset` (even), through the 32-bit register holding them.
uint16_t read16(ConfigAccess& access, FunctionAddress at, uint16_t offset) {
    uint32_t word = access.read32(at, uint16_t(offset & ~3u));
    return uint16_t(word >> ((offset & 2u) * 8));
}
void write16(ConfigAccess& access, FunctionAddress at, uint16_t offset, uint16_t value) {
    uint16_t aligned = uint16_t(offset & ~3u);
    unsigned shift = (offset & 2u) * 8;
    uint32_t word = access.read32(at, aligned);
    word = (word & ~(uint32_t(0xffff) << shift)) | uint32_t(value) << shift;
    access.write32(at, aligned, word);
}

} // namespace

MsiLayout msi_layout(const MsiCapability& msi) {
    MsiLayout layout;
    uint16_t base = msi.offset;
    layout.control = uint16_t(base + 2);
    layout.address_low = uint16_t(base + 4);
    if (msi.address_64) {
        layout.address_high = uint16_t(base + 8);
        layout.data = uint16_t(base + 12);
        layout.mask = msi.per_vector_masking ? uint16_t(base + 16) : 0;
    } else {
        layout.data = uint16_t(base + 8);
        layout.mask = msi.per_vector_masking ? uint16_t(base + 12) : 0;
    }
    return layout;
}

namespace {

// A message is a memory write by the function: it must be a bus master. And
// INTx goes off.
void message_signalling_on(ConfigAccess& access, FunctionAddress at) {
    change_command(access, at, uint16_t(command_interrupt_disable | command_bus_master), 0);
}

} // namespace

void change_command(ConfigAccess& access, FunctionAddress at, uint16_t set, uint16_t clear) {
    uint16_t command = uint16_t(access.read32(at, command_register));
    command = uint16_t((command & ~clear) | set);
    access.write32(at, command_register, command);
}

void set_intx_disabled(ConfigAccess& access, FunctionAddress at, bool disabled) {
    if (disabled)
        change_command(access, at, command_interrupt_disable, 0);
    else
        change_command(access, at, 0, command_interrupt_disable);
}

bool msi_enable(ConfigAccess& access, FunctionAddress at, const MsiCapability& msi,
                uint64_t address, uint32_t data) {
    if (!msi.address_64 && (address >> 32) != 0)
        return false;
    MsiLayout layout = msi_layout(msi);
    uint16_t control = read16(access, at, layout.control);
    // Off while the message changes, one vector.
    control = uint16_t(control & ~(msi_enable_bit | msi_multiple_enable_mask));
    write16(access, at, layout.control, control);
    access.write32(at, layout.address_low, uint32_t(address));
    if (layout.address_high)
        access.write32(at, layout.address_high, uint32_t(address >> 32));
    write16(access, at, layout.data, uint16_t(data));
    if (layout.mask)
        access.write32(at, layout.mask, access.read32(at, layout.mask) & ~1u);
    message_signalling_on(access, at);
    write16(access, at, layout.control, uint16_t(control | msi_enable_bit));
    return true;
}

void msi_disable(ConfigAccess& access, FunctionAddress at, const MsiCapability& msi) {
    MsiLayout layout = msi_layout(msi);
    uint16_t control = read16(access, at, layout.control);
    write16(access, at, layout.control, uint16_t(control & ~msi_enable_bit));
}

void msix_write_entry(volatile uint32_t* table, uint16_t index, uint64_t address, uint32_t data,
                      bool masked) {
    volatile uint32_t* entry = table + size_t(index) * msix_entry_words;
    entry[3] = entry[3] | msix_vector_masked;
    entry[0] = uint32_t(address);
    entry[1] = uint32_t(address >> 32);
    entry[2] = data;
    if (!masked)
        entry[3] = entry[3] & ~msix_vector_masked;
}

void msix_set_masked(volatile uint32_t* table, uint16_t index, bool masked) {
    volatile uint32_t* control = table + size_t(index) * msix_entry_words + 3;
    *control = masked ? (*control | msix_vector_masked) : (*control & ~msix_vector_masked);
}

bool msix_masked(const volatile uint32_t* table, uint16_t index) {
    return (table[size_t(index) * msix_entry_words + 3] & msix_vector_masked) != 0;
}

void msix_set_control(ConfigAccess& access, FunctionAddress at, const MsixCapability& msix,
                      bool enabled, bool function_masked) {
    uint16_t offset = uint16_t(msix.offset + 2);
    uint16_t control = read16(access, at, offset);
    control = uint16_t(control & ~(msix_enable_bit | msix_function_mask_bit));
    if (enabled)
        control = uint16_t(control | msix_enable_bit);
    if (function_masked)
        control = uint16_t(control | msix_function_mask_bit);
    if (enabled)
        message_signalling_on(access, at);
    write16(access, at, offset, control);
}

} // namespace capos::pci
