// sleep <milliseconds>: sleeps that long on the timer it is granted as
// "timer", then exits 0. Exits 2 for a missing or malformed argument, 1
// without a timer or when the sleep fails (each said in one line).
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"

int main() {
    auto args = capos::rt::arguments();
    uint64_t milliseconds = 0;
    bool valid = args.count() == 1 && !args[0].empty() && args[0].size() <= 9;
    for (char c : args[0]) {
        valid = valid && c >= '0' && c <= '9';
        milliseconds = milliseconds * 10 + uint64_t(c - '0');
    }
    if (!valid) {
        capos::rt::debug_write_line("usage: sleep <milliseconds> (at most 9 digits)");
        return 2;
    }
    auto timer = capos::rt::lookup<capos::schema::Timer>("timer");
    if (timer.is_error()) {
        capos::rt::debug_write_line("sleep: no 'timer' capability (Timer) to sleep on");
        return 1;
    }
    if (timer.value()->sleep(milliseconds * 1'000'000).is_error()) {
        capos::rt::debug_write_line("sleep: the timer refused the sleep");
        return 1;
    }
    return 0;
}
