// LogReader and LogSink from user space: the kernel's boot lines and this
// program's own entries read back whole (a debug entry the console does not
// show among them), the level filter, maxEntries, cursors at and past the
// end, as many entries as the result buffer holds (exactly, and
// ResultTooSmall when not even one fits), unknown levels refused, the ring
// overwritten with what a reader missed counted as dropped, and the largest
// reads there are (a full result buffer, a full ring walked for nothing),
// which the scenario measures for time with interrupts off.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using schema::LogLevel;
using schema::LogReader;

namespace {

constexpr std::string_view debug_text = "only the ring keeps this";

// The words of one entry in a read's results (the encoding's rule: the
// struct's 3 data and 2 pointer words, each text with its NUL to a word).
constexpr size_t entry_words(size_t source_bytes, size_t message_bytes) {
    return 5 + (source_bytes + 8) / 8 + (message_bytes + 8) / 8;
}
// The root pointer, the results struct and the list's tag word.
constexpr size_t fixed_words = 1 + 2 + 1 + 1;

alignas(8) capnp::Word g_params[8];
alignas(8) capnp::Word g_results[64 * 1024 / sizeof(capnp::Word)];

// A read straight through the ring, its results into the first `result_words`
// words of g_results.
abi::Cqe raw_read(uint32_t cap, uint64_t cursor, uint32_t max_entries, LogLevel level,
                  size_t result_words) {
    capnp::MessageBuilder params(g_params);
    LogReader::ReadParams::Builder fill(
        params.init_root(LogReader::ReadParams::data_words, LogReader::ReadParams::pointer_count));
    fill.set_cursor(cursor);
    fill.set_max_entries(max_entries);
    fill.set_min_level(level);
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = cap;
    sqe.method = uint16_t(LogReader::Method::Read);
    sqe.interface_id = LogReader::interface_id;
    sqe.user_data = cursor;
    sqe.params_addr = reinterpret_cast<uint64_t>(params.words().data());
    sqe.params_len = uint32_t(params.words().size_bytes());
    sqe.result_addr = reinterpret_cast<uint64_t>(g_results);
    sqe.result_len = uint32_t(result_words * sizeof(capnp::Word));
    return test::raw::run(sqe);
}

} // namespace

