// The BlockDevice server (schema/capos.capnp, "Storage") every disk driver
// runs on the endpoint it is granted as "disk", over a backend that knows its
// device (BlockBackend: virtio-blk, NVMe).
//
// Serving: the process keeps a RECV on its endpoint and an Interrupt.wait
// outstanding together, so that calls and the device's completions are taken
// in whatever order they come. A read, write or flush is checked
// (lib/block/request.h), given a request slot and handed to the backend,
// and answered when the backend completes that slot (in any order); the
// other methods are answered at once. While every slot is in use no RECV is
// outstanding: further calls wait in the endpoint's queue.
//
// Nothing waits forever: while a request is on the device a Timer.sleep is
// outstanding beside the RECV and the Interrupt.wait, its ends counted as
// ticks (lib/block/timeouts.h). A request on the device longer than the
// bound (30 s unless the driver says otherwise) is a device that cannot be
// trusted any more: the driver says which request it was, stops the device
// (its quiesce hook: it may still reach the buffers of every request it
// holds), answers every call it held disconnected and exits 1, for init to
// start it again when the manifest allows.
//
// Data: a request's inline data passes through a page of DMA memory of its
// own slot; a transfer buffer (transferBuffer) is DMA memory the client maps
// and the device reads and writes directly, named by an id that only the
// process that asked for it may use.
//
// When the last client has gone the backend stops the device and the driver
// exits 0, saying how many requests it made and how many were in flight at
// most.
#pragma once

#include "lib/block/request.h"
#include "lib/block/timeouts.h"
#include "schema/capos.capnp.capos.h"
#include "user/drivers/common/claimed_device.h"
#include "user/drivers/common/queue_interrupt.h"
#include "user/rt/rt.h"

#include <optional>
#include <string_view>

namespace capos::drivers {

class BlockServer;

enum class Operation : uint8_t { Read, Write, Flush };

// What a device does for the server. Slots are 0 to max_requests - 1 (one
// request at a time in each); addresses are device addresses of DMA memory
// of the claim.
class BlockBackend {
public:
    // Gives the device `operation` on `count` blocks from block `lba` (none
    // for a flush), its data at `data` (contiguous in the device's address
    // space). False when the device has no room for it now (the call is
    // answered overloaded).
    virtual bool submit(uint32_t slot, Operation operation, uint64_t lba, uint32_t count,
                        uint64_t data) = 0;
    // Tells the device of the requests submitted since the last notify: one
    // doorbell for a batch (the server calls it before it waits).
    virtual void notify() = 0;
    // After an interrupt: every request the device has finished, each handed
    // to server.complete().
    virtual void take_completions(BlockServer& server) = 0;
    // Stops the device's DMA for good: the last client has gone.
    virtual void stop() = 0;
    // Requests made of the device so far (bring-up ones included).
    virtual uint64_t requests_made() const = 0;

protected:
    ~BlockBackend() = default;
};

// The disk as the backend describes it.
struct DiskDescription {
    block::Geometry geometry;
    uint32_t max_requests = 1; // at most BlockServer::max_slots
    bool read_only = false;
    // False: the device writes through, and a flush is answered at once.
    bool flush = true;
    std::string_view model;
};

// The grants every disk driver is started with: its PCI function
// ("device"), a clock for its requests' timeout ("timer") and the endpoint
// it serves ("disk"). A missing one ends the driver with a line naming it.
struct DiskGrants {
    rt::Capability<schema::Device> device;
    rt::Capability<schema::Timer> timer;
    abi::CapId disk;
};
DiskGrants take_disk_grants();

class BlockServer {
public:
    static constexpr uint32_t max_slots = 64;
    static_assert(max_slots <= block::RequestTimeouts::max_slots);
    static constexpr block::TransferLimits transfer_limits{512, 2048};
    static constexpr uint32_t max_transfer_buffers = 32;
    // How long a request may be on the device, unless the driver says.
    static constexpr uint64_t default_request_timeout_ns = 30'000'000'000;

    // The DMA pages the server takes of the claim's pool: the slots' inline
    // pages and the transfer buffers' budget.
    static constexpr uint32_t dma_pages(uint32_t max_requests) {
        return max_requests + transfer_limits.pages_budget;
    }

    // `timer`: the Timer that counts requests' time on the device.
    BlockServer(ClaimedDevice& device, abi::CapId owner, BlockBackend& backend, abi::CapId timer,
                uint64_t request_timeout_ns = default_request_timeout_ns)
        : m_device(device), m_owner(owner), m_backend(backend), m_timer(timer),
          m_timeouts(request_timeout_ns) {}

    // The disk, and the interrupt of the device's queue (held by then); the
    // slots' inline pages from the pool (made already). Once, before serve().
    void start(const DiskDescription& disk, QueueInterrupt& interrupt);
    [[noreturn]] void serve();

    // The backend's answer for `slot`: done, or failed saying `error`. A
    // slot with no request is the device's error: the driver fails.
    void complete(uint32_t slot, const char* error);
    // Every request outstanding answered with an exception of `type` saying
    // `message`, once the device is stopped (quiesce, driver.h): a device
    // given up on may still reach the buffers the answers hand back. The
    // driver then ends (fail).
    void fail_outstanding(schema::ExceptionType type, std::string_view message);

