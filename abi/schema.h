// Where the ABI and the schema (schema/capos.capnp) both name a fact, the
// ABI's declaration is the source and this header ties the schema's to it:
// a change to either side that makes them disagree fails to compile. It also
// holds the one conversion between the two spellings.
//
// TransferMode: a ring TransferDescriptor carries abi::TransferMode as a byte;
// a ProcessSpawner Grant carries schema::TransferMode in a message. Both
// mean the same two modes with the same values.
#pragma once

#include "abi/ring.h"
#include "schema/capos.capnp.capos.h"
#include <optional>

namespace capos::abi {

static_assert(schema::enumerant_count(schema::TransferMode{}) == transfer_mode_count);
static_assert(uint16_t(schema::TransferMode::Copy) == uint8_t(TransferMode::Copy));
static_assert(uint16_t(schema::TransferMode::Move) == uint8_t(TransferMode::Move));

// The ABI's mode for a mode read from a message; nothing for a value the
// schema does not name (a malformed or newer message).
constexpr std::optional<TransferMode> transfer_mode_of(schema::TransferMode mode) {
    if (!schema::is_known(mode))
        return std::nullopt;
    return static_cast<TransferMode>(mode);
}

static_assert(transfer_mode_of(schema::TransferMode::Move) == TransferMode::Move);
static_assert(!transfer_mode_of(static_cast<schema::TransferMode>(transfer_mode_count)));

} // namespace capos::abi
