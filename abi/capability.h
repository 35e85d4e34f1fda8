// Capability ids as processes see them. A CapId names a slot in the process's
// own capability table plus the generation the slot had when the id was made:
// once a slot is released and reused, ids that name the old generation are
// stale and rejected. Generation 0 is never used, so CapId 0 is never valid.
#pragma once

#include <cstdint>

namespace capos::abi {

struct CapId {
    uint32_t raw = 0;

    static constexpr uint32_t index_bits = 16;
    static constexpr uint32_t generation_bits = 16;
    static constexpr uint32_t max_slots = 1u << index_bits;
    static constexpr uint32_t max_generation = (1u << generation_bits) - 1;

    static constexpr CapId make(uint32_t index, uint32_t generation) {
        return CapId{(generation << index_bits) | (index & (max_slots - 1))};
    }
    constexpr uint32_t index() const { return raw & (max_slots - 1); }
    constexpr uint32_t generation() const { return raw >> index_bits; }
    constexpr bool operator==(const CapId&) const = default;
};

static_assert(sizeof(CapId) == 4);
static_assert(CapId::make(5, 3).index() == 5 && CapId::make(5, 3).generation() == 3);
static_assert(CapId::make(0xFFFF, CapId::max_generation).raw == 0xFFFFFFFF);

} // namespace capos::abi
