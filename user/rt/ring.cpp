#include "user/rt/ring.h"
#include "user/rt/rt.h"
#include "user/rt/syscall.h"

namespace capos::rt {

// submit and wait are inlined into their callers here (a generated client's
// call goes through both): under TCG a call and its return cost about as much
// as thirty instructions.
[[gnu::always_inline]] uint64_t RingClient::submit(const abi::Sqe& sqe) {
    if (m_free_slots == 0)
        panic("ring: more submissions outstanding than the completion queue holds");
    abi::RingHeader& header = m_page->header;
    uint32_t tail = header.sq_tail;
    while (tail - __atomic_load_n(&header.sq_head, __ATOMIC_ACQUIRE) >= abi::ring_sq_entries) {
        // Full: let the kernel consume. It takes a submission only when the
        // completion queue has room for its answer, so make room first.
        reap();
        if (cap_enter(0, 0) < 0)
            panic("ring: cap_enter failed while the submission queue was full");
    }
    uint32_t slot = uint32_t(__builtin_ctzll(m_free_slots));
    m_free_slots &= ~bit(slot);
    uint64_t ticket = m_next_generation++ << slot_bits | slot;
    m_tickets[slot] = ticket;
    ++m_outstanding;
    m_overflow_seen = __atomic_load_n(&header.cq_overflow, __ATOMIC_RELAXED);
    abi::Sqe& entry = m_page->sqes[tail % abi::ring_sq_entries];
    entry = sqe;
    entry.user_data = ticket;
    __atomic_store_n(&header.sq_tail, tail + 1, __ATOMIC_RELEASE);
    return ticket;
}

void RingClient::post(const abi::Sqe& sqe) {
    m_posted_slots |= bit(slot_of(submit(sqe)));
}

void RingClient::flush() {
    if (cap_enter(0, 0) < 0)
        panic("ring: cap_enter failed");
}

void RingClient::park(const abi::Cqe& cqe) {
    // Every completion answers an outstanding ticket (at most one per slot).
    if (!is_outstanding(cqe.user_data))
        panic("ring: a completion for no outstanding submission");
    uint32_t slot = slot_of(cqe.user_data);
    if (m_posted_slots & bit(slot)) {
        // Posted: nobody waits for it.
        m_posted_slots &= ~bit(slot);
        m_tickets[slot] = 0;
        m_free_slots |= bit(slot);
        --m_outstanding;
        return;
    }
    m_parked[slot] = cqe;
    m_parked_slots |= bit(slot);
}

void RingClient::reap() {
    abi::RingHeader& header = m_page->header;
    uint32_t head = header.cq_head;
    uint32_t tail = __atomic_load_n(&header.cq_tail, __ATOMIC_ACQUIRE);
    for (; head != tail; ++head)
        park(m_page->cqes[head % abi::ring_cq_entries]);
    __atomic_store_n(&header.cq_head, head, __ATOMIC_RELEASE);
}

[[gnu::always_inline]] abi::Cqe RingClient::wait(uint64_t ticket) {
    if (ticket == 0 || !is_outstanding(ticket))
        panic("ring: waiting for a submission that is not outstanding");
    uint32_t slot = slot_of(ticket);
    m_tickets[slot] = 0;
    m_free_slots |= bit(slot);
    --m_outstanding;
    if (m_parked_slots & bit(slot)) {
        m_parked_slots &= ~bit(slot);
        return m_parked[slot];
    }
    abi::RingHeader& header = m_page->header;
    for (;;) {
        uint32_t head = header.cq_head;
        uint32_t tail = __atomic_load_n(&header.cq_tail, __ATOMIC_ACQUIRE);
        if (head == tail) {
            if (__atomic_load_n(&header.cq_overflow, __ATOMIC_RELAXED) != m_overflow_seen)
                panic("ring: the kernel lost completions (the CQ head was corrupted)");
            if (cap_enter(1, abi::no_timeout) < 0)
                panic("ring: cap_enter failed");
            continue;
        }
        abi::Cqe cqe = m_page->cqes[head % abi::ring_cq_entries];
        __atomic_store_n(&header.cq_head, head + 1, __ATOMIC_RELEASE);
        if (cqe.user_data == ticket)
            return cqe;
        park(cqe);
    }
}

void RingClient::wait_both(uint64_t first, uint64_t second, abi::Cqe& first_cqe,
                           abi::Cqe& second_cqe) {
    if (first == 0 || second == 0 || first == second || !is_outstanding(first) ||
        !is_outstanding(second))
        panic("ring: waiting for a submission that is not outstanding");
    // Each completion is copied once, straight to where it is wanted; only
    // others' completions are parked (a server's RETURN and next RECV usually
    // come together, in order, in one cap_enter).
    // A ticket is retired as its completion is taken: a second completion
    // for it would find it not outstanding (park panics).
    auto retire = [&](uint64_t ticket) {
        uint32_t slot = slot_of(ticket);
        m_tickets[slot] = 0;
        m_free_slots |= bit(slot);
        --m_outstanding;
    };
    auto take_parked = [&](uint64_t ticket, abi::Cqe& out) {
        SlotMask mask = bit(slot_of(ticket));
        if (!(m_parked_slots & mask))
            return false;
        m_parked_slots &= ~mask;
        out = m_parked[slot_of(ticket)];
        retire(ticket);
        return true;
    };
    bool have_first = take_parked(first, first_cqe);
    bool have_second = take_parked(second, second_cqe);
    abi::RingHeader& header = m_page->header;
    while (!have_first || !have_second) {
        uint32_t head = header.cq_head;
        uint32_t tail = __atomic_load_n(&header.cq_tail, __ATOMIC_ACQUIRE);
        if (head == tail) {
            if (__atomic_load_n(&header.cq_overflow, __ATOMIC_RELAXED) != m_overflow_seen)
                panic("ring: the kernel lost completions (the CQ head was corrupted)");
            if (cap_enter(uint32_t(!have_first) + !have_second, abi::no_timeout) < 0)
                panic("ring: cap_enter failed");
            continue;
        }
        for (; head != tail; ++head) {
            const abi::Cqe& cqe = m_page->cqes[head % abi::ring_cq_entries];
            if (cqe.user_data == first && !have_first) {
                first_cqe = cqe;
                have_first = true;
                retire(first);
            } else if (cqe.user_data == second && !have_second) {
                second_cqe = cqe;
                have_second = true;
                retire(second);
            } else {
                park(cqe);
            }
        }
        __atomic_store_n(&header.cq_head, head, __ATOMIC_RELEASE);
    }
}

abi::Cqe RingClient::wait_any(std::span<const uint64_t> tickets, size_t& which) {
    for (;;) {
        if (auto cqe = wait_any_for(tickets, which, abi::no_timeout))
            return *cqe;
    }
}

std::optional<abi::Cqe> RingClient::wait_any_for(std::span<const uint64_t> tickets, size_t& which,
                                                 uint64_t timeout_ns) {
    bool any = false;
    for (uint64_t ticket : tickets) {
        if (ticket != 0 && !is_outstanding(ticket))
            panic("ring: waiting for a submission that is not outstanding");
        any = any || ticket != 0;
    }
    if (!any)
        panic("ring: waiting for no submission");
    for (bool waited = false;; waited = true) {
        reap();
        for (size_t i = 0; i < tickets.size(); ++i) {
            if (tickets[i] != 0 && (m_parked_slots & bit(slot_of(tickets[i])))) {
                which = i;
                return wait(tickets[i]);
            }
        }
        if (waited)
            return std::nullopt;
        if (__atomic_load_n(&m_page->header.cq_overflow, __ATOMIC_RELAXED) != m_overflow_seen)
            panic("ring: the kernel lost completions (the CQ head was corrupted)");
        if (cap_enter(1, timeout_ns) < 0)
            panic("ring: cap_enter failed");
    }
}

void RingClient::wait_all(std::span<const uint64_t> tickets, abi::Cqe* out) {
    for (uint64_t ticket : tickets)
        if (ticket == 0 || !is_outstanding(ticket))
            panic("ring: waiting for a submission that is not outstanding");
    for (;;) {
        reap();
        uint32_t missing = 0;
        for (uint64_t ticket : tickets)
            missing += (m_parked_slots & bit(slot_of(ticket))) == 0;
        if (missing == 0)
            break;
        if (__atomic_load_n(&m_page->header.cq_overflow, __ATOMIC_RELAXED) != m_overflow_seen)
            panic("ring: the kernel lost completions (the CQ head was corrupted)");
        // Woken once, when as many completions as are missing have come
        // (others' completions may count towards them: then again).
        if (cap_enter(missing, abi::no_timeout) < 0)
            panic("ring: cap_enter failed");
    }
    for (size_t i = 0; i < tickets.size(); ++i)
        out[i] = wait(tickets[i]);
}

abi::Cqe RingClient::wait_either(uint64_t first, uint64_t second, int& which) {
    if (first == 0 || second == 0 || first == second || !is_outstanding(first) ||
        !is_outstanding(second))
        panic("ring: waiting for a submission that is not outstanding");
    auto parked = [&](uint64_t ticket) { return (m_parked_slots & bit(slot_of(ticket))) != 0; };
    for (;;) {
        reap();
        if (parked(first) || parked(second))
            break;
        if (__atomic_load_n(&m_page->header.cq_overflow, __ATOMIC_RELAXED) != m_overflow_seen)
            panic("ring: the kernel lost completions (the CQ head was corrupted)");
        if (cap_enter(1, abi::no_timeout) < 0)
            panic("ring: cap_enter failed");
    }
    which = parked(first) ? 0 : 1;
    return wait(which == 0 ? first : second);
}

bool RingClient::run_detached(abi::Sqe sqe) {
    constexpr uint64_t ticket = ~uint64_t{0};
    constexpr int attempts = 100;
    abi::RingHeader& header = m_page->header;
    auto drop_completions = [&] {
        uint32_t tail = __atomic_load_n(&header.cq_tail, __ATOMIC_ACQUIRE);
        bool found = false;
        for (uint32_t head = header.cq_head; head != tail; ++head)
            found = found || m_page->cqes[head % abi::ring_cq_entries].user_data == ticket;
        __atomic_store_n(&header.cq_head, tail, __ATOMIC_RELEASE);
        return found;
    };
    int attempt = 0;
    uint32_t tail = header.sq_tail;
    while (tail - __atomic_load_n(&header.sq_head, __ATOMIC_ACQUIRE) >= abi::ring_sq_entries) {
        (void)drop_completions();
        if (++attempt == attempts || cap_enter(0, 0) < 0)
            return false;
    }
    abi::Sqe& entry = m_page->sqes[tail % abi::ring_sq_entries];
    entry = sqe;
    entry.user_data = ticket;
    __atomic_store_n(&header.sq_tail, tail + 1, __ATOMIC_RELEASE);
    for (attempt = 0; attempt < attempts; ++attempt) {
        if (cap_enter(1, 10'000'000) < 0)
            return false;
        if (drop_completions())
            return true;
    }
    return false;
}

abi::Sqe call_sqe(uint32_t cap, uint64_t interface_id, uint16_t method,
                  std::span<const capnp::Word> params, std::span<capnp::Word> result) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = cap;
    sqe.interface_id = interface_id;
    sqe.method = method;
    sqe.params_addr = reinterpret_cast<uint64_t>(params.data());
    sqe.params_len = uint32_t(params.size_bytes());
    sqe.result_addr = reinterpret_cast<uint64_t>(result.data());
    sqe.result_len = uint32_t(result.size_bytes());
    return sqe;
}

