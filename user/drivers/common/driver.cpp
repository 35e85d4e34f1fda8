#include "user/drivers/common/driver.h"

#include "user/rt/line.h"
#include "user/rt/syscall.h"

namespace capos::drivers {

namespace {

constexpr size_t max_name = 16;
char g_name[max_name] = {};
size_t g_name_length = 0;
void (*g_quiesce)() = nullptr;

// Whether a failed call says the claim has ended.
bool claim_ended(const gen::CallError& error) {
    return (error.kind == gen::CallErrorKind::Exception &&
            error.exception.type == schema::ExceptionType::Disconnected) ||
           (error.kind == gen::CallErrorKind::Transport &&
            error.transport_error == int32_t(abi::TransportError::Disconnected));
}

capos::rt::Line prefixed() {
    capos::rt::Line line(std::string_view(g_name, g_name_length));
    line.add(": ");
    return line;
}

} // namespace

void set_driver_name(std::string_view name) {
    g_name_length = name.size() < max_name ? name.size() : max_name;
    __builtin_memcpy(g_name, name.data(), g_name_length);
}

void set_quiesce(void (*quiesce)()) {
    g_quiesce = quiesce;
}

void quiesce() {
    if (g_quiesce)
        g_quiesce();
}

void say(std::string_view text) {
    (void)capos::rt::debug_write_line(prefixed().add(text).view());
}

void exit_saying(std::string_view what, std::string_view detail) {
    capos::rt::Line line = prefixed();
    line.add(what);
    if (!detail.empty())
        line.add(": ").add(detail);
    (void)capos::rt::debug_write_line(line.view());
    capos::rt::exit(1);
}

void fail(std::string_view what, std::string_view detail) {
    quiesce();
    exit_saying(what, detail);
}

void call_failed(std::string_view what, const gen::CallError& error) {
    // (A device whose claim has ended is quiesced by the kernel: nothing is
    // left to reset.)
    if (claim_ended(error))
        exit_saying("the device is gone (its claim has ended); exiting",
                    capos::rt::call_error_text(error));
    fail(what, capos::rt::call_error_text(error));
}

} // namespace capos::drivers
