// The capability pointers of a message: finding and renumbering them. The
// kernel uses this when a message carries capabilities from one process to
// another: the sender's capability pointers name its own CapIds, and on the
// way the kernel rewrites each to the id the receiver got, in two steps:
//   1. decode: for_each_capability checks that every capability pointer names
//      a capability the sender listed; nothing is written;
//   2. commit: renumber_capabilities rewrites each capability pointer word
//      from the sender's id to the receiver's, exactly once. It cannot fail
//      when step 1 passed over the same words with the same limits.
// A message may share objects (two pointers to one struct: a DAG, which Cap'n
// Proto allows), so a walk may reach one capability pointer word by several
// paths. Step 1 does not mind; step 2 remembers the words it has rewritten,
// so that a shared word is neither renamed twice (with renames A->B, B->A it
// would end as A again) nor looked up again under its new id.
#pragma once

#include "lib/capnp/wire.h"

namespace capos::capnp {

// A capability pointer as a walk reaches it.
struct CapabilityPointer {
    uint32_t segment; // the segment holding the pointer word
    uint32_t index;   // the capability index the word holds
    size_t offset;    // the word's position in its segment, in words
};

// Walks `message` read-only and calls `visit` for each capability pointer
// reachable from the root, once per path to it (a word reached by two paths
// is reported twice, at the same place), in no promised order; `visit`
// returns false to stop the walk. Every pointer is followed with `message`'s
// own traversal budget and nesting limit, which the walk uses up as any read
// does: its work is bounded by the budget (read an untrusted message with
// ReaderLimits::for_message to make it linear in the message's size). Returns
// WireError::None, the first wire error met, or CapabilityPointer when
// `visit` stopped the walk.
WireError for_each_capability(const MessageReader& message,
                              bool (*visit)(void* context, const CapabilityPointer& pointer),
                              void* context);

template <typename F>
WireError for_each_capability(const MessageReader& message, F&& visit) {
    return for_each_capability(
        message,
        [](void* context, const CapabilityPointer& pointer) {
            return (*static_cast<std::remove_reference_t<F>*>(context))(pointer);
        },
        &visit);
}

struct CapabilityRename {
    uint32_t from; // an index as the message holds it
    uint32_t to;   // the index to write in its place
};

// The words of `seen` that renumber_capabilities needs for a message of
// `words` words: one bit per word.
constexpr size_t renumber_bitmap_words(size_t words) {
    return words / 64 + (words % 64 != 0 ? 1 : 0);
}

// Rewrites, in place, every capability pointer reachable in the single-segment
// message `message` from the `from` of a rename to its `to` (the first rename
// whose `from` matches; `renames` is searched linearly and is meant to be
// short). Each pointer word is rewritten exactly once, however many paths
// reach it.
//
// Decode, then invoke: a first pass reads the whole message and checks that
// every capability pointer has a rename; if anything fails (a wire error, an
// index with no rename: CapabilityPointer) it returns that error and the
// message is unchanged. Only then does a second pass write; it cannot fail,
// because it makes the same walk over the same words (a rewritten word still
// decodes as a capability pointer, and capability pointers are leaves, so
// rewriting changes no path). Each pass reads with a fresh reader and the
// whole budget of `limits`; pass ReaderLimits::for_message(message.size()) to
// bound the work by the message's size, and the same limits to the decode
// step's for_each_capability, so that a message it accepted renames here.
//
// `message` is one flat segment, the form the kernel copies in: far pointers
// are followed within it, and a far pointer to any other segment is an error
// (BadSegment) like any other. `seen` is caller-provided scratch of at least
// renumber_bitmap_words(message.size()) words, cleared here before use (when
// it is shorter: BufferFull, and nothing is read or written). No allocation.
WireError renumber_capabilities(std::span<Word> message, ReaderLimits limits,
                                std::span<const CapabilityRename> renames,
                                std::span<uint64_t> seen);

} // namespace capos::capnp
