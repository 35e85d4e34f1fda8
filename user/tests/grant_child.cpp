// grant_child: started by spawn_grants_test (and spawn_errors_test) with some
// grant list; reports what it was given and proves it holds exactly that.
//
//   1. Every CapSet entry is used with a call its interface answers (a
//      transport error or an unexpected exception is a failure).
//   2. Every CapId it was not given fails: slots 0..31, generations 1..3, each
//      not in the CapSet, are called as Null.ping and must fail with InvalidCap
//      (a free slot whose generation matches) or StaleCap (any other
//      generation) - in particular the ids its parent's capabilities have in
//      the parent's table.
//   3. Every well-known name it was not given fails to look up.
//
// The exit code says what it found, so a child without a console reports too:
// one bit per well-known name present (console 1, timer 2, entropy 4, null 8,
// boot 16, vm 32, spawner 64, frames 512), 128 when any other name is
// present, and 256 when any check failed. With a Console (under any name) it
// also prints "grant-child: has <names in CapSet order>" and each failure.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;

namespace {

struct Known {
    std::string_view name;
    uint32_t bit;
};
constexpr Known g_known[] = {
    {"console", 1}, {"timer", 2}, {"entropy", 4},  {"null", 8},
    {"boot", 16},   {"vm", 32},   {"spawner", 64}, {"frames", 512},
};
constexpr uint32_t other_bit = 128;
constexpr uint32_t failure_bit = 256;

uint32_t g_console = 0; // a Console from the CapSet, whatever its name
uint32_t g_failures = 0;

void say(std::string_view text) {
    if (g_console == 0)
        return;
    schema::Console::Client<rt::RingTransport> console(rt::transport(), g_console);
    (void)console.write_line(text);
}

void fail(const Line& line) {
    ++g_failures;
    Line out("grant-child: FAILED ");
    out.add(line.view());
    say(out.view());
}

std::string_view entry_name(const abi::CapSetEntry& entry) {
    size_t length = 0;
    while (length < sizeof(entry.name) && entry.name[length] != '\0')
        ++length;
    return {entry.name, length};
}

// Step 1: one call the capability's interface answers.
void use(const abi::CapSetEntry& entry) {
    uint32_t id = entry.cap_id;
    std::string_view name = entry_name(entry);
    Line what;
    what.add(name).add(": ");
    auto check = [&](bool ok, std::string_view detail) {
        if (!ok)
            fail(Line(what.view()).add(detail));
    };
    auto& transport = rt::transport();
    switch (entry.interface_id) {
    case schema::Console::interface_id: {
        schema::Console::Client<rt::RingTransport> client(transport, id);
        check(client.write("").is_ok(), "Console.write failed");
        break;
    }
    case schema::Timer::interface_id: {
        schema::Timer::Client<rt::RingTransport> client(transport, id);
        auto now = client.now();
        check(now.is_ok() && now.value().ns() != 0, "Timer.now failed");
        break;
    }
    case schema::EntropySource::interface_id: {
        schema::EntropySource::Client<rt::RingTransport> client(transport, id);
        auto bytes = client.fill(16);
        check(bytes.is_ok() && bytes.value().bytes().size() == 16, "EntropySource.fill failed");
        break;
    }
    case schema::Null::interface_id: {
        schema::Null::Client<rt::RingTransport> client(transport, id);
        check(client.ping().is_ok(), "Null.ping failed");
        break;
    }
    case schema::BootPackage::interface_id: {
        schema::BootPackage::Client<rt::RingTransport> client(transport, id);
        auto size = client.manifest_size();
        check(size.is_ok() && size.value().bytes() > 0, "BootPackage.manifestSize failed");
        break;
    }
    case schema::VirtualMemory::interface_id: {
        schema::VirtualMemory::Client<rt::RingTransport> client(transport, id);
        auto mapped = client.map(0, 4096, schema::Access::ReadWrite);
        if (mapped.is_error()) {
            check(false, "VirtualMemory.map failed");
            break;
        }
        uint64_t address = mapped.value().address();
        *reinterpret_cast<volatile uint64_t*>(address) = 42;
        check(client.unmap(address, 4096).is_ok(), "VirtualMemory.unmap failed");
        break;
    }
    case schema::ProcessSpawner::interface_id: {
        // An empty process name is refused: the call reached the spawner.
        schema::ProcessSpawner::Client<rt::RingTransport> client(transport, id);
        auto spawned = client.spawn([](schema::ProcessSpawner::SpawnParams::Builder) {});
        check(spawned.is_error() && spawned.error().kind == gen::CallErrorKind::Exception &&
                  spawned.error().exception.type == schema::ExceptionType::InvalidArgument,
              "ProcessSpawner.spawn did not answer invalidArgument");
        break;
    }
    case schema::FrameAllocator::interface_id: {
        schema::FrameAllocator::Client<rt::RingTransport> client(transport, id);
        auto allocated = client.allocate(1, false);
        check(allocated.is_ok(), "FrameAllocator.allocate failed");
        if (allocated.is_ok())
            check(rt::release(abi::CapId{allocated.value().memory()}) == 0,
                  "releasing the MemoryObject failed");
        break;
    }
    default:
        check(false, Line("unexpected interface ").hex(entry.interface_id).view());
        break;
    }
}

} // namespace

