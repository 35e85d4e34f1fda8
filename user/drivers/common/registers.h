// One mapped register window of a device: accesses of the width the field
// has, never merged or split (volatile), as the device expects them.
#pragma once

#include <cstdint>

namespace capos::drivers {

class Registers {
public:
    Registers() = default;
    explicit Registers(uint8_t* base) : m_base(base) {}
    template <typename T>
    T read(uint64_t offset) const {
        return *reinterpret_cast<volatile const T*>(m_base + offset);
    }
    template <typename T>
    void write(uint64_t offset, T value) const {
        *reinterpret_cast<volatile T*>(m_base + offset) = value;
    }
    // A 64-bit register as two 32-bit halves, low first: what both virtio's
    // common configuration and NVMe's controller registers accept.
    uint64_t read64(uint64_t offset) const {
        uint64_t low = read<uint32_t>(offset);
        return low | uint64_t(read<uint32_t>(offset + 4)) << 32;
    }
    void write64(uint64_t offset, uint64_t value) const {
        write<uint32_t>(offset, uint32_t(value));
        write<uint32_t>(offset + 4, uint32_t(value >> 32));
    }
    uint8_t* base() const { return m_base; }

private:
    uint8_t* m_base = nullptr;
};

} // namespace capos::drivers
