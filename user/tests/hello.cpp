// The smallest capOS program: one line on its standard output, the StdIO
// the shell serves it as "stdio" or else the Console it was granted as
// "console" (init's services). Exits 1 with neither.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"

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
    if (!capos::rt::has_output())
        return 1;
    return capos::rt::write_output_line(g_greeting.text) ? 0 : 2;
}