    // BlockDevice's methods, called by the generated dispatch. read, write
    // and flush that reach the device set m_deferred: their answer is sent
    // when the device completes them.
    Result<void, gen::Exception> info(schema::BlockDevice::InfoParams::Reader,
                                      schema::BlockDevice::InfoResults::Builder results);
    Result<void, gen::Exception>
    read_blocks(schema::BlockDevice::ReadBlocksParams::Reader params,
                schema::BlockDevice::ReadBlocksResults::Builder results);
    Result<void, gen::Exception>
    write_blocks(schema::BlockDevice::WriteBlocksParams::Reader params,
                 schema::BlockDevice::WriteBlocksResults::Builder results);
    Result<void, gen::Exception> flush(schema::BlockDevice::FlushParams::Reader,
                                       schema::BlockDevice::FlushResults::Builder);
    Result<void, gen::Exception>
    transfer_buffer(schema::BlockDevice::TransferBufferParams::Reader params,
                    schema::BlockDevice::TransferBufferResults::Builder results);

private:
    // One request slot: the call it answers while the device holds it.
    struct Slot {
        bool busy = false;
        Operation operation = Operation::Read;
        bool inline_data = false;
        uint32_t call_id = 0;
        uint64_t data_bytes = 0;
        uint64_t lba = 0;   // (for the line that names a request timed out)
        uint32_t count = 0; // blocks
    };

    uint8_t* slot_data(uint32_t slot) const { return m_inline.memory + slot * page_size; }
    uint64_t slot_data_bus(uint32_t slot) const {
        return m_inline.device_address + uint64_t(slot) * page_size;
    }
    std::optional<uint32_t> free_slot() const;
    Result<void, gen::Exception> submit(Operation operation, uint64_t lba, uint32_t count,
                                        const block::DataPlace& place);

    // RECV `index` into its buffer (0: the large one), and the call it took.
    void receive(uint32_t index);
    void dispatch(const abi::Cqe& cqe, uint32_t index);
    // The RECVs kept outstanding: as many as free request slots, one per
    // buffer (only the large one while a call too large for the others
    // waits).
    void keep_receiving();
    // The sleep between two ticks, and its end taken.
    uint64_t arm_tick();
    void tick_taken(const abi::Cqe& cqe);
    // Slot `slot`'s request has been on the device past the bound.
    [[noreturn]] void time_out(uint32_t slot);
    void answer(uint32_t call_id, std::span<const capnp::Word> message, bool exception,
                std::span<const abi::TransferDescriptor> transfers = {});
    // A device's answer without inline data: posted (rt::RingClient::post),
    // taken by the kernel at the server's next entry with the others.
    void post_answer(uint32_t call_id, bool read);
    void answer_exception(uint32_t call_id, schema::ExceptionType type, std::string_view message);

    ClaimedDevice& m_device;
    QueueInterrupt* m_interrupt = nullptr;
    abi::CapId m_owner;
    BlockBackend& m_backend;
    DiskDescription m_disk;
    DmaArea m_inline;
    Slot m_slots[max_slots];
    uint32_t m_busy = 0;
    uint32_t m_most_busy = 0;
    bool m_unnotified = false; // requests submitted since the backend's last notify
    block::TransferBuffer m_buffer_storage[max_transfer_buffers];
    block::TransferBuffers m_buffers{m_buffer_storage, transfer_limits};
    // The call being dispatched: its id, its caller, and whether its answer
    // waits for the device.
    uint32_t m_call_id = 0;
    uint64_t m_caller = 0;
    bool m_deferred = false;
    alignas(8) abi::TransferDescriptor m_reply_transfers[1]; // (the ring takes whole words)
    uint32_t m_reply_transfer_count = 0;
    // The RECVs (one per buffer), the Interrupt.wait and the sleep to the
    // next tick outstanding (0: none).
    static constexpr uint32_t max_receives = abi::endpoint_max_receivers;
    uint64_t m_recv_tickets[max_receives] = {};
    uint32_t m_receiving = 0;
    // A call too large for the small buffers waits for the large one.
    bool m_small_held = false;
    uint64_t m_interrupt_ticket = 0;
    uint64_t m_tick_ticket = 0;
    abi::CapId m_timer;
    block::RequestTimeouts m_timeouts;
    // Timer.sleep(tick)'s params, made once, and its results.
    alignas(8) capnp::Word m_tick_params[4];
    size_t m_tick_params_words = 0;
    alignas(8) capnp::Word m_tick_result[16];
    // A call's header, params and capability records. Buffer 0: the largest
    // receive buffer the kernel takes (64 KiB), which every call it accepts
    // fits, so each is received whole and refused by its content; the
    // others: what a read or write with inline data needs (a larger call
    // passes them over to the large one).
    static constexpr size_t large_receive_words = 64 * 1024 / 8;
    static constexpr size_t small_receive_words =
        (sizeof(abi::RecvHeader) + schema::BlockDevice::max_inline + 512) / 8;
    capnp::Word* receive_buffer(uint32_t index) {
        return index == 0 ? m_receive : m_small_receive[index - 1];
    }
    size_t receive_words(uint32_t index) const {
        return index == 0 ? large_receive_words : small_receive_words;
    }
    alignas(8) capnp::Word m_receive[large_receive_words];
    alignas(8) capnp::Word m_small_receive[max_receives - 1][small_receive_words];
    alignas(8) capnp::Word m_reply[(schema::BlockDevice::max_inline + 512) / 8];
    // Posted answers' messages, each reused only after twice the submission
    // queue's entries more were posted (by then the kernel has taken it).
    static constexpr uint32_t posted_replies = 2 * abi::ring_sq_entries;
    static constexpr size_t posted_words = 8;
    alignas(8) capnp::Word m_posted[posted_replies][posted_words];
    uint32_t m_next_posted = 0;
};

} // namespace capos::drivers
