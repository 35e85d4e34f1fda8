#include "user/drivers/common/block_server.h"

#include "user/drivers/common/driver.h"
#include "user/rt/line.h"
#include "user/rt/server.h"
#include "user/rt/syscall.h"

namespace capos::drivers {

using schema::BlockDevice;
using schema::CapException;
using schema::ExceptionType;

namespace {

gen::Exception invalid_argument(std::string_view message) {
    return {ExceptionType::InvalidArgument, message};
}

} // namespace

DiskGrants take_disk_grants() {
    auto device = rt::lookup<schema::Device>("device");
    if (device.is_error())
        exit_saying("no PCI function granted as 'device' (a manifest device grant)");
    auto timer = rt::lookup<schema::Timer>("timer");
    if (timer.is_error())
        exit_saying("no 'timer' granted (requests' timeouts need a clock)");
    auto disk = rt::find_capability("disk");
    if (disk.is_error())
        exit_saying("no endpoint granted as 'disk' to serve");
    return {std::move(device.value()), std::move(timer.value()), disk.value().id};
}

void BlockServer::start(const DiskDescription& disk, QueueInterrupt& interrupt) {
    CAPOS_ASSERT(disk.max_requests >= 1 && disk.max_requests <= max_slots);
    m_disk = disk;
    m_interrupt = &interrupt;
    m_inline = m_device.allocate_dma(disk.max_requests, "the requests' DMA memory");
    capnp::MessageBuilder params(m_tick_params);
    schema::Timer::SleepParams::Builder(params.init_root(schema::Timer::SleepParams::data_words,
                                                         schema::Timer::SleepParams::pointer_count))
        .set_ns(m_timeouts.tick_ns());
    CAPOS_ASSERT(params.error() == capnp::WireError::None);
    m_tick_params_words = params.words().size();
}

// --- Requests ------------------------------------------------------------------

std::optional<uint32_t> BlockServer::free_slot() const {
    for (uint32_t slot = 0; slot < m_disk.max_requests; ++slot) {
        if (!m_slots[slot].busy)
            return slot;
    }
    return std::nullopt;
}

Result<void, gen::Exception> BlockServer::submit(Operation operation, uint64_t lba, uint32_t count,
                                                 const block::DataPlace& place) {
    auto slot = free_slot();
    if (!slot)
        return Err{gen::Exception{ExceptionType::Overloaded, "every request slot is in use"}};
    uint64_t data = place.inline_data ? slot_data_bus(*slot) : place.device_address;
    if (!m_backend.submit(*slot, operation, lba, count, data))
        return Err{gen::Exception{ExceptionType::Overloaded, "the device's queue is full"}};
    m_slots[*slot] = Slot{true, operation, place.inline_data, m_call_id, place.bytes, lba, count};
    m_timeouts.start(*slot);
    ++m_busy;
    if (m_busy > m_most_busy)
        m_most_busy = m_busy;
    m_unnotified = true;
    m_deferred = true;
    return {};
}

void BlockServer::complete(uint32_t slot, const char* error) {
    if (slot >= m_disk.max_requests || !m_slots[slot].busy)
        fail("a completion for no request");
    Slot request = m_slots[slot];
    m_slots[slot] = Slot{};
    m_timeouts.finish(slot);
    --m_busy;
    if (error) {
        answer_exception(request.call_id, ExceptionType::Failed, error);
        return;
    }
    if (!request.inline_data) {
        post_answer(request.call_id, request.operation == Operation::Read);
        return;
    }
    capnp::MessageBuilder builder(m_reply);
    if (request.operation == Operation::Read) {
        BlockDevice::ReadBlocksResults::Builder results(
            builder.init_root(BlockDevice::ReadBlocksResults::data_words,
                              BlockDevice::ReadBlocksResults::pointer_count));
        if (request.inline_data)
            results.set_data({slot_data(slot), size_t(request.data_bytes)});
    } else {
        (void)builder.init_root(0, 0); // writeBlocks' and flush's empty results
    }
    if (builder.error() != capnp::WireError::None) {
        answer_exception(request.call_id, ExceptionType::Failed, "results too large");
        return;
    }
    answer(request.call_id, builder.words(), false);
}

void BlockServer::fail_outstanding(ExceptionType type, std::string_view message) {
    quiesce();
    for (uint32_t slot = 0; slot < m_disk.max_requests; ++slot) {
        if (!m_slots[slot].busy)
            continue;
        uint32_t call_id = m_slots[slot].call_id;
        m_slots[slot] = Slot{};
        m_timeouts.finish(slot);
        --m_busy;
        answer_exception(call_id, type, message);
    }
}

// --- Time on the device ------------------------------------------------------------

uint64_t BlockServer::arm_tick() {
    abi::Sqe sqe = rt::call_sqe(m_timer.raw, schema::Timer::interface_id,
                                uint16_t(schema::Timer::Method::Sleep),
                                {m_tick_params, m_tick_params_words}, m_tick_result);
    return rt::ring().submit(sqe);
}

void BlockServer::tick_taken(const abi::Cqe& cqe) {
    if (cqe.result != int32_t(abi::CallStatus::Ok)) {
        gen::CallError error{.kind = gen::CallErrorKind::Transport, .transport_error = cqe.result};
        if (cqe.result == int32_t(abi::CallStatus::Exception)) {
            capnp::MessageReader reader(
                std::span<const capnp::Word>(m_tick_result, cqe.result_len / 8));
            CapException::Reader exception(reader.root());
            exception.traverse();
            error = {.kind = gen::CallErrorKind::Exception,
                     .exception = {exception.type(), exception.message()}};
        }
        fail("Timer.sleep (the clock of requests' time on the device)", rt::call_error_text(error));
    }
    if (auto expired = m_timeouts.tick())
        time_out(*expired);
}

void BlockServer::time_out(uint32_t slot) {
    const Slot& request = m_slots[slot];
    rt::Line what("a ");
    switch (request.operation) {
    case Operation::Read:
        what.add("read");
        break;
    case Operation::Write:
        what.add("write");
        break;
    case Operation::Flush:
        what.add("flush");
        break;
    }
    if (request.operation != Operation::Flush) {
        what.add(" of ").udec(request.count).add(request.count == 1 ? " block" : " blocks");
        what.add(" at block ").udec(request.lba);
    }
    what.add(" had no answer from the device for ")
        .udec(m_timeouts.at_least_ns(slot) / 1'000'000)
        .add(" ms");
    rt::Line answer("the driver gave up on its device: ");
    answer.add(what.view());
    fail_outstanding(ExceptionType::Disconnected, answer.view());
    fail(what.view(), "the device is stopped, every call it held answered disconnected");
}

// --- The endpoint ----------------------------------------------------------------

void BlockServer::answer(uint32_t call_id, std::span<const capnp::Word> message, bool exception,
                         std::span<const abi::TransferDescriptor> transfers) {
    abi::Sqe sqe = rt::return_sqe(m_owner, call_id, message, exception);
    if (!transfers.empty()) {
        sqe.transfer_count = uint32_t(transfers.size());
        sqe.transfer_addr = reinterpret_cast<uint64_t>(transfers.data());
    }
    int32_t result = rt::ring().run(sqe).result;
    if (result >= 0 || transfers.empty())
        return; // (a caller that has gone needs no answer)
    // The capability did not go: it stays here, released, and the caller
    // hears why.
    for (const abi::TransferDescriptor& transfer : transfers)
        (void)rt::release(abi::CapId{transfer.cap});
    answer_exception(call_id, ExceptionType::Overloaded, "reply capabilities refused");
}

void BlockServer::post_answer(uint32_t call_id, bool read) {
    std::span<capnp::Word> storage(m_posted[m_next_posted], posted_words);
    m_next_posted = (m_next_posted + 1) % posted_replies;
    capnp::MessageBuilder builder(storage);
    if (read)
        (void)builder.init_root(BlockDevice::ReadBlocksResults::data_words,
                                BlockDevice::ReadBlocksResults::pointer_count);
    else
        (void)builder.init_root(0, 0); // writeBlocks' and flush's empty results
    CAPOS_ASSERT(builder.error() == capnp::WireError::None);
    rt::ring().post(rt::return_sqe(m_owner, call_id, builder.words(), false));
}

void BlockServer::answer_exception(uint32_t call_id, ExceptionType type, std::string_view message) {
    gen::DispatchResult encoded = gen::encode_exception<CapException>(m_reply, {type, message});
    answer(call_id, encoded.message(), true);
}

void BlockServer::receive(uint32_t index) {
    m_recv_tickets[index] =
        rt::ring().submit(rt::recv_sqe(m_owner, {receive_buffer(index), receive_words(index)}));
    ++m_receiving;
}

void BlockServer::keep_receiving() {
    // Calls are taken only while a request slot is free for each.
    for (uint32_t index = 0; index < max_receives; ++index) {
        if (m_busy + m_receiving >= m_disk.max_requests)
            return;
        if (m_recv_tickets[index] == 0 && (index == 0 || !m_small_held))
            receive(index);
    }
}

void BlockServer::dispatch(const abi::Cqe& cqe, uint32_t index) {
    if (cqe.result == int32_t(abi::TransportError::Disconnected)) {
        // No client is left, and none can come: stop the device's DMA.
        m_backend.stop();
        say(rt::Line("every client has gone (")
                .udec(m_backend.requests_made())
                .add(" requests, at most ")
                .udec(m_most_busy)
                .add(" in flight at once); the device is reset")
                .view());
        rt::exit(0);
    }
    if (index == 0)
        m_small_held = false; // it took the call too large for the others, if any
    if (cqe.result == int32_t(abi::TransportError::ResultTooSmall) && index != 0) {
        // A call larger than this buffer: it went on to the next RECV, or
        // waits for the large one; this one stays off until that has come.
        m_small_held = true;
        return;
    }
    auto call = rt::received_call(
        cqe, std::span<const capnp::Word>(receive_buffer(index), receive_words(index)));
    if (call.is_error())
        fail("receiving a call failed", abi::cqe_result_name(call.error()));
    const abi::RecvHeader& header = call.value().header;
    // Capabilities sent with a call are none of BlockDevice's: let them go.
    rt::release_capabilities(call.value());

    m_call_id = header.call_id;
    m_caller = header.caller;
    m_deferred = false;
    m_reply_transfer_count = 0;
    // The kernel validated the params as it took them from the caller.
    auto params = capnp::MessageReader::validated(call.value().params);
    gen::DispatchResult result =
        BlockDevice::dispatch(*this, header.interface_id, header.method, params, m_reply);
    if (result.status() == gen::DispatchStatus::BufferFull)
        result = gen::encode_exception<CapException>(m_reply,
                                                     {ExceptionType::Failed, "results too large"});
    bool exception = result.status() == gen::DispatchStatus::Exception;
    if (m_deferred && !exception)
        return; // the device's completion answers it
    answer(header.call_id, result.message(), exception,
           {m_reply_transfers, exception ? 0 : m_reply_transfer_count});
}

void BlockServer::serve() {
    for (;;) {
        if (m_unnotified) {
            m_backend.notify();
            m_unnotified = false;
        }
        keep_receiving();
        if (m_interrupt_ticket == 0)
            m_interrupt_ticket = m_interrupt->arm();
        // Ticks only while a request is on the device.
        if (m_tick_ticket == 0 && m_timeouts.waiting())
            m_tick_ticket = arm_tick();
        // A tick first when several have come: calls and completions that
        // keep coming must not hold it back. (The answers posted meanwhile
        // go to the kernel with this entry.)
        uint64_t tickets[2 + max_receives] = {m_tick_ticket, m_interrupt_ticket};
        for (uint32_t i = 0; i < max_receives; ++i)
            tickets[2 + i] = m_recv_tickets[i];
        size_t which = 0;
        abi::Cqe cqe = rt::ring().wait_any(tickets, which);
        if (which == 0) {
            m_tick_ticket = 0;
            tick_taken(cqe);
        } else if (which == 1) {
            m_interrupt_ticket = 0;
            m_interrupt->taken(cqe);
            m_backend.take_completions(*this);
        } else {
            uint32_t index = uint32_t(which - 2);
            m_recv_tickets[index] = 0;
            --m_receiving;
            dispatch(cqe, index);
        }
    }
}

// --- BlockDevice -------------------------------------------------------------------

Result<void, gen::Exception> BlockServer::info(BlockDevice::InfoParams::Reader,
                                               BlockDevice::InfoResults::Builder results) {
    results.set_block_size(m_disk.geometry.block_size);
    results.set_blocks(m_disk.geometry.blocks);
    results.set_max_blocks(m_disk.geometry.max_blocks);
    results.set_read_only(m_disk.read_only);
    results.set_model(m_disk.model);
    return {};
}

Result<void, gen::Exception> BlockServer::read_blocks(BlockDevice::ReadBlocksParams::Reader params,
                                                      BlockDevice::ReadBlocksResults::Builder) {
    block::Transfer transfer{params.lba(), params.count(), params.buffer(), params.offset()};
    auto place = block::place_read(m_disk.geometry, m_buffers, m_caller, transfer);
    if (place.is_error())
        return Err{invalid_argument(block::to_string(place.error()))};
    return submit(Operation::Read, transfer.lba, transfer.count, place.value());
}

Result<void, gen::Exception>
BlockServer::write_blocks(BlockDevice::WriteBlocksParams::Reader params,
                          BlockDevice::WriteBlocksResults::Builder) {
    if (m_disk.read_only)
        return Err{gen::Exception{ExceptionType::PermissionDenied, "the disk is read-only"}};
    block::Transfer transfer{params.lba(), params.count(), params.buffer(), params.offset()};
    std::span<const uint8_t> data = params.data();
    auto place = block::place_write(m_disk.geometry, m_buffers, m_caller, transfer, data.size());
    if (place.is_error())
        return Err{invalid_argument(block::to_string(place.error()))};
    // The slot submit() takes is the first free one: its page gets the data.
    if (place.value().inline_data) {
        auto slot = free_slot();
        if (!slot)
            return Err{gen::Exception{ExceptionType::Overloaded, "every request slot is in use"}};
        __builtin_memcpy(slot_data(*slot), data.data(), data.size());
    }
    return submit(Operation::Write, transfer.lba, transfer.count, place.value());
}

Result<void, gen::Exception> BlockServer::flush(BlockDevice::FlushParams::Reader,
                                                BlockDevice::FlushResults::Builder) {
    // A device that writes through has every write answered on its medium.
    if (!m_disk.flush)
        return {};
    return submit(Operation::Flush, 0, 0, block::DataPlace{false, 0, 0});
}

Result<void, gen::Exception>
BlockServer::transfer_buffer(BlockDevice::TransferBufferParams::Reader params,
                             BlockDevice::TransferBufferResults::Builder results) {
    uint32_t pages = params.pages();
    if (auto allowed = m_buffers.check_grant(pages); allowed.is_error()) {
        if (allowed.error() == block::GrantError::PageCount)
            return Err{invalid_argument("a transfer buffer is 1 to 512 pages")};
        return Err{gen::Exception{ExceptionType::Overloaded, "no transfer buffer left to give"}};
    }
    auto shared = TRY(m_device.allocate_shared(pages));
    uint32_t id =
        m_buffers.add({shared.device_address, uint64_t(pages) * page_size, m_caller}, pages);
    results.set_memory(shared.memory);
    results.set_buffer(id);
    m_reply_transfers[0] = {shared.memory, uint8_t(abi::TransferMode::Move), {0, 0, 0}};
    m_reply_transfer_count = 1;
    return {};
}

} // namespace capos::drivers
