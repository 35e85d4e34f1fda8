// One call kept in flight on the thread's ring while the program waits for
// other things too: a server that also waits for a device, a timer and its
// own callers (rt::RingClient::wait_any over every ticket it holds).
//
//     rt::AsyncCall<512> sleep;
//     sleep.start<Timer::SleepParams>(timer, Timer::interface_id,
//                                     uint16_t(Timer::Method::Sleep),
//                                     [&](auto params) { params.set_ns(ns); });
//     ... wait_any({sleep.ticket(), ...}, which) ...
//     auto done = sleep.finish<Timer::SleepResults>(cqe);
//
// The params and the answer (up to MessageBytes each, and the records of the
// capabilities the answer carries) live in the object: nothing is
// allocated, and the object must stay where it is while the call is in
// flight.
#pragma once

#include "lib/rpc/rpc.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/ring.h"
#include "user/rt/rt.h"
#include <cstddef>
#include <cstdint>

namespace capos::rt {

template <size_t MessageBytes>
class AsyncCall {
public:
    static_assert(MessageBytes % sizeof(capnp::Word) == 0);

    AsyncCall() = default;
    AsyncCall(const AsyncCall&) = delete;
    AsyncCall& operator=(const AsyncCall&) = delete;

    // Submits a call of `method` of `interface_id` on `capability`, its
    // Params built by `fill`. False (nothing submitted) while one is in
    // flight already or when the params do not fit.
    template <typename Params, typename Fill>
    bool start(uint32_t capability, uint64_t interface_id, uint16_t method, Fill&& fill) {
        if (m_ticket != 0)
            return false;
        auto params = gen::build_params<Params>(m_params, fill);
        if (params.is_error())
            return false;
        m_ticket =
            ring().submit(call_sqe(capability, interface_id, method, params.value(), m_results));
        return true;
    }

    // The ticket of the call in flight (0: none), for wait_any.
    uint64_t ticket() const { return m_ticket; }
    bool in_flight() const { return m_ticket != 0; }

    // The call's completion (which wait_any returned for its ticket) read as
    // Results or its CapException, valid until the next start. The call is
    // no longer in flight.
    template <typename Results, typename CapException = schema::CapException>
    Result<typename Results::Reader, gen::CallError> finish(const abi::Cqe& cqe) {
        m_ticket = 0;
        m_reply = reply_of(cqe, m_results, m_received, m_received_count);
        return gen::read_reply<Results, CapException>(m_reply, m_reply_storage);
    }

    // The capability the answer names by `cap`, when it carried it (the
    // caller's from then on); 0 otherwise.
    abi::CapId received_capability(uint32_t cap) const {
        for (uint32_t r = 0; r < m_received_count; ++r)
            if (m_received[r].cap == cap)
                return abi::CapId{cap};
        return abi::CapId{};
    }

private:
    static constexpr size_t message_words = MessageBytes / sizeof(capnp::Word);
    uint64_t m_ticket = 0;
    alignas(8) capnp::Word m_params[message_words];
    alignas(8) capnp::Word m_results[message_words + abi::max_transfers * 2];
    gen::Reply m_reply{};
    gen::ReplyStorage m_reply_storage;
    uint32_t m_received_count = 0;
    abi::CapRecord m_received[abi::max_transfers];
};

} // namespace capos::rt
