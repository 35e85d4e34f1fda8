// args_child: exits with the digest of the arguments it was started with
// (test::args_digest, a full 62-bit exit code), so that its parent can tell
// they arrived exactly.
#include "user/rt/syscall.h"
#include "user/tests/common/spawn.h"
#include "user/tests/common/test.h"

int main() {
    auto args = capos::rt::arguments();
    std::string_view views[capos::abi::args_max_count];
    for (size_t i = 0; i < args.count(); ++i)
        views[i] = args[i];
    capos::rt::exit(capos::test::args_digest(std::span(views, args.count())));
}
