// lib/nvme: register values, command encodings, the queue pair against a
// simulated controller (honest and hostile), PRP construction against a
// device-side walk of the lists, and the Identify parsers against
// hand-built data structures.
#include "lib/nvme/identify.h"
#include "lib/nvme/nvme.h"
#include "lib/nvme/prp.h"
#include "lib/nvme/queue.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace capos::nvme;

// --- Registers ------------------------------------------------------------------

uint64_t make_cap(uint64_t mqes, uint64_t cqr, uint64_t ams, uint64_t to, uint64_t dstrd,
                  uint64_t nssrs, uint64_t css, uint64_t mpsmin, uint64_t mpsmax) {
    return mqes | cqr << 16 | ams << 17 | to << 24 | dstrd << 32 | nssrs << 36 | css << 37 |
           mpsmin << 48 | mpsmax << 52;
}

TEST(NvmeRegisters, CapabilitiesDecode) {
    auto cap = parse_capabilities(make_cap(0x3ff, 1, 1, 0x28, 2, 1, 1, 0, 4));
    ASSERT_TRUE(cap.is_ok());
    EXPECT_EQ(cap.value().max_queue_entries, 1024u);
    EXPECT_TRUE(cap.value().contiguous_queues_required);
    EXPECT_TRUE(cap.value().weighted_round_robin);
    EXPECT_FALSE(cap.value().vendor_arbitration);
    EXPECT_EQ(cap.value().ready_timeout_ms, 0x28u * 500);
    EXPECT_EQ(cap.value().doorbell_stride_shift, 2);
    EXPECT_TRUE(cap.value().subsystem_reset);
    EXPECT_EQ(cap.value().command_sets, command_set_nvm);
    EXPECT_EQ(cap.value().min_page_shift, 12);
    EXPECT_EQ(cap.value().max_page_shift, 16);

    auto widest = parse_capabilities(make_cap(0xffff, 0, 2, 0xff, 15, 0, 0xc1, 15, 15));
    ASSERT_TRUE(widest.is_ok());
    EXPECT_EQ(widest.value().max_queue_entries, 65536u);
    EXPECT_TRUE(widest.value().vendor_arbitration);
    EXPECT_EQ(widest.value().ready_timeout_ms, 255u * 500);
    EXPECT_EQ(widest.value().min_page_shift, 27);
}

TEST(NvmeRegisters, CapabilitiesRejectImpossibleValues) {
    EXPECT_EQ(parse_capabilities(~uint64_t(0)).error(), RegisterError::DeviceGone);
    EXPECT_EQ(parse_capabilities(make_cap(0, 0, 0, 1, 0, 0, 1, 0, 0)).error(),
              RegisterError::QueueEntries);
    EXPECT_EQ(parse_capabilities(make_cap(1, 0, 0, 1, 0, 0, 1, 3, 2)).error(),
              RegisterError::PageSize);
    EXPECT_EQ(parse_capabilities(make_cap(1, 0, 0, 1, 0, 0, 0, 0, 0)).error(),
              RegisterError::CommandSet);
    // Only reserved CSS bits.
    EXPECT_EQ(parse_capabilities(make_cap(1, 0, 0, 1, 0, 0, 0x3e, 0, 0)).error(),
              RegisterError::CommandSet);
}

Capabilities test_caps() {
    return parse_capabilities(make_cap(0xff, 1, 0, 20, 0, 0, 1, 0, 2)).value();
}

TEST(NvmeRegisters, ConfigurationEncodesAndDecodes) {
    Configuration config;
    config.enabled = true;
    auto cc = encode_configuration(config, test_caps());
    ASSERT_TRUE(cc.is_ok());
    EXPECT_EQ(cc.value(), 0x00460001u); // IOCQES 4, IOSQES 6, EN
    config.page_shift = 13;
    config.shutdown = ShutdownNotification::Normal;
    cc = encode_configuration(config, test_caps());
    ASSERT_TRUE(cc.is_ok());
    EXPECT_EQ(cc.value(), 0x00464081u);
    auto decoded = decode_configuration(cc.value());
    ASSERT_TRUE(decoded.is_ok());
    EXPECT_TRUE(decoded.value().enabled);
    EXPECT_EQ(decoded.value().page_shift, 13);
    EXPECT_EQ(decoded.value().shutdown, ShutdownNotification::Normal);
    EXPECT_EQ(decoded.value().command_set, CommandSetSelection::Nvm);
    EXPECT_EQ(decoded.value().submission_entry_shift, 6);
    EXPECT_EQ(decoded.value().completion_entry_shift, 4);

    // Entry sizes not set yet (before Identify) are allowed.
    Configuration early;
    early.submission_entry_shift = 0;
    early.completion_entry_shift = 0;
    EXPECT_EQ(encode_configuration(early, test_caps()).value(), 0u);
}

TEST(NvmeRegisters, ConfigurationRefusesWhatTheControllerDoesNotOffer) {
    Capabilities cap = test_caps();
    Configuration config;
    config.page_shift = 11;
    EXPECT_EQ(encode_configuration(config, cap).error(), RegisterError::PageSize);
    config.page_shift = 15; // MPSMAX 2: 16 KiB
    EXPECT_EQ(encode_configuration(config, cap).error(), RegisterError::PageSize);
    config = Configuration{};
    config.arbitration = Arbitration::WeightedRoundRobin;
    EXPECT_EQ(encode_configuration(config, cap).error(), RegisterError::Reserved);
    config = Configuration{};
    config.command_set = CommandSetSelection::AdminOnly;
    EXPECT_EQ(encode_configuration(config, cap).error(), RegisterError::CommandSet);
    config = Configuration{};
    config.submission_entry_shift = 7;
    EXPECT_EQ(encode_configuration(config, cap).error(), RegisterError::EntrySize);
    config = Configuration{};
    config.completion_entry_shift = 5;
    EXPECT_EQ(encode_configuration(config, cap).error(), RegisterError::EntrySize);

    EXPECT_EQ(decode_configuration(1u << 4).error(), RegisterError::Reserved);  // CSS 1
    EXPECT_EQ(decode_configuration(2u << 11).error(), RegisterError::Reserved); // AMS 2
    EXPECT_EQ(decode_configuration(3u << 14).error(), RegisterError::Reserved); // SHN 3
    EXPECT_EQ(decode_configuration(~0u).error(), RegisterError::DeviceGone);
}

TEST(NvmeRegisters, ControllerStatus) {
    auto status = parse_controller_status(0x1 | 0x2 | (2u << 2) | 0x20);
    ASSERT_TRUE(status.is_ok());
    EXPECT_TRUE(status.value().ready);
    EXPECT_TRUE(status.value().fatal);
    EXPECT_EQ(status.value().shutdown, ShutdownStatus::Complete);
    EXPECT_FALSE(status.value().subsystem_reset_occurred);
    EXPECT_TRUE(status.value().processing_paused);
    EXPECT_EQ(parse_controller_status(~0u).error(), RegisterError::DeviceGone);
    EXPECT_EQ(parse_controller_status(3u << 2).error(), RegisterError::Reserved);
}

TEST(NvmeRegisters, AdminQueues) {
    EXPECT_EQ(admin_queue_attributes(32, 64).value(), 0x003f001fu);
    EXPECT_EQ(admin_queue_attributes(4096, 2).value(), 0x00010fffu);
    EXPECT_EQ(admin_queue_attributes(1, 64).error(), RegisterError::QueueEntries);
    EXPECT_EQ(admin_queue_attributes(32, 4097).error(), RegisterError::QueueEntries);
    EXPECT_EQ(admin_queue_base(0x12345000).value(), 0x12345000u);
    EXPECT_EQ(admin_queue_base(0x12345800).error(), RegisterError::Misaligned);
    EXPECT_EQ(admin_queue_base(0x12345004).error(), RegisterError::Misaligned);
}

TEST(NvmeRegisters, DoorbellsFollowTheStride) {
    Capabilities cap = test_caps();
    EXPECT_EQ(doorbell_offset(cap, 0, Doorbell::SubmissionTail), 0x1000u);
    EXPECT_EQ(doorbell_offset(cap, 0, Doorbell::CompletionHead), 0x1004u);
    EXPECT_EQ(doorbell_offset(cap, 1, Doorbell::SubmissionTail), 0x1008u);
    EXPECT_EQ(doorbell_offset(cap, 1, Doorbell::CompletionHead), 0x100cu);
    cap.doorbell_stride_shift = 2; // 16 bytes
    EXPECT_EQ(doorbell_offset(cap, 3, Doorbell::CompletionHead), 0x1000u + 7 * 16);
    cap.doorbell_stride_shift = 15;
    EXPECT_EQ(doorbell_offset(cap, 65535, Doorbell::CompletionHead),
              0x1000u + uint64_t(131071) * (uint64_t(4) << 15));
}

