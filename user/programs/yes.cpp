// yes [count] [words...]: writes the words ("y" without any) as one line,
// `count` times (10 without it, at most 1,000), on its standard output (the
// shell's StdIO, user/rt/stdio.h). Exits 2 for a malformed count, 1 when a
// write fails.
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

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
    for (uint64_t i = 0; i < count; ++i) {
        if (!capos::rt::write_output_line(line.view()))
            return 1;
    }
    return 0;
}
