// Capabilities travelling through an endpoint (the CapabilityBox server):
// copy, move, move back, a move into a full table that must leave the sender
// untouched, a capability that may not travel, and pointers without
// descriptors.
#include "common/test.h"
#include "schema/capos.capnp.capos.h"

namespace {

using namespace capos;
using schema::CapabilityBox;
using test::Line;

struct Box {
    schema::CapabilityBox::Client<rt::RingTransport> client;

    auto put(abi::CapId id, abi::TransferMode mode) {
        rt::transport().send_with_next_call(id, mode);
        return client.put(id.raw);
    }
};

bool console_works(abi::CapId id, std::string_view text) {
    schema::Console::Client<rt::RingTransport> console(rt::transport(), id.raw);
    return console.write_line(text).is_ok();
}

bool timer_works(abi::CapId id) {
    schema::Timer::Client<rt::RingTransport> timer(rt::transport(), id.raw);
    return timer.now().is_ok();
}

} // namespace

int main() {
    test::Suite suite("transfer");
    abi::CapId console{test::cap_id("console")};
    abi::CapId timer{test::cap_id("timer")};
    abi::CapId spawner{test::cap_id("spawner")};
    Box box{{rt::transport(), test::cap_id("box")}};

    // Copy: both sides hold the capability.
    suite.check_ok("copy a Console into the box", box.put(console, abi::TransferMode::Copy));
    suite.check("the sender's Console still works after a copy",
                console_works(console, "transfer: (written through the original)"));
    auto taken = box.client.take();
    // Copied out at once: the next call (even a check's console line) replaces them.
    abi::CapRecord records[abi::max_transfers];
    size_t record_count = rt::transport().received().size();
    for (size_t i = 0; i < record_count; ++i)
        records[i] = rt::transport().received()[i];
    std::span<const abi::CapRecord> received(records, record_count);
    abi::CapId copy{taken.is_ok() ? taken.value().cap() : 0};
    suite.check_ok("take the copy back", taken);
    suite.check("the reply lists one capability speaking Console",
                received.size() == 1 && received[0].cap == copy.raw &&
                    received[0].interface_id == schema::Console::interface_id,
                Line("records ")
                    .udec(received.size())
                    .add(" first ")
                    .hex(received.empty() ? 0 : received[0].cap)
                    .add(" interface ")
                    .hex(received.empty() ? 0 : received[0].interface_id));
    suite.check("it is a new id", copy.raw != 0 && copy.raw != console.raw);
    suite.check("the returned copy works",
                console_works(copy, "transfer: (written through the copy)"));

    // Move: the sender's id goes stale.
    suite.check_ok("move the Timer into the box", box.put(timer, abi::TransferMode::Move));
    schema::Timer::Client<rt::RingTransport> old_timer(rt::transport(), timer.raw);
    suite.check_transport("the moved Timer's old id is stale", old_timer.now(),
                          abi::TransportError::StaleCap);
    auto back = box.client.take();
    suite.check_ok("take the Timer back", back);
    abi::CapId timer_back{back.is_ok() ? back.value().cap() : 0};
    suite.check("the Timer works again under its new id", timer_works(timer_back));

    // A move into a full table fails and leaves the sender holding it.
    auto filled = box.client.fill();
    suite.check("the server filled its table", filled.is_ok() && filled.value().held() > 0);
    suite.check_transport("moving into a full table fails",
                          box.put(timer_back, abi::TransferMode::Move),
                          abi::TransportError::QuotaExceeded);
    suite.check("the sender still holds the Timer", timer_works(timer_back));

    // Capabilities that may not travel, and pointers without descriptors.
    schema::ProcessSpawner::Client<rt::RingTransport> spawn(rt::transport(), spawner.raw);
    auto child = spawn.spawn([](schema::ProcessSpawner::SpawnParams::Builder params) {
        params.set_name("child");
        params.set_binary("hello");
    });
    suite.check_ok("spawn a child for its ProcessHandle", child);
    abi::CapId handle{child.is_ok() ? child.value().handle() : 0};
    suite.check_transport("a ProcessHandle is not transferable",
                          box.put(handle, abi::TransferMode::Copy),
                          abi::TransportError::BadTransfer);
    suite.check_transport("an endpoint's owner capability is not transferable",
                          box.put(abi::CapId{test::cap_id("mine")}, abi::TransferMode::Copy),
                          abi::TransportError::BadTransfer);
    suite.check_transport("a capability pointer without a descriptor is refused",
                          box.client.put(console.raw), abi::TransportError::BadTransfer);
    rt::transport().send_with_next_call(console, abi::TransferMode::Copy);
    rt::transport().send_with_next_call(console, abi::TransferMode::Move);
    suite.check_transport("one capability listed twice is refused", box.client.put(console.raw),
                          abi::TransportError::BadTransfer);
    suite.check("the Console survives the refused transfers",
                console_works(console, "transfer: (still here)"));
    return suite.finish();
}