int main() {
    test::Suite suite("log");
    auto reader_cap = rt::lookup<LogReader>("log");
    auto sink_cap = rt::lookup<schema::LogSink>("sink");
    if (reader_cap.is_error() || sink_cap.is_error())
        return 2;
    auto& reader = reader_cap.value().client();
    auto& sink = sink_cap.value().client();
    const uint32_t reader_id = reader_cap.value().id().raw;

    // The boot: from sequence 0, consecutive, the kernel's own lines, read
    // as far as they go.
    bool consecutive = true;
    bool started = false;
    uint64_t expected = 0;
    for (;;) {
        auto boot = reader.read(expected, UINT32_MAX, LogLevel::Debug);
        if (boot.is_error() || boot.value().dropped() != 0) {
            consecutive = false;
            break;
        }
        if (boot.value().entries().size() == 0)
            break;
        for (auto entry : boot.value().entries()) {
            consecutive = consecutive && entry.sequence() == expected++ &&
                          entry.source() == "kernel" && schema::is_known(entry.level());
            started = started || entry.message() == "init: started 'log_test' as process 1";
        }
        consecutive = consecutive && boot.value().next_cursor() == expected;
    }
    suite.check("the boot's entries are consecutive from 0, by the kernel",
                consecutive && expected > 0, Line("read ").udec(expected));
    suite.check("the boot's entries hold init's start", started);

    // Where the log ends now: a cursor past the end moves there.
    auto end = reader.read(UINT64_MAX, 0, LogLevel::Debug);
    uint64_t cursor = end.is_ok() ? end.value().next_cursor() : 0;
    suite.check("a cursor past the end moves to it, dropping nothing",
                end.is_ok() && cursor >= expected && end.value().dropped() == 0 &&
                    end.value().entries().size() == 0);

    // This program's entries, under its name and id, at every level.
    bool written = sink.write(LogLevel::Debug, debug_text).is_ok() &&
                   sink.write(LogLevel::Error, "log test: an error").is_ok() &&
                   sink.write(LogLevel::Info, "log test: some information").is_ok() &&
                   sink.write(LogLevel::Debug, "log test: a detail").is_ok();
    suite.check("four writes through LogSink", written);
    auto mine = reader.read(cursor, UINT32_MAX, LogLevel::Debug);
    bool whole = mine.is_ok() && mine.value().entries().size() == 4 &&
                 mine.value().next_cursor() == cursor + 4;
    if (whole) {
        auto first = mine.value().entries()[0];
        whole = first.sequence() == cursor && first.level() == LogLevel::Debug &&
                first.source() == "log_test[1]" && first.message() == debug_text &&
                first.time_ns() > 0 && mine.value().entries()[1].level() == LogLevel::Error &&
                mine.value().entries()[3].message() == "log test: a detail";
    }
    suite.check("they come back whole, a debug one too, from 'log_test[1]'", whole);

    auto errors = reader.read(cursor, UINT32_MAX, LogLevel::Warn);
    suite.check("minLevel warn passes only the error, and examines all four",
                errors.is_ok() && errors.value().entries().size() == 1 &&
                    errors.value().entries()[0].message() == "log test: an error" &&
                    errors.value().next_cursor() == cursor + 4);
    auto infos = reader.read(cursor, UINT32_MAX, LogLevel::Info);
    suite.check("minLevel info passes the error and the information",
                infos.is_ok() && infos.value().entries().size() == 2 &&
                    infos.value().entries()[1].message() == "log test: some information");
    auto one = reader.read(cursor, 1, LogLevel::Debug);
    suite.check("maxEntries 1 gives one, and the cursor after it",
                one.is_ok() && one.value().entries().size() == 1 &&
                    one.value().next_cursor() == cursor + 1);
    auto at_end = reader.read(cursor + 4, UINT32_MAX, LogLevel::Debug);
    suite.check("a cursor at the end reads nothing and stays",
                at_end.is_ok() && at_end.value().entries().size() == 0 &&
                    at_end.value().next_cursor() == cursor + 4);

    suite.check_exception("an unknown minLevel is invalidArgument",
                          reader.read(0, 1, static_cast<LogLevel>(7)),
                          schema::ExceptionType::InvalidArgument);
    suite.check_exception("LogSink at an unknown level is invalidArgument",
                          sink.write(static_cast<LogLevel>(4), "x"),
                          schema::ExceptionType::InvalidArgument);
    static char long_text[600];
    for (char& c : long_text)
        c = 'l';
    uint64_t long_at = cursor + 4;
    bool cut = sink.write(LogLevel::Debug, {long_text, sizeof long_text}).is_ok();
    auto long_entry = reader.read(long_at, 1, LogLevel::Debug);
    suite.check("a message over LogSink's maxMessage is cut to it",
                cut && long_entry.is_ok() && long_entry.value().entries().size() == 1 &&
                    long_entry.value().entries()[0].message().size() ==
                        schema::LogSink::max_message);

    // As many as the result buffer holds: ten entries of 10 words each.
    uint64_t fill_at = long_at + 1;
    bool filled = true;
    for (int i = 0; i < 10; ++i)
        filled =
            filled && sink.write(LogLevel::Info, Line("log test: fill ").dec(i).view()).is_ok();
    constexpr size_t fill_words = entry_words(11, 16); // "log_test[1]", "log test: fill 0"
    static_assert(fill_words == 10);
    suite.check("ten more writes", filled);
    struct Fit {
        size_t words;
        uint32_t entries;
    };
    for (Fit fit : {Fit{fixed_words + 3 * fill_words, 3}, Fit{fixed_words + 3 * fill_words - 1, 2},
                    Fit{fixed_words + fill_words, 1}}) {
        abi::Cqe cqe = raw_read(reader_id, fill_at, UINT32_MAX, LogLevel::Debug, fit.words);
        capnp::MessageReader message(std::span<const capnp::Word>(g_results, cqe.result_len / 8));
        LogReader::ReadResults::Reader results(message.root());
        suite.check(Line("a buffer of ")
                        .udec(fit.words)
                        .add(" words takes ")
                        .udec(fit.entries)
                        .add(" of them, the cursor after the last")
                        .view(),
                    cqe.result == 0 && results.entries().size() == fit.entries &&
                        results.next_cursor() == fill_at + fit.entries &&
                        results.entries()[fit.entries - 1].message() ==
                            Line("log test: fill ").udec(fit.entries - 1).view(),
                    Line("result ").dec(cqe.result).add(", ").udec(results.entries().size()));
    }
    abi::Cqe small =
        raw_read(reader_id, fill_at, UINT32_MAX, LogLevel::Debug, fixed_words + fill_words - 1);
    suite.check_result("a buffer that holds not even one is ResultTooSmall", small.result,
                       abi::TransportError::ResultTooSmall);
    abi::Cqe filtered = raw_read(reader_id, fill_at, UINT32_MAX, LogLevel::Error, fixed_words);
    capnp::MessageReader none_message(
        std::span<const capnp::Word>(g_results, filtered.result_len / 8));
    LogReader::ReadResults::Reader none(none_message.root());
    suite.check("with none at the level, the smallest buffer reads to the end",
                filtered.result == 0 && none.entries().size() == 0 &&
                    none.next_cursor() == fill_at + 10);

    // Overwriting: 200 entries of 400 bytes, more than the ring's 64 KiB.
    uint64_t before_flood = fill_at + 10;
    static char flood_text[400];
    for (char& c : flood_text)
        c = 'f';
    bool flooded = true;
    for (int i = 0; i < 200; ++i)
        flooded = flooded && sink.write(LogLevel::Debug, {flood_text, sizeof flood_text}).is_ok();
    suite.check("200 writes of 400 bytes", flooded);
    auto missed = reader.read(0, UINT32_MAX, LogLevel::Debug);
    bool counted = missed.is_ok() && missed.value().dropped() > before_flood &&
                   missed.value().entries().size() > 0 &&
                   missed.value().entries()[0].sequence() == missed.value().dropped();
    // The ring holds far more than the runtime's 4 KiB result buffer.
    bool partial = missed.is_ok() &&
                   missed.value().next_cursor() ==
                       missed.value().dropped() + missed.value().entries().size() &&
                   missed.value().next_cursor() < before_flood + 200;
    // (Both decided before the first check line: it reuses the reply's buffer.)
    suite.check("a reader from 0 is told what it missed and reads on from the oldest kept", counted,
                missed.is_ok() ? Line("dropped ").udec(missed.value().dropped()) : Line());
    suite.check("maxEntries 2^32-1 returns what the buffer holds, the cursor after it", partial);
    uint64_t total = 0;
    uint64_t dropped = 0;
    bool in_order = true;
    for (uint64_t at = 0, next = 0;; at = next) {
        auto read = reader.read(at, UINT32_MAX, LogLevel::Debug);
        if (read.is_error() || read.value().entries().size() == 0) {
            in_order = in_order && read.is_ok();
            break;
        }
        dropped += read.value().dropped();
        next = read.value().next_cursor();
        uint64_t sequence = at + read.value().dropped();
        for (auto entry : read.value().entries())
            in_order = in_order && entry.sequence() == sequence++;
        total += read.value().entries().size();
        in_order = in_order && sequence == next;
    }
    suite.check("reading on to the end: every entry kept, in order, none missed twice",
                in_order && dropped + total == before_flood + 200,
                Line("dropped ").udec(dropped).add(", read ").udec(total));

    // The largest reads: the ring full of the smallest entries (4 words
    // each), a 64 KiB result buffer filled with them, and a filter that
    // passes none walked over the whole ring.
    uint64_t small_at = before_flood + 200;
    bool smallest = true;
    for (int i = 0; i < 2100; ++i)
        smallest = smallest && sink.write(LogLevel::Debug, "").is_ok();
    suite.check("2100 empty writes", smallest);
    constexpr size_t buffer_words = sizeof g_results / sizeof(capnp::Word);
    constexpr uint32_t most = (buffer_words - fixed_words) / entry_words(11, 0);
    abi::Cqe full = raw_read(reader_id, small_at + 100, UINT32_MAX, LogLevel::Debug, buffer_words);
    capnp::MessageReader full_message(std::span<const capnp::Word>(g_results, full.result_len / 8),
                                      capnp::ReaderLimits::for_message(full.result_len / 8));
    LogReader::ReadResults::Reader full_results(full_message.root());
    suite.check(Line("a 64 KiB result buffer holds ").udec(most).add(" of them").view(),
                full.result == 0 && full_results.entries().size() == most &&
                    full_results.next_cursor() == small_at + 100 + most,
                Line("result ").dec(full.result).add(", ").udec(full_results.entries().size()));
    abi::Cqe walked = raw_read(reader_id, 0, UINT32_MAX, LogLevel::Error, buffer_words);
    capnp::MessageReader walked_message(
        std::span<const capnp::Word>(g_results, walked.result_len / 8));
    LogReader::ReadResults::Reader walked_results(walked_message.root());
    suite.check("a filter that passes none walks the whole ring to its end",
                walked.result == 0 && walked_results.entries().size() == 0 &&
                    walked_results.next_cursor() == small_at + 2100 &&
                    walked_results.dropped() > small_at);

    return suite.finish();
}
