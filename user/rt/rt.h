// The capOS user runtime: what every program links with.
//
// A program defines `int main()`. Before main runs, _start (start.S) and
// capos_rt_start set up the ring client and run global constructors; main's
// return value becomes the exit code. Capabilities are found by name in the
// CapSet the process was started with:
//
//     auto console = capos::rt::lookup<capos::schema::Console>("console");
//     if (console.is_error()) ...
//     console.value()->write_line("hello");
//
// lookup checks the interface id recorded for the name; the returned
// Capability owns the CapId and RELEASEs it when destroyed.
#pragma once

#include "abi/capability.h"
#include "abi/capset.h"
#include "lib/args/args_block.h"
#include "lib/base/result.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/ring.h"
#include <string_view>
#include <utility>

namespace capos::rt {

// The calling thread's ring and the transport over it (each thread has its
// own, docs/abi.md "Threads").
RingClient& ring();
RingTransport& transport();
// Makes `ring` and `transport` the calling thread's (a new thread's first step).
void set_thread_ring(RingClient& ring, RingTransport& transport);

// A transport that is always the calling thread's (transport()): what
// Capability's clients use, so that a capability held by the process may be
// called from any of its threads (one call at a time per client object: the
// client keeps its last reply).
class ThreadTransport {
public:
    std::span<capnp::Word> params_buffer() { return transport().params_buffer(); }
    gen::Reply call(uint32_t capability, uint64_t interface_id, uint16_t method,
                    std::span<const capnp::Word> params) {
        return transport().call(capability, interface_id, method, params);
    }
    bool send_with_next_call(abi::CapId id, abi::TransferMode mode) {
        return transport().send_with_next_call(id, mode);
    }
    std::span<const abi::CapRecord> received() const { return transport().received(); }
};
ThreadTransport& thread_transport();
uint32_t process_id();
const abi::CapSetPage& capset();
// The program's arguments, as the spawn that started it gave them (abi/args.h;
// init's services get none).
args::Reader arguments();

// Writes "panic: <message>" on the console (if the process holds one) and
// exits with -1.
[[noreturn]] void panic(std::string_view message);

// Writes a line on standard error: the StdIO named "stdio" if the process
// holds one (user/rt/stdio.h), else the console capability named "console".
// For diagnostics; returns false when there is neither or the write failed.
bool debug_write_line(std::string_view text);

// What went wrong with a generated client's call, in a few words (the
// exception's own message for an exception).
std::string_view call_error_text(const gen::CallError& error);

enum class LookupError : uint8_t { NotFound, WrongInterface };
const char* to_string(LookupError error);

struct CapSetMatch {
    abi::CapId id;
    uint64_t interface_id;
};
// The CapSet entry called `name`, if any.
Result<CapSetMatch, LookupError> find_capability(std::string_view name);

// Drops a capability from the process's table (a RELEASE on the ring).
// Returns the completion's result (0, or a negative abi::TransportError).
int32_t release(abi::CapId id);

// The capability a call's results name by `cap` (a capability field's
// value), when the reply carried it: it is the caller's from then on. Ask
// before the calling thread's next call, which forgets what came with the
// reply; 0 when the reply carried no such capability.
abi::CapId received_capability(uint32_t cap);

// An owned capability speaking Interface: a typed client plus the CapId it
// releases when destroyed. Move-only.
template <typename Interface>
class Capability {
public:
    using Client = typename Interface::template Client<ThreadTransport>;

    Capability(abi::CapId id) : m_id(id), m_client(thread_transport(), id.raw) {}
    Capability(Capability&& other)
        : m_id(std::exchange(other.m_id, abi::CapId{})), m_client(thread_transport(), m_id.raw) {}
    Capability& operator=(Capability&&) = delete;
    Capability(const Capability&) = delete;
    ~Capability() {
        if (m_id.raw != 0)
            (void)release(m_id);
    }

    abi::CapId id() const { return m_id; }
    Client* operator->() { return &m_client; }
    Client& client() { return m_client; }

    // Gives up ownership without releasing.
    abi::CapId leak() { return std::exchange(m_id, abi::CapId{}); }

private:
    abi::CapId m_id;
    Client m_client;
};

// A capability recorded with interface id 0 accepts calls in any interface
// (an endpoint whose server decides), so it matches every Interface; so does
// one of an interface that extends Interface (as the kernel's check says).
template <typename Interface>
Result<Capability<Interface>, LookupError> lookup(std::string_view name) {
    CapSetMatch match = TRY(find_capability(name));
    if (match.interface_id != 0 && match.interface_id != Interface::interface_id &&
        !schema::InterfaceAncestry::extends(match.interface_id, Interface::interface_id))
        return Err{LookupError::WrongInterface};
    return Capability<Interface>(match.id);
}

} // namespace capos::rt

// Checks a condition that must hold; a false one panics with its text and
// place ("assertion failed: <condition> at <file>:<line>").
#define CAPOS_ASSERT(condition)                                                                    \
    do {                                                                                           \
        if (!(condition))                                                                          \
            ::capos::rt::panic("assertion failed: " #condition " at " __FILE__ ":" CAPOS_LINE);    \
    } while (0)
#define CAPOS_STRINGIFY(x) #x
#define CAPOS_EXPAND_STRINGIFY(x) CAPOS_STRINGIFY(x)
#define CAPOS_LINE CAPOS_EXPAND_STRINGIFY(__LINE__)
