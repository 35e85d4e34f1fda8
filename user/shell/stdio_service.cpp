#include "user/shell/stdio_service.h"
#include "lib/ring/ring.h"
#include "lib/rpc/rpc.h"
#include "user/rt/server.h"

namespace capos::shell {

namespace {

using schema::CapException;
using schema::ExceptionType;
using schema::StdInputEnd;
using schema::StdIO;
using schema::StdStream;
using schema::TerminalSession;

// A call too large for a service's own buffer is received again here (one
// at a time: the shell waits for that RECV alone), to be refused. No call
// delivers more than max_message_bytes, header and records included, and no
// buffer may be larger.
constexpr size_t large_words = ring::max_message_bytes / 8;
alignas(8) capnp::Word g_large[large_words];
alignas(8) capnp::Word g_results[(StdIO::max_line + 256) / 8];

// What the service does for each method (StdIO's generated dispatch); a
// foreground readLine never comes here.
struct Handler {
    rt::Capability<TerminalSession>& terminal;

    Result<void, gen::Exception> write(StdIO::WriteParams::Reader params,
                                       StdIO::WriteResults::Builder) {
        if (uint16_t(params.stream()) >= schema::enumerant_count(StdStream{}))
            return Err{gen::Exception{ExceptionType::InvalidArgument,
                                      "StdIO.write: a stream this shell does not know"}};
        auto data = params.data();
        if (data.size() > StdIO::max_write)
            return Err{gen::Exception{ExceptionType::InvalidArgument,
                                      "StdIO.write: more than maxWrite (2048) bytes"}};
        if (!data.empty())
            (void)terminal->write({reinterpret_cast<const char*>(data.data()), data.size()});
        return {};
    }

