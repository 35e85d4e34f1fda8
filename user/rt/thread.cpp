#include "user/rt/thread.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/ring.h"
#include "user/rt/rt.h"

extern "C" void capos_rt_thread_entry(); // start.S

namespace capos::rt {

namespace {

constexpr uint64_t page = 4096;

// What a new thread runs, at the bottom of its stack area (above the guard
// page), read once at its start, and who gives its stack back: whoever of
// the thread (at its end) and its Thread (at detach) changes `state` from
// Running first decides. A thread that ends first leaves the stack to its
// joiner, or to the detacher, which then joins it; a thread detached first
// gives its own stack back as it ends (ThreadControl.exitThread unmaps it
// once the thread runs no more user code).
enum : uint32_t { Running, Ending, Detached };
struct StartBlock {
    void (*function)(void*);
    void* argument;
    uint64_t stack; // the whole mapping, guard page included
    uint64_t stack_size;
    uint32_t state;
};

thread_local StartBlock* t_block = nullptr; // null in the main thread

uint32_t capability_id(std::string_view name, uint64_t interface_id) {
    auto found = find_capability(name);
    if (found.is_error() || found.value().interface_id != interface_id)
        return 0;
    return found.value().id.raw;
}

schema::VirtualMemory::Client<RingTransport> memory(uint32_t id) {
    return {transport(), id};
}

} // namespace

const char* to_string(ThreadError error) {
    switch (error) {
    case ThreadError::NoCapability:
        return "no threads or vm capability";
    case ThreadError::NoMemory:
        return "no memory for its stack";
    case ThreadError::Refused:
        return "refused by the kernel";
    }
    return "unknown thread error";
}

Result<Thread, ThreadError> Thread::start(void (*function)(void*), void* argument,
                                          size_t stack_size) {
    uint32_t spawner_id = capability_id("threads", schema::ThreadSpawner::interface_id);
    uint32_t vm_id = capability_id("vm", schema::VirtualMemory::interface_id);
    if (spawner_id == 0 || vm_id == 0)
        return Err{ThreadError::NoCapability};
    stack_size = (stack_size + page - 1) / page * page;
    // A guard page below the stack: an overflow faults instead of writing
    // over other memory.
    auto mapped = memory(vm_id).map(0, stack_size + page, schema::Access::ReadWrite);
    if (mapped.is_error())
        return Err{ThreadError::NoMemory};
    uint64_t base = mapped.value().address();
    if (memory(vm_id).protect(base, page, schema::Access::Read).is_error()) {
        (void)memory(vm_id).unmap(base, stack_size + page);
        return Err{ThreadError::NoMemory};
    }
    auto* block = reinterpret_cast<StartBlock*>(base + page);
    *block = {function, argument, base, stack_size + page, Running};
    schema::ThreadSpawner::Client<RingTransport> spawner(transport(), spawner_id);
    auto spawned =
        spawner.spawn(reinterpret_cast<uint64_t>(&capos_rt_thread_entry), base + page + 64,
                      base + page + stack_size, reinterpret_cast<uint64_t>(block));
    if (spawned.is_error()) {
        (void)memory(vm_id).unmap(base, stack_size + page);
        return Err{ThreadError::Refused};
    }
    return Thread(spawned.value().thread(), base, stack_size + page);
}

Thread::~Thread() {
    if (m_handle == 0)
        return;
    auto* block = reinterpret_cast<StartBlock*>(m_stack + page);
    uint32_t running = Running;
    if (__atomic_compare_exchange_n(&block->state, &running, Detached, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        (void)release(abi::CapId{m_handle}); // it gives its stack back as it ends
        return;
    }
    (void)join(); // ending already: its end is near, then its stack goes
}

int64_t Thread::join() {
    if (m_handle == 0)
        panic("thread: joined twice");
    schema::ThreadHandle::Client<RingTransport> handle(transport(), m_handle);
    auto joined = handle.join();
    if (joined.is_error())
        panic("thread: join failed");
    int64_t code = joined.value().code();
    (void)release(abi::CapId{std::exchange(m_handle, 0)});
    uint32_t vm_id = capability_id("vm", schema::VirtualMemory::interface_id);
    (void)memory(vm_id).unmap(m_stack, m_stack_size);
    return code;
}

void exit_thread(int64_t code) {
    uint32_t id = capability_id("thread", schema::ThreadControl::interface_id);
    if (id == 0)
        panic("thread: no thread capability to end the thread with");
    uint64_t unmap_address = 0;
    uint64_t unmap_length = 0;
    if (StartBlock* block = t_block) {
        uint32_t running = Running;
        if (!__atomic_compare_exchange_n(&block->state, &running, Ending, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE)) {
            // Detached: nobody else will give the stack back.
            unmap_address = block->stack;
            unmap_length = block->stack_size;
        }
    }
    schema::ThreadControl::Client<RingTransport> control(transport(), id);
    (void)control.exit_thread(code, unmap_address, unmap_length);
    panic("thread: exitThread returned");
}

} // namespace capos::rt

// A new thread's first C++ code (rdi = its ring, rsi = its StartBlock): its
// ring client and transport on its own stack, then the function.
extern "C" [[noreturn]] void capos_rt_thread_main(capos::abi::RingPage* page,
                                                  capos::rt::StartBlock* block) {
    using namespace capos::rt;
    RingClient client(page);
    StandardRingTransport transport(client);
    set_thread_ring(client, transport);
    t_block = block;
    block->function(block->argument);
    exit_thread(0);
}
