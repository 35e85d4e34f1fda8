// virtio-blk: serves one virtio 1.x block device (Virtio 1.2, 5.2) over PCI
// as a BlockDevice (schema/capos.capnp, "Storage") on the endpoint it is
// granted as "disk", holding the device's claim as "device" (a manifest
// `device` grant, docs/devices.md "Driver authority").
//
// Bringing the device up (3.1.1): its virtio capabilities are read from
// configuration space (Device.config, lib/virtio/pci_caps.h), the BARs they
// lie in mapped (Device.mmio), the device reset, the features chosen
// (lib/virtio/blk.h: VERSION_1 required), request queue 0 laid out in DMA
// memory (lib/virtio/virtqueue.h) and bound to MSI-X entry 0 (Device.interrupt),
// then DRIVER_OK. The identity string (GET_ID) names the model.
//
// Serving: the process keeps a RECV on its endpoint and an Interrupt.wait
// outstanding together, so that calls and the device's completions are
// taken in whatever order they come. A read, write or flush goes to the
// device and is answered when the device completes it (in any order); the
// other methods are answered at once. While every request slot is in use
// no RECV is outstanding: further calls wait in the endpoint's queue.
//
// Data: a request's inline data passes through a page of DMA memory of its
// own slot; a transfer buffer (transferBuffer) is DMA memory the client maps
// and the device reads and writes directly, named by an id that only the
// process that asked for it may use.
//
// Nothing the device writes is trusted: the virtqueue checks the used ring,
// every request's status byte is checked (anything but OK fails the call),
// and a read whose used length does not cover its data fails too. When a
// call to the Device or its objects answers that the claim has ended, the
// driver exits with a line saying so; when anything else goes wrong it
// resets the device and exits 1 with a line saying what; when its last
// client has gone, it resets the device and exits 0.
#include "lib/pci/select.h"
#include "lib/virtio/blk.h"
#include "lib/virtio/pci_caps.h"
#include "lib/virtio/virtqueue.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"
#include "user/rt/syscall.h"

#include <optional>

namespace {

using capos::Err;
using capos::Result;
using capos::rt::Capability;
using capos::rt::Line;
using capos::schema::BlockDevice;
using capos::schema::CapException;
using capos::schema::Device;
using capos::schema::DeviceMmio;
using capos::schema::DMABuffer;
using capos::schema::DMAPool;
using capos::schema::ExceptionType;
using capos::schema::Interrupt;
namespace abi = capos::abi;
namespace blk = capos::virtio::blk;
namespace capnp = capos::capnp;
namespace gen = capos::gen;
namespace pci = capos::pci;
namespace virtio = capos::virtio;

constexpr uint64_t page_size = 4096;
// The most pages of transfer buffers the driver hands out in all, and in one.
constexpr uint32_t transfer_pages_budget = 2048;
constexpr uint32_t max_transfer_pages = 512;
constexpr uint32_t max_transfer_buffers = 32;
// The queue size asked for (the device's maximum when smaller).
constexpr uint16_t wanted_queue_size = 128;
// How long the driver polls the status register for a reset to finish.
constexpr uint32_t reset_polls = 1000000;
constexpr uint32_t config_read_attempts = 100;

void say(std::string_view text) {
    (void)capos::rt::debug_write_line(Line("virtio-blk: ").add(text).view());
}

// The device status register, once mapped: a driver that gives up resets
// the device first, so that it stops using the queue's memory.
volatile uint8_t* g_device_status = nullptr;

[[noreturn]] void exit_saying(std::string_view what, std::string_view detail) {
    Line line("virtio-blk: ");
    line.add(what);
    if (!detail.empty())
        line.add(": ").add(detail);
    (void)capos::rt::debug_write_line(line.view());
    capos::rt::exit(1);
}

[[noreturn]] void fail(std::string_view what, std::string_view detail = {}) {
    if (g_device_status)
        *g_device_status = 0;
    exit_saying(what, detail);
}

// A call to the device's objects that failed: the claim's end (the device
// is gone) ends the driver with its own message; any other failure is
// `what` going wrong.
[[noreturn]] void call_failed(std::string_view what, const gen::CallError& error) {
    bool gone = (error.kind == gen::CallErrorKind::Exception &&
                 error.exception.type == ExceptionType::Disconnected) ||
                (error.kind == gen::CallErrorKind::Transport &&
                 error.transport_error == int32_t(abi::TransportError::Disconnected));
    // (A device whose claim has ended is quiesced by the kernel: nothing is
    // left to reset.)
    if (gone)
        exit_saying("the device is gone (its claim has ended); exiting",
                    capos::rt::call_error_text(error));
    fail(what, capos::rt::call_error_text(error));
}

template <typename T>
T value_or_fail(Result<T, gen::CallError> result, std::string_view what) {
    if (result.is_error())
        call_failed(what, result.error());
    return result.release_value();
}

// One mapped register window: accesses of the width the field has, never
// merged or split (volatile), as the device expects them.
class Registers {
public:
    Registers() = default;
    explicit Registers(uint8_t* base) : m_base(base) {}
    template <typename T>
    T read(uint64_t offset) const {
        return *reinterpret_cast<volatile const T*>(m_base + offset);
    }
    template <typename T>
    void write(uint64_t offset, T value) const {
        *reinterpret_cast<volatile T*>(m_base + offset) = value;
    }
    // A 64-bit field of the common configuration, as two 32-bit halves, low first.
    void write64(uint64_t offset, uint64_t value) const {
        write<uint32_t>(offset, uint32_t(value));
        write<uint32_t>(offset + 4, uint32_t(value >> 32));
    }

private:
    uint8_t* m_base = nullptr;
};

// DMA memory of the claim, mapped into the driver.
struct DmaArea {
    uint8_t* memory = nullptr;
    uint64_t device_address = 0;
};

// A client's transfer buffer: DMA memory the device reads and writes
// directly, usable only by the process that asked for it.
struct TransferBuffer {
    uint64_t device_address = 0;
    uint64_t bytes = 0;
    uint64_t owner = 0; // the caller's process id
};

// One request slot: a header, a status byte and a page of inline data, and
// the call it answers while the device holds it.
struct Request {
    enum class Kind : uint8_t { Free, Read, Write, Flush, Identify };
    Kind kind = Kind::Free;
    uint32_t call_id = 0;
    uint64_t data_bytes = 0;
    bool inline_data = false;
};
constexpr size_t slot_meta_bytes = 32; // header (16), status (1), padding
constexpr size_t slot_status_offset = sizeof(blk::RequestHeader);

class Driver {
public:
    Driver(Capability<Device>& device, abi::CapId owner) : m_device(device), m_owner(owner) {}

