// nvme: serves namespace 1 of one NVM Express controller over PCI (NVMe base
// specification 1.4) as a BlockDevice (schema/capos.capnp, "Storage") on the
// endpoint it is granted as "disk", holding the controller's claim as
// "device" (a manifest `device` grant, docs/devices.md "Driver authority")
// and the kernel's "timer" for the controller's ready timeout and the
// requests' timeout. The serving, the checks of every call, transfer
// buffers, inline data and timeouts are every disk driver's
// (user/drivers/common/block_server.h); this file is the device,
// over lib/nvme (registers, commands, queue pairs, PRPs, Identify).
//
// Bringing the controller up (section 7.6.1): BAR0 mapped (its registers and
// the first two queues' doorbells must not share a page with the MSI-X
// table, which the kernel leaves out of the mapping), CAP read and checked,
// the controller disabled (CC.EN 0, then CSTS.RDY 0 within CAP.TO), the
// admin queues laid out in DMA memory (AQA, ASQ, ACQ), MSI-X entry 0 routed
// for them, CC written (NVM command set, 4 KiB pages, 64- and 16-byte
// entries) and CSTS.RDY 1 awaited within CAP.TO; then, on the admin queue,
// Identify Controller (the model, serial and MDTS), Identify Namespace 1
// (its size and block size: 512 B to 4 KiB, no metadata), Number of Queues,
// and one I/O completion queue (on MSI-X entry 1 when the table has two)
// and its submission queue.
//
// A request of the server's slot s is one command on the I/O queue pair with
// token s; its data pointer is PRP1/PRP2 or, past two pages, a PRP list in
// s's own page of DMA memory (lib/nvme/prp.h). Every address the controller
// is given is the device address of a DMABuffer of the claim.
//
// Nothing the controller writes is trusted: the queue pair checks every
// completion (its queue, SQ head, command id outstanding and fetched; one
// that fails breaks the pair), a status other than success fails the call
// with a line saying which kind, and the Identify data is parsed with every
// field used checked. When a queue breaks, every call outstanding is
// answered failed, the controller is disabled and the driver exits 1 saying
// why; on any other failure the controller is disabled (CC.EN 0) before the
// driver exits (user/drivers/common/driver.h).
#include "lib/nvme/nvme.h"
#include "lib/nvme/identify.h"
#include "lib/nvme/prp.h"
#include "lib/nvme/queue.h"
#include "lib/pci/select.h"
#include "schema/capos.capnp.capos.h"
#include "user/drivers/common/block_server.h"
#include "user/drivers/common/claimed_device.h"
#include "user/drivers/common/driver.h"
#include "user/drivers/common/queue_interrupt.h"
#include "user/drivers/common/registers.h"
#include "user/drivers/common/test_build.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"

#include <optional>

namespace {

using capos::rt::Capability;
using capos::rt::Line;
using capos::schema::Device;
using capos::schema::Timer;
namespace drivers = capos::drivers;
namespace nvme = capos::nvme;
namespace pci = capos::pci;
using drivers::BlockServer;
using drivers::fail;
using drivers::Operation;
using drivers::page_size;
using drivers::Registers;

// The PCI identity of QEMU's controller, and the class of every NVMe one
// (mass storage, non-volatile memory, NVM Express).
constexpr uint16_t qemu_vendor = 0x1b36;
constexpr uint16_t qemu_nvme = 0x0010;
constexpr uint32_t nvme_class = 0x010802;

constexpr uint32_t namespace_id = 1;
// Queue sizes: the admin queue's, and the most the I/O queue pair has (less
// when CAP.MQES says so); a submission queue of 64 entries is one page.
constexpr uint32_t admin_entries = 16;
constexpr uint32_t wanted_io_entries = 64;
constexpr uint32_t admin_commands = 2;
// Requests in flight, at most (each needs a command id and an SQ slot).
constexpr uint32_t max_requests = 32;
static_assert(max_requests <= BlockServer::max_slots && max_requests < wanted_io_entries);
// The most one request moves (less when MDTS says so), and so the most
// pages one covers: a transfer that does not start on a page boundary
// touches one page more. One PRP list page holds their entries.
constexpr uint64_t max_request_bytes = 256 * 1024;
constexpr size_t max_request_pages = max_request_bytes / page_size + 1;
static_assert(max_request_pages - 1 <= page_size / nvme::prp_entry_size);
// PRP1 may start anywhere in its page, on a dword boundary (PRPs cannot
// name an odd byte): the offsets in transfer buffers the driver accepts.
constexpr uint32_t data_alignment = 4;

constexpr uint16_t admin_queue_id = 0;
constexpr uint16_t io_queue_id = 1;

// The controller's registers, once mapped: a driver that gives up disables
// the controller first, so that it stops using the queues' memory.
volatile uint32_t* g_configuration = nullptr;

class Nvme final : public drivers::BlockBackend {
public:
    Nvme(drivers::ClaimedDevice& device, Capability<Timer>& timer)
        : m_device(device), m_timer(timer) {}