    Result<void, gen::Exception> read_line(StdIO::ReadLineParams::Reader,
                                           StdIO::ReadLineResults::Builder results) {
        results.set_end(StdInputEnd::EndOfInput);
        return {};
    }
};

} // namespace

void StdioService::start(rt::Capability<TerminalSession>& terminal, abi::CapId owner,
                         StdioMode mode) {
    m_terminal = &terminal;
    m_owner = owner;
    m_mode = mode;
    receive();
}

void StdioService::receive() {
    m_ticket = rt::ring().submit(rt::recv_sqe(m_owner, m_receive));
}

void StdioService::close() {
    (void)rt::release(m_owner);
    m_owner = {};
    m_ticket = 0;
}

StdioEvent StdioService::handle(const abi::Cqe& cqe) {
    m_ticket = 0;
    if (cqe.result == int32_t(abi::TransportError::ResultTooSmall)) {
        if (!refuse_large(Refusal::TooLarge))
            return StdioEvent::Closed;
        receive();
        return StdioEvent::Served;
    }
    if (cqe.result < 0) {
        close(); // Disconnected: the program is gone; or a failure not to retry
        return StdioEvent::Closed;
    }
    StdioEvent event = serve(m_receive, cqe.result_len, Refusal::None);
    if (event != StdioEvent::ReadWanted)
        receive();
    return event;
}

void StdioService::answer_read(std::string_view text, StdInputEnd end) {
    if (!m_read_pending)
        return;
    m_read_pending = false;
    capnp::MessageBuilder message(g_results);
    StdIO::ReadLineResults::Builder results(message.init_root(
        StdIO::ReadLineResults::data_words, StdIO::ReadLineResults::pointer_count));
    results.set_text(text.substr(0, StdIO::max_line));
    results.set_end(end);
    reply(m_read_call, message.words(), false);
    receive();
}

void StdioService::reply(uint32_t call_id, std::span<const capnp::Word> message, bool exception) {
    // A caller that has ended is answered into the void; nothing to do then.
    (void)rt::ring().run(rt::return_sqe(m_owner, call_id, message, exception));
}

bool StdioService::refuse_large(Refusal refusal) {
    // The call at the head of the queue is larger than m_receive: it is
    // queued already, so this RECV takes it at once (or fails).
    abi::Cqe large = rt::ring().run(rt::recv_sqe(m_owner, g_large));
    if (large.result < 0) {
        close();
        return false;
    }
    (void)serve(g_large, large.result_len, refusal);
    return true;
}

StdioEvent StdioService::serve(std::span<const capnp::Word> received, size_t length,
                               Refusal refusal) {
    if (length < sizeof(abi::RecvHeader))
        return StdioEvent::Served; // nothing to answer
    abi::RecvHeader header;
    __builtin_memcpy(&header, received.data(), sizeof header);
    size_t params_at = sizeof header / 8;
    size_t params_words = header.params_len / 8;
    size_t records_at = sizeof header + size_t(header.params_len);
    // Capabilities sent along are of no use here: dropped at once.
    if (header.cap_count <= abi::max_transfers &&
        records_at + header.cap_count * sizeof(abi::CapRecord) <= received.size_bytes()) {
        for (uint32_t i = 0; i < header.cap_count; ++i) {
            abi::CapRecord record;
            __builtin_memcpy(&record,
                             reinterpret_cast<const uint8_t*>(received.data()) + records_at +
                                 i * sizeof record,
                             sizeof record);
            (void)rt::release(abi::CapId{record.cap});
        }
    }

    gen::DispatchResult result;
    Handler handler{*m_terminal};
    if (refusal == Refusal::None && m_mode == StdioMode::Foreground &&
        header.interface_id == StdIO::interface_id &&
        header.method == uint16_t(StdIO::Method::ReadLine)) {
        // The shell reads the line (its params carry nothing to check).
        m_read_pending = true;
        m_read_call = header.call_id;
        return StdioEvent::ReadWanted;
    }
    if (refusal == Refusal::TooLarge) {
        result = gen::encode_exception<CapException>(
            g_results, {ExceptionType::InvalidArgument,
                        "StdIO: the call is larger than any StdIO call (maxWrite is 2048 bytes)"});
    } else if (refusal == Refusal::Ended) {
        result = gen::encode_exception<CapException>(
            g_results, {ExceptionType::Disconnected, "StdIO: the program has ended"});
    } else if (header.interface_id != StdIO::interface_id) {
        result = gen::encode_exception<CapException>(
            g_results, {ExceptionType::Unimplemented, "stdio speaks StdIO only"});
    } else if (params_at + params_words > received.size()) {
        result = gen::encode_exception<CapException>(
            g_results, {ExceptionType::InvalidArgument, "StdIO: malformed call"});
    } else {
        // The kernel validated the params as it took them from the caller.
        auto params = capnp::MessageReader::validated(received.subspan(params_at, params_words));
        result = StdIO::dispatch(handler, header.method, params, g_results);
        if (result.status() == gen::DispatchStatus::BufferFull)
            result = gen::encode_exception<CapException>(
                g_results, {ExceptionType::Failed, "StdIO: results too large"});
    }
    reply(header.call_id, result.message(), result.status() == gen::DispatchStatus::Exception);
    return StdioEvent::Served;
}

void StdioService::finish() {
    // The program has ended, so its client side is gone: the RECV ends with
    // Disconnected once what it had queued is answered.
    if (m_read_pending) {
        m_read_pending = false;
        auto ended = gen::encode_exception<CapException>(
            g_results, {ExceptionType::Disconnected, "StdIO: the program has ended"});
        reply(m_read_call, ended.message(), true);
        if (active())
            receive();
    }
    while (active()) {
        abi::Cqe cqe = rt::ring().wait(m_ticket);
        m_ticket = 0;
        if (cqe.result == int32_t(abi::TransportError::ResultTooSmall)) {
            if (!refuse_large(Refusal::Ended))
                return;
        } else if (cqe.result < 0) {
            close();
            return;
        } else {
            (void)serve(m_receive, cqe.result_len, Refusal::Ended);
        }
        receive();
    }
}

} // namespace capos::shell