    void start();
    [[noreturn]] void serve();

private:
    // --- Bringing the device up ----------------------------------------
    void read_function();
    void map_structures(const virtio::PciLayout& layout);
    uint8_t* map_bar(uint8_t bar, uint64_t needed);
    void reset_device();
    uint64_t negotiate();
    blk::DeviceConfig read_config(uint64_t features);
    DmaArea allocate_dma(uint32_t pages, std::string_view what);
    void keep(Capability<DMABuffer>& buffer);
    void set_up_queue(uint64_t features, const blk::DeviceConfig& config);
    void identify();

    // --- Requests --------------------------------------------------------
    uint8_t* slot_meta(uint32_t slot) const { return m_requests.memory + slot * slot_meta_bytes; }
    uint64_t slot_meta_bus(uint32_t slot) const {
        return m_requests.device_address + slot * slot_meta_bytes;
    }
    uint8_t* slot_data(uint32_t slot) const {
        return m_requests.memory + (uint64_t(slot) + 1) * page_size;
    }
    uint64_t slot_data_bus(uint32_t slot) const {
        return m_requests.device_address + (uint64_t(slot) + 1) * page_size;
    }
    std::optional<uint32_t> free_slot() const;
    // Puts a request on the queue: the header's type and sector, `data_bytes`
    // at bus address `data` (none for a flush), written by the device for a
    // read. Returns false (the slot left free) when the queue refuses it.
    bool submit(uint32_t slot, Request request, uint32_t type, uint64_t sector, uint64_t data);
    // Takes every completion the device has posted and answers its call.
    void drain();
    void complete(uint32_t slot, uint32_t used_length);

    // --- The endpoint ------------------------------------------------------
    void receive();
    void dispatch(const abi::Cqe& cqe);
    void answer(uint32_t call_id, std::span<const capnp::Word> message, bool exception,
                std::span<const abi::TransferDescriptor> transfers = {});
    void answer_exception(uint32_t call_id, ExceptionType type, std::string_view message);
    void arm_interrupt();
    void interrupted(const abi::Cqe& cqe);

public:
    // BlockDevice's methods, called by the generated dispatch. read, write
    // and flush that reach the device set m_deferred: their answer is sent
    // when the device completes them.
    Result<void, gen::Exception> info(BlockDevice::InfoParams::Reader,
                                      BlockDevice::InfoResults::Builder results);
    Result<void, gen::Exception> read_blocks(BlockDevice::ReadBlocksParams::Reader params,
                                             BlockDevice::ReadBlocksResults::Builder results);
    Result<void, gen::Exception> write_blocks(BlockDevice::WriteBlocksParams::Reader params,
                                              BlockDevice::WriteBlocksResults::Builder results);
    Result<void, gen::Exception> flush(BlockDevice::FlushParams::Reader,
                                       BlockDevice::FlushResults::Builder);
    Result<void, gen::Exception>
    transfer_buffer(BlockDevice::TransferBufferParams::Reader params,
                    BlockDevice::TransferBufferResults::Builder results);

private:
    // Where a read or write's data lies: checks shared by both.
    Result<uint64_t, gen::Exception> data_address(uint64_t lba, uint32_t count, uint32_t buffer,
                                                  uint64_t offset, uint64_t& bytes);