TEST(NvmeRegisters, Version) {
    Version v = parse_version(0x00010400);
    EXPECT_EQ(v.major, 1);
    EXPECT_EQ(v.minor, 4);
    EXPECT_EQ(v.tertiary, 0);
    EXPECT_EQ(version_value(2, 0, 1), 0x00020001u);
}

// --- Commands -------------------------------------------------------------------

constexpr DataPointer buffer{0x7000, 0};

TEST(NvmeCommands, Identify) {
    auto controller = identify_controller(DataPointer{0x7000, 0x8000});
    ASSERT_TRUE(controller.is_ok());
    const SubmissionEntry& c = controller.value();
    EXPECT_EQ(c.opcode(), 0x06);
    EXPECT_EQ(c.fuse(), 0);
    EXPECT_EQ(c.data_transfer_kind(), 0);
    EXPECT_EQ(c.namespace_id(), 0u);
    EXPECT_EQ(c.prp1(), 0x7000u);
    EXPECT_EQ(c.prp2(), 0x8000u);
    EXPECT_EQ(c.command_dword(10), 1u);

    auto ns = identify_namespace(5, buffer);
    ASSERT_TRUE(ns.is_ok());
    EXPECT_EQ(ns.value().namespace_id(), 5u);
    EXPECT_EQ(ns.value().command_dword(10), 0u);
    EXPECT_EQ(identify_namespace(0, buffer).error(), CommandError::NamespaceId);
    EXPECT_EQ(identify_namespace(broadcast_namespace, buffer).error(), CommandError::NamespaceId);

    auto list = identify_active_namespaces(7, buffer);
    ASSERT_TRUE(list.is_ok());
    EXPECT_EQ(list.value().namespace_id(), 7u);
    EXPECT_EQ(list.value().command_dword(10), 2u);
    EXPECT_EQ(identify_active_namespaces(0xfffffffe, buffer).error(), CommandError::NamespaceId);

    EXPECT_EQ(identify_controller(DataPointer{0, 0}).error(), CommandError::DataPointer);
    EXPECT_EQ(identify_controller(DataPointer{0x7002, 0}).error(), CommandError::DataPointer);
    EXPECT_EQ(identify_controller(DataPointer{0x7000, 0x8001}).error(), CommandError::DataPointer);
}

TEST(NvmeCommands, CreateAndDeleteQueues) {
    QueueLimits limits{256, 4096};
    auto cq = create_io_completion_queue(IoQueue{3, 64, 0x20000}, uint16_t(5), limits);
    ASSERT_TRUE(cq.is_ok());
    EXPECT_EQ(cq.value().opcode(), 0x05);
    EXPECT_EQ(cq.value().prp1(), 0x20000u);
    EXPECT_EQ(cq.value().command_dword(10), (63u << 16) | 3);
    EXPECT_EQ(cq.value().command_dword(11), (5u << 16) | 2 | 1);
    auto polled = create_io_completion_queue(IoQueue{3, 64, 0x20000}, std::nullopt, limits);
    EXPECT_EQ(polled.value().command_dword(11), 1u);

    auto sq = create_io_submission_queue(IoQueue{3, 256, 0x30000}, 3, QueuePriority::Low, limits);
    ASSERT_TRUE(sq.is_ok());
    EXPECT_EQ(sq.value().opcode(), 0x01);
    EXPECT_EQ(sq.value().prp1(), 0x30000u);
    EXPECT_EQ(sq.value().command_dword(10), (255u << 16) | 3);
    EXPECT_EQ(sq.value().command_dword(11), (3u << 16) | (3u << 1) | 1);

    EXPECT_EQ(create_io_completion_queue(IoQueue{0, 64, 0x20000}, std::nullopt, limits).error(),
              CommandError::QueueId);
    EXPECT_EQ(create_io_completion_queue(IoQueue{1, 1, 0x20000}, std::nullopt, limits).error(),
              CommandError::QueueEntries);
    EXPECT_EQ(create_io_completion_queue(IoQueue{1, 257, 0x20000}, std::nullopt, limits).error(),
              CommandError::QueueEntries);
    EXPECT_EQ(create_io_completion_queue(IoQueue{1, 64, 0x20800}, std::nullopt, limits).error(),
              CommandError::QueueAlignment);
    EXPECT_EQ(
        create_io_completion_queue(IoQueue{1, 64, 0x21000}, std::nullopt, QueueLimits{256, 8192})
            .error(),
        CommandError::QueueAlignment);
    EXPECT_EQ(create_io_completion_queue(IoQueue{1, 64, 0}, std::nullopt, limits).error(),
              CommandError::QueueAlignment);
    EXPECT_EQ(
        create_io_submission_queue(IoQueue{1, 64, 0x30000}, 0, QueuePriority::Low, limits).error(),
        CommandError::QueueId);
    // MQES above 64 Ki is still capped at 64 Ki entries.
    EXPECT_EQ(create_io_completion_queue(IoQueue{1, 65537, 0x20000}, std::nullopt,
                                         QueueLimits{70000, 4096})
                  .error(),
              CommandError::QueueEntries);

    auto dsq = delete_io_submission_queue(9);
    EXPECT_EQ(dsq.value().opcode(), 0x00);
    EXPECT_EQ(dsq.value().command_dword(10), 9u);
    auto dcq = delete_io_completion_queue(9);
    EXPECT_EQ(dcq.value().opcode(), 0x04);
    EXPECT_EQ(dcq.value().command_dword(10), 9u);
    EXPECT_EQ(delete_io_submission_queue(0).error(), CommandError::QueueId);
    EXPECT_EQ(delete_io_completion_queue(0).error(), CommandError::QueueId);
}

TEST(NvmeCommands, NumberOfQueues) {
    auto set = set_number_of_queues(QueueCounts{4, 2});
    ASSERT_TRUE(set.is_ok());
    EXPECT_EQ(set.value().opcode(), 0x09);
    EXPECT_EQ(set.value().command_dword(10), 0x07u);
    EXPECT_EQ(set.value().command_dword(11), (1u << 16) | 3);
    EXPECT_EQ(set_number_of_queues(QueueCounts{0, 1}).error(), CommandError::QueueCount);
    EXPECT_EQ(set_number_of_queues(QueueCounts{1, 65536}).error(), CommandError::QueueCount);
    EXPECT_EQ(set_number_of_queues(QueueCounts{65535, 65535}).value().command_dword(11),
              0xfffefffeu);

    auto granted = parse_number_of_queues(0x00030007);
    ASSERT_TRUE(granted.is_ok());
    EXPECT_EQ(granted.value().submission_queues, 8u);
    EXPECT_EQ(granted.value().completion_queues, 4u);
    EXPECT_EQ(parse_number_of_queues(0xffff0000).error(), CommandError::QueueCount);
    EXPECT_EQ(parse_number_of_queues(0x0000ffff).error(), CommandError::QueueCount);
}

TEST(NvmeCommands, ReadWriteFlush) {
    auto read = read_blocks(BlockRange{1, 0x123456789a, 8}, DataPointer{0x7010, 0x9000});
    ASSERT_TRUE(read.is_ok());
    EXPECT_EQ(read.value().opcode(), 0x02);
    EXPECT_EQ(read.value().namespace_id(), 1u);
    EXPECT_EQ(read.value().command_dword(10), 0x3456789au);
    EXPECT_EQ(read.value().command_dword(11), 0x12u);
    EXPECT_EQ(read.value().command_dword(12), 7u);
    EXPECT_EQ(read.value().prp1(), 0x7010u);
    EXPECT_EQ(read.value().prp2(), 0x9000u);
    auto write = write_blocks(BlockRange{2, 0, 65536}, buffer);
    ASSERT_TRUE(write.is_ok());
    EXPECT_EQ(write.value().opcode(), 0x01);
    EXPECT_EQ(write.value().command_dword(12), 0xffffu);
    auto last = read_blocks(BlockRange{1, ~uint64_t(0), 1}, buffer);
    EXPECT_TRUE(last.is_ok());

    EXPECT_EQ(read_blocks(BlockRange{0, 0, 1}, buffer).error(), CommandError::NamespaceId);
    EXPECT_EQ(read_blocks(BlockRange{broadcast_namespace, 0, 1}, buffer).error(),
              CommandError::NamespaceId);
    EXPECT_EQ(read_blocks(BlockRange{1, 0, 0}, buffer).error(), CommandError::BlockCount);
    EXPECT_EQ(write_blocks(BlockRange{1, 0, 65537}, buffer).error(), CommandError::BlockCount);
    EXPECT_EQ(write_blocks(BlockRange{1, ~uint64_t(0), 2}, buffer).error(),
              CommandError::BlockRange);
    EXPECT_EQ(write_blocks(BlockRange{1, 0, 1}, DataPointer{}).error(), CommandError::DataPointer);

    auto all = flush(broadcast_namespace);
    ASSERT_TRUE(all.is_ok());
    EXPECT_EQ(all.value().opcode(), 0x00);
    EXPECT_EQ(all.value().namespace_id(), broadcast_namespace);
    EXPECT_EQ(all.value().prp1(), 0u);
    EXPECT_EQ(flush(0).error(), CommandError::NamespaceId);
}

