// Timer: the monotonic clock, and sleeping. A sleep is a deferred answer
// posted at its deadline (kernel/ipc/timed_answer.h): the caller's other
// submissions go on meanwhile, and it waits only if it chooses to (in
// cap_enter, for this completion).
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/ipc/timed_answer.h"
#include "kernel/lib/log.h"
#include "kernel/sched/scheduler.h"

namespace capos::kernel {

namespace {

using schema::Timer;

class TimerService final : public KernelServiceOf<Timer, TimerService> {
public:
    Result<void, gen::Exception> now(Timer::NowParams::Reader, Timer::NowResults::Builder results) {
        results.set_ns(uptime_nanoseconds());
        return {};
    }
    Result<void, gen::Exception> sleep(Timer::SleepParams::Reader params,
                                       Timer::SleepResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        // Everything that can fail comes before the answer is deferred.
        auto slot = TimedAnswer::allocate();
        if (slot.is_error())
            return Err{overloaded("out of memory")};
        capnp::Word buffer[TimedAnswer::max_message_words];
        capnp::MessageBuilder message(buffer);
        message.init_root(Timer::SleepResults::data_words, Timer::SleepResults::pointer_count);
        VERIFY(message.error() == capnp::WireError::None);
        auto reply = invocation().defer();
        if (!reply)
            return Err{overloaded("too many answers owed to the caller")};
        TimedAnswer::post_at(slot.release_value(), deadline_after_ns(params.ns()),
                             std::move(*reply), abi::CallStatus::Ok, message.words());
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_timer_service() {
    return make_service<TimerService>();
}

} // namespace capos::kernel
