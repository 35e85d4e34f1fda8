// The protocol between ipc_peer (a server driven raw through its ring) and the
// IPC regression tests that call it (ipc_attack_test, ipc_caller). A call's
// method ordinal is the command; the peer's endpoints are granted without an
// interface, so any interface id reaches it. Replies and the messages that
// carry capabilities are written word by word, because they take shapes the
// generated builders never make: a capability pointer reachable through two
// struct pointers (a DAG, legal Cap'n Proto).
#pragma once

#include "abi/ring.h"
#include "lib/capnp/wire.h"
#include <cstddef>
#include <cstdint>
#include <span>

namespace capos::test::peer {

enum class Command : uint16_t {
    Empty = 1,    // answers an empty message
    CheckDag = 2, // the params are a DAG message: is its capability pointer renamed once?
    GiveCopy = 3, // answers a DAG message carrying a copy of the peer's Null
    GiveMove = 4, // the same, moving it
    PingNull = 5, // answers the result of pinging its Null (0, or a TransportError)
    Mark = 6,     // records (the params' value, Timer.now) in the shared log page, answers empty
    Received = 7, // answers how many calls the peer received before this one
    // Returns the shared-levels message (user/tests/common/shared_levels.h)
    // first, then answers the call with that Return's result (the kernel must
    // refuse it, BadParams, and keep the call in flight).
    ReturnShared = 8,
    Reflect = 9, // answers the value its params carry (read_value)
};

// Any id: the peer's endpoints accept every interface.
inline constexpr uint64_t interface_id = 0x9e3779b97f4a7c15;

// The value a reply carries (read_value).
enum Reply : uint64_t {
    Renamed = 1,          // CheckDag: each capability pointer names the received id
    RefusedStillHeld = 2, // Give*: the Return was refused (QuotaExceeded); the Null still answers
    RefusedLost = 3,      // Give*: refused, and the Null no longer answers: a lost capability
    Misrenamed = 4,       // CheckDag: a pointer names something else
    BadMessage = 5,       // the params were not the expected shape
    Refused = 6,          // Give*: the Return failed with another error
};

// Params of a method without any (Null.ping, Timer.now): an empty root
// struct, whose pointer conventionally points just before itself.
alignas(8) inline constexpr capnp::Word empty_params[1] = {0xfffffffcull};

// A root struct with one data word holding `value`: 2 words.
inline constexpr size_t value_words = 2;
inline void value_message(capnp::Word* out, uint64_t value) {
    out[0] = capnp::Word{1} << 32; // struct, offset 0, 1 data word, no pointers
    out[1] = value;
}

// A DAG: a root struct (1 data word, 3 pointers) whose pointers 0 and 1 both
// lead to one child struct holding a capability pointer naming `shared`, and
// whose pointer 2 is a capability pointer naming `second` (0: null). 6 words.
inline constexpr size_t dag_words = 6;
inline void dag_message(capnp::Word* out, uint64_t value, uint32_t shared, uint32_t second) {
    auto struct_pointer = [](int32_t offset, uint16_t data, uint16_t pointers) {
        return capnp::Word(uint32_t(offset) << 2) | capnp::Word{data} << 32 |
               capnp::Word{pointers} << 48;
    };
    out[0] = struct_pointer(0, 1, 3);
    out[1] = value;
    out[2] = struct_pointer(2, 0, 1); // from the end of word 2 to word 5
    out[3] = struct_pointer(1, 0, 1); // from the end of word 3 to word 5
    out[4] = second == 0 ? 0 : capnp::detail::make_capability_pointer(second);
    out[5] = capnp::detail::make_capability_pointer(shared);
}

struct DagCaps {
    bool ok = false;     // the message has the DAG shape
    uint32_t via_first;  // the capability index read through pointer 0
    uint32_t via_second; // ... through pointer 1 (the same word)
    uint32_t second;     // pointer 2's index (UINT32_MAX when null)
    uint64_t value;
};
// Reads a message of dag_message's shape through the wire reader.
inline DagCaps read_dag(std::span<const capnp::Word> words) {
    DagCaps caps{};
    capnp::MessageReader message(words);
    capnp::StructReader root = message.root();
    if (root.pointer_count() < 3)
        return caps;
    capnp::StructReader first = root.pointer_field(0).get_struct();
    capnp::StructReader second = root.pointer_field(1).get_struct();
    caps.via_first = first.pointer_field(0).capability_index();
    caps.via_second = second.pointer_field(0).capability_index();
    caps.second = root.pointer_field(2).capability_index();
    caps.value = root.data_field<uint64_t>(0);
    caps.ok = message.error() == capnp::WireError::None &&
              caps.via_first != capnp::PointerReader::no_capability;
    return caps;
}

inline uint64_t read_value(std::span<const capnp::Word> words) {
    if (words.empty())
        return 0;
    capnp::MessageReader message(words);
    return message.root().data_field<uint64_t>(0);
}

// The index of the CPU the caller runs on (rdtscp, docs/abi.md), or no_cpu
// when the processor has no rdtscp. A hint: the thread may move right after.
inline constexpr uint32_t no_cpu = UINT32_MAX;
inline uint32_t cpu_now() {
    uint32_t a, b, c, d;
    asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001u), "c"(0u));
    if (!(d & (1u << 27)))
        return no_cpu;
    uint32_t lo, hi, aux;
    asm volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    return aux;
}

// The log page of Command::Mark: entries in the order the peers ran.
struct MarkLog {
    static constexpr uint32_t capacity = 160;
    uint32_t count;
    uint32_t reserved;
    struct Entry {
        uint64_t tag;
        uint64_t ns;
        uint32_t cpu; // cpu_now() when it marked
        uint32_t reserved;
    } entries[capacity];
};
static_assert(sizeof(MarkLog) <= 4096);

// A raw call of a kernel capability's method that takes no params.
inline abi::Sqe kernel_call(uint32_t cap, uint64_t interface, uint16_t method, capnp::Word* result,
                            uint32_t result_bytes, uint64_t user_data) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = cap;
    sqe.method = method;
    sqe.interface_id = interface;
    sqe.user_data = user_data;
    sqe.params_addr = reinterpret_cast<uint64_t>(empty_params);
    sqe.params_len = sizeof empty_params;
    sqe.result_addr = reinterpret_cast<uint64_t>(result);
    sqe.result_len = result_bytes;
    return sqe;
}

inline abi::Sqe call(uint32_t cap, Command command, std::span<const capnp::Word> params,
                     capnp::Word* result, uint32_t result_bytes, uint64_t user_data) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = cap;
    sqe.method = uint16_t(command);
    sqe.interface_id = interface_id;
    sqe.user_data = user_data;
    if (!params.empty()) {
        sqe.params_addr = reinterpret_cast<uint64_t>(params.data());
        sqe.params_len = uint32_t(params.size() * 8);
    }
    sqe.result_addr = reinterpret_cast<uint64_t>(result);
    sqe.result_len = result_bytes;
    return sqe;
}

} // namespace capos::test::peer
