// LogSink: a process's lines in the kernel log (and its ring), under its name
// and id.
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
        Process& caller = invocation().caller;
        char storage[log::LogRing::max_source_bytes];
        FormatBuffer out(storage, sizeof storage);
        std::string_view source = format_to(out, "{}[{}]", caller.name(), caller.id());
        log_write_from(level, source, log::cut_text(params.message(), LogSink::max_message));
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_log_sink_service() {
    return make_service<LogSinkService>();
}

} // namespace capos::kernel
