#include "kernel/ipc/park.h"
#include "kernel/mm/user_copy.h"
#include "kernel/object/process.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"
#include "lib/park/park_table.h"

namespace capos::kernel {

namespace {

using abi::TransportError;

// Every parked thread in the system, by the physical address of its word.
constinit park::ParkTable<ParkWait, ParkLink, 8> g_parked CAPOS_GUARDED_BY(g_kernel_lock);

abi::Cqe result_cqe(uint64_t user_data, int32_t result) {
    return abi::Cqe{.user_data = user_data, .result = result};
}

// The physical address of the user word at `address` of the running
// process, and its value, if it can be read there.
std::optional<uint64_t> word_at(uint64_t address, uint32_t& value) CAPOS_REQUIRES(g_kernel_lock) {
    if (!UserSpan<uint32_t>(address, 1).copy_in(&value))
        return std::nullopt;
    auto translation = Process::current()->address_space().translate(address);
    if (!translation)
        return std::nullopt;
    return translation->phys;
}

} // namespace

void ParkWait::expire() {
    g_kernel_lock.assert_held(); // see Deadline::expire
    g_parked.remove(*this);
    reply.complete(abi::Cqe{.result = int32_t(abi::ParkResult::TimedOut)});
}

std::optional<abi::Cqe> park(Thread& thread, const ring::DecodedSqe& sqe) {
    ParkWait& wait = thread.park_wait();
    if (wait.reply)
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded); // parked already
    uint32_t value = 0;
    auto key = word_at(sqe.params.address, value);
    if (!key)
        return error_cqe(sqe.user_data, TransportError::BadBuffer);
    if (value != sqe.params.length)
        return result_cqe(sqe.user_data, int32_t(abi::ParkResult::NotExpected));
    uint64_t timeout_ns = sqe.result.address;
    if (timeout_ns == 0)
        return result_cqe(sqe.user_data, int32_t(abi::ParkResult::TimedOut));
    auto reply = PendingReply::owe(thread, sqe.user_data, {0, 0});
    if (!reply)
        return error_cqe(sqe.user_data, TransportError::QuotaExceeded);
    wait.reply = std::move(*reply);
    g_parked.park(wait, *key);
    if (timeout_ns != abi::park_no_timeout)
        wait.arm(deadline_after_ns(timeout_ns));
    return std::nullopt;
}

abi::Cqe unpark(const ring::DecodedSqe& sqe) {
    uint32_t value = 0;
    auto key = word_at(sqe.params.address, value);
    if (!key)
        return error_cqe(sqe.user_data, TransportError::BadBuffer);
    uint32_t woken = g_parked.wake(*key, sqe.params.length, [](ParkWait& wait) {
        g_kernel_lock.assert_held(); // unpark's
        wait.disarm();
        wait.reply.complete(abi::Cqe{.result = int32_t(abi::ParkResult::Woken)});
    });
    return result_cqe(sqe.user_data, int32_t(woken < INT32_MAX ? woken : INT32_MAX));
}

void park_cancel(Thread& thread) {
    ParkWait& wait = thread.park_wait();
    g_parked.remove(wait);
    wait.disarm();
    wait.reply.reset();
}

} // namespace capos::kernel
