// Serving an interface through an endpoint: the owner side of the ring's
// RECV/RETURN pair.
//
//     capos::rt::Server server(owner_id);
//     MyHandler handler;
//     server.serve<capos::schema::Echo>(handler);   // returns only on error
//
// Each call arrives as a RecvHeader plus params (abi/ring.h); the generated
// dispatch skeleton decodes the params, calls the handler and encodes the
// results or a CapException, which RETURN sends back.
//
// One server may hand out a client facet per object it serves (an open file,
// a socket), all on its one endpoint: `mint` makes one with a badge, which
// every call through it carries (`badge()` while a handler runs), and when
// the last capability naming that facet has gone, serve() calls the handler's
// `void released(uint32_t badge)` if it has one (the release notice, which is
// never dispatched or answered).
#pragma once

#include "abi/capability.h"
#include "abi/ring.h"
#include "lib/base/result.h"
#include "lib/capnp/wire.h"
#include "lib/rpc/rpc.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"
#include <span>

namespace capos::rt {

// The entries an endpoint's owner submits: a RECV of the next call into
// `buffer`, and the RETURN of call `call_id` with `message` (empty: no
// message), as results or, with `exception`, as a CapException.
abi::Sqe recv_sqe(abi::CapId owner, std::span<capnp::Word> buffer);
abi::Sqe return_sqe(abi::CapId owner, uint32_t call_id, std::span<const capnp::Word> message,
                    bool exception);

// Endpoint.mint on the endpoint `owner`: a new client facet whose calls
// arrive with `badge` (not 0), speaking `interface_id` (0: any). Its CapId,
// owned by the caller (who hands it out, e.g. with a reply).
Result<abi::CapId, gen::CallError> mint(abi::CapId owner, uint32_t badge, uint64_t interface_id);

struct ReceivedCall {
    abi::RecvHeader header;
    std::span<const capnp::Word> params;          // valid until the next receive
    std::span<const abi::CapRecord> capabilities; // that came with the call

    // The words of `buffer` the call takes (its header, params and records).
    size_t words() const {
        return (sizeof(abi::RecvHeader) + header.params_len +
                capabilities.size() * sizeof(abi::CapRecord) + 7) /
               8;
    }
};

// The call a RECV's completion delivered into `buffer` (what the RECV
// named): its header, its params and the records of the capabilities that
// came with it, each checked to lie in the buffer. The RECV's own negative
// transport error, or BadParams for a header that does not fit.
Result<ReceivedCall, int32_t> received_call(const abi::Cqe& cqe,
                                            std::span<const capnp::Word> buffer);
// Releases every capability that came with `call` (a server whose methods
// take none lets them go).
void release_capabilities(const ReceivedCall& call);

class Server {
public:
    // Calls of up to 4 KiB of params, answers of up to 4 KiB.
    explicit Server(abi::CapId owner)
        : m_owner(owner), m_words(m_own_buffer), m_total_words(receive_words + buffer_words),
          m_receive_words(receive_words) {}
    // In `buffer` (at least 1,024 words): calls of up to all of it but 4 KiB
    // (at most the 64 KiB a receive takes), answers in what the call leaves
    // (a server of large messages: the filesystem's File.write and read).
    Server(abi::CapId owner, std::span<capnp::Word> buffer)
        : m_owner(owner), m_words(buffer.data()), m_total_words(buffer.size()),
          m_receive_words(buffer.size() - buffer_words < max_receive_words
                              ? buffer.size() - buffer_words
                              : max_receive_words) {}

    // Waits for the next call. A negative transport error on failure.
    Result<ReceivedCall, int32_t> receive();
    // Answers call `call_id` and waits for the next call, both in one entry
    // into the kernel; the answer's own result (0 or a negative transport
    // error) in `replied`. Only with no capabilities attached: an answer
    // whose capabilities are refused must be sent again before waiting.
    Result<ReceivedCall, int32_t> reply_and_receive(uint32_t call_id,
                                                    std::span<const capnp::Word> message,
                                                    bool exception, int32_t& replied);
    // Answers call `call_id` with `message` and the capabilities attached
    // since the last reply, and waits for the next call: both submitted in
    // one entry into the kernel, which answers the RETURN at once. When the
    // caller's table refuses the capabilities, those moved are released (a
    // facet minted by this process comes back as its notice; one the answer
    // was to mint was never made) and the call is answered again with an
    // overloaded CapException, before the wait for the next call (which may
    // be that caller's next).
    Result<ReceivedCall, int32_t> reply_moving_and_receive(uint32_t call_id,
                                                           std::span<const capnp::Word> message,
                                                           bool exception);
    // Answers call `call_id` with `message` (results, or a CapException),
    // sending the capabilities attached since the last reply.
    int32_t reply(uint32_t call_id, std::span<const capnp::Word> message, bool exception);
    // Sends `id` with the next reply (a handler's results name it by CapId).
    bool send_with_reply(abi::CapId id, abi::TransferMode mode);
    // Sends with the next reply a new client facet of this endpoint with
    // `badge` (not 0), speaking `interface_id` (0: any), which the kernel
    // mints as it delivers the answer (abi::transfer_mint): the handler's
    // results name it by the badge. This process never holds it. False when
    // the reply carries abi::max_transfers already, or a facet of another
    // interface. Should the answer fail, nothing was minted (no notice comes
    // for the badge).
    bool mint_with_reply(uint32_t badge, uint64_t interface_id);
    // The call being served (inside serve's handler calls).
    const ReceivedCall& current() const { return m_current; }
    // The badge of the facet it came through (0: the plain facet).
    uint32_t badge() const { return m_current.header.badge; }
    // rt::mint on this server's endpoint.
    Result<abi::CapId, gen::CallError> mint(uint32_t badge, uint64_t interface_id) {
        return rt::mint(m_owner, badge, interface_id);
    }

