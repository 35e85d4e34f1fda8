// fs-full (scenario.fs): a client of the filesystem service whose table is
// nearly full (capabilitySlots 4: its root, its console and two more). Files
// it opens fill the table; every open after that is answered
// `overloaded` (the File could not be moved into its table), and the service
// lets go of the facet it had minted for it: 16,500 refused opens, more than
// the 16,384 facets an endpoint may have at once, then, with a slot free
// again, an open still works.
#include "common/test.h"
#include "schema/capos.capnp.capos.h"

using namespace capos;
using schema::Directory;
using schema::OpenMode;
using test::Line;

int main() {
    test::Suite suite("fs-full");
    Directory::Client<rt::RingTransport> root(rt::transport(), test::cap_id("root"));
    abi::CapId held[4];
    uint32_t count = 0;
    gen::CallError last{};
    for (; count < 4; ++count) {
        auto opened = root.open("full.txt", OpenMode::Create);
        if (opened.is_error()) {
            last = opened.error();
            break;
        }
        held[count] = rt::received_capability(opened.value().file());
    }
    suite.check("opens fill the table: two files, then a refusal", count == 2,
                Line("files ").udec(count));
    suite.check("the refusal is an exception saying overloaded",
                last.kind == gen::CallErrorKind::Exception &&
                    last.exception.type == schema::ExceptionType::Overloaded,
                test::describe(last));
    uint32_t refused = 0;
    for (uint32_t i = 0; i < 16500; ++i) {
        auto opened = root.open("full.txt", OpenMode::Create);
        refused += opened.is_error() && opened.error().kind == gen::CallErrorKind::Exception &&
                   opened.error().exception.type == schema::ExceptionType::Overloaded;
    }
    suite.check("16,500 more opens refused the same way", refused == 16500,
                Line("refused ").udec(refused));
    (void)rt::release(held[0]);
    auto again = root.open("full.txt", OpenMode::Create);
    suite.check("with a slot free, an open works again",
                again.is_ok() && again.value().error() == schema::FileError::None,
                again.is_ok() ? Line() : test::describe(again.error()));
    return suite.finish();
}
