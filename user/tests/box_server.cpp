// Serves CapabilityBox on the endpoint granted as "box": holds one capability
// at a time. `fill` uses the FrameAllocator ("frames") to fill its own table,
// so a client can see a move into a full table fail cleanly.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"

namespace {

using capos::schema::CapabilityBox;
namespace abi = capos::abi;

struct BoxHandler {
    capos::rt::Server& server;
    abi::CapId held{};

    capos::Result<void, capos::gen::Exception> put(CapabilityBox::PutParams::Reader params,
                                                   CapabilityBox::PutResults::Builder) {
        if (held.raw != 0)
            (void)capos::rt::release(held);
        held = abi::CapId{params.cap()};
        return {};
    }

    capos::Result<void, capos::gen::Exception> take(CapabilityBox::TakeParams::Reader,
                                                    CapabilityBox::TakeResults::Builder results) {
        if (held.raw == 0)
            return {};
        results.set_cap(held.raw);
        server.send_with_reply(held, abi::TransferMode::Move);
        held = abi::CapId{};
        return {};
    }

    capos::Result<void, capos::gen::Exception> fill(CapabilityBox::FillParams::Reader,
                                                    CapabilityBox::FillResults::Builder results) {
        auto frames = capos::rt::find_capability("frames");
        if (frames.is_error())
            return capos::Err{
                capos::gen::Exception{capos::schema::ExceptionType::Failed, "no frame allocator"}};
        capos::schema::FrameAllocator::Client<capos::rt::RingTransport> allocator(
            capos::rt::transport(), frames.value().id.raw);
        uint32_t made = 0;
        while (allocator.allocate(1, false).is_ok())
            ++made;
        results.set_held(made);
        return {};
    }
};

} // namespace

int main() {
    auto found = capos::rt::find_capability("box");
    if (found.is_error())
        return 1;
    capos::rt::Server server(found.value().id);
    BoxHandler handler{server};
    server.serve<CapabilityBox>(handler);
    return 0;
}
