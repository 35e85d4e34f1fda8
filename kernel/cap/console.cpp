// Console: text on the system console, never interleaved with kernel log lines.
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"

namespace capos::kernel {

namespace {

using schema::Console;

class ConsoleService final : public KernelServiceOf<Console, ConsoleService> {
public:
    Result<void, gen::Exception> write(Console::WriteParams::Reader params,
                                       Console::WriteResults::Builder) {
        console_write_text(params.text(), false);
        return {};
    }
    Result<void, gen::Exception> write_line(Console::WriteLineParams::Reader params,
                                            Console::WriteLineResults::Builder) {
        console_write_text(params.text(), true);
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_console_service() {
    return make_service<ConsoleService>();
}

} // namespace capos::kernel
