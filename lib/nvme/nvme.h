// NVM Express over PCIe (base specification 1.4, with the 2.0 additions noted
// where they change a field): the controller's registers as values, the
// 64-byte submission queue entries a driver builds and the 16-byte completion
// entries it reads. Pure functions on numbers: the driver does the MMIO and
// owns the DMA memory; this file knows the bit layouts and refuses values the
// specification rules out, whether the caller or the device supplied them.
//
// Companions: lib/nvme/queue.h (a queue pair over caller memory),
// lib/nvme/prp.h (data pointers and PRP lists), lib/nvme/identify.h (the
// Identify data structures).
#pragma once

#include "lib/base/result.h"
#include <cstdint>
#include <optional>

namespace capos::nvme {

// Register offsets in BAR0 (section 3.1). CAP, ASQ and ACQ are 64 bits wide.
namespace reg {
inline constexpr uint32_t capabilities = 0x00;
inline constexpr uint32_t version = 0x08;
inline constexpr uint32_t interrupt_mask_set = 0x0c;
inline constexpr uint32_t interrupt_mask_clear = 0x10;
inline constexpr uint32_t configuration = 0x14;
inline constexpr uint32_t status = 0x1c;
inline constexpr uint32_t subsystem_reset = 0x20;
inline constexpr uint32_t admin_queue_attributes = 0x24;
inline constexpr uint32_t admin_submission_queue = 0x28;
inline constexpr uint32_t admin_completion_queue = 0x30;
inline constexpr uint32_t doorbells = 0x1000;
} // namespace reg

// The smallest memory page a controller may use (CAP.MPSMIN 0), and the
// alignment of the admin queues' base addresses (ASQ/ACQ bits 11:0).
inline constexpr uint32_t min_page_shift = 12;
inline constexpr uint32_t min_page_size = 1u << min_page_shift;

// Queue sizes: at least two entries; I/O queues up to 64 Ki entries (further
// limited by CAP.MQES), admin queues up to 4 Ki (AQA's 12-bit fields).
inline constexpr uint32_t min_queue_entries = 2;
inline constexpr uint32_t max_io_queue_entries = 65536;
inline constexpr uint32_t max_admin_queue_entries = 4096;

enum class RegisterError : uint8_t {
    DeviceGone,   // a register read as all ones: the controller no longer answers
    QueueEntries, // a queue size outside the specification's range, or CAP.MQES 0
    PageSize,     // CAP.MPSMIN above MPSMAX, or a CC.MPS outside them
    CommandSet,   // CAP.CSS names no command set, or CC.CSS one CAP does not offer
    Reserved,     // a reserved encoding (CC.AMS, CC.SHN, CSTS.SHST 11b)
    Misaligned,   // an admin queue base address with bits 11:0 set
    EntrySize,    // CC.IOSQES / IOCQES other than 0 or this library's entry sizes
};
const char* to_string(RegisterError error);

// CAP.CSS bits (2.0 names): NVM command set, one or more I/O command sets,
// no I/O command set (admin only).
inline constexpr uint8_t command_set_nvm = 1u << 0;
inline constexpr uint8_t command_set_io_sets = 1u << 6;
inline constexpr uint8_t command_set_admin_only = 1u << 7;

// Controller Capabilities (CAP, offset 0), decoded.
struct Capabilities {
    uint32_t max_queue_entries = 0;                // MQES + 1: 2 to 65536 entries per I/O queue
    bool contiguous_queues_required = false;       // CQR
    bool weighted_round_robin = false;             // AMS bit 0
    bool vendor_arbitration = false;               // AMS bit 1
    uint32_t ready_timeout_ms = 0;                 // TO, in 500 ms units
    uint8_t doorbell_stride_shift = 0;             // DSTRD: stride is 4 << this
    bool subsystem_reset = false;                  // NSSRS
    uint8_t command_sets = 0;                      // CSS, command_set_* bits
    uint8_t min_page_shift = nvme::min_page_shift; // 12 + MPSMIN
    uint8_t max_page_shift = nvme::min_page_shift; // 12 + MPSMAX
};
// Checks what a driver relies on: not all ones, MQES at least 1 (two
// entries), MPSMIN <= MPSMAX, some command set.
Result<Capabilities, RegisterError> parse_capabilities(uint64_t cap);

// Version (VS, offset 8): major in bits 31:16, minor 15:8, tertiary 7:0.
struct Version {
    uint16_t major = 0;
    uint8_t minor = 0;
    uint8_t tertiary = 0;
};
constexpr Version parse_version(uint32_t vs) {
    return Version{uint16_t(vs >> 16), uint8_t(vs >> 8), uint8_t(vs)};
}
constexpr uint32_t version_value(uint16_t major, uint8_t minor, uint8_t tertiary) {
    return uint32_t(major) << 16 | uint32_t(minor) << 8 | tertiary;
}

// Controller Configuration (CC, offset 0x14).
enum class CommandSetSelection : uint8_t { Nvm = 0, AllIoSets = 6, AdminOnly = 7 };
enum class Arbitration : uint8_t { RoundRobin = 0, WeightedRoundRobin = 1, VendorSpecific = 7 };
enum class ShutdownNotification : uint8_t { None = 0, Normal = 1, Abrupt = 2 };

// The entry sizes of lib/nvme's queues, as CC.IOSQES / IOCQES (log2 bytes).
inline constexpr uint8_t submission_entry_shift = 6; // 64 bytes
inline constexpr uint8_t completion_entry_shift = 4; // 16 bytes

struct Configuration {
    bool enabled = false;
    CommandSetSelection command_set = CommandSetSelection::Nvm;
    uint8_t page_shift = nvme::min_page_shift; // 12 + MPS
    Arbitration arbitration = Arbitration::RoundRobin;
    ShutdownNotification shutdown = ShutdownNotification::None;
    uint8_t submission_entry_shift = nvme::submission_entry_shift; // or 0: not set yet
    uint8_t completion_entry_shift = nvme::completion_entry_shift; // or 0: not set yet
};
// CC for `config`, checked against what `cap` offers: the page size inside
// MPSMIN..MPSMAX, the command set and arbitration offered, entry sizes 0 or
// this library's.
Result<uint32_t, RegisterError> encode_configuration(const Configuration& config,
                                                     const Capabilities& cap);
// CC read back; reserved encodings of CSS, AMS, SHN are Reserved.
Result<Configuration, RegisterError> decode_configuration(uint32_t cc);

// Controller Status (CSTS, offset 0x1c).
enum class ShutdownStatus : uint8_t { Normal = 0, Processing = 1, Complete = 2 };
struct ControllerStatus {
    bool ready = false;                               // RDY
    bool fatal = false;                               // CFS
    ShutdownStatus shutdown = ShutdownStatus::Normal; // SHST
    bool subsystem_reset_occurred = false;            // NSSRO
    bool processing_paused = false;                   // PP
};
// All ones (the device is gone) is DeviceGone; SHST 11b is Reserved.
Result<ControllerStatus, RegisterError> parse_controller_status(uint32_t csts);

// Admin Queue Attributes (AQA): both sizes 2..4096 entries, stored 0's based.
Result<uint32_t, RegisterError> admin_queue_attributes(uint32_t submission_entries,
                                                       uint32_t completion_entries);
// ASQ / ACQ: the queue's device address, 4 KiB aligned (bits 11:0 reserved).
Result<uint64_t, RegisterError> admin_queue_base(uint64_t device_address);

// Doorbells: queue y's SQ tail at 0x1000 + (2y) * (4 << DSTRD), its CQ head
// at 0x1000 + (2y + 1) * (4 << DSTRD). The offset can pass 4 GiB for high
// queue ids with a large stride, hence 64 bits.
enum class Doorbell : uint8_t { SubmissionTail = 0, CompletionHead = 1 };
constexpr uint64_t doorbell_offset(const Capabilities& cap, uint16_t queue_id, Doorbell which) {
    uint64_t stride = uint64_t(4) << (cap.doorbell_stride_shift & 0xfu);
    return reg::doorbells + (2 * uint64_t(queue_id) + uint64_t(which)) * stride;
}

// --- Commands ---------------------------------------------------------------

// A submission queue entry (section 4.2): CDW0 (opcode 7:0, FUSE 9:8, PSDT
// 15:14, command id 31:16), NSID, CDW2-3, MPTR (dwords 4-5), PRP1 (6-7), PRP2
// (8-9), CDW10-15. Builders leave the command id 0: QueuePair::submit sets it.
struct SubmissionEntry {
    uint32_t dwords[16] = {};

