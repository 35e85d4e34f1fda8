// LogSink: a process's lines in the kernel log, under its name.
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"
#include "kernel/object/process.h"

namespace capos::kernel {

namespace {

using schema::LogSink;

class LogSinkService final : public KernelServiceOf<LogSink, LogSinkService> {
public:
    Result<void, gen::Exception> write(LogSink::WriteParams::Reader params,
                                       LogSink::WriteResults::Builder) {
        // The kernel log's levels are the schema's (kernel/lib/log.h).
        LogLevel level = params.level();
        if (!schema::is_known(level))
            return Err{invalid_argument("unknown log level")};
        std::string_view message = params.message();
        if (message.size() > LogSink::max_message)
            message = message.substr(0, LogSink::max_message);
        Process& caller = invocation().caller;
        log(level, "{}[{}]: {}", caller.name(), caller.id(), message);
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_log_sink_service() {
    return make_service<LogSinkService>();
}

} // namespace capos::kernel
