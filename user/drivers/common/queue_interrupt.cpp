#include "user/drivers/common/queue_interrupt.h"

#include "user/drivers/common/driver.h"
#include "user/rt/syscall.h"

namespace capos::drivers {

using schema::CapException;
using schema::Interrupt;

void QueueInterrupt::acknowledge(uint64_t count) {
    if (count <= m_acknowledged)
        return;
    if (auto acknowledged = (*m_interrupt)->acknowledge(count); acknowledged.is_error())
        call_failed("Interrupt.acknowledge", acknowledged.error());
    m_acknowledged = count;
}

void QueueInterrupt::wait() {
    acknowledge(value_or_fail((*m_interrupt)->wait(), "Interrupt.wait").count());
}

uint64_t QueueInterrupt::arm() {
    return rt::ring().submit(rt::call_sqe(m_interrupt->id().raw, Interrupt::interface_id,
                                          uint16_t(Interrupt::Method::Wait), rt::no_params(),
                                          m_result));
}

void QueueInterrupt::taken(const abi::Cqe& cqe) {
    std::span<const capnp::Word> message(m_result, cqe.result_len / 8);
    if (cqe.result < 0) {
        gen::CallError error{.kind = gen::CallErrorKind::Transport, .transport_error = cqe.result};
        call_failed("Interrupt.wait", error);
    }
    capnp::MessageReader reader(message);
    if (cqe.result == int32_t(abi::CallStatus::Exception)) {
        CapException::Reader exception(reader.root());
        exception.traverse();
        gen::CallError error{.kind = gen::CallErrorKind::Exception,
                             .exception = {exception.type(), exception.message()}};
        call_failed("Interrupt.wait", error);
    }
    Interrupt::WaitResults::Reader results(reader.root());
    results.traverse();
    if (reader.error() != capnp::WireError::None)
        fail("Interrupt.wait answered with a malformed message");
    acknowledge(results.count());
}

} // namespace capos::drivers
