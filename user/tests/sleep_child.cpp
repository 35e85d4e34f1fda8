// A child that sleeps 100 ms on the Timer granted as "timer" and exits 3: it is
// still running while its parent queues waits on its ProcessHandle.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"

int main() {
    auto timer = capos::rt::lookup<capos::schema::Timer>("timer");
    if (timer.is_error())
        return 1;
    if (timer.value()->sleep(100 * 1000 * 1000).is_error())
        return 2;
    return 3;
}
