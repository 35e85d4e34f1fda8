// The smallest capOS program: one line through the Console it was granted.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"

int main() {
    auto console = capos::rt::lookup<capos::schema::Console>("console");
    if (console.is_error())
        return 1;
    if (console.value()->write_line("Hello from user space!").is_error())
        return 2;
    return 0;
}
