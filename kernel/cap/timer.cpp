// Timer: the monotonic clock, and sleeping (the caller is held by the ring
// until the deadline; see Invocation::hold_until_us).
#include "kernel/cap/kernel_capabilities.h"
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
        invocation().hold_until_us = deadline_after_ns(params.ns());
        return {};
    }
};

} // namespace

RefPtr<KernelService> create_timer_service() {
    return make_service<TimerService>();
}

} // namespace capos::kernel
