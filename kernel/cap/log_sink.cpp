// LogSink: a process's lines in the kernel log, under its name.
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"
#include "kernel/object/process.h"

namespace capos::kernel {

namespace {

using schema::LogSink;

constexpr size_t max_message = 512;

class LogSinkService final : public KernelServiceOf<LogSink, LogSinkService> {
public:
    Result<void, gen::Exception> write(LogSink::WriteParams::Reader params,
                                       LogSink::WriteResults::Builder) {
        auto level = static_cast<uint16_t>(params.level());
        if (level > static_cast<uint16_t>(LogLevel::Debug))
            return Err{invalid_argument("unknown log level")};
        std::string_view message = params.message();
        if (message.size() > max_message)
            message = message.substr(0, max_message);
        Process& caller = invocation().caller;
        log(static_cast<LogLevel>(level), "{}[{}]: {}", caller.name(), caller.id(), message);
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_log_sink_service() {
    return make_service<LogSinkService>();
}

} // namespace capos::kernel