TEST(NvmeCommands, StatusField) {
    // SC 81h, SCT 1, CRD 2, More, DNR; phase and command id ignored.
    uint32_t dw3 = 0x81u << 17 | 1u << 25 | 2u << 28 | 1u << 30 | 1u << 31 | 1u << 16 | 0x1234;
    CommandStatus status = parse_command_status(dw3);
    EXPECT_EQ(status.code, 0x81);
    EXPECT_EQ(status.type, 1);
    EXPECT_EQ(status.retry_delay, 2);
    EXPECT_TRUE(status.more);
    EXPECT_TRUE(status.do_not_retry);
    EXPECT_FALSE(status.succeeded());
    EXPECT_TRUE(parse_command_status(1u << 16 | 0xffff).succeeded());
}

// --- Queue pair against a simulated controller ------------------------------------

uint32_t status_bits(uint8_t type, uint8_t code, bool more = false, bool dnr = false) {
    return uint32_t(code) << 17 | uint32_t(type & 7) << 25 | uint32_t(more) << 30 |
           uint32_t(dnr) << 31;
}

// The rings and the command table in one place, and a controller that
// fetches from the SQ up to the doorbell and posts completions with the phase
// tag, never past the CQ head the driver last wrote.
struct Harness {
    std::vector<SubmissionEntry> sq;
    std::vector<CompletionEntry> cq;
    std::vector<CommandSlot> slots;
    uint16_t queue_id;

    // The device's state.
    uint32_t device_sq_head = 0;
    uint32_t device_cq_tail = 0;
    uint32_t device_phase = 1;
    uint32_t cq_head_doorbell = 0;
    std::vector<SubmissionEntry> fetched; // fetched, not completed yet

    Harness(size_t sq_entries, size_t cq_entries, size_t ids, uint16_t qid = 1)
        : sq(sq_entries), cq(cq_entries), slots(ids), queue_id(qid) {}

    QueuePair::Memory memory() {
        return QueuePair::Memory{queue_id,
                                 std::span<volatile SubmissionEntry>(sq.data(), sq.size()),
                                 std::span<volatile CompletionEntry>(cq.data(), cq.size()),
                                 std::span<CommandSlot>(slots.data(), slots.size())};
    }
    QueuePair make() {
        auto created = QueuePair::create(memory());
        EXPECT_TRUE(created.is_ok());
        return created.value();
    }

    // Fetches up to `most` entries up to the SQ tail doorbell.
    size_t fetch(uint16_t tail_doorbell, size_t most = SIZE_MAX) {
        size_t taken = 0;
        while (device_sq_head != tail_doorbell && taken < most) {
            fetched.push_back(sq[device_sq_head]);
            device_sq_head = (device_sq_head + 1) % sq.size();
            ++taken;
        }
        return taken;
    }
    bool cq_full() const { return (device_cq_tail + 1) % cq.size() == cq_head_doorbell; }
    // Writes a raw entry at the CQ tail with the current phase.
    void post_raw(uint32_t dw0, uint32_t dw2, uint32_t dw3_without_phase) {
        CompletionEntry& entry = cq[device_cq_tail];
        entry.dwords[0] = dw0;
        entry.dwords[1] = 0;
        entry.dwords[2] = dw2;
        entry.dwords[3] = (dw3_without_phase & ~(1u << 16)) | device_phase << 16;
        device_cq_tail = (device_cq_tail + 1) % cq.size();
        if (device_cq_tail == 0)
            device_phase ^= 1;
    }
    // Completes fetched command `index`, honestly.
    bool complete(size_t index, uint32_t dw0 = 0, uint32_t status = 0) {
        if (cq_full())
            return false;
        uint16_t id = fetched[index].command_id();
        fetched.erase(fetched.begin() + long(index));
        post_raw(dw0, device_sq_head | uint32_t(queue_id) << 16, status | id);
        return true;
    }
};

SubmissionEntry some_command(uint32_t tag) {
    SubmissionEntry entry = flush(1).value();
    entry.dwords[15] = tag; // lets the device side tell commands apart
    return entry;
}

TEST(NvmeQueue, CreateChecksMemory) {
    Harness small(1, 4, 4);
    EXPECT_EQ(QueuePair::create(small.memory()).error(), QueueError::Memory);
    Harness small_cq(4, 1, 4);
    EXPECT_EQ(QueuePair::create(small_cq.memory()).error(), QueueError::Memory);
    Harness no_ids(4, 4, 0);
    EXPECT_EQ(QueuePair::create(no_ids.memory()).error(), QueueError::Memory);
    Harness too_many_ids(4, 4, 65536);
    EXPECT_EQ(QueuePair::create(too_many_ids.memory()).error(), QueueError::Memory);
    Harness huge(4, 65537, 4);
    EXPECT_EQ(QueuePair::create(huge.memory()).error(), QueueError::Memory);
    Harness largest(65536, 65536, 65535);
    EXPECT_TRUE(QueuePair::create(largest.memory()).is_ok());
}

TEST(NvmeQueue, CreateClearsTheRings) {
    Harness h(4, 4, 3);
    for (auto& entry : h.cq)
        std::fill(std::begin(entry.dwords), std::end(entry.dwords), 0xffffffffu);
    for (auto& entry : h.sq)
        std::fill(std::begin(entry.dwords), std::end(entry.dwords), 0xa5a5a5a5u);
    QueuePair q = h.make();
    for (auto& entry : h.cq)
        for (uint32_t dword : entry.dwords)
            EXPECT_EQ(dword, 0u);
    for (auto& entry : h.sq)
        for (uint32_t dword : entry.dwords)
            EXPECT_EQ(dword, 0u);
    EXPECT_EQ(q.expected_phase(), 1);
    // Nothing posted: the zeroed entry has the old phase.
    auto none = q.take_completion();
    ASSERT_TRUE(none.is_ok());
    EXPECT_FALSE(none.value().has_value());
    EXPECT_FALSE(q.broken());
}

TEST(NvmeQueue, SubmitWritesTheEntryWithItsId) {
    Harness h(8, 8, 7, 2);
    QueuePair q = h.make();
    auto id = q.submit(some_command(11), 1000);
    ASSERT_TRUE(id.is_ok());
    EXPECT_EQ(q.submission_tail(), 1);
    EXPECT_EQ(h.sq[0].command_id(), id.value());
    EXPECT_EQ(h.sq[0].opcode(), 0x00);
    EXPECT_EQ(h.sq[0].dwords[15], 11u);
    EXPECT_EQ(q.outstanding(), 1u);
    auto second = q.submit(some_command(12), 1001);
    ASSERT_TRUE(second.is_ok());
    EXPECT_NE(second.value(), id.value());
    EXPECT_EQ(h.sq[1].command_id(), second.value());

    h.fetch(q.submission_tail());
    ASSERT_TRUE(h.complete(0, 0xdeadbeef, status_bits(0, 0)));
    auto done = q.take_completion();
    ASSERT_TRUE(done.is_ok());
    ASSERT_TRUE(done.value().has_value());
    EXPECT_EQ(done.value()->token, 1000u);
    EXPECT_EQ(done.value()->command_id, id.value());
    EXPECT_EQ(done.value()->result, 0xdeadbeefu);
    EXPECT_TRUE(done.value()->status.succeeded());
    EXPECT_EQ(done.value()->completion_head, 1);
    EXPECT_EQ(q.completion_head(), 1);
    EXPECT_EQ(q.submission_head(), 2);
    EXPECT_EQ(q.outstanding(), 1u);
}