    // Brings the controller up and describes namespace 1; the disk it serves.
    drivers::DiskDescription start();

    bool submit(uint32_t slot, Operation operation, uint64_t lba, uint32_t count,
                uint64_t data) override;
    void take_completions(BlockServer& server) override;
    void stop() override { disable(); }
    // The interrupt of the I/O queue (the admin queue's when they share one).
    drivers::QueueInterrupt& io_interrupt() {
        return m_io_vector == 0 ? m_admin_interrupt : m_io_interrupt;
    }
    uint64_t requests_made() const override { return m_submitted; }
    // One doorbell write for the commands submitted since the last.
    void notify() override;

private:
    // --- Bringing the controller up ------------------------------------
    void map_registers();
    // What CSTS.RDY is waited for to say after CC.EN changed.
    enum class Readiness : uint8_t { NotReady, Ready };
    void wait_for(Readiness readiness, std::string_view what);
    void disable();
    void set_up_admin_queue();
    void enable();
    // One admin command, waited for; its completion's DW0. A status other
    // than success ends the driver saying `what`.
    uint32_t admin(capos::Result<nvme::SubmissionEntry, nvme::CommandError> entry,
                   std::string_view what);
    void identify();
    void create_io_queues();

    void ring(uint16_t queue_id, nvme::Doorbell which, uint16_t value) {
        m_registers.write<uint32_t>(nvme::doorbell_offset(m_capabilities, queue_id, which), value);
    }

    drivers::ClaimedDevice& m_device;
    drivers::QueueInterrupt m_admin_interrupt;
    drivers::QueueInterrupt m_io_interrupt;
    Capability<Timer>& m_timer;
    Registers m_registers;
    nvme::Capabilities m_capabilities;
    uint16_t m_io_vector = 0;
    uint32_t m_io_entries = 0;

    drivers::DmaArea m_admin_area; // SQ page, CQ page
    drivers::DmaArea m_io_area;    // SQ page, CQ page
    drivers::DmaArea m_identify_page;
    drivers::DmaArea m_prp_lists; // a page per slot
    nvme::CommandSlot m_admin_slots[admin_commands];
    nvme::CommandSlot m_io_slots[max_requests];
    std::optional<nvme::QueuePair> m_admin;
    std::optional<nvme::QueuePair> m_io;

