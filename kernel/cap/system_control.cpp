// SystemControl: powering the machine off or resetting it, for whoever was
// given the capability (the default system gives it to the shell only).
#include "kernel/arch/arch.h"
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"
#include "kernel/object/process.h"

namespace capos::kernel {

namespace {

using schema::SystemControl;

class SystemControlService final : public KernelServiceOf<SystemControl, SystemControlService> {
public:
    Result<void, gen::Exception> halt(SystemControl::HaltParams::Reader,
                                      SystemControl::HaltResults::Builder) {
        Process& caller = invocation().caller;
        log_info("system: halt asked by process {} ({}); powering off", caller.id(), caller.name());
        arch::exit_machine(abi::ExitCode::Success);
    }
    Result<void, gen::Exception> reboot(SystemControl::RebootParams::Reader,
                                        SystemControl::RebootResults::Builder) {
        Process& caller = invocation().caller;
        log_info("system: reboot asked by process {} ({}); resetting", caller.id(), caller.name());
        arch::reset_machine();
    }
};

} // namespace

RefPtr<KernelService> create_system_control_service() {
    return make_service<SystemControlService>();
}

} // namespace capos::kernel