TEST(NvmeQueue, FullWhenTheSubmissionQueueIsFull) {
    Harness h(4, 8, 8);
    QueuePair q = h.make();
    for (uint32_t i = 0; i < 3; ++i)
        ASSERT_TRUE(q.submit(some_command(i), i).is_ok());
    EXPECT_EQ(q.free_submission_slots(), 0u);
    EXPECT_EQ(q.submit(some_command(3), 3).error(), QueueError::Full);
    EXPECT_EQ(q.submission_tail(), 3);
    EXPECT_EQ(q.outstanding(), 3u);
    EXPECT_FALSE(q.broken());
    // The controller fetches one and reports its head in a completion: one
    // slot frees (the command's id too).
    h.fetch(q.submission_tail(), 1);
    ASSERT_TRUE(h.complete(0));
    auto done = q.take_completion();
    ASSERT_TRUE(done.is_ok() && done.value().has_value());
    EXPECT_EQ(q.free_submission_slots(), 1u);
    EXPECT_TRUE(q.submit(some_command(4), 4).is_ok());
    EXPECT_EQ(q.submit(some_command(5), 5).error(), QueueError::Full);
}

TEST(NvmeQueue, FullWhenEveryIdIsInFlightAndIdsAreReused) {
    Harness h(16, 16, 2);
    QueuePair q = h.make();
    auto a = q.submit(some_command(0), 10);
    auto b = q.submit(some_command(1), 11);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    EXPECT_EQ(q.submit(some_command(2), 12).error(), QueueError::Full);
    h.fetch(q.submission_tail());
    // SQ head moved past both; ids are still taken until completion.
    ASSERT_TRUE(h.complete(1)); // b
    auto done = q.take_completion();
    ASSERT_TRUE(done.is_ok() && done.value().has_value());
    EXPECT_EQ(done.value()->token, 11u);
    auto c = q.submit(some_command(3), 13);
    ASSERT_TRUE(c.is_ok());
    EXPECT_EQ(c.value(), b.value()); // the freed id, reused
    EXPECT_EQ(q.submit(some_command(4), 14).error(), QueueError::Full);
}

TEST(NvmeQueue, PhaseTagWrapsManyTimes) {
    Harness h(4, 3, 3);
    QueuePair q = h.make();
    uint64_t next_token = 1;
    for (int round = 0; round < 200; ++round) {
        uint64_t token = next_token++;
        auto id = q.submit(some_command(uint32_t(round)), token);
        ASSERT_TRUE(id.is_ok()) << round;
        ASSERT_EQ(h.fetch(q.submission_tail()), 1u);
        ASSERT_TRUE(h.complete(0, uint32_t(round), 0));
        auto done = q.take_completion();
        ASSERT_TRUE(done.is_ok()) << round;
        ASSERT_TRUE(done.value().has_value()) << round;
        EXPECT_EQ(done.value()->token, token);
        EXPECT_EQ(done.value()->result, uint32_t(round));
        EXPECT_EQ(done.value()->completion_head, (round + 1) % 3);
        EXPECT_EQ(q.expected_phase(), ((round + 1) / 3) % 2 == 0 ? 1 : 0) << round;
        h.cq_head_doorbell = q.completion_head();
        auto none = q.take_completion();
        ASSERT_TRUE(none.is_ok());
        EXPECT_FALSE(none.value().has_value()) << round;
    }
    EXPECT_EQ(q.outstanding(), 0u);
}

TEST(NvmeQueue, OutOfOrderCompletions) {
    Harness h(8, 8, 7);
    QueuePair q = h.make();
    std::map<uint16_t, uint64_t> token_of;
    for (uint32_t i = 0; i < 5; ++i) {
        auto id = q.submit(some_command(i), 500 + i);
        ASSERT_TRUE(id.is_ok());
        token_of[id.value()] = 500 + i;
    }
    h.fetch(q.submission_tail());
    // Complete the commands with tags 3, 0, 4, 1, 2.
    for (uint32_t tag : {3u, 0u, 4u, 1u, 2u}) {
        size_t index = 0;
        while (h.fetched[index].dwords[15] != tag)
            ++index;
        uint16_t id = h.fetched[index].command_id();
        ASSERT_TRUE(h.complete(index, tag));
        auto done = q.take_completion();
        ASSERT_TRUE(done.is_ok() && done.value().has_value());
        EXPECT_EQ(done.value()->command_id, id);
        EXPECT_EQ(done.value()->token, token_of[id]);
        EXPECT_EQ(done.value()->token, 500u + tag);
        h.cq_head_doorbell = q.completion_head();
    }
    EXPECT_EQ(q.outstanding(), 0u);
}

TEST(NvmeQueue, StatusAndResultArePassedOn) {
    Harness h(4, 4, 3);
    QueuePair q = h.make();
    ASSERT_TRUE(q.submit(some_command(0), 77).is_ok());
    h.fetch(q.submission_tail());
    ASSERT_TRUE(h.complete(0, 0x00030007, status_bits(2, 0x81, true, true)));
    auto done = q.take_completion();
    ASSERT_TRUE(done.is_ok() && done.value().has_value());
    EXPECT_EQ(done.value()->token, 77u);
    EXPECT_EQ(done.value()->result, 0x00030007u);
    EXPECT_EQ(done.value()->status.type, 2);
    EXPECT_EQ(done.value()->status.code, 0x81);
    EXPECT_TRUE(done.value()->status.more);
    EXPECT_TRUE(done.value()->status.do_not_retry);
    EXPECT_FALSE(done.value()->status.succeeded());
}

// --- A hostile controller ---

// Submits `count` commands (tokens 100, 101, ...) and lets the device fetch
// them all.
QueuePair primed(Harness& h, uint32_t count) {
    QueuePair q = h.make();
    for (uint32_t i = 0; i < count; ++i)
        EXPECT_TRUE(q.submit(some_command(i), 100 + i).is_ok());
    h.fetch(q.submission_tail());
    return q;
}

void expect_broken(QueuePair& q, QueueError first, uint32_t outstanding_before,
                   uint16_t head_before) {
    auto bad = q.take_completion();
    ASSERT_TRUE(bad.is_error());
    EXPECT_EQ(bad.error(), first);
    EXPECT_TRUE(is_device_error(first));
    EXPECT_TRUE(q.broken());
    EXPECT_EQ(q.outstanding(), outstanding_before); // nothing freed
    EXPECT_EQ(q.completion_head(), head_before);    // not consumed
    EXPECT_EQ(q.take_completion().error(), QueueError::Broken);
    EXPECT_EQ(q.submit(some_command(99), 99).error(), QueueError::Broken);
    EXPECT_EQ(q.outstanding(), outstanding_before);
}

TEST(NvmeQueueHostile, CompletionForAnotherQueue) {
    Harness h(8, 8, 7, 3);
    QueuePair q = primed(h, 2);
    uint16_t id = h.fetched[0].command_id();
    h.post_raw(0, h.device_sq_head | 4u << 16, id);
    expect_broken(q, QueueError::WrongQueue, 2, 0);
}

TEST(NvmeQueueHostile, CommandIdOutOfRange) {
    Harness h(8, 8, 7);
    QueuePair q = primed(h, 2);
    h.post_raw(0, h.device_sq_head | 1u << 16, 7);
    expect_broken(q, QueueError::CommandIdOutOfRange, 2, 0);
    Harness h2(8, 8, 7);
    QueuePair q2 = primed(h2, 2);
    h2.post_raw(0, h2.device_sq_head | 1u << 16, 0xffff);
    expect_broken(q2, QueueError::CommandIdOutOfRange, 2, 0);
}

TEST(NvmeQueueHostile, CommandIdNotOutstanding) {
    Harness h(8, 8, 7);
    QueuePair q = primed(h, 2);
    // Ids 0 and 1 are in flight; 5 is in range but free.
    h.post_raw(0, h.device_sq_head | 1u << 16, 5);
    expect_broken(q, QueueError::NotOutstanding, 2, 0);
}

TEST(NvmeQueueHostile, CompletedTwiceIsNotFreedTwice) {
    Harness h(8, 8, 7);
    QueuePair q = primed(h, 3);
    uint16_t id = h.fetched[1].command_id();
    ASSERT_TRUE(h.complete(1));
    auto first = q.take_completion();
    ASSERT_TRUE(first.is_ok() && first.value().has_value());
    EXPECT_EQ(first.value()->token, 101u);
    EXPECT_EQ(q.outstanding(), 2u);
    // The same id again.
    h.post_raw(0, h.device_sq_head | 1u << 16, id);
    expect_broken(q, QueueError::NotOutstanding, 2, 1);
}

