// names-test (scenario.names): the Namespace service (user/services/names)
// as a client holding it ("names"), its own endpoint ("mine", to mint facets
// whose release it hears about), a Timer and a Console: a bound capability
// looked up works; a rebound name names the new one and the service let go
// of the old (its release notice arrives); bad names, a missing capability
// and names past maxNames refused; listing in pieces in binding order;
// unbind releases the capability.
#include "common/test.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/server.h"

using namespace capos;
using schema::FileError;
using schema::Namespace;
using test::Line;

namespace {

test::Suite suite("names-test");

struct Names {
    Namespace::Client<rt::RingTransport> client{rt::transport(), test::cap_id("names")};

    FileError bind(std::string_view name, abi::CapId cap, abi::TransferMode mode) {
        rt::transport().send_with_next_call(cap, mode);
        auto bound = client.bind(name, cap.raw);
        return bound.is_ok() ? bound.value().error() : FileError::Io;
    }
    // The capability bound to `name` (0 with the error).
    abi::CapId lookup(std::string_view name, FileError& error) {
        auto found = client.lookup(name);
        if (found.is_error()) {
            error = FileError::Io;
            return {};
        }
        error = found.value().error();
        return error == FileError::None ? rt::received_capability(found.value().cap())
                                        : abi::CapId{};
    }
    FileError unbind(std::string_view name) {
        auto gone = client.unbind(name);
        return gone.is_ok() ? gone.value().error() : FileError::Io;
    }
};

bool timer_works(abi::CapId id) {
    schema::Timer::Client<rt::RingTransport> timer(rt::transport(), id.raw);
    return timer.now().is_ok();
}

// Waits on `mine` for the release notice of the facet minted with `badge`.
bool released(rt::Server& mine, uint32_t badge) {
    auto notice = mine.receive();
    return notice.is_ok() && abi::is_release_notice(notice.value().header) &&
           notice.value().header.badge == badge;
}

void name_of(uint32_t i, char (&name)[8]) {
    name[0] = 'n';
    for (int d = 3; d >= 1; --d, i /= 10)
        name[d] = static_cast<char>('0' + i % 10);
    name[4] = '\0';
}

} // namespace

int main() {
    Names names;
    abi::CapId timer{test::cap_id("timer")};
    abi::CapId owner{test::cap_id("mine")};
    rt::Server mine(owner);

    auto empty = names.client.list(0);
    suite.check("an empty namespace lists nothing",
                empty.is_ok() && empty.value().names().size() == 0);

    suite.check("bind a Timer as 'clock'",
                names.bind("clock", timer, abi::TransferMode::Copy) == FileError::None);
    FileError error = FileError::Io;
    abi::CapId clock = names.lookup("clock", error);
    suite.check("look 'clock' up: a Timer that answers",
                error == FileError::None && clock.raw != 0 && clock.raw != timer.raw &&
                    timer_works(clock));
    (void)rt::release(clock);

    // A facet of this test's own endpoint, moved in: the service holds the
    // only copy, so the notice says when it lets go.
    auto first = rt::mint(owner, 1, 0);
    suite.check("bind a facet of this program's endpoint as 'mine'",
                first.is_ok() &&
                    names.bind("mine", first.value(), abi::TransferMode::Move) == FileError::None);
    auto second = rt::mint(owner, 2, 0);
    suite.check("rebind 'mine' to another facet",
                second.is_ok() &&
                    names.bind("mine", second.value(), abi::TransferMode::Move) == FileError::None);
    suite.check("the service let go of the facet 'mine' named before", released(mine, 1));
    abi::CapId looked = names.lookup("mine", error);
    suite.check("'mine' now names the second facet", error == FileError::None && looked.raw != 0);
    (void)rt::release(looked); // the service's copy remains: no notice
    suite.check("unbind 'mine'", names.unbind("mine") == FileError::None);
    suite.check("the service let go of the facet when unbound", released(mine, 2));
    names.lookup("mine", error);
    suite.check("'mine' is not found after unbind", error == FileError::NotFound);
    suite.check("unbind a name not bound: notFound", names.unbind("mine") == FileError::NotFound);

    suite.check("bind '': badName",
                names.bind("", timer, abi::TransferMode::Copy) == FileError::BadName);
    suite.check("bind a name with a NUL: badName",
                names.bind(std::string_view("a\0b", 3), timer, abi::TransferMode::Copy) ==
                    FileError::BadName);
    char long_name[65];
    for (char& c : long_name)
        c = 'x';
    suite.check("bind a 65-byte name: nameTooLong",
                names.bind({long_name, 65}, timer, abi::TransferMode::Copy) ==
                    FileError::NameTooLong);
    suite.check("bind a 64-byte name",
                names.bind({long_name, 64}, timer, abi::TransferMode::Copy) == FileError::None);
    suite.check("unbind it", names.unbind({long_name, 64}) == FileError::None);
    // A capability pointer naming nothing sent: the kernel refuses the call.
    auto capless = names.client.bind("nothing", timer.raw);
    suite.check("bind naming a capability it does not send: refused", capless.is_error());
    names.lookup("nothing", error);
    suite.check("nothing was bound", error == FileError::NotFound);
    names.lookup({long_name, 65}, error);
    suite.check("look up a 65-byte name: nameTooLong", error == FileError::NameTooLong);

    // maxNames in all ('clock' and 199 more), then one too many.
    bool all = true;
    char name[8];
    for (uint32_t i = 1; i < Namespace::max_names && all; ++i) {
        name_of(i, name);
        all = names.bind(name, timer, abi::TransferMode::Copy) == FileError::None;
    }
    suite.check("bind up to maxNames names", all);
    suite.check("one name more: noSpace",
                names.bind("n999", timer, abi::TransferMode::Copy) == FileError::NoSpace);
    suite.check("a refused bind keeps nothing: a Timer still looks up",
                (clock = names.lookup("n199", error)).raw != 0 && timer_works(clock));
    (void)rt::release(clock);

    // Listed in pieces, in binding order: 'clock', then n001..n199.
    uint32_t listed = 0;
    bool in_order = true;
    uint32_t pieces = 0;
    for (;;) {
        auto piece = names.client.list(listed);
        if (piece.is_error() || piece.value().names().size() == 0)
            break;
        ++pieces;
        for (std::string_view got : piece.value().names()) {
            if (listed == 0) {
                in_order = in_order && got == "clock";
            } else {
                name_of(listed, name);
                in_order = in_order && got == std::string_view(name);
            }
            ++listed;
        }
    }
    suite.check("list: every name, in binding order, in several pieces",
                listed == Namespace::max_names && in_order && pieces >= 4,
                Line("listed ").udec(listed).add(" in ").udec(pieces).add(" pieces"));
    auto past = names.client.list(100000);
    suite.check("list past the end: nothing", past.is_ok() && past.value().names().size() == 0);

    suite.check("unbind n100", names.unbind("n100") == FileError::None);
    auto moved = names.client.list(100);
    name_of(101, name);
    suite.check("its followers moved up one",
                moved.is_ok() && moved.value().names().size() > 0 &&
                    moved.value().names()[0] == std::string_view(name));
    suite.check("one name fits again",
                names.bind("n999", timer, abi::TransferMode::Copy) == FileError::None);
    return suite.finish();
}