    nvme::ControllerIdentity m_controller;
    nvme::NamespaceIdentity m_namespace;
    uint32_t m_max_blocks = 0;
    // info's model: the controller's model (40 bytes at most), a space and
    // its serial (20).
    char m_model[40 + 1 + 20] = {};
    size_t m_model_length = 0;
    // Commands given the controller, admin ones included.
    uint64_t m_submitted = 0;
};

// --- Bringing the controller up ----------------------------------------------

void Nvme::map_registers() {
    const pci::Function& function = m_device.function();
    // The kernel leaves the MSI-X table's and pending bits' pages out of the
    // mapping: the registers (page 0) and the doorbells of the admin and
    // one I/O queue pair must lie in pages before them, or touching them
    // would fault.
    auto clear_of_msix = [&](uint64_t end) {
        uint64_t end_page = (end + page_size - 1) / page_size;
        for (pci::PageRange pages : pci::kernel_pages(function, 0, function.bars[0].size)) {
            if (!pages.empty() && pages.first < end_page)
                return false;
        }
        return true;
    };
    if (!clear_of_msix(page_size))
        fail("the controller's registers share a page with the MSI-X table");
    m_registers = Registers(m_device.map_bar(0, page_size, "BAR0 is smaller than the registers"));
    auto capabilities = nvme::parse_capabilities(m_registers.read64(nvme::reg::capabilities));
    if (capabilities.is_error())
        fail("the controller's capabilities", nvme::to_string(capabilities.error()));
    m_capabilities = capabilities.value();
    uint64_t end =
        nvme::doorbell_offset(m_capabilities, io_queue_id, nvme::Doorbell::CompletionHead) + 4;
    if (function.bars[0].size < end)
        fail("BAR0 is smaller than the doorbells");
    if (!clear_of_msix(end))
        fail("the controller's doorbells share a page with the MSI-X table");
    g_configuration =
        reinterpret_cast<volatile uint32_t*>(m_registers.base() + nvme::reg::configuration);
    drivers::set_quiesce([] { *g_configuration = 0; });
}

void Nvme::wait_for(Readiness readiness, std::string_view what) {
    bool ready = readiness == Readiness::Ready;
    // CAP.TO bounds how long the controller takes to change CSTS.RDY after
    // CC.EN changes (0 counts as one unit: 500 ms).
    uint64_t timeout_ns =
        uint64_t(m_capabilities.ready_timeout_ms ? m_capabilities.ready_timeout_ms : 500) * 1000000;
    uint64_t start = drivers::value_or_fail(m_timer->now(), "Timer.now").ns();
    for (;;) {
        auto status = nvme::parse_controller_status(m_registers.read<uint32_t>(nvme::reg::status));
        if (status.is_error())
            fail(what, nvme::to_string(status.error()));
        if (status.value().fatal && ready)
            fail(what, "the controller reports a fatal status (CSTS.CFS)");
        if (status.value().ready == ready)
            return;
        if (drivers::value_or_fail(m_timer->now(), "Timer.now").ns() - start > timeout_ns)
            fail(what, "CSTS.RDY did not follow CC.EN within CAP.TO");
    }
}

void Nvme::disable() {
    m_registers.write<uint32_t>(nvme::reg::configuration, 0);
    wait_for(Readiness::NotReady, "disabling the controller");
}

void Nvme::set_up_admin_queue() {
    // Both admin rings in one area: the SQ's page, then the CQ's.
    m_admin_area = m_device.allocate_dma(2, "the admin queue's DMA memory");
    auto* submissions = reinterpret_cast<nvme::SubmissionEntry*>(m_admin_area.memory);
    auto* completions = reinterpret_cast<nvme::CompletionEntry*>(m_admin_area.memory + page_size);
    auto queue = nvme::QueuePair::create(
        {admin_queue_id, std::span<volatile nvme::SubmissionEntry>(submissions, admin_entries),
         std::span<volatile nvme::CompletionEntry>(completions, admin_entries), m_admin_slots});
    if (queue.is_error())
        fail("the admin queue", nvme::to_string(queue.error()));
    m_admin.emplace(queue.release_value());

    auto attributes = nvme::admin_queue_attributes(admin_entries, admin_entries);
    auto submission_base = nvme::admin_queue_base(m_admin_area.device_address);
    auto completion_base = nvme::admin_queue_base(m_admin_area.device_address + page_size);
    if (attributes.is_error() || submission_base.is_error() || completion_base.is_error())
        fail("the admin queue's registers cannot hold its memory");
    m_registers.write<uint32_t>(nvme::reg::admin_queue_attributes, attributes.value());
    m_registers.write64(nvme::reg::admin_submission_queue, submission_base.value());
    m_registers.write64(nvme::reg::admin_completion_queue, completion_base.value());
}

void Nvme::enable() {
    nvme::Configuration config;
    config.enabled = true;
    config.page_shift = nvme::min_page_shift; // 4 KiB: DMABuffers are pages of it
    auto cc = nvme::encode_configuration(config, m_capabilities);
    if (cc.is_error())
        fail("the controller does not take the configuration", nvme::to_string(cc.error()));
    m_registers.write<uint32_t>(nvme::reg::configuration, cc.value());
    wait_for(Readiness::Ready, "enabling the controller");
}

uint32_t Nvme::admin(capos::Result<nvme::SubmissionEntry, nvme::CommandError> entry,
                     std::string_view what) {
    if (entry.is_error())
        fail(what, nvme::to_string(entry.error()));
    auto submitted = m_admin->submit(entry.value(), 0);
    if (submitted.is_error())
        fail(what, nvme::to_string(submitted.error()));
    ++m_submitted;
    ring(admin_queue_id, nvme::Doorbell::SubmissionTail, m_admin->submission_tail());
    // The completion is looked for before each wait: an interrupt that
    // came meanwhile is pending, and the wait returns at once.
    for (;;) {
        auto taken = m_admin->take_completion();
        if (taken.is_error())
            fail("the controller broke its admin queue", nvme::to_string(taken.error()));
        if (taken.value()) {
            ring(admin_queue_id, nvme::Doorbell::CompletionHead, m_admin->completion_head());
            if (!taken.value()->status.succeeded())
                fail(what, "the controller failed the command");
            return taken.value()->result;
        }
        m_admin_interrupt.wait();
    }
}

void Nvme::identify() {
    nvme::DataPointer page{m_identify_page.device_address, 0};
    std::span<const uint8_t> data(m_identify_page.memory, nvme::identify_data_size);
    // The controller may rewrite the page at any time: what is parsed is a
    // copy, read once.
    alignas(8) static uint8_t copy[nvme::identify_data_size];

    admin(nvme::identify_controller(page), "Identify Controller");
    __builtin_memcpy(copy, data.data(), sizeof copy);
    auto controller = nvme::parse_identify_controller(copy);
    if (controller.is_error())
        fail("Identify Controller", nvme::to_string(controller.error()));
    m_controller = controller.value();
    if (m_controller.namespace_count < namespace_id)
        fail("the controller has no namespace 1");

    admin(nvme::identify_namespace(namespace_id, page), "Identify Namespace 1");
    __builtin_memcpy(copy, data.data(), sizeof copy);
    auto identity = nvme::parse_identify_namespace(copy);
    if (identity.is_error())
        fail("Identify Namespace 1", nvme::to_string(identity.error()));
    m_namespace = identity.value();
    if (m_namespace.metadata_size != 0)
        fail("namespace 1 has metadata with its blocks (not served)");
    // A block is whole in an inline reply (BlockDevice.maxInline).
    if (m_namespace.block_size > capos::schema::BlockDevice::max_inline)
        fail("namespace 1's blocks are larger than 4096 bytes (not served)");

    uint64_t request_bytes = max_request_bytes;
    uint64_t limit =
        nvme::max_transfer_bytes(m_controller.max_transfer_shift, m_capabilities.min_page_shift);
    if (limit != 0 && limit < request_bytes)
        request_bytes = limit;
    m_max_blocks = uint32_t(request_bytes / m_namespace.block_size);
    if (m_max_blocks == 0)
        fail("the controller's MDTS is smaller than a block");

    // The model as the device names itself, then its serial.
    Line model(m_controller.model.view());
    if (!m_controller.serial.view().empty())
        model.add(' ').add(m_controller.serial.view());
    if (model.view().empty())
        model.add("nvme");
    m_model_length = model.view().size() <= sizeof m_model ? model.view().size() : 0;
    __builtin_memcpy(m_model, model.view().data(), m_model_length);
}

void Nvme::create_io_queues() {
    auto counts = nvme::parse_number_of_queues(
        admin(nvme::set_number_of_queues({1, 1}), "Set Features (Number of Queues)"));
    if (counts.is_error())
        fail("Set Features (Number of Queues)", nvme::to_string(counts.error()));

    m_io_entries = wanted_io_entries < m_capabilities.max_queue_entries
                       ? wanted_io_entries
                       : m_capabilities.max_queue_entries;
    if (m_io_entries < 2)
        fail("the controller's I/O queues are too small");
    uint32_t commands = m_io_entries - 1 < max_requests ? m_io_entries - 1 : max_requests;
    m_io_area = m_device.allocate_dma(2, "the I/O queue's DMA memory");
    auto* submissions = reinterpret_cast<nvme::SubmissionEntry*>(m_io_area.memory);
    auto* completions = reinterpret_cast<nvme::CompletionEntry*>(m_io_area.memory + page_size);
    auto queue = nvme::QueuePair::create(
        {io_queue_id,
         std::span<volatile nvme::SubmissionEntry>(submissions, m_io_entries),
         std::span<volatile nvme::CompletionEntry>(completions, m_io_entries),
         {m_io_slots, commands}});
    if (queue.is_error())
        fail("the I/O queue", nvme::to_string(queue.error()));
    m_io.emplace(queue.release_value());

    nvme::QueueLimits limits{m_capabilities.max_queue_entries, nvme::min_page_size};
    admin(
        nvme::create_io_completion_queue(
            {io_queue_id, m_io_entries, m_io_area.device_address + page_size}, m_io_vector, limits),
        "Create I/O Completion Queue");
    admin(nvme::create_io_submission_queue({io_queue_id, m_io_entries, m_io_area.device_address},
                                           io_queue_id, nvme::QueuePriority::Medium, limits),
          "Create I/O Submission Queue");
}

drivers::DiskDescription Nvme::start() {
    m_device.read_function();
    bool qemu = m_device.vendor_id() == qemu_vendor && m_device.device_id() == qemu_nvme;
    if (!qemu && m_device.class_triple() != nvme_class)
        fail("the device granted is not an NVMe controller (want class 010802 or 1b36:0010)");
    map_registers();
    disable();

    // DMA memory: the admin and I/O queues (two pages each), an Identify
    // page, a PRP list page per slot, and the server's.
    m_device.make_pool(2 + 2 + 1 + max_requests + BlockServer::dma_pages(max_requests));
    set_up_admin_queue();
    m_identify_page = m_device.allocate_dma(1, "the Identify page");
    m_prp_lists = m_device.allocate_dma(max_requests, "the PRP lists' DMA memory");

    // MSI-X entry 0 for the admin queue (routed first: the kernel enables
    // MSI-X), entry 1 for the I/O queue when there is one, else entry 0.
    m_admin_interrupt.hold(m_device.route_interrupt(0));
    if (m_device.function().msix.table_size >= 2) {
        m_io_vector = 1;
        m_io_interrupt.hold(m_device.route_interrupt(1));
    }
    enable();
    identify();
    create_io_queues();

    uint64_t blocks = m_namespace.size;
    uint64_t bytes = blocks * m_namespace.block_size;
    Line line(m_device.address());
    line.add(": ").udec(blocks).add(" blocks of ").udec(m_namespace.block_size);
    line.add(" bytes (").udec(bytes >> 20).add(" MiB), ").udec(m_max_blocks);
    line.add(" a request, ").udec(m_io->command_ids()).add(" in flight");
    line.add(", I/O queue of ").udec(m_io_entries).add(" on MSI-X entry ").udec(m_io_vector);
    line.add(m_device.dma_isolated() ? ", DMA through an IOMMU" : "");
    line.add(", model '").add(m_controller.model.view()).add('\'');
    line.add(", serial '").add(m_controller.serial.view()).add('\'');
    drivers::say(line.view());

    drivers::DiskDescription disk;
    disk.geometry.block_size = m_namespace.block_size;
    disk.geometry.blocks = blocks;
    disk.geometry.max_blocks = m_max_blocks;
    disk.geometry.data_alignment = data_alignment;
    disk.geometry.max_inline = capos::schema::BlockDevice::max_inline;
    disk.max_requests = m_io->command_ids();
    disk.read_only = false;
    disk.flush = true;
    disk.model = {m_model, m_model_length};
    return disk;
}

// --- Requests ----------------------------------------------------------------

bool Nvme::submit(uint32_t slot, Operation operation, uint64_t lba, uint32_t count, uint64_t data) {
    // (nvme_hung, a test build: test_build.h.)
    if (drivers::test_build::request_goes_nowhere())
        return true;
    capos::Result<nvme::SubmissionEntry, nvme::CommandError> entry = nvme::flush(namespace_id);
    if (operation != Operation::Flush) {
        // The data is contiguous in the device's address space (a
        // DMABuffer's): its pages follow one another from the first.
        uint64_t bytes = uint64_t(count) * m_namespace.block_size;
        uint64_t pages[max_request_pages];
        auto data_pages = nvme::contiguous_pages(data, bytes, nvme::min_page_size, pages);
        if (data_pages.is_error())
            fail("a request's data", nvme::to_string(data_pages.error()));
        nvme::PrpListPage list{
            reinterpret_cast<volatile uint64_t*>(m_prp_lists.memory + slot * page_size),
            m_prp_lists.device_address + slot * page_size};
        auto prps = nvme::build_prps(data_pages.value().first_offset, bytes,
                                     {pages, data_pages.value().count}, {&list, 1},
                                     {nvme::min_page_size, 0});
        if (prps.is_error())
            fail("a request's data pointer", nvme::to_string(prps.error()));
        nvme::BlockRange range{namespace_id, lba, count};
        entry = operation == Operation::Read ? nvme::read_blocks(range, prps.value().pointer)
                                             : nvme::write_blocks(range, prps.value().pointer);
    }
    if (entry.is_error())
        fail("a request's command", nvme::to_string(entry.error()));
    auto submitted = m_io->submit(entry.value(), slot);
    if (submitted.is_error()) {
        if (nvme::is_device_error(submitted.error()))
            fail("the controller broke its I/O queue", nvme::to_string(submitted.error()));
        return false;
    }
    ++m_submitted;
    return true;
}

void Nvme::notify() {
    ring(io_queue_id, nvme::Doorbell::SubmissionTail, m_io->submission_tail());
}

// What a completion's status says, for the failed call.
const char* status_text(const nvme::CommandStatus& status) {
    switch (nvme::StatusType(status.type)) {
    case nvme::StatusType::Generic:
        return "the controller failed the command (a generic status)";
    case nvme::StatusType::CommandSpecific:
        return "the controller failed the command (a command-specific status)";
    case nvme::StatusType::MediaError:
        return "the controller reported a media or data integrity error";
    case nvme::StatusType::PathRelated:
        return "the controller reported a path error";
    case nvme::StatusType::VendorSpecific:
        return "the controller failed the command (a vendor-specific status)";
    }
    return "the controller failed the command (a reserved status type)";
}

void Nvme::take_completions(BlockServer& server) {
    bool taken_any = false;
    for (;;) {
        auto taken = m_io->take_completion();
        if (taken.is_error()) {
            // The queue cannot be trusted for anything more: every call it
            // holds is answered, and the driver ends.
            server.fail_outstanding(capos::schema::ExceptionType::Failed,
                                    "the controller broke its I/O queue");
            fail("the controller broke its I/O queue", nvme::to_string(taken.error()));
        }
        if (!taken.value())
            break;
        taken_any = true;
        const nvme::Completion& completion = *taken.value();
        // The token is a slot submit() was given (the queue pair checked
        // that its command id is outstanding).
        server.complete(uint32_t(completion.token),
                        completion.status.succeeded() ? nullptr : status_text(completion.status));
    }
    if (taken_any)
        ring(io_queue_id, nvme::Doorbell::CompletionHead, m_io->completion_head());
}

} // namespace

int main() {
    drivers::set_driver_name("nvme");
    // In static storage: the server's receive buffer is larger than the stack.
    static drivers::DiskGrants grants = drivers::take_disk_grants();
    static drivers::ClaimedDevice claimed(grants.device);
    static Nvme backend(claimed, grants.timer);
    static BlockServer server(claimed, grants.disk, backend, grants.timer.id(),
                              drivers::test_build::request_timeout_ns);
    drivers::DiskDescription disk = backend.start();
    server.start(disk, backend.io_interrupt());
    server.serve();
}