TEST(NvmeQueueHostile, SubmissionHeadOutOfRange) {
    Harness h(8, 8, 7);
    QueuePair q = primed(h, 2);
    h.post_raw(0, 8u | 1u << 16, h.fetched[0].command_id());
    expect_broken(q, QueueError::HeadOutOfRange, 2, 0);
    Harness h2(8, 8, 7);
    QueuePair q2 = primed(h2, 2);
    h2.post_raw(0, 0xffffu | 1u << 16, h2.fetched[0].command_id());
    expect_broken(q2, QueueError::HeadOutOfRange, 2, 0);
}

TEST(NvmeQueueHostile, SubmissionHeadPastTheTail) {
    Harness h(8, 8, 7);
    QueuePair q = primed(h, 2); // tail 2
    h.post_raw(0, 3u | 1u << 16, h.fetched[0].command_id());
    expect_broken(q, QueueError::HeadPastTail, 2, 0);
}

TEST(NvmeQueueHostile, SubmissionHeadMovingBackwards) {
    Harness h(8, 8, 7);
    QueuePair q = primed(h, 3);
    ASSERT_TRUE(h.complete(0)); // reports head 3
    auto first = q.take_completion();
    ASSERT_TRUE(first.is_ok() && first.value().has_value());
    EXPECT_EQ(q.submission_head(), 3);
    h.post_raw(0, 1u | 1u << 16, h.fetched[0].command_id());
    expect_broken(q, QueueError::HeadPastTail, 2, 1);
}

TEST(NvmeQueueHostile, CompletionOfACommandNotFetched) {
    Harness h(8, 8, 7);
    QueuePair q = h.make();
    for (uint32_t i = 0; i < 3; ++i)
        ASSERT_TRUE(q.submit(some_command(i), 100 + i).is_ok());
    // Only the first is fetched, yet the third completes.
    h.fetch(q.submission_tail(), 1);
    uint16_t third = h.sq[2].command_id();
    h.post_raw(0, h.device_sq_head | 1u << 16, third);
    expect_broken(q, QueueError::NotFetched, 3, 0);
}

TEST(NvmeQueueHostile, StaleEntriesWithTheOldPhaseAreIgnored) {
    Harness h(4, 4, 3);
    QueuePair q = primed(h, 1);
    // Garbage with phase 0 in every CQ entry: nothing new.
    for (auto& entry : h.cq) {
        entry.dwords[0] = 0xffffffff;
        entry.dwords[2] = 0xffffffff;
        entry.dwords[3] = 0xfffeffff;
    }
    auto none = q.take_completion();
    ASSERT_TRUE(none.is_ok());
    EXPECT_FALSE(none.value().has_value());
    EXPECT_FALSE(q.broken());
    EXPECT_EQ(q.outstanding(), 1u);
}

// --- Randomized against a model ---

TEST(NvmeQueue, RandomizedAgainstAModel) {
    for (uint32_t seed = 1; seed <= 40; ++seed) {
        std::mt19937 random(seed);
        auto pick = [&](uint32_t low, uint32_t high) {
            return std::uniform_int_distribution<uint32_t>(low, high)(random);
        };
        size_t sq_entries = pick(2, 9);
        size_t cq_entries = pick(2, 9);
        size_t ids = pick(1, 12);
        Harness h(sq_entries, cq_entries, ids, uint16_t(pick(0, 5)));
        QueuePair q = h.make();

        // The model: what the queue should believe.
        std::map<uint16_t, uint64_t> in_flight; // id -> token
        uint32_t model_tail = 0;
        uint32_t model_head = 0; // last SQ head the queue was told
        uint32_t model_cq_head = 0;
        std::deque<std::pair<uint16_t, uint32_t>> posted; // id and SQ head, in CQ order
        uint64_t next_token = 1;

        for (int step = 0; step < 3000; ++step) {
            uint32_t used = (model_tail + uint32_t(sq_entries) - model_head) % sq_entries;
            uint32_t free_slots = uint32_t(sq_entries) - 1 - used;
            ASSERT_EQ(q.free_submission_slots(), free_slots);
            ASSERT_EQ(q.outstanding(), in_flight.size());
            switch (pick(0, 3)) {
            case 0: { // submit
                bool full = free_slots == 0 || in_flight.size() == ids;
                uint64_t token = next_token++;
                auto id = q.submit(some_command(uint32_t(token)), token);
                if (full) {
                    ASSERT_TRUE(id.is_error());
                    ASSERT_EQ(id.error(), QueueError::Full);
                    break;
                }
                ASSERT_TRUE(id.is_ok()) << "seed " << seed << " step " << step;
                ASSERT_LT(id.value(), ids);
                ASSERT_EQ(in_flight.count(id.value()), 0u);
                in_flight[id.value()] = token;
                model_tail = (model_tail + 1) % sq_entries;
                ASSERT_EQ(q.submission_tail(), model_tail);
                break;
            }
            case 1: // the device fetches some
                h.fetch(q.submission_tail(), pick(0, 3));
                break;
            case 2: { // the device completes one it fetched, any of them
                if (h.fetched.empty())
                    break;
                size_t index = pick(0, uint32_t(h.fetched.size() - 1));
                uint16_t id = h.fetched[index].command_id();
                ASSERT_EQ(h.fetched[index].dwords[15], uint32_t(in_flight.at(id)));
                if (h.complete(index, uint32_t(in_flight.at(id))))
                    posted.emplace_back(id, h.device_sq_head);
                break;
            }
            case 3: { // the driver takes a completion
                auto done = q.take_completion();
                ASSERT_TRUE(done.is_ok()) << "seed " << seed << " step " << step;
                if (posted.empty()) {
                    ASSERT_FALSE(done.value().has_value());
                    break;
                }
                ASSERT_TRUE(done.value().has_value());
                auto [id, sq_head] = posted.front();
                posted.pop_front();
                EXPECT_EQ(done.value()->command_id, id);
                EXPECT_EQ(done.value()->token, in_flight.at(id));
                EXPECT_EQ(done.value()->result, uint32_t(in_flight.at(id)));
                in_flight.erase(id);
                model_head = sq_head;
                model_cq_head = (model_cq_head + 1) % cq_entries;
                ASSERT_EQ(q.completion_head(), model_cq_head);
                ASSERT_EQ(q.submission_head(), model_head);
                if (pick(0, 1))
                    h.cq_head_doorbell = q.completion_head();
                break;
            }
            }
        }
        EXPECT_FALSE(q.broken());
    }
}

// --- PRPs -------------------------------------------------------------------------

// List pages in host memory, at made-up device addresses.
struct ListPages {
    uint32_t page_size;
    std::vector<std::vector<uint64_t>> memory;
    std::vector<PrpListPage> pages;
    std::map<uint64_t, std::vector<uint64_t>*> by_address;

    ListPages(size_t count, uint32_t size, uint64_t base = 0x900000)
        : page_size(size), memory(count, std::vector<uint64_t>(size / 8, 0x5a5a5a5a5a5a5a5aull)) {
        for (size_t i = 0; i < count; ++i) {
            // Not in address order, to catch a list walked by address.
            uint64_t address = base + (count - i) * size;
            pages.push_back(PrpListPage{memory[i].data(), address});
            by_address[address] = &memory[i];
        }
    }
    bool untouched() const {
        for (const auto& page : memory)
            for (uint64_t entry : page)
                if (entry != 0x5a5a5a5a5a5a5a5aull)
                    return false;
        return true;
    }
};

// The data pages a controller would reach from `pointer`, walking the lists
// as section 4.3 describes; an empty result when a pointer leads nowhere.
std::vector<uint64_t> device_walk(DataPointer pointer, uint64_t length, const ListPages& lists) {
    uint64_t size = lists.page_size;
    std::vector<uint64_t> pages;
    uint64_t offset = pointer.prp1 & (size - 1);
    pages.push_back(pointer.prp1 - offset);
    uint64_t first = std::min<uint64_t>(length, size - offset);
    uint64_t remaining = length - first;
    uint64_t count = (remaining + size - 1) / size;
    if (count == 0) {
        EXPECT_EQ(pointer.prp2, 0u);
        return pages;
    }
    if (count == 1) {
        pages.push_back(pointer.prp2);
        return pages;
    }
    auto list = lists.by_address.find(pointer.prp2);
    if (list == lists.by_address.end())
        return {};
    size_t slot = 0;
    size_t per_page = size / 8;
    while (count > 0) {
        if (slot == per_page - 1 && count > 1) {
            list = lists.by_address.find((*list->second)[slot]);
            if (list == lists.by_address.end())
                return {};
            slot = 0;
            continue;
        }
        pages.push_back((*list->second)[slot++]);
        --count;
    }
    return pages;
}

