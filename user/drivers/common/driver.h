// What every driver process does when something goes wrong, said once for
// all of them (docs/devices.md "Driver authority"): when a call to the
// Device or its objects answers that the claim has ended, the driver exits
// with a line saying so (the kernel has quiesced the device: nothing is left
// to reset); when anything else goes wrong it stops the device first (its
// quiesce hook, so that the device no longer uses the driver's memory), then
// exits 1 with a line saying what. Lines start with the driver's name.
#pragma once

#include "lib/base/result.h"
#include "user/rt/rt.h"

#include <string_view>

namespace capos::drivers {

// The name lines start with ("virtio-blk", "nvme"); set first in main.
void set_driver_name(std::string_view name);
// What fail() does before it exits: stop the device's DMA. Set once the
// registers that do it are mapped; none before.
void set_quiesce(void (*quiesce)());

// Runs the quiesce hook (the device stops using the driver's memory), if
// one is set: before a driver hands back a buffer its device may still
// reach.
void quiesce();

// One line: "<name>: <text>".
void say(std::string_view text);
// "<name>: <what>[: <detail>]", then exit 1 without touching the device.
[[noreturn]] void exit_saying(std::string_view what, std::string_view detail = {});
// Quiesce, then exit_saying.
[[noreturn]] void fail(std::string_view what, std::string_view detail = {});

// A call to the device's objects that failed: the claim's end ends the
// driver with its own line; any other failure is `what` going wrong.
[[noreturn]] void call_failed(std::string_view what, const gen::CallError& error);

template <typename T>
T value_or_fail(Result<T, gen::CallError> result, std::string_view what) {
    if (result.is_error())
        call_failed(what, result.error());
    return result.release_value();
}

} // namespace capos::drivers
