#include "user/tests/common/test.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/syscall.h"

namespace capos::test {

Line describe(const gen::CallError& error) {
    Line line;
    switch (error.kind) {
    case gen::CallErrorKind::Transport:
        line.add("transport error ")
            .dec(error.transport_error)
            .add(' ')
            .add(abi::cqe_result_name(error.transport_error));
        break;
    case gen::CallErrorKind::Exception: {
        std::string_view type = schema::enumerant_name(error.exception.type);
        line.add("exception ")
            .add(type.empty() ? "unknown" : type)
            .add(": ")
            .add(error.exception.message);
        break;
    }
    case gen::CallErrorKind::ParamsTooLarge:
        line.add("params too large");
        break;
    case gen::CallErrorKind::BadReply:
        line.add("bad reply: ").add(capnp::to_string(error.wire_error));
        break;
    }
    return line;
}

bool Suite::check(std::string_view what, bool ok, const Line& detail) {
    Line line;
    line.add(m_name).add(": ").add(what).add(" ... ");
    if (ok) {
        line.add("ok");
    } else {
        line.add("FAILED");
        if (!detail.empty())
            line.add(" (").add(detail.view()).add(')');
    }
    ++m_checks;
    if (!ok)
        ++m_failures;
    if (!rt::debug_write_line(line.view()))
        rt::exit(100); // no console: nothing can be reported
    return ok;
}

void Suite::note(std::string_view text) {
    Line line;
    line.add(m_name).add(": ").add(text);
    (void)rt::debug_write_line(line.view());
}

bool Suite::check_result(std::string_view what, int32_t result, int32_t expected) {
    if (result == expected)
        return check(what, true);
    Line detail;
    detail.add("result ").dec(result);
    if (result < 0)
        detail.add(' ').add(abi::cqe_result_name(result));
    detail.add(", expected ").dec(expected);
    if (expected < 0)
        detail.add(' ').add(abi::cqe_result_name(expected));
    return check(what, false, detail);
}

int Suite::finish() {
    Line line;
    line.add(m_name).add(": ").dec(m_checks).add(" checks, ").dec(m_failures).add(" failed");
    (void)rt::debug_write_line(line.view());
    return m_failures == 0 ? 0 : 1;
}

uint32_t cap_id(std::string_view name) {
    auto found = rt::find_capability(name);
    return found.is_ok() ? found.value().id.raw : 0;
}

namespace raw {

abi::RingPage& page() {
    return *rt::ring().page();
}

void push(const abi::Sqe& sqe) {
    abi::RingHeader& header = page().header;
    uint32_t tail = header.sq_tail;
    page().sqes[tail % abi::ring_sq_entries] = sqe;
    __atomic_store_n(&header.sq_tail, tail + 1, __ATOMIC_RELEASE);
}

int64_t enter(uint64_t min_complete, uint64_t timeout_ns) {
    return rt::cap_enter(min_complete, timeout_ns);
}

uint32_t unread() {
    abi::RingHeader& header = page().header;
    return __atomic_load_n(&header.cq_tail, __ATOMIC_ACQUIRE) - header.cq_head;
}

namespace {
uint64_t g_digest = 0xcbf29ce484222325ull; // FNV-1a's offset basis

void fold(uint64_t value) {
    for (int i = 0; i < 8; ++i) {
        g_digest ^= (value >> (8 * i)) & 0xff;
        g_digest *= 0x100000001b3ull;
    }
}
} // namespace

bool pop(abi::Cqe& out) {
    abi::RingHeader& header = page().header;
    uint32_t head = header.cq_head;
    if (head == __atomic_load_n(&header.cq_tail, __ATOMIC_ACQUIRE))
        return false;
    out = page().cqes[head % abi::ring_cq_entries];
    __atomic_store_n(&header.cq_head, head + 1, __ATOMIC_RELEASE);
    fold(out.user_data);
    fold(uint64_t(uint32_t(out.result)) | uint64_t(out.result_len) << 32);
    if (out.result != int32_t(abi::CallStatus::OkInline)) // (else: the results)
        fold(uint64_t(out.call_id) | uint64_t(out.cap_count) << 32);
    return true;
}

uint64_t completions_digest() {
    return g_digest;
}

abi::Cqe run(const abi::Sqe& sqe) {
    push(sqe);
    abi::Cqe cqe{};
    int64_t entered = enter(1, abi::no_timeout);
    if (entered < 0 || !pop(cqe)) {
        // Reported as an impossible result so the check that reads it fails.
        cqe.user_data = ~sqe.user_data;
        cqe.result = entered < 0 ? int32_t(entered) : INT32_MIN;
    }
    return cqe;
}

} // namespace raw

} // namespace capos::test
