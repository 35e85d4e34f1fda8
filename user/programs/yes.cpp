// yes [count] [words...]: writes the words ("y" without any) as one line,
// `count` times (10 without it, at most 1,000), on the console it is granted
// as "console". Exits 2 for a malformed count, 1 without a console.
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"

int main() {
    constexpr uint64_t most = 1000;
    auto args = capos::rt::arguments();
    uint64_t count = 10;
    size_t first_word = 0;
    if (args.count() > 0 && !args[0].empty() && args[0][0] >= '0' && args[0][0] <= '9') {
        count = 0;
        for (char c : args[0]) {
            if (c < '0' || c > '9' || count > most) {
                capos::rt::debug_write_line("usage: yes [count (at most 1000)] [words...]");
                return 2;
            }
            count = count * 10 + uint64_t(c - '0');
        }
        if (count > most) {
            capos::rt::debug_write_line("usage: yes [count (at most 1000)] [words...]");
            return 2;
        }
        first_word = 1;
    }
    capos::rt::Line line;
    for (size_t i = first_word; i < args.count(); ++i) {
        if (i > first_word)
            line.add(' ');
        line.add(args[i]);
    }
    if (line.empty())
        line.add('y');
    auto console = capos::rt::lookup<capos::schema::Console>("console");
    if (console.is_error())
        return 1;
    for (uint64_t i = 0; i < count; ++i) {
        if (console.value()->write_line(line.view()).is_error())
            return 1;
    }
    return 0;
}