std::span<const capnp::Word> no_params() {
    alignas(capnp::Word) static capnp::Word empty[1];
    static std::span<const capnp::Word> params = [] {
        capnp::MessageBuilder builder(empty);
        (void)builder.init_root(0, 0);
        return builder.words();
    }();
    return params;
}

gen::Reply RingTransport::call(uint32_t capability, uint64_t interface_id, uint16_t method,
                               std::span<const capnp::Word> params) {
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.method = method;
    sqe.cap = capability;
    sqe.interface_id = interface_id;
    // Small results come in the completion; the buffer takes the rest.
    sqe.flags = abi::SqeInlineResult;
    size_t params_bytes = params.size() * sizeof(capnp::Word);
    if (m_transfer_count == 0 && params_bytes <= abi::sqe_inline_params_bytes) {
        // Small params without capabilities go in the entry itself.
        sqe.flags |= abi::SqeInlineParams;
        sqe.params_len = uint32_t(params_bytes);
        __builtin_memcpy(reinterpret_cast<std::byte*>(&sqe) + abi::sqe_inline_params_offset,
                         params.data(), params_bytes);
    } else {
        sqe.params_addr = reinterpret_cast<uint64_t>(params.data());
        sqe.params_len = uint32_t(params_bytes);
    }
    sqe.result_addr = reinterpret_cast<uint64_t>(m_results.data());
    sqe.result_len = uint32_t(m_results.size_bytes());
    if (m_transfer_count > 0) {
        sqe.transfer_count = m_transfer_count;
        sqe.transfer_addr = reinterpret_cast<uint64_t>(m_transfers);
    }
    m_transfer_count = 0;
    return reply_of(m_ring->run(sqe), m_results, m_received, m_received_count);
}