    uint8_t opcode() const { return uint8_t(dwords[0]); }
    uint8_t fuse() const { return uint8_t((dwords[0] >> 8) & 0x3); }
    uint8_t data_transfer_kind() const { return uint8_t((dwords[0] >> 14) & 0x3); } // PSDT
    uint16_t command_id() const { return uint16_t(dwords[0] >> 16); }
    void set_command_id(uint16_t id) { dwords[0] = (dwords[0] & 0xffffu) | uint32_t(id) << 16; }
    uint32_t namespace_id() const { return dwords[1]; }
    uint64_t metadata_pointer() const { return dwords[4] | uint64_t(dwords[5]) << 32; }
    uint64_t prp1() const { return dwords[6] | uint64_t(dwords[7]) << 32; }
    uint64_t prp2() const { return dwords[8] | uint64_t(dwords[9]) << 32; }
    uint32_t command_dword(unsigned index) const { return dwords[index & 15]; }
};
static_assert(sizeof(SubmissionEntry) == 64);

enum class AdminOpcode : uint8_t {
    DeleteIoSubmissionQueue = 0x00,
    CreateIoSubmissionQueue = 0x01,
    GetLogPage = 0x02,
    DeleteIoCompletionQueue = 0x04,
    CreateIoCompletionQueue = 0x05,
    Identify = 0x06,
    Abort = 0x08,
    SetFeatures = 0x09,
    GetFeatures = 0x0a,
};
enum class IoOpcode : uint8_t { Flush = 0x00, Write = 0x01, Read = 0x02 };

// Identify's Controller or Namespace Structure (CNS, CDW10 bits 7:0).
enum class IdentifyCns : uint8_t { Namespace = 0x00, Controller = 0x01, ActiveNamespaces = 0x02 };
inline constexpr uint32_t identify_data_size = 4096;

inline constexpr uint8_t feature_number_of_queues = 0x07;

// Namespace ids: 1 to FFFFFFFEh name one namespace; FFFFFFFFh is the
// broadcast value (all namespaces), 0 names none.
inline constexpr uint32_t broadcast_namespace = 0xffffffffu;
constexpr bool valid_namespace_id(uint32_t nsid) {
    return nsid != 0 && nsid != broadcast_namespace;
}

// PRP1 and PRP2 of a command (lib/nvme/prp.h builds them).
struct DataPointer {
    uint64_t prp1 = 0;
    uint64_t prp2 = 0;
};

enum class CommandError : uint8_t {
    QueueId,        // 0 (the admin queues) or the completion queue to attach to is 0
    QueueEntries,   // fewer than 2, more than 64 Ki or than CAP.MQES allows
    QueueAlignment, // a queue base not aligned to the memory page size
    QueueCount,     // Number of Queues: a count of 0 or above 65535
    NamespaceId,    // 0, or broadcast where one namespace is needed
    BlockCount,     // 0 or above 65536 blocks
    BlockRange,     // first block + count past 2^64
    DataPointer,    // PRP1 0 or not dword aligned, PRP2 not dword aligned
};
const char* to_string(CommandError error);

Result<SubmissionEntry, CommandError> identify_controller(DataPointer data);
Result<SubmissionEntry, CommandError> identify_namespace(uint32_t nsid, DataPointer data);
// Up to 1024 active namespace ids greater than `after` (below FFFFFFFEh).
Result<SubmissionEntry, CommandError> identify_active_namespaces(uint32_t after, DataPointer data);

// What I/O queue creation is checked against: CAP.MQES + 1 and the memory
// page size chosen in CC.MPS.
struct QueueLimits {
    uint32_t max_entries = max_io_queue_entries;
    uint32_t page_size = min_page_size;
};
// One physically contiguous I/O queue: its id (1..65535), its size and the
// device address of its first entry (page aligned).
struct IoQueue {
    uint16_t queue_id = 0;
    uint32_t entries = 0;
    uint64_t base = 0;
};
enum class QueuePriority : uint8_t { Urgent = 0, High = 1, Medium = 2, Low = 3 };

// Create I/O Completion Queue; interrupts off when `interrupt_vector` is
// empty, otherwise on, raised through that MSI-X / MSI vector.
Result<SubmissionEntry, CommandError>
create_io_completion_queue(const IoQueue& queue, std::optional<uint16_t> interrupt_vector,
                           const QueueLimits& limits);
// Create I/O Submission Queue, posting its completions to
// `completion_queue_id` (which must exist and not be 0).
Result<SubmissionEntry, CommandError> create_io_submission_queue(const IoQueue& queue,
                                                                 uint16_t completion_queue_id,
                                                                 QueuePriority priority,
                                                                 const QueueLimits& limits);
Result<SubmissionEntry, CommandError> delete_io_submission_queue(uint16_t queue_id);
Result<SubmissionEntry, CommandError> delete_io_completion_queue(uint16_t queue_id);

// Set Features, Number of Queues: how many I/O submission and completion
// queues the driver asks for (1..65535 each, sent 0's based).
struct QueueCounts {
    uint32_t submission_queues = 0;
    uint32_t completion_queues = 0;
};
Result<SubmissionEntry, CommandError> set_number_of_queues(const QueueCounts& requested);
// The counts the controller allocated, from the completion's DW0 (0's based;
// FFFFh, meaning 65536, is beyond what the field allows: QueueCount).
Result<QueueCounts, CommandError> parse_number_of_queues(uint32_t completion_dw0);

// Read and Write of `block_count` (1..65536) logical blocks from
// `first_block` of namespace `nsid`.
struct BlockRange {
    uint32_t nsid = 0;
    uint64_t first_block = 0;
    uint32_t block_count = 0;
};
Result<SubmissionEntry, CommandError> read_blocks(const BlockRange& range, DataPointer data);
Result<SubmissionEntry, CommandError> write_blocks(const BlockRange& range, DataPointer data);
// Flush one namespace, or all of them with broadcast_namespace.
Result<SubmissionEntry, CommandError> flush(uint32_t nsid);

// --- Completions --------------------------------------------------------------

// A completion queue entry (section 4.6): DW0 command specific, DW1
// reserved, DW2 SQ head (15:0) and SQ id (31:16), DW3 command id (15:0),
// phase tag (16) and status (31:17).
struct CompletionEntry {
    uint32_t dwords[4] = {};
};
static_assert(sizeof(CompletionEntry) == 16);

// Status Code Type values (SCT); 4 to 6 are reserved.
enum class StatusType : uint8_t {
    Generic = 0,
    CommandSpecific = 1,
    MediaError = 2,
    PathRelated = 3,
    VendorSpecific = 7,
};

// The status field, DW3 bits 31:17: SC (8 bits), SCT (3), CRD (2), More, DNR.
struct CommandStatus {
    uint8_t code = 0;          // SC
    uint8_t type = 0;          // SCT, a StatusType value (raw: reserved ones are passed on)
    uint8_t retry_delay = 0;   // CRD: which Command Retry Delay Time applies
    bool more = false;         // M: the Error Information log has more
    bool do_not_retry = false; // DNR
    bool succeeded() const { return code == 0 && type == 0; }
};
// From completion dword 3 (the phase tag and command id are ignored).
constexpr CommandStatus parse_command_status(uint32_t dw3) {
    CommandStatus status;
    status.code = uint8_t(dw3 >> 17);
    status.type = uint8_t((dw3 >> 25) & 0x7);
    status.retry_delay = uint8_t((dw3 >> 28) & 0x3);
    status.more = ((dw3 >> 30) & 1) != 0;
    status.do_not_retry = ((dw3 >> 31) & 1) != 0;
    return status;
}

} // namespace capos::nvme
