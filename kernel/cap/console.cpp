// Console: text on the system console. Written in pieces of at most a line
// or 256 bytes, each never interleaved with kernel log lines, with a
// preemption point between pieces: a serial port is slow, and a 64 KiB text
// must not hold the CPU until it is out.
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

namespace {

using schema::Console;

class ConsoleService final : public KernelServiceOf<Console, ConsoleService> {
public:
    Result<void, gen::Exception> write(Console::WriteParams::Reader params,
                                       Console::WriteResults::Builder) {
        console_write_in_pieces(params.text(), false);
        return {};
    }
    Result<void, gen::Exception> write_line(Console::WriteLineParams::Reader params,
                                            Console::WriteLineResults::Builder) {
        console_write_in_pieces(params.text(), true);
        return {};
    }
};

} // namespace

void console_write_in_pieces(std::string_view text, bool newline) {
    constexpr size_t piece = 256;
    while (text.size() > piece) {
        size_t end = text.substr(0, piece).rfind('\n');
        size_t length = end == std::string_view::npos ? piece : end + 1;
        console_write_text(text.substr(0, length), false);
        text.remove_prefix(length);
        Scheduler::preemption_point();
    }
    console_write_text(text, newline);
}

RefPtr<KernelService> create_console_service() {
    return make_service<ConsoleService>();
}

} // namespace capos::kernel