gen::Reply reply_of(const abi::Cqe& cqe, std::span<capnp::Word> results, abi::CapRecord* received,
                    uint32_t& received_count) {
    received_count = 0;
    if (cqe.result < 0)
        return {gen::ReplyKind::TransportError, cqe.result, {}};
    if (cqe.result == int32_t(abi::CallStatus::OkInline)) {
        uint32_t bytes = cqe.result_len <= abi::cqe_inline_bytes ? cqe.result_len : 0;
        capnp::Word words[2];
        abi::cqe_inline_words(cqe, words);
        if (bytes >= 8) // (only what the message takes: as through the buffer)
            results[0] = words[0];
        if (bytes >= 16)
            results[1] = words[1];
        // Every message the kernel delivers was validated (its own results,
        // or a server's, which it checked as it took them).
        return {gen::ReplyKind::Results, 0, std::span<const capnp::Word>(results.data(), bytes / 8),
                true};
    }
    std::span<const capnp::Word> message(results.data(), cqe.result_len / 8);
    if (cqe.cap_count > 0 && cqe.cap_count <= abi::max_transfers &&
        cqe.result_len + cqe.cap_count * sizeof(abi::CapRecord) <= results.size_bytes()) {
        __builtin_memcpy(received,
                         reinterpret_cast<const uint8_t*>(results.data()) + cqe.result_len,
                         cqe.cap_count * sizeof(abi::CapRecord));
        received_count = cqe.cap_count;
    }
    if (cqe.result == int32_t(abi::CallStatus::Exception))
        return {gen::ReplyKind::Exception, 0, message, true};
    return {gen::ReplyKind::Results, 0, message, true};
}

bool RingTransport::send_with_next_call(abi::CapId id, abi::TransferMode mode) {
    if (m_transfer_count == abi::max_transfers)
        return false;
    m_transfers[m_transfer_count++] = {id.raw, uint8_t(mode), {0, 0, 0}};
    return true;
}

} // namespace capos::rt
