// Console through its capability: write without a newline, writeLine, empty
// and long text, and the runtime's lookup errors. The scenario matches the
// text these calls produce as well as the check lines.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;

int main() {
    test::Suite suite("console");
    auto console = rt::lookup<schema::Console>("console");
    if (console.is_error())
        return 2;
    auto& client = console.value().client();

    // Three writes and a writeLine make one line: "pieces: one two three!".
    bool pieces = client.write("pieces: one").is_ok() && client.write(" two").is_ok() &&
                  client.write(" three").is_ok() && client.write_line("!").is_ok();
    suite.check("write without newline joins one line", pieces);

    suite.check_ok("write of empty text", client.write(""));
    suite.check_ok("writeLine of empty text", client.write_line(""));

    // A line of 3000 characters: params of ~3 KiB through the ring.
    static char long_text[3001];
    for (size_t i = 0; i < 3000; ++i)
        long_text[i] = char('a' + i % 26);
    long_text[3000] = '\0';
    auto long_line = client.write_line(std::string_view(long_text, 3000));
    suite.check_ok("writeLine of 3000 characters", long_line);

    // Text that does not fit the runtime's 4 KiB params buffer is refused
    // before anything is sent.
    static char huge_text[5000];
    for (char& c : huge_text)
        c = 'x';
    auto huge = client.write_line(std::string_view(huge_text, sizeof huge_text));
    suite.check("writeLine larger than the params buffer is ParamsTooLarge",
                huge.is_error() && huge.error().kind == gen::CallErrorKind::ParamsTooLarge,
                huge.is_ok() ? Line("succeeded") : test::describe(huge.error()));

    suite.check_ok("writeLine of UTF-8 text", client.write_line("utf-8: grüße, καλημέρα"));

    auto missing = rt::lookup<schema::Console>("no-such-capability");
    suite.check("lookup of a name not in the CapSet is NotFound",
                missing.is_error() && missing.error() == rt::LookupError::NotFound);
    auto wrong = rt::lookup<schema::Timer>("console");
    suite.check("lookup with the wrong interface is WrongInterface",
                wrong.is_error() && wrong.error() == rt::LookupError::WrongInterface);

    // The process id and CapSet the kernel handed over.
    suite.check("process id is 1 (init)", rt::process_id() == 1);
    suite.check("CapSet lists exactly the one grant", rt::capset().header.count == 1);

    return suite.finish();
}
