// LogReader: the kernel log's ring read back (kernel/lib/log.h), every level
// whether or not the console showed it, for whoever was given it. It reads
// and grants nothing else.
//
// A read returns as many entries as the caller's result buffer holds: the
// entries that fit are counted first, then built, both under the log lock so
// that the ring is the same for the two walks. A buffer that holds not even
// the first entry gets ResultTooSmall (the one entry is built and does not
// fit), so a caller never sees a read that makes no progress and no error.
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"

namespace capos::kernel {

namespace {

using schema::LogEntry;
using schema::LogReader;

// A text's words in a message: its bytes and the NUL, to a whole word.
constexpr size_t text_words(size_t bytes) {
    return (bytes + 1 + 7) / 8;
}

// The words an entry takes in the results: its struct in the list, and its
// two texts.
size_t entry_words(const log::Entry& entry) {
    return LogEntry::data_words + LogEntry::pointer_count + text_words(entry.source.size()) +
           text_words(entry.message.size());
}

class LogReaderService final : public KernelServiceOf<LogReader, LogReaderService> {
public:
    Result<void, gen::Exception> read(LogReader::ReadParams::Reader params,
                                      LogReader::ReadResults::Builder results) {
        LogLevel min_level = params.min_level();
        if (!schema::is_known(min_level))
            return Err{invalid_argument("unknown log level")};
        // The results buffer less the root pointer, the results struct and the
        // list's tag word.
        constexpr size_t fixed_words =
            1 + LogReader::ReadResults::data_words + LogReader::ReadResults::pointer_count + 1;
        size_t buffer_words = invocation().results.size();
        size_t room = buffer_words > fixed_words ? buffer_words - fixed_words : 0;
        uint64_t cursor = params.cursor();
        with_log_ring([&](const log::LogRing& ring) {
            // 1. How many fit.
            uint32_t count = 0;
            bool full = false;
            log::ReadOutcome outcome =
                ring.read(cursor, params.max_entries(), min_level, [&](const log::Entry& entry) {
                    size_t words = entry_words(entry);
                    if (words > room) {
                        full = true;
                        return false;
                    }
                    room -= words;
                    ++count;
                    return true;
                });
            // 2. Those entries again, built. (Not even one fits: one is built,
            // and the builder's BufferFull becomes the caller's ResultTooSmall.)
            uint32_t build = count == 0 && full ? 1 : count;
            auto list = results.init_entries(build);
            uint32_t index = 0;
            (void)ring.read(cursor, build, min_level, [&](const log::Entry& entry) {
                LogEntry::Builder out = list[index++];
                out.set_sequence(entry.sequence);
                out.set_time_ns(entry.time_ns);
                out.set_level(entry.level);
                out.set_source(entry.source);
                out.set_message(entry.message);
                return true;
            });
            results.set_next_cursor(outcome.next_cursor);
            results.set_dropped(outcome.dropped);
        });
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_log_reader_service() {
    return make_service<LogReaderService>();
}

} // namespace capos::kernel
