// The smallest message that costs a walk over it the most: 46 words whose
// structs each point twice at the same child, 21 levels deep (a DAG, which
// Cap'n Proto's wire format allows). A walk that follows every pointer visits
// 2^21 - 1 structs, about 4.2 million words, for 46 words of message; the
// kernel must refuse it in time linear in its size (BadParams: its traversal
// budget is proportional to the message, capnp::ReaderLimits::for_message).
// The same message as tests/host/capnp_wire_test.cpp's shared_levels_message.
#pragma once

#include "lib/capnp/wire.h"
#include <cstddef>
#include <cstdint>

namespace capos::test {

inline constexpr size_t shared_levels_words = 46;
inline constexpr int shared_levels_depth = 21;

// Writes the message to `out` (shared_levels_words words): the root pointer;
// level 0, a struct of 3 data words and 2 pointers; levels 1 to 20, structs of
// 2 pointers. Both pointers of a level aim at the next level's struct. The
// last level's pointers are null, or its first is a capability pointer naming
// `capability` when that is nonzero.
inline void shared_levels_message(capnp::Word* out, uint32_t capability = 0) {
    auto struct_pointer = [](int32_t offset, uint16_t data, uint16_t pointers) {
        return capnp::Word(uint32_t(offset) << 2) | capnp::Word{data} << 32 |
               capnp::Word{pointers} << 48;
    };
    size_t at = 0;
    out[at++] = struct_pointer(0, 3, 2);
    for (int i = 0; i < 3; ++i)
        out[at++] = 0;
    for (int level = 0; level < shared_levels_depth - 1; ++level) {
        out[at++] = struct_pointer(1, 0, 2); // past the next word, to the child
        out[at++] = struct_pointer(0, 0, 2); // right after itself, the same child
    }
    out[at++] = capability != 0 ? capnp::detail::make_capability_pointer(capability) : 0;
    out[at++] = 0;
}

} // namespace capos::test
