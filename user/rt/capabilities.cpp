// Finding and releasing capabilities, and the diagnostics path.
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include "user/rt/stdio.h"
#include "user/rt/syscall.h"

namespace capos::rt {

std::string_view call_error_text(const gen::CallError& error) {
    switch (error.kind) {
    case gen::CallErrorKind::Exception:
        return error.exception.message;
    case gen::CallErrorKind::Transport:
        return abi::cqe_result_name(error.transport_error);
    case gen::CallErrorKind::ParamsTooLarge:
        return "params too large";
    case gen::CallErrorKind::BadReply:
        return "malformed reply";
    }
    return "unknown error";
}

const char* to_string(LookupError error) {
    switch (error) {
    case LookupError::NotFound:
        return "no capability by that name";
    case LookupError::WrongInterface:
        return "the capability speaks another interface";
    }
    return "unknown lookup error";
}

Result<CapSetMatch, LookupError> find_capability(std::string_view name) {
    const abi::CapSetPage& set = capset();
    uint32_t count = set.header.count;
    if (count > abi::capset_max_entries)
        count = abi::capset_max_entries;
    for (uint32_t i = 0; i < count; ++i) {
        const abi::CapSetEntry& entry = set.entries[i];
        size_t length = 0;
        while (length < sizeof(entry.name) && entry.name[length] != '\0')
            ++length;
        if (std::string_view(entry.name, length) == name)
            return CapSetMatch{abi::CapId{entry.cap_id}, entry.interface_id};
    }
    return Err{LookupError::NotFound};
}

abi::CapId received_capability(uint32_t cap) {
    for (const abi::CapRecord& record : transport().received())
        if (record.cap == cap)
            return abi::CapId{cap};
    return abi::CapId{};
}

int32_t release(abi::CapId id) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Release);
    sqe.cap = id.raw;
    return ring().run(sqe).result;
}

bool debug_write_line(std::string_view text) {
    if (auto stdio = find_capability("stdio"); stdio.is_ok())
        return write_error_line(text);
    auto match = find_capability("console");
    if (match.is_error() || match.value().interface_id != schema::Console::interface_id)
        return false;
    schema::Console::Client<RingTransport> console(transport(), match.value().id.raw);
    return console.write_line(text).is_ok();
}

namespace {

// The panic report: one Console.writeLine pushed outside the ring client's
// bookkeeping, which may be what panicked (a full park table, a completion
// for nobody).
void report_panic(std::string_view line) {
    using schema::Console;
    auto match = find_capability("console");
    if (match.is_error() || match.value().interface_id != Console::interface_id)
        return;
    alignas(8) static capnp::Word params[32];
    alignas(8) static capnp::Word result[8];
    capnp::MessageBuilder message(params);
    Console::WriteLineParams::Builder(message.init_root(Console::WriteLineParams::data_words,
                                                        Console::WriteLineParams::pointer_count))
        .set_text(line);
    if (message.error() != capnp::WireError::None)
        return;
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = match.value().id.raw;
    sqe.interface_id = Console::interface_id;
    sqe.method = uint16_t(Console::Method::WriteLine);
    sqe.params_addr = reinterpret_cast<uint64_t>(message.words().data());
    sqe.params_len = uint32_t(message.words().size() * 8);
    sqe.result_addr = reinterpret_cast<uint64_t>(result);
    sqe.result_len = sizeof result;
    (void)ring().run_detached(sqe);
}

} // namespace

void panic(std::string_view message) {
    // Reporting goes through the ring, whose client may be what panicked (a
    // full park table, a failed cap_enter): a second panic while reporting
    // the first exits at once instead of recursing until the stack overflows.
    static bool panicking = false;
    if (panicking)
        exit(-1);
    panicking = true;
    char line[160];
    size_t length = 0;
    for (char c : std::string_view("panic: "))
        line[length++] = c;
    for (char c : message) {
        if (length + 1 >= sizeof(line))
            break;
        line[length++] = c;
    }
    report_panic(std::string_view(line, length));
    exit(-1);
}

} // namespace capos::rt