std::vector<uint64_t> data_pages(size_t count, uint32_t size, uint64_t base = 0x10000000) {
    std::vector<uint64_t> pages;
    for (size_t i = 0; i < count; ++i)
        pages.push_back(base + (i * 7919 % (count + 13)) * size); // scattered
    return pages;
}

TEST(NvmePrp, OnePage) {
    ListPages lists(1, 4096);
    std::vector<uint64_t> pages{0x40000};
    auto prps = build_prps(0, 4096, pages, lists.pages, PrpLimits{});
    ASSERT_TRUE(prps.is_ok());
    EXPECT_EQ(prps.value().pointer.prp1, 0x40000u);
    EXPECT_EQ(prps.value().pointer.prp2, 0u);
    EXPECT_EQ(prps.value().list_pages_used, 0u);
    auto small = build_prps(0x200, 0x100, pages, lists.pages, PrpLimits{});
    ASSERT_TRUE(small.is_ok());
    EXPECT_EQ(small.value().pointer.prp1, 0x40200u);
    EXPECT_EQ(small.value().pointer.prp2, 0u);
    EXPECT_TRUE(lists.untouched());
}

TEST(NvmePrp, TwoPages) {
    ListPages lists(1, 4096);
    std::vector<uint64_t> pages{0x40000, 0x13000};
    auto prps = build_prps(0, 8192, pages, lists.pages, PrpLimits{});
    ASSERT_TRUE(prps.is_ok());
    EXPECT_EQ(prps.value().pointer.prp1, 0x40000u);
    EXPECT_EQ(prps.value().pointer.prp2, 0x13000u);
    // 200 bytes crossing a page boundary.
    auto crossing = build_prps(4000, 200, pages, lists.pages, PrpLimits{});
    ASSERT_TRUE(crossing.is_ok());
    EXPECT_EQ(crossing.value().pointer.prp1, 0x40000u + 4000);
    EXPECT_EQ(crossing.value().pointer.prp2, 0x13000u);
    EXPECT_TRUE(lists.untouched());
}

TEST(NvmePrp, ThreePagesUseAList) {
    ListPages lists(2, 4096);
    std::vector<uint64_t> pages{0x40000, 0x13000, 0x77000};
    auto prps = build_prps(0x10, 8192, pages, lists.pages, PrpLimits{});
    ASSERT_TRUE(prps.is_ok());
    EXPECT_EQ(prps.value().pointer.prp1, 0x40010u);
    EXPECT_EQ(prps.value().pointer.prp2, lists.pages[0].device_address);
    EXPECT_EQ(prps.value().list_pages_used, 1u);
    EXPECT_EQ(lists.memory[0][0], 0x13000u);
    EXPECT_EQ(lists.memory[0][1], 0x77000u);
    EXPECT_EQ(lists.memory[0][2], 0x5a5a5a5a5a5a5a5aull); // nothing more written
    EXPECT_EQ(lists.memory[1][0], 0x5a5a5a5a5a5a5a5aull);
    EXPECT_EQ(device_walk(prps.value().pointer, 8192, lists), pages);
}

TEST(NvmePrp, ListPagesNeeded) {
    EXPECT_EQ(prp_list_pages_needed(1, 4096), 0u);
    EXPECT_EQ(prp_list_pages_needed(2, 4096), 0u);
    EXPECT_EQ(prp_list_pages_needed(3, 4096), 1u);
    EXPECT_EQ(prp_list_pages_needed(513, 4096), 1u); // 512 entries: one full list
    EXPECT_EQ(prp_list_pages_needed(514, 4096), 2u); // 513: 511 + chain, then 2
    EXPECT_EQ(prp_list_pages_needed(1 + 511 + 512, 4096), 2u);
    EXPECT_EQ(prp_list_pages_needed(1 + 511 + 513, 4096), 3u);
    EXPECT_EQ(prp_list_pages_needed(1 + 1024, 8192), 1u);
    EXPECT_EQ(prp_list_pages_needed(1 + 1025, 8192), 2u);
}

TEST(NvmePrp, ListsSpanningSeveralListPages) {
    for (uint32_t page_size : {4096u, 8192u}) {
        size_t per_page = page_size / 8;
        for (size_t count : {size_t(3), per_page, per_page + 1, per_page + 2, 2 * per_page,
                             2 * per_page + 1, 3 * per_page + 5}) {
            for (uint32_t offset : {0u, 4u, 0x800u, page_size - 4}) {
                // `count` pages with the transfer ending inside the last one.
                uint64_t length = uint64_t(count) * page_size - offset - (offset ? 0 : 100);
                size_t needed = prp_list_pages_needed(count, page_size);
                ListPages lists(needed + 1, page_size);
                auto pages = data_pages(count, page_size);
                auto prps = build_prps(offset, length, pages, lists.pages, PrpLimits{page_size, 0});
                ASSERT_TRUE(prps.is_ok()) << count << " " << offset;
                EXPECT_EQ(prps.value().list_pages_used, needed);
                EXPECT_EQ(device_walk(prps.value().pointer, length, lists), pages)
                    << page_size << " " << count << " " << offset;
                // The spare list page stays untouched.
                for (uint64_t entry : lists.memory.back())
                    ASSERT_EQ(entry, 0x5a5a5a5a5a5a5a5aull);
                // One list page fewer than needed fails, writing nothing.
                if (needed > 0) {
                    ListPages short_lists(needed - 1, page_size);
                    EXPECT_EQ(build_prps(offset, length, pages, short_lists.pages,
                                         PrpLimits{page_size, 0})
                                  .error(),
                              PrpError::ListPages);
                    EXPECT_TRUE(short_lists.untouched());
                }
            }
        }
    }
}

TEST(NvmePrp, RejectsBadInput) {
    ListPages lists(2, 4096);
    std::vector<uint64_t> one{0x40000};
    std::vector<uint64_t> three{0x40000, 0x41000, 0x42000};
    EXPECT_EQ(build_prps(0, 4096, one, lists.pages, PrpLimits{2048, 0}).error(),
              PrpError::PageSize);
    EXPECT_EQ(build_prps(0, 4096, one, lists.pages, PrpLimits{6144, 0}).error(),
              PrpError::PageSize);
    EXPECT_EQ(build_prps(0, 4096, one, lists.pages, PrpLimits{1u << 28, 0}).error(),
              PrpError::PageSize);
    EXPECT_EQ(build_prps(0, 0, one, lists.pages, PrpLimits{}).error(), PrpError::EmptyTransfer);
    EXPECT_EQ(build_prps(4096, 4, one, lists.pages, PrpLimits{}).error(), PrpError::Offset);
    EXPECT_EQ(build_prps(2, 4, one, lists.pages, PrpLimits{}).error(), PrpError::Offset);
    // Pages must cover the transfer exactly: neither short nor spare pages.
    EXPECT_EQ(build_prps(0, 4097, one, lists.pages, PrpLimits{}).error(), PrpError::PageCount);
    EXPECT_EQ(build_prps(0, 4096, three, lists.pages, PrpLimits{}).error(), PrpError::PageCount);
    // An offset can make two pages' worth of bytes span three.
    EXPECT_TRUE(build_prps(8, 4096 * 2, three, lists.pages, PrpLimits{}).is_ok());
    EXPECT_EQ(build_prps(0, 4096 * 2, three, lists.pages, PrpLimits{}).error(),
              PrpError::PageCount);
    EXPECT_EQ(build_prps(0, ~uint64_t(0), one, lists.pages, PrpLimits{}).error(),
              PrpError::PageCount);
    // Page alignment of every data page, and no page 0.
    std::vector<uint64_t> crooked{0x40000, 0x41010, 0x42000};
    EXPECT_EQ(build_prps(0, 3 * 4096, crooked, lists.pages, PrpLimits{}).error(),
              PrpError::BadPage);
    std::vector<uint64_t> crooked_first{0x40010};
    EXPECT_EQ(build_prps(0, 16, crooked_first, lists.pages, PrpLimits{}).error(),
              PrpError::BadPage);
    std::vector<uint64_t> null_page{0x40000, 0};
    EXPECT_EQ(build_prps(0, 2 * 4096, null_page, lists.pages, PrpLimits{}).error(),
              PrpError::BadPage);
    // The controller's MDTS.
    EXPECT_EQ(build_prps(0, 3 * 4096, three, lists.pages, PrpLimits{4096, 8192}).error(),
              PrpError::TooLarge);
    EXPECT_TRUE(build_prps(0, 3 * 4096, three, lists.pages, PrpLimits{4096, 3 * 4096}).is_ok());
    // List pages: aligned, with memory.
    ListPages crooked_list(1, 4096);
    crooked_list.pages[0].device_address += 8;
    EXPECT_EQ(build_prps(0, 3 * 4096, three, crooked_list.pages, PrpLimits{}).error(),
              PrpError::BadListPage);
    ListPages no_memory(1, 4096);
    no_memory.pages[0].entries = nullptr;
    EXPECT_EQ(build_prps(0, 3 * 4096, three, no_memory.pages, PrpLimits{}).error(),
              PrpError::BadListPage);
    EXPECT_EQ(build_prps(0, 3 * 4096, three, {}, PrpLimits{}).error(), PrpError::ListPages);
    EXPECT_TRUE(crooked_list.untouched());
}