    // Receives and answers calls with Interface's generated dispatch until a
    // receive fails; returns that error. A release notice goes to the
    // handler's `void released(uint32_t badge)`, if it has one.
    template <typename Interface, typename Handler>
    int32_t serve(Handler& handler) {
        struct ByInterface {
            Handler& handler;
            gen::DispatchResult dispatch(const ReceivedCall& call, capnp::MessageReader& params,
                                         std::span<capnp::Word> results) {
                // By the interface the caller named: Interface's own methods
                // or those of an interface it extends; any other is
                // unimplemented (an endpoint's clients may name any interface).
                return Interface::dispatch(handler, call.header.interface_id, call.header.method,
                                           params, results);
            }
            void released(uint32_t badge) {
                if constexpr (requires { handler.released(badge); })
                    handler.released(badge);
            }
        } by_interface{handler};
        return serve_calls(by_interface);
    }

    // The same with a dispatcher that picks what to do with each call itself
    // (a server of several interfaces on one endpoint, by badge):
    // `dispatcher.dispatch(call, params, results)` encodes the answer into
    // `results`; `dispatcher.released(badge)` takes the release notices.
    template <typename Dispatcher>
    int32_t serve_calls(Dispatcher& dispatcher) {
        auto call = receive();
        for (;;) {
            if (call.is_error())
                return call.error();
            m_current = call.value();
            if (abi::is_release_notice(call.value().header)) {
                // Not a call: nothing to dispatch or answer. The badges of
                // the notices taken with it follow (a 0 fills the word).
                dispatcher.released(call.value().header.badge);
                for (capnp::Word word : call.value().params) {
                    for (uint32_t badge : {uint32_t(word), uint32_t(word >> 32)})
                        if (badge != 0)
                            dispatcher.released(badge);
                }
                call = receive();
                continue;
            }
            // The kernel validated the params as it took them from the caller.
            auto params = capnp::MessageReader::validated(call.value().params);
            gen::DispatchResult result =
                dispatcher.dispatch(call.value(), params, results_buffer());
            if (result.status() == gen::DispatchStatus::BufferFull)
                result = gen::encode_exception<schema::CapException>(
                    results_buffer(), {schema::ExceptionType::Failed, "results too large"});
            bool exception = result.status() == gen::DispatchStatus::Exception;
            if (m_transfer_count == 0) {
                // The answer and the wait for the next call in one entry.
                int32_t replied = 0;
                call = reply_and_receive(call.value().header.call_id, result.message(), exception,
                                         replied);
                continue;
            }
            // With capabilities: refused (the caller's table is full), the
            // call is still waiting, and is answered again without them.
            call =
                reply_moving_and_receive(call.value().header.call_id, result.message(), exception);
            // Facets the refused answer was to mint were never made: to the
            // handler, released.
            for (uint32_t i = 0; i < m_unmade_count; ++i)
                dispatcher.released(m_unmade[i]);
            m_unmade_count = 0;
        }
    }

private:
    // Releases the capabilities attached to be moved and forgets them all.
    void drop_moved();
    abi::Sqe receive_sqe();
    abi::Sqe reply_sqe(uint32_t call_id, std::span<const capnp::Word> message,
                       bool exception) const;
    // The call a RECV's completion delivered into the receive buffer.
    Result<ReceivedCall, int32_t> received(const abi::Cqe& cqe);
    // Where the answer to the current call is built: the rest of the buffer,
    // after the call (its header, params and capability records). The
    // kernel reads a RETURN's message before it takes the next RECV
    // (docs/abi.md), so a small call and its answer share a page.
    std::span<capnp::Word> results_buffer() {
        return std::span(m_words, m_total_words).subspan(m_call_words);
    }

    static constexpr size_t buffer_words = 4096 / 8;
    // A RECV's buffer: the header, params of up to buffer_words, the records.
    static constexpr size_t receive_words = sizeof(abi::RecvHeader) / 8 + buffer_words +
                                            abi::max_transfers * sizeof(abi::CapRecord) / 8;
    static_assert(sizeof(abi::CapRecord) % 8 == 0);
    // The most a receive takes (docs/abi.md: a call never needs more).
    static constexpr size_t max_receive_words = 64 * 1024 / 8;
    abi::CapId m_owner;
    capnp::Word* m_words;   // the buffer: m_own_buffer, or the caller's
    size_t m_total_words;   // of it
    size_t m_receive_words; // what a RECV may fill
    ReceivedCall m_current{};
    // The answer to a call whose capabilities were refused, built while the
    // next RECV may be filling the buffer: a CapException with its message.
    alignas(8) capnp::Word m_refusal[16];
    abi::TransferDescriptor m_transfers[abi::max_transfers];
    uint32_t m_transfer_count = 0;
    uint64_t m_mint_interface = 0; // of the facets minted with the next reply
    // The badges of the facets a refused answer was to mint.
    uint32_t m_unmade[abi::max_transfers];
    uint32_t m_unmade_count = 0;
    size_t m_call_words = 0; // of the buffer, the received call's
    // The received call, then the answer: at least buffer_words for it.
    alignas(8) capnp::Word m_own_buffer[receive_words + buffer_words];
};

} // namespace capos::rt