int main() {
    const abi::CapSetPage& set = rt::capset();
    uint32_t count =
        set.header.count < abi::capset_max_entries ? set.header.count : abi::capset_max_entries;
    for (uint32_t i = 0; i < count; ++i) {
        if (set.entries[i].interface_id == schema::Console::interface_id) {
            g_console = set.entries[i].cap_id;
            break;
        }
    }

    uint32_t mask = 0;
    Line has("grant-child: has");
    for (uint32_t i = 0; i < count; ++i) {
        std::string_view name = entry_name(set.entries[i]);
        has.add(' ').add(name);
        uint32_t bit = other_bit;
        for (const Known& known : g_known) {
            if (known.name == name)
                bit = known.bit;
        }
        mask |= bit;
    }
    if (count == 0)
        has.add(" nothing");
    say(has.view());

    // Step 2, before anything else changes a slot's generation.
    auto held_generation = [&](uint32_t index) -> uint32_t {
        for (uint32_t i = 0; i < count; ++i) {
            abi::CapId id{set.entries[i].cap_id};
            if (id.index() == index)
                return id.generation();
        }
        return 0;
    };
    uint32_t probes = 0;
    for (uint32_t index = 0; index < 32; ++index) {
        for (uint32_t generation = 1; generation <= 3; ++generation) {
            uint32_t held = held_generation(index);
            if (held == generation)
                continue;
            abi::CapId id = abi::CapId::make(index, uint16_t(generation));
            abi::TransportError expected = held == 0 && generation == 1
                                               ? abi::TransportError::InvalidCap
                                               : abi::TransportError::StaleCap;
            schema::Null::Client<rt::RingTransport> probe(rt::transport(), id.raw);
            auto pinged = probe.ping();
            ++probes;
            bool ok = pinged.is_error() && pinged.error().kind == gen::CallErrorKind::Transport &&
                      pinged.error().transport_error == int32_t(expected);
            if (!ok)
                fail(Line("id ").hex(id.raw).add(": ").add(
                    pinged.is_ok() ? Line("the call succeeded").view()
                                   : test::describe(pinged.error()).view()));
        }
    }

    // Step 3.
    for (const Known& known : g_known) {
        if (mask & known.bit)
            continue;
        if (rt::find_capability(known.name).is_ok())
            fail(Line("lookup of '").add(known.name).add("' succeeded"));
    }

    // Step 1.
    for (uint32_t i = 0; i < count; ++i)
        use(set.entries[i]);

    Line summary("grant-child: ");
    summary.udec(probes).add(" ids not granted refused, ").udec(count).add(" capabilities used, ");
    summary.udec(g_failures).add(" failures");
    say(summary.view());
    return int(mask | (g_failures ? failure_bit : 0));
}