TEST(NvmePrp, PagesOfAContiguousRange) {
    uint64_t pages[4] = {};
    // Inside one page, at an offset.
    auto one = contiguous_pages(0x10000 + 0x204, 512, 4096, pages);
    ASSERT_TRUE(one.is_ok());
    EXPECT_EQ(one.value().first_offset, 0x204u);
    EXPECT_EQ(one.value().count, 1u);
    EXPECT_EQ(pages[0], 0x10000u);
    // Ending on a page's last byte, and one byte more.
    auto exact = contiguous_pages(0x10000, 2 * 4096, 4096, pages);
    ASSERT_TRUE(exact.is_ok());
    EXPECT_EQ(exact.value().count, 2u);
    auto more = contiguous_pages(0x10000 + 4, 2 * 4096, 4096, pages);
    ASSERT_TRUE(more.is_ok());
    EXPECT_EQ(more.value().count, 3u);
    EXPECT_EQ(pages[0], 0x10000u);
    EXPECT_EQ(pages[1], 0x11000u);
    EXPECT_EQ(pages[2], 0x12000u);
    // build_prps over them: PRP1 at the offset, the other pages in the list.
    volatile uint64_t list[512] = {};
    PrpListPage list_page{list, 0x90000};
    auto built = build_prps(more.value().first_offset, 2 * 4096, {pages, more.value().count},
                            {&list_page, 1}, PrpLimits{});
    ASSERT_TRUE(built.is_ok());
    EXPECT_EQ(built.value().pointer.prp1, 0x10004u);
    EXPECT_EQ(built.value().pointer.prp2, 0x90000u);
    EXPECT_EQ(list[0], 0x11000u);
    EXPECT_EQ(list[1], 0x12000u);
    // Larger pages.
    auto large = contiguous_pages(0x20000 + 100, 8192, 8192, pages);
    ASSERT_TRUE(large.is_ok());
    EXPECT_EQ(large.value().first_offset, 100u);
    EXPECT_EQ(large.value().count, 2u);
    EXPECT_EQ(pages[1], 0x22000u);
}

TEST(NvmePrp, ContiguousRangesRefused) {
    uint64_t pages[2] = {};
    EXPECT_EQ(contiguous_pages(0x10000, 0, 4096, pages).error(), PrpError::EmptyTransfer);
    EXPECT_EQ(contiguous_pages(0x10000, 512, 1000, pages).error(), PrpError::PageSize);
    EXPECT_EQ(contiguous_pages(0, 512, 4096, pages).error(), PrpError::BadPage);
    // Past 2^64, and up to its last byte.
    EXPECT_EQ(contiguous_pages(~uint64_t(0) - 10, 12, 4096, pages).error(), PrpError::BadPage);
    auto last = contiguous_pages(~uint64_t(0) - 10, 11, 4096, pages);
    ASSERT_TRUE(last.is_ok());
    EXPECT_EQ(last.value().count, 1u);
    EXPECT_EQ(pages[0], ~uint64_t(0) & ~uint64_t(4095));
    // More pages than the caller has room for.
    EXPECT_EQ(contiguous_pages(0x10004, 2 * 4096, 4096, pages).error(), PrpError::PageCount);
    EXPECT_TRUE(contiguous_pages(0x10000, 2 * 4096, 4096, pages).is_ok());
}

TEST(NvmePrp, MaxTransferFromMdts) {
    EXPECT_EQ(max_transfer_bytes(0, 12), 0u);
    EXPECT_EQ(max_transfer_bytes(5, 12), 128u * 1024);
    EXPECT_EQ(max_transfer_bytes(5, 13), 256u * 1024);
    EXPECT_EQ(max_transfer_bytes(51, 12), uint64_t(1) << 63);
    EXPECT_EQ(max_transfer_bytes(52, 12), 0u); // past 64 bits: no limit
    EXPECT_EQ(max_transfer_bytes(255, 27), 0u);
    // 32 pages fit under MDTS 5, 33 do not.
    ListPages lists(1, 4096);
    PrpLimits limits{4096, max_transfer_bytes(5, 12)};
    auto fits = data_pages(32, 4096);
    EXPECT_TRUE(build_prps(0, 32 * 4096, fits, lists.pages, limits).is_ok());
    auto over = data_pages(33, 4096);
    EXPECT_EQ(build_prps(0, 33 * 4096, over, lists.pages, limits).error(), PrpError::TooLarge);
}

// --- Identify ---------------------------------------------------------------------

using Page = std::vector<uint8_t>;

void put(Page& page, size_t offset, uint64_t value, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i)
        page[offset + i] = uint8_t(value >> (8 * i));
}
void put_string(Page& page, size_t offset, size_t width, const std::string& text, char pad = ' ') {
    for (size_t i = 0; i < width; ++i)
        page[offset + i] = uint8_t(i < text.size() ? text[i] : pad);
}

Page good_controller() {
    Page page(4096, 0);
    put(page, 0, 0x1b36, 2);
    put(page, 2, 0x1af4, 2);
    put_string(page, 4, 20, "deadbeef");
    put_string(page, 24, 40, "QEMU NVMe Ctrl");
    put_string(page, 64, 8, "1.0", '\0');
    page[77] = 7;
    put(page, 78, 0x21, 2);
    put(page, 80, 0x00010400, 4);
    page[512] = 0x66;
    page[513] = 0x44;
    put(page, 514, 0, 2);
    put(page, 516, 256, 4);
    return page;
}

TEST(NvmeIdentify, Controller) {
    Page page = good_controller();
    auto parsed = parse_identify_controller(page);
    ASSERT_TRUE(parsed.is_ok());
    const ControllerIdentity& c = parsed.value();
    EXPECT_EQ(c.vendor_id, 0x1b36);
    EXPECT_EQ(c.subsystem_vendor_id, 0x1af4);
    EXPECT_EQ(c.serial.view(), "deadbeef");
    EXPECT_EQ(c.model.view(), "QEMU NVMe Ctrl");
    EXPECT_EQ(c.firmware.view(), "1.0");
    EXPECT_EQ(c.max_transfer_shift, 7);
    EXPECT_EQ(c.controller_id, 0x21);
    EXPECT_EQ(c.version, 0x00010400u);
    EXPECT_EQ(c.namespace_count, 256u);

    // Full-width strings and leading spaces.
    put_string(page, 4, 20, "  ABCDEFGHIJKLMNOPQR");
    put_string(page, 64, 8, "FW123456");
    parsed = parse_identify_controller(page);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value().serial.view(), "ABCDEFGHIJKLMNOPQR");
    EXPECT_EQ(parsed.value().firmware.view(), "FW123456");
    // All padding: empty.
    put_string(page, 4, 20, "");
    EXPECT_EQ(parse_identify_controller(page).value().serial.view(), "");
}

TEST(NvmeIdentify, ControllerGarbled) {
    Page page = good_controller();
    EXPECT_EQ(parse_identify_controller(std::span(page).first(4095)).error(), IdentifyError::Size);
    Page longer = good_controller();
    longer.push_back(0);
    EXPECT_EQ(parse_identify_controller(longer).error(), IdentifyError::Size);
    EXPECT_EQ(parse_identify_controller({}).error(), IdentifyError::Size);

    Page control = good_controller();
    control[6] = 0x07;
    EXPECT_EQ(parse_identify_controller(control).error(), IdentifyError::String);
    Page high = good_controller();
    high[30] = 0x80;
    EXPECT_EQ(parse_identify_controller(high).error(), IdentifyError::String);
    Page hole = good_controller(); // a NUL, then text again
    hole[26] = 0;
    EXPECT_EQ(parse_identify_controller(hole).error(), IdentifyError::String);
    Page del = good_controller();
    del[64] = 0x7f;
    EXPECT_EQ(parse_identify_controller(del).error(), IdentifyError::String);

    Page sqes = good_controller();
    sqes[512] = 0x77; // requires 128-byte entries
    EXPECT_EQ(parse_identify_controller(sqes).error(), IdentifyError::EntrySizes);
    Page cqes = good_controller();
    cqes[513] = 0x00;
    EXPECT_EQ(parse_identify_controller(cqes).error(), IdentifyError::EntrySizes);
    Page backwards = good_controller();
    backwards[512] = 0x56; // required 64, largest 32
    EXPECT_EQ(parse_identify_controller(backwards).error(), IdentifyError::EntrySizes);
}