    Capability<Device>& m_device;
    abi::CapId m_owner;
    // The function as the kernel read it: BARs and MSI-X; whether an IOMMU
    // translates its DMA.
    pci::Function m_function;
    bool m_dma_isolated = false;
    char m_address[16] = {};
    size_t m_address_length = 0;
    // Mapped BARs (by index; null when not mapped) and the structures in them.
    uint8_t* m_bars[pci::max_bars] = {};
    Registers m_common;
    Registers m_device_config;
    uint64_t m_device_config_bytes = 0;
    virtio::VirtioCapability m_notify_capability;
    uint8_t* m_notify = nullptr; // queue 0's notify register
    std::optional<Capability<DMAPool>> m_pool;
    std::optional<Capability<Interrupt>> m_interrupt;
    DmaArea m_queue_area;
    DmaArea m_requests;
    std::optional<virtio::Virtqueue> m_queue;
    virtio::DescriptorState m_descriptor_state[wanted_queue_size];
    blk::Disk m_disk;
    char m_model[blk::id_bytes + 1] = {};
    size_t m_model_length = 0;
    Request m_slots[blk::DriverLimits{}.max_requests];
    uint32_t m_busy = 0;
    // Requests made of the device, and the most it held at once.
    uint64_t m_submitted = 0;
    uint32_t m_most_busy = 0;
    TransferBuffer m_buffers[max_transfer_buffers];
    // Every DMABuffer made: the queue's, the requests', the transfer buffers.
    abi::CapId m_kept[2 + max_transfer_buffers];
    size_t m_kept_count = 0;
    uint32_t m_buffer_count = 0;
    uint32_t m_transfer_pages = 0;
    // The call being dispatched: its id, its caller, and whether its answer
    // waits for the device.
    uint32_t m_call_id = 0;
    uint64_t m_caller = 0;
    bool m_deferred = false;
    alignas(8) abi::TransferDescriptor m_reply_transfers[1]; // (the ring takes whole words)
    uint32_t m_reply_transfer_count = 0;
    // The RECV and the Interrupt.wait outstanding (0: none).
    uint64_t m_recv_ticket = 0;
    uint64_t m_interrupt_ticket = 0;
    // The last interrupt count acknowledged.
    uint64_t m_acknowledged = 0;
    // A call's header, params and capability records: the largest receive
    // buffer the kernel takes (64 KiB), which every call it accepts fits, so
    // each is received whole and refused by its content.
    alignas(8) capnp::Word m_receive[64 * 1024 / 8];
    alignas(8) capnp::Word m_reply[(BlockDevice::max_inline + 512) / 8];
    alignas(8) capnp::Word m_interrupt_result[8];
};

// --- Bringing the device up ----------------------------------------------

void Driver::read_function() {
    auto info = value_or_fail(m_device->info(), "Device.info");
    m_dma_isolated = info.dma_isolated();
    auto function = info.function();
    Line address;
    if (function.segment() != 0)
        address.hex(function.segment()).add(':');
    auto two_hex = [&](uint32_t value) {
        const char* digits = "0123456789abcdef";
        address.add(digits[(value >> 4) & 0xf]).add(digits[value & 0xf]);
    };
    two_hex(function.bus());
    address.add(':');
    two_hex(function.device());
    address.add('.').udec(function.function());
    m_address_length = address.view().size() < sizeof m_address ? address.view().size() : 0;
    __builtin_memcpy(m_address, address.view().data(), m_address_length);

    if (function.vendor_id() != virtio::pci_vendor ||
        (function.device_id() != blk::pci_device_modern &&
         function.device_id() != blk::pci_device_transitional))
        fail("the device granted is not a virtio block device (want 1af4:1042 or 1af4:1001)");
    for (auto bar : function.bars()) {
        if (bar.index() >= pci::max_bars)
            continue;
        pci::Bar& entry = m_function.bars[bar.index()];
        switch (bar.kind()) {
        case capos::schema::PciFunction::BarKind::Memory32:
            entry.kind = pci::Bar::Kind::Memory32;
            break;
        case capos::schema::PciFunction::BarKind::Memory64:
            entry.kind = pci::Bar::Kind::Memory64;
            break;
        default:
            continue; // I/O BARs map nothing a driver reaches
        }
        entry.address = bar.address();
        entry.size = bar.size();
    }
    if (!function.has_msix())
        fail("the device has no MSI-X (its queue interrupt needs a vector of its own)");
    auto msix = function.msix();
    m_function.has_msix = true;
    m_function.msix.table_size = msix.table_size();
    m_function.msix.table_bar = msix.table_bar();
    m_function.msix.table_offset = msix.table_offset();
    m_function.msix.pba_bar = msix.pba_bar();
    m_function.msix.pba_offset = msix.pba_offset();
}

uint8_t* Driver::map_bar(uint8_t bar, uint64_t needed) {
    if (m_bars[bar])
        return m_bars[bar];
    auto region = value_or_fail(m_device->mmio(bar), "Device.mmio");
    Capability<DeviceMmio> mmio(abi::CapId{region.region()});
    auto info = value_or_fail(mmio->info(), "DeviceMmio.info");
    uint64_t bytes = info.bytes();
    if (bytes < needed)
        fail("a virtio structure lies past its BAR's window");
    auto mapped = value_or_fail(mmio->map(0), "DeviceMmio.map");
    m_bars[bar] = reinterpret_cast<uint8_t*>(mapped.address());
    // The mapping stays until the driver ends; the capability is not needed
    // for it (released when `mmio` goes).
    return m_bars[bar];
}

void Driver::map_structures(const virtio::PciLayout& layout) {
    for (const virtio::VirtioCapability* structure :
         {&layout.common, &layout.notify, &layout.isr,
          layout.device ? &*layout.device
                        : static_cast<const virtio::VirtioCapability*>(nullptr)}) {
        if (!structure)
            continue;
        // The kernel leaves the MSI-X table's and pending bits' pages out of
        // every mapping: a structure there would fault when touched.
        uint64_t first = structure->offset / page_size;
        uint64_t end =
            (uint64_t(structure->offset) + structure->length + page_size - 1) / page_size;
        for (pci::PageRange pages :
             pci::kernel_pages(m_function, structure->bar, m_function.bars[structure->bar].size)) {
            if (!pages.empty() && first < pages.end && pages.first < end)
                fail("a virtio structure shares a page with the MSI-X table");
        }
        map_bar(structure->bar, uint64_t(structure->offset) + structure->length);
    }
    m_common = Registers(m_bars[layout.common.bar] + layout.common.offset);
    g_device_status =
        m_bars[layout.common.bar] + layout.common.offset + virtio::common::device_status;
    if (!layout.device)
        fail("the device has no device-specific configuration");
    m_device_config = Registers(m_bars[layout.device->bar] + layout.device->offset);
    m_device_config_bytes = layout.device->length;
}

void Driver::reset_device() {
    m_common.write<uint8_t>(virtio::common::device_status, 0);
    // The reset is done when the status reads back 0 (4.1.4.3.2).
    for (uint32_t poll = 0; poll < reset_polls; ++poll) {
        if (m_common.read<uint8_t>(virtio::common::device_status) == 0)
            return;
    }
    fail("the device does not finish its reset");
}

uint64_t Driver::negotiate() {
    uint8_t status = virtio::status_acknowledge;
    m_common.write<uint8_t>(virtio::common::device_status, status);
    status |= virtio::status_driver;
    m_common.write<uint8_t>(virtio::common::device_status, status);

    uint64_t offered = 0;
    for (uint32_t half = 0; half < 2; ++half) {
        m_common.write<uint32_t>(virtio::common::device_feature_select, half);
        offered |= uint64_t(m_common.read<uint32_t>(virtio::common::device_feature)) << (32 * half);
    }
    auto chosen = blk::select_features(offered, m_dma_isolated ? blk::DmaAddresses::Translated
                                                               : blk::DmaAddresses::Physical);
    if (chosen.is_error()) {
        m_common.write<uint8_t>(virtio::common::device_status, virtio::status_failed);
        fail(blk::to_string(chosen.error()));
    }
    uint64_t features = chosen.value();
    for (uint32_t half = 0; half < 2; ++half) {
        m_common.write<uint32_t>(virtio::common::driver_feature_select, half);
        m_common.write<uint32_t>(virtio::common::driver_feature, uint32_t(features >> (32 * half)));
    }
    status |= virtio::status_features_ok;
    m_common.write<uint8_t>(virtio::common::device_status, status);
    // The device keeps FEATURES_OK only when it accepts them (3.1.1 step 6).
    if ((m_common.read<uint8_t>(virtio::common::device_status) & virtio::status_features_ok) == 0) {
        m_common.write<uint8_t>(virtio::common::device_status, virtio::status_failed);
        fail("the device refused the features chosen");
    }
    return features;
}

blk::DeviceConfig Driver::read_config(uint64_t features) {
    // The fields the features negotiated make valid must lie in the structure.
    if (m_device_config_bytes < blk::config_bytes_needed(features))
        fail("the device's configuration is too short for its features");
    // A configuration read is consistent when the generation is the same
    // before and after it (4.1.4.3.1): the capacity is two 32-bit reads.
    for (uint32_t attempt = 0; attempt < config_read_attempts; ++attempt) {
        uint8_t before = m_common.read<uint8_t>(virtio::common::config_generation);
        blk::DeviceConfig config;
        config.capacity = m_device_config.read<uint32_t>(blk::config::capacity) |
                          uint64_t(m_device_config.read<uint32_t>(blk::config::capacity + 4)) << 32;
        if (features & blk::feature_bit(blk::feature_size_max))
            config.size_max = m_device_config.read<uint32_t>(blk::config::size_max);
        if (features & blk::feature_bit(blk::feature_seg_max))
            config.seg_max = m_device_config.read<uint32_t>(blk::config::seg_max);
        if (features & blk::feature_bit(blk::feature_blk_size))
            config.blk_size = m_device_config.read<uint32_t>(blk::config::blk_size);
        if (m_common.read<uint8_t>(virtio::common::config_generation) == before)
            return config;
    }
    fail("the device's configuration keeps changing while it is read");
}

DmaArea Driver::allocate_dma(uint32_t pages, std::string_view what) {
    auto allocated = value_or_fail((*m_pool)->allocate(pages), what);
    Capability<DMABuffer> buffer(abi::CapId{allocated.buffer()});
    DmaArea area;
    area.device_address = value_or_fail(buffer->info(), what).device_address();
    area.memory = reinterpret_cast<uint8_t*>(value_or_fail(buffer->map(0), what).address());
    keep(buffer);
    return area;
}

void Driver::keep(Capability<DMABuffer>& buffer) {
    // Behind an IOMMU a buffer leaves the device's domain when its last
    // DMABuffer capability goes: the driver holds each for as long as it
    // runs (there is a place for every buffer it makes).
    CAPOS_ASSERT(m_kept_count < std::size(m_kept));
    m_kept[m_kept_count++] = buffer.leak();
}

void Driver::set_up_queue(uint64_t features, const blk::DeviceConfig& config) {
    if (m_common.read<uint16_t>(virtio::common::num_queues) == 0)
        fail("the device has no queues");
    m_common.write<uint16_t>(virtio::common::queue_select, 0);
    uint16_t maximum = m_common.read<uint16_t>(virtio::common::queue_size);
    if (maximum == 0)
        fail("the device's queue 0 is not available");
    // A split queue's size is a power of two: the largest one allowed.
    uint16_t size = 1;
    while (size * 2 <= maximum && size * 2 <= wanted_queue_size)
        size = uint16_t(size * 2);

    auto disk = blk::describe_disk(config, features, size, blk::DriverLimits{});
    if (disk.is_error())
        fail(blk::to_string(disk.error()));
    m_disk = disk.value();

    // DMA memory: the queue, the requests' headers and status bytes (a
    // page) and their inline data (a page each), and the transfer buffers.
    virtio::QueueLayout layout = virtio::contiguous_layout(size);
    uint32_t queue_pages = uint32_t((layout.total + page_size - 1) / page_size);
    uint32_t request_pages = 1 + m_disk.max_requests;
    auto pool = value_or_fail(
        m_device->dma_pool(queue_pages + request_pages + transfer_pages_budget), "Device.dmaPool");
    m_pool.emplace(abi::CapId{pool.pool()});
    m_queue_area = allocate_dma(queue_pages, "the queue's DMA memory");
    m_requests = allocate_dma(request_pages, "the requests' DMA memory");

    auto area = [&](size_t offset, size_t bytes) {
        return virtio::QueueArea{{m_queue_area.memory + offset, bytes},
                                 m_queue_area.device_address + offset};
    };
    virtio::QueueMemory memory{area(layout.descriptors, virtio::descriptor_table_bytes(size)),
                               area(layout.available, virtio::available_ring_bytes(size)),
                               area(layout.used, virtio::used_ring_bytes(size)),
                               {m_descriptor_state, size}};
    bool event_index = (features & blk::feature_bit(virtio::feature_event_index)) != 0;
    auto queue = virtio::Virtqueue::create(
        memory, size, event_index ? virtio::EventIndex::On : virtio::EventIndex::Off);
    if (queue.is_error())
        fail(virtio::to_string(queue.error()));
    m_queue.emplace(queue.release_value());

    m_common.write<uint16_t>(virtio::common::queue_size, size);
    m_common.write64(virtio::common::queue_desc, m_queue->descriptor_bus_address());
    m_common.write64(virtio::common::queue_driver, m_queue->available_bus_address());
    m_common.write64(virtio::common::queue_device, m_queue->used_bus_address());

    // MSI-X entry 0 for the queue (routed first: the kernel enables MSI-X),
    // none for configuration changes. The device says it has no vector by
    // reading back "no vector".
    auto routed = value_or_fail(m_device->interrupt(0), "Device.interrupt");
    m_interrupt.emplace(abi::CapId{routed.interrupt()});
    m_common.write<uint16_t>(virtio::common::config_msix_vector, virtio::no_msix_vector);
    m_common.write<uint16_t>(virtio::common::queue_msix_vector, 0);
    if (m_common.read<uint16_t>(virtio::common::queue_msix_vector) != 0)
        fail("the device gave its queue no MSI-X vector");

    auto notify_at = virtio::notify_offset(
        m_notify_capability, m_common.read<uint16_t>(virtio::common::queue_notify_off));
    if (notify_at.is_error())
        fail(virtio::to_string(notify_at.error()));
    m_notify = m_bars[m_notify_capability.bar] + notify_at.value();
    m_common.write<uint16_t>(virtio::common::queue_enable, 1);
}

void Driver::identify() {
    // GET_ID into slot 0's data page, zeroed first: bytes the device leaves
    // unwritten read as the string's end.
    __builtin_memset(slot_data(0), 0, blk::id_bytes);
    Request request{Request::Kind::Identify, 0, blk::id_bytes, true};
    if (!submit(0, request, blk::request_get_id, 0, slot_data_bus(0)))
        fail("the queue refused the identity request");
    while (m_slots[0].kind != Request::Kind::Free) {
        uint64_t count = value_or_fail((*m_interrupt)->wait(), "Interrupt.wait").count();
        if (auto acknowledged = (*m_interrupt)->acknowledge(count); acknowledged.is_error())
            call_failed("Interrupt.acknowledge", acknowledged.error());
        m_acknowledged = count;
        drain();
    }
}

void Driver::start() {
    read_function();
    uint8_t config[pci::config_space_size];
    {
        auto read = value_or_fail(m_device->config(0, uint16_t(sizeof config)), "Device.config");
        if (read.data().size() != sizeof config)
            fail("Device.config answered with the wrong length");
        __builtin_memcpy(config, read.data().data(), sizeof config);
    }
    uint64_t bar_sizes[pci::max_bars] = {};
    for (size_t bar = 0; bar < pci::max_bars; ++bar)
        bar_sizes[bar] = m_function.bars[bar].size;
    auto layout = virtio::parse_layout(config, bar_sizes);
    if (layout.is_error())
        fail(virtio::to_string(layout.error()));
    m_notify_capability = layout.value().notify;
    map_structures(layout.value());

    reset_device();
    uint64_t features = negotiate();
    blk::DeviceConfig device_config = read_config(features);
    set_up_queue(features, device_config);
    uint8_t status = virtio::status_acknowledge | virtio::status_driver |
                     virtio::status_features_ok | virtio::status_driver_ok;
    m_common.write<uint8_t>(virtio::common::device_status, status);
    identify();

    uint64_t bytes = m_disk.blocks * m_disk.block_size;
    Line line(std::string_view(m_address, m_address_length));
    line.add(": ").udec(m_disk.blocks).add(" blocks of ").udec(m_disk.block_size);
    line.add(" bytes (").udec(bytes >> 20).add(" MiB), ").udec(m_disk.max_blocks);
    line.add(" a request, ").udec(m_disk.max_requests).add(" in flight");
    line.add(m_disk.read_only ? ", read-only" : "").add(m_disk.flush ? ", write cache" : "");
    line.add(m_dma_isolated ? ", DMA through an IOMMU" : "");
    line.add(", model '").add({m_model, m_model_length}).add('\'');
    say(line.view());
}

// --- Requests ----------------------------------------------------------------

std::optional<uint32_t> Driver::free_slot() const {
    for (uint32_t slot = 0; slot < m_disk.max_requests; ++slot) {
        if (m_slots[slot].kind == Request::Kind::Free)
            return slot;
    }
    return std::nullopt;
}

bool Driver::submit(uint32_t slot, Request request, uint32_t type, uint64_t sector, uint64_t data) {
    uint8_t* meta = slot_meta(slot);
    blk::RequestHeader header{type, 0, sector};
    __builtin_memcpy(meta, &header, sizeof header);
    meta[slot_status_offset] = blk::status_unwritten;

    // Header (read by the device), data, status (written by it).
    constexpr size_t max_parts = blk::DriverLimits{}.max_segments + 1;
    virtio::Segment readable[max_parts];
    virtio::Segment writable[max_parts];
    size_t readable_count = 0;
    size_t writable_count = 0;
    readable[readable_count++] = {slot_meta_bus(slot), sizeof header};
    bool device_writes =
        request.kind == Request::Kind::Read || request.kind == Request::Kind::Identify;
    if (request.data_bytes != 0) {
        virtio::Segment* into = device_writes ? writable : readable;
        size_t& count = device_writes ? writable_count : readable_count;
        size_t pieces = blk::split_segments(data, request.data_bytes, m_disk.segment_bytes,
                                            {into + count, m_disk.max_segments});
        if (pieces == 0)
            return false; // (not reached: requests are checked against max_blocks)
        count += pieces;
    }
    writable[writable_count++] = {slot_meta_bus(slot) + slot_status_offset, 1};

    auto submitted = m_queue->submit({readable, readable_count}, {writable, writable_count}, slot);
    if (submitted.is_error()) {
        if (virtio::is_device_error(submitted.error()))
            fail("the device broke its queue", virtio::to_string(submitted.error()));
        return false;
    }
    m_slots[slot] = request;
    ++m_busy;
    ++m_submitted;
    if (m_busy > m_most_busy)
        m_most_busy = m_busy;
    auto notify = m_queue->needs_notify();
    if (notify.is_error())
        fail("the device broke its queue", virtio::to_string(notify.error()));
    if (notify.value())
        *reinterpret_cast<volatile uint16_t*>(m_notify) = 0; // queue 0
    return true;
}

void Driver::drain() {
    for (;;) {
        for (;;) {
            auto taken = m_queue->take_used();
            if (taken.is_error())
                fail("the device broke its queue", virtio::to_string(taken.error()));
            if (!taken.value())
                break;
            complete(taken.value()->token, taken.value()->length);
        }
        // Completions that came after the last look are taken now, or their
        // interrupt comes (step 4 of lib/virtio/virtqueue.h).
        auto more = m_queue->enable_interrupts(1);
        if (more.is_error())
            fail("the device broke its queue", virtio::to_string(more.error()));
        if (!more.value())
            return;
    }
}

void Driver::complete(uint32_t slot, uint32_t used_length) {
    // The token is a slot the driver gave the queue with a request in it.
    if (slot >= m_disk.max_requests || m_slots[slot].kind == Request::Kind::Free)
        fail("a completion for no request");
    Request request = m_slots[slot];
    m_slots[slot] = Request{};
    --m_busy;
    uint8_t status = *reinterpret_cast<volatile uint8_t*>(slot_meta(slot) + slot_status_offset);
    auto checked = blk::check_status(status);
    if (checked.is_ok() && request.kind == Request::Kind::Read)
        checked = blk::check_read_length(used_length, request.data_bytes);

    if (request.kind == Request::Kind::Identify) {
        // A device that cannot say is named by its kind.
        std::string_view identity;
        if (checked.is_ok())
            identity = blk::identity_of(
                std::span<const uint8_t, blk::id_bytes>(slot_data(slot), blk::id_bytes));
        if (identity.empty())
            identity = "virtio-blk";
        __builtin_memcpy(m_model, identity.data(), identity.size());
        m_model_length = identity.size();
        return;
    }
    if (checked.is_error()) {
        answer_exception(request.call_id, ExceptionType::Failed, blk::to_string(checked.error()));
        return;
    }
    capnp::MessageBuilder builder(m_reply);
    if (request.kind == Request::Kind::Read) {
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

// --- The endpoint ------------------------------------------------------------

void Driver::answer(uint32_t call_id, std::span<const capnp::Word> message, bool exception,
                    std::span<const abi::TransferDescriptor> transfers) {
    abi::Sqe sqe = capos::rt::return_sqe(m_owner, call_id, message, exception);
    if (!transfers.empty()) {
        sqe.transfer_count = uint32_t(transfers.size());
        sqe.transfer_addr = reinterpret_cast<uint64_t>(transfers.data());
    }
    int32_t result = capos::rt::ring().run(sqe).result;
    if (result >= 0 || transfers.empty())
        return; // (a caller that has gone needs no answer)
    // The capability did not go: it stays here, released, and the caller
    // hears why.
    for (const abi::TransferDescriptor& transfer : transfers)
        (void)capos::rt::release(abi::CapId{transfer.cap});
    answer_exception(call_id, ExceptionType::Overloaded, "reply capabilities refused");
}

void Driver::answer_exception(uint32_t call_id, ExceptionType type, std::string_view message) {
    gen::DispatchResult encoded = gen::encode_exception<CapException>(m_reply, {type, message});
    answer(call_id, encoded.message(), true);
}

void Driver::receive() {
    m_recv_ticket = capos::rt::ring().submit(capos::rt::recv_sqe(m_owner, m_receive));
}

void Driver::dispatch(const abi::Cqe& cqe) {
    if (cqe.result == int32_t(abi::TransportError::Disconnected)) {
        // No client is left, and none can come: stop the device's DMA.
        m_common.write<uint8_t>(virtio::common::device_status, 0);
        say(Line("every client has gone (")
                .udec(m_submitted)
                .add(" requests, at most ")
                .udec(m_most_busy)
                .add(" in flight at once); the device is reset")
                .view());
        capos::rt::exit(0);
    }
    if (cqe.result < 0)
        fail("receiving a call failed", abi::cqe_result_name(cqe.result));
    abi::RecvHeader header;
    if (cqe.result_len < sizeof header)
        fail("a call came without its header");
    __builtin_memcpy(&header, m_receive, sizeof header);
    size_t params_at = sizeof header / sizeof(capnp::Word);
    size_t records_at = sizeof header + header.params_len;
    if (header.params_len % 8 != 0 || header.cap_count > abi::max_transfers ||
        records_at + header.cap_count * sizeof(abi::CapRecord) > sizeof m_receive)
        fail("a call came larger than the receive buffer");
    // Capabilities sent with a call are none of BlockDevice's: let them go.
    for (uint32_t i = 0; i < header.cap_count; ++i) {
        abi::CapRecord record;
        __builtin_memcpy(
            &record, reinterpret_cast<const uint8_t*>(m_receive) + records_at + i * sizeof record,
            sizeof record);
        (void)capos::rt::release(abi::CapId{record.cap});
    }

#ifdef CAPOS_FAULT_AT_CALL
    // virtio_blk_faulty, a test build: it faults (an invalid opcode) while
    // it holds its CAPOS_FAULT_AT_CALL-th call, as a driver with a bug
    // would (scenario.blk_restart: init starts it again).
    static uint32_t calls = 0;
    if (++calls == CAPOS_FAULT_AT_CALL)
        __builtin_trap();
#endif
    m_call_id = header.call_id;
    m_caller = header.caller;
    m_deferred = false;
    m_reply_transfer_count = 0;
    // The kernel validated the params as it took them from the caller.
    auto params = capnp::MessageReader::validated(
        std::span<const capnp::Word>(m_receive + params_at, header.params_len / 8));
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

void Driver::arm_interrupt() {
    alignas(8) static capnp::Word empty[1];
    static std::span<const capnp::Word> params = [] {
        capnp::MessageBuilder builder(empty);
        (void)builder.init_root(0, 0);
        return builder.words();
    }();
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = m_interrupt->id().raw;
    sqe.interface_id = Interrupt::interface_id;
    sqe.method = uint16_t(Interrupt::Method::Wait);
    sqe.params_addr = reinterpret_cast<uint64_t>(params.data());
    sqe.params_len = uint32_t(params.size_bytes());
    sqe.result_addr = reinterpret_cast<uint64_t>(m_interrupt_result);
    sqe.result_len = sizeof m_interrupt_result;
    m_interrupt_ticket = capos::rt::ring().submit(sqe);
}

void Driver::interrupted(const abi::Cqe& cqe) {
    std::span<const capnp::Word> message(m_interrupt_result, cqe.result_len / 8);
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
    uint64_t count = results.count();
    // Acknowledged before the queue is looked at: an interrupt that comes
    // meanwhile stays pending, and the next wait returns at once.
    if (count > m_acknowledged) {
        if (auto acknowledged = (*m_interrupt)->acknowledge(count); acknowledged.is_error())
            call_failed("Interrupt.acknowledge", acknowledged.error());
        m_acknowledged = count;
    }
    drain();
}

void Driver::serve() {
    for (;;) {
        // Calls are taken only while a request slot is free for them.
        if (m_recv_ticket == 0 && m_busy < m_disk.max_requests)
            receive();
        if (m_interrupt_ticket == 0)
            arm_interrupt();
        uint64_t tickets[2] = {m_recv_ticket, m_interrupt_ticket};
        size_t which = 0;
        abi::Cqe cqe = capos::rt::ring().wait_any(tickets, which);
        if (which == 0) {
            m_recv_ticket = 0;
            dispatch(cqe);
        } else {
            m_interrupt_ticket = 0;
            interrupted(cqe);
        }
    }
}

// --- BlockDevice ---------------------------------------------------------------

gen::Exception invalid_argument(std::string_view message) {
    return {ExceptionType::InvalidArgument, message};
}

Result<void, gen::Exception> Driver::info(BlockDevice::InfoParams::Reader,
                                          BlockDevice::InfoResults::Builder results) {
    results.set_block_size(m_disk.block_size);
    results.set_blocks(m_disk.blocks);
    results.set_max_blocks(m_disk.max_blocks);
    results.set_read_only(m_disk.read_only);
    results.set_model({m_model, m_model_length});
    return {};
}

Result<uint64_t, gen::Exception> Driver::data_address(uint64_t lba, uint32_t count, uint32_t buffer,
                                                      uint64_t offset, uint64_t& bytes) {
    if (auto range = blk::check_range(m_disk, lba, count); range.is_error())
        return Err{invalid_argument(blk::to_string(range.error()))};
    bytes = uint64_t(count) * m_disk.block_size;
    if (buffer == 0) {
        if (offset != 0)
            return Err{invalid_argument("an offset is for a transfer buffer (buffer 0 is inline)")};
        if (bytes > BlockDevice::max_inline)
            return Err{invalid_argument(
                "more than maxInline bytes inline: use a transfer buffer (transferBuffer)")};
        return 0;
    }
    // Buffer ids are 1 to m_buffer_count; another process's is no buffer of
    // this caller's.
    if (buffer > m_buffer_count || m_buffers[buffer - 1].owner != m_caller)
        return Err{invalid_argument("no such transfer buffer (see transferBuffer)")};
    const TransferBuffer& transfer = m_buffers[buffer - 1];
    if (!blk::fits_buffer(transfer.bytes, offset, bytes))
        return Err{invalid_argument("the blocks run past the transfer buffer's end")};
    return transfer.device_address + offset;
}

Result<void, gen::Exception> Driver::read_blocks(BlockDevice::ReadBlocksParams::Reader params,
                                                 BlockDevice::ReadBlocksResults::Builder) {
    uint64_t bytes = 0;
    uint64_t address =
        TRY(data_address(params.lba(), params.count(), params.buffer(), params.offset(), bytes));
    auto slot = free_slot();
    if (!slot)
        return Err{gen::Exception{ExceptionType::Overloaded, "every request slot is in use"}};
    bool inline_data = params.buffer() == 0;
    Request request{Request::Kind::Read, m_call_id, bytes, inline_data};
    if (!submit(*slot, request, blk::request_read, blk::first_sector(m_disk, params.lba()),
                inline_data ? slot_data_bus(*slot) : address))
        return Err{gen::Exception{ExceptionType::Overloaded, "the device's queue is full"}};
    m_deferred = true;
    return {};
}

Result<void, gen::Exception> Driver::write_blocks(BlockDevice::WriteBlocksParams::Reader params,
                                                  BlockDevice::WriteBlocksResults::Builder) {
    if (m_disk.read_only)
        return Err{gen::Exception{ExceptionType::PermissionDenied, "the disk is read-only"}};
    uint64_t bytes = 0;
    uint64_t address =
        TRY(data_address(params.lba(), params.count(), params.buffer(), params.offset(), bytes));
    bool inline_data = params.buffer() == 0;
    std::span<const uint8_t> data = params.data();
    if (inline_data && data.size() != bytes)
        return Err{invalid_argument("data must hold exactly count blocks")};
    if (!inline_data && !data.empty())
        return Err{invalid_argument("data given with a transfer buffer")};
    auto slot = free_slot();
    if (!slot)
        return Err{gen::Exception{ExceptionType::Overloaded, "every request slot is in use"}};
    if (inline_data)
        __builtin_memcpy(slot_data(*slot), data.data(), data.size());
    Request request{Request::Kind::Write, m_call_id, bytes, inline_data};
    if (!submit(*slot, request, blk::request_write, blk::first_sector(m_disk, params.lba()),
                inline_data ? slot_data_bus(*slot) : address))
        return Err{gen::Exception{ExceptionType::Overloaded, "the device's queue is full"}};
    m_deferred = true;
    return {};
}

Result<void, gen::Exception> Driver::flush(BlockDevice::FlushParams::Reader,
                                           BlockDevice::FlushResults::Builder) {
    // Without FLUSH the device writes through: every write answered is on
    // its medium already.
    if (!m_disk.flush)
        return {};
    auto slot = free_slot();
    if (!slot)
        return Err{gen::Exception{ExceptionType::Overloaded, "every request slot is in use"}};
    if (!submit(*slot, Request{Request::Kind::Flush, m_call_id, 0, false}, blk::request_flush, 0,
                0))
        return Err{gen::Exception{ExceptionType::Overloaded, "the device's queue is full"}};
    m_deferred = true;
    return {};
}

Result<void, gen::Exception>
Driver::transfer_buffer(BlockDevice::TransferBufferParams::Reader params,
                        BlockDevice::TransferBufferResults::Builder results) {
    uint32_t pages = params.pages();
    if (pages == 0 || pages > max_transfer_pages)
        return Err{invalid_argument("a transfer buffer is 1 to 512 pages")};
    if (m_buffer_count == max_transfer_buffers || pages > transfer_pages_budget - m_transfer_pages)
        return Err{gen::Exception{ExceptionType::Overloaded, "no transfer buffer left to give"}};
    auto allocated = (*m_pool)->allocate(pages);
    if (allocated.is_error()) {
        if (allocated.error().kind == gen::CallErrorKind::Exception &&
            allocated.error().exception.type == ExceptionType::Overloaded)
            return Err{gen::Exception{ExceptionType::Overloaded, "out of DMA memory"}};
        call_failed("DMAPool.allocate", allocated.error());
    }
    Capability<DMABuffer> buffer(abi::CapId{allocated.value().buffer()});
    uint64_t device_address = value_or_fail(buffer->info(), "DMABuffer.info").device_address();
    uint32_t memory = value_or_fail(buffer->memory(), "DMABuffer.memory").memory();
    keep(buffer);
    m_buffers[m_buffer_count++] = {device_address, uint64_t(pages) * page_size, m_caller};
    m_transfer_pages += pages;
    results.set_memory(memory);
    results.set_buffer(m_buffer_count);
    m_reply_transfers[0] = {memory, uint8_t(abi::TransferMode::Move), {0, 0, 0}};
    m_reply_transfer_count = 1;
    return {};
}

} // namespace

int main() {
    auto device = capos::rt::lookup<Device>("device");
    if (device.is_error()) {
        say("no PCI function granted as 'device' (a manifest device grant)");
        return 1;
    }
    auto owner = capos::rt::find_capability("disk");
    if (owner.is_error()) {
        say("no endpoint granted as 'disk' to serve");
        return 1;
    }
    // In static storage: its receive buffer is larger than the stack.
    static std::optional<Driver> driver;
    driver.emplace(device.value(), owner.value().id);
    driver->start();
    driver->serve();
}
