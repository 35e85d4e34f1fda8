// From _start to main and back out through exit.
#include "abi/user_layout.h"
#include "user/rt/rt.h"
#include "user/rt/syscall.h"
#include <new>

extern "C" void (*__init_array_start[])();
extern "C" void (*__init_array_end[])();

int main();

namespace capos::rt {

namespace {

// The main thread's ring client and transport; another thread's live on its
// stack (user/rt/thread.cpp).
alignas(RingClient) unsigned char g_ring_storage[sizeof(RingClient)];
alignas(StandardRingTransport) unsigned char g_transport_storage[sizeof(StandardRingTransport)];
thread_local RingClient* t_ring = nullptr;
thread_local RingTransport* t_transport = nullptr;
uint32_t g_process_id = 0;
const abi::CapSetPage* g_capset = nullptr;

} // namespace

RingClient& ring() {
    return *t_ring;
}
RingTransport& transport() {
    return *t_transport;
}
ThreadTransport& thread_transport() {
    static constinit ThreadTransport transport;
    return transport;
}
void set_thread_ring(RingClient& ring, RingTransport& transport) {
    t_ring = &ring;
    t_transport = &transport;
}
uint32_t process_id() {
    return g_process_id;
}
const abi::CapSetPage& capset() {
    return *g_capset;
}
args::Reader arguments() {
    return args::Reader(args::ConstBlock(reinterpret_cast<const uint8_t*>(abi::user_args_address),
                                         abi::args_block_size));
}

} // namespace capos::rt

extern "C" [[noreturn]] void capos_rt_start(capos::abi::RingPage* ring, uint64_t process_id,
                                            const capos::abi::CapSetPage* capset) {
    using namespace capos::rt;
    auto* client = new (g_ring_storage) RingClient(ring);
    set_thread_ring(*client, *new (g_transport_storage) StandardRingTransport(*client));
    g_process_id = uint32_t(process_id);
    g_capset = capset;
    if (capset->header.magic != capos::abi::capset_magic ||
        capset->header.version != capos::abi::capset_version)
        exit(-2);
    for (auto* constructor = __init_array_start; constructor != __init_array_end; ++constructor)
        (*constructor)();
    exit(main());
}