Page good_namespace() {
    Page page(4096, 0);
    put(page, 0, 0x100000, 8);
    put(page, 8, 0x100000, 8);
    put(page, 16, 0x80000, 8);
    page[25] = 1;    // two formats
    page[26] = 0x11; // format 1, extended metadata
    put(page, 128, uint32_t(9) << 16, 4);
    put(page, 132, uint32_t(2) << 24 | uint32_t(12) << 16 | 8, 4);
    return page;
}

TEST(NvmeIdentify, Namespace) {
    auto parsed = parse_identify_namespace(good_namespace());
    ASSERT_TRUE(parsed.is_ok());
    const NamespaceIdentity& n = parsed.value();
    EXPECT_EQ(n.size, 0x100000u);
    EXPECT_EQ(n.capacity, 0x100000u);
    EXPECT_EQ(n.utilization, 0x80000u);
    EXPECT_EQ(n.format_count, 2);
    EXPECT_EQ(n.active_format, 1);
    EXPECT_TRUE(n.metadata_extended);
    EXPECT_EQ(n.block_size, 4096u);
    EXPECT_EQ(n.metadata_size, 8);
    EXPECT_EQ(n.formats[0].data_size_shift, 9);
    EXPECT_EQ(n.formats[1].relative_performance, 2);

    // Bits 6:5 of FLBAS are reserved with 16 formats or fewer ...
    Page sixteen = good_namespace();
    sixteen[25] = 15;
    sixteen[26] = 0x60;
    parsed = parse_identify_namespace(sixteen);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value().active_format, 0);
    EXPECT_EQ(parsed.value().block_size, 512u);
    // ... and the index's high bits with more (2.0).
    Page twenty = good_namespace();
    twenty[25] = 19;
    twenty[26] = 0x23; // index 0x13
    put(twenty, 128 + 4 * 19, uint32_t(16) << 16, 4);
    parsed = parse_identify_namespace(twenty);
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(parsed.value().active_format, 19);
    EXPECT_EQ(parsed.value().block_size, 65536u);
}

TEST(NvmeIdentify, NamespaceGarbled) {
    Page good = good_namespace();
    EXPECT_EQ(parse_identify_namespace(std::span(good).first(100)).error(), IdentifyError::Size);
    Page inactive(4096, 0);
    EXPECT_EQ(parse_identify_namespace(inactive).error(), IdentifyError::InactiveNamespace);
    Page over = good_namespace();
    put(over, 8, 0x100001, 8);
    EXPECT_EQ(parse_identify_namespace(over).error(), IdentifyError::Capacity);
    Page used = good_namespace();
    put(used, 8, 0x1000, 8);
    EXPECT_EQ(parse_identify_namespace(used).error(), IdentifyError::Capacity);
    Page bytes_wrap = good_namespace();
    put(bytes_wrap, 0, uint64_t(1) << 52, 8); // 2^52 blocks of 4 KiB
    EXPECT_EQ(parse_identify_namespace(bytes_wrap).error(), IdentifyError::Capacity);
    Page count = good_namespace();
    count[25] = 64; // 65 formats
    EXPECT_EQ(parse_identify_namespace(count).error(), IdentifyError::FormatCount);
    Page index = good_namespace();
    index[26] = 0x02; // format 2 of 2
    EXPECT_EQ(parse_identify_namespace(index).error(), IdentifyError::FormatIndex);
    Page high_index = good_namespace();
    high_index[25] = 19;
    high_index[26] = 0x44; // index 0x24 of 20
    EXPECT_EQ(parse_identify_namespace(high_index).error(), IdentifyError::FormatIndex);
    for (uint8_t lbads : {0, 8, 17, 255}) {
        Page block = good_namespace();
        block[132 + 2] = lbads;
        EXPECT_EQ(parse_identify_namespace(block).error(), IdentifyError::BlockSize) << int(lbads);
    }
    // A bad format that is not the active one is fine.
    Page unused = good_namespace();
    unused[128 + 2] = 3;
    EXPECT_TRUE(parse_identify_namespace(unused).is_ok());
}

TEST(NvmeIdentify, ActiveNamespaceList) {
    Page page(4096, 0);
    put(page, 0, 1, 4);
    put(page, 4, 2, 4);
    put(page, 8, 5, 4);
    std::vector<uint32_t> ids(1024);
    auto count = parse_active_namespaces(page, 0, ids);
    ASSERT_TRUE(count.is_ok());
    EXPECT_EQ(count.value(), 3u);
    EXPECT_EQ(ids[0], 1u);
    EXPECT_EQ(ids[1], 2u);
    EXPECT_EQ(ids[2], 5u);
    EXPECT_EQ(parse_active_namespaces(Page(4096, 0), 0, ids).value(), 0u);

    EXPECT_EQ(parse_active_namespaces(page, 1, ids).error(), IdentifyError::ListOrder);
    std::vector<uint32_t> two(2);
    EXPECT_EQ(parse_active_namespaces(page, 0, two).error(), IdentifyError::ListSpace);
    Page descending = page;
    put(descending, 8, 2, 4);
    EXPECT_EQ(parse_active_namespaces(descending, 0, ids).error(), IdentifyError::ListOrder);
    Page hole = page;
    put(hole, 16, 9, 4);
    EXPECT_EQ(parse_active_namespaces(hole, 0, ids).error(), IdentifyError::ListOrder);
    Page broadcast = page;
    put(broadcast, 12, 0xffffffff, 4);
    EXPECT_EQ(parse_active_namespaces(broadcast, 0, ids).error(), IdentifyError::ListOrder);
    EXPECT_EQ(parse_active_namespaces(std::span(page).first(4092), 0, ids).error(),
              IdentifyError::Size);

    Page full(4096, 0);
    for (uint32_t i = 0; i < 1024; ++i)
        put(full, 4 * i, 100 + 3 * i, 4);
    ASSERT_EQ(parse_active_namespaces(full, 99, ids).value(), 1024u);
    EXPECT_EQ(ids[1023], 100u + 3 * 1023);
}

// Random bytes, and random changes to good structures: never a crash, and
// whatever parses keeps the promised invariants.
TEST(NvmeIdentify, RandomGarbage) {
    std::mt19937 random(7);
    auto byte = [&] { return uint8_t(random()); };
    for (int round = 0; round < 3000; ++round) {
        Page controller = round % 2 ? good_controller() : Page(4096, 0);
        Page ns = round % 2 ? good_namespace() : Page(4096, 0);
        int flips = 1 + int(random() % 8);
        for (int i = 0; i < flips; ++i) {
            // Mostly in the fields parsed.
            controller[random() % (round % 3 ? 600 : 4096)] = byte();
            ns[random() % (round % 3 ? 200 : 4096)] = byte();
        }
        auto c = parse_identify_controller(controller);
        if (c.is_ok()) {
            for (char ch : c.value().model.view())
                ASSERT_TRUE(ch >= 0x20 && ch <= 0x7e);
            ASSERT_LE(c.value().serial.view().size(), 20u);
            ASSERT_LE(c.value().firmware.view().size(), 8u);
        }
        auto n = parse_identify_namespace(ns);
        if (n.is_ok()) {
            const NamespaceIdentity& id = n.value();
            ASSERT_GE(id.block_size, 512u);
            ASSERT_LE(id.block_size, 65536u);
            ASSERT_EQ(id.block_size & (id.block_size - 1), 0u);
            ASSERT_LT(id.active_format, id.format_count);
            ASSERT_LE(id.capacity, id.size);
            ASSERT_LE(id.utilization, id.capacity);
            ASSERT_GT(id.size, 0u);
        }
        std::vector<uint32_t> ids(1024);
        auto list = parse_active_namespaces(ns, 0, ids);
        if (list.is_ok())
            for (size_t i = 1; i < list.value(); ++i)
                ASSERT_LT(ids[i - 1], ids[i]);
    }
}

} // namespace
