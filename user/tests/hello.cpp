// The smallest capOS program: one line through the Console it was granted.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"

namespace {

// A global with a constructor the compiler cannot fold into static data (it
// reads a volatile): the runtime must run it before main.
const char* volatile g_source = "Hello from user space!";
struct Greeting {
    Greeting() : text(g_source) {}
    const char* text;
};
Greeting g_greeting;

} // namespace

int main() {
    if (g_greeting.text == nullptr)
        return 3; // global constructors did not run
    auto console = capos::rt::lookup<capos::schema::Console>("console");
    if (console.is_error())
        return 1;
    if (console.value()->write_line(g_greeting.text).is_error())
        return 2;
    return 0;
}
