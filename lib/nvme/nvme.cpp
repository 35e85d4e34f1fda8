#include "lib/nvme/nvme.h"

namespace capos::nvme {

const char* to_string(RegisterError error) {
    switch (error) {
    case RegisterError::DeviceGone:
        return "controller reads as all ones";
    case RegisterError::QueueEntries:
        return "queue size out of range";
    case RegisterError::PageSize:
        return "memory page size out of range";
    case RegisterError::CommandSet:
        return "command set not offered";
    case RegisterError::Reserved:
        return "reserved encoding";
    case RegisterError::Misaligned:
        return "admin queue base not 4 KiB aligned";
    case RegisterError::EntrySize:
        return "queue entry size not supported";
    }
    return "unknown register error";
}

const char* to_string(CommandError error) {
    switch (error) {
    case CommandError::QueueId:
        return "invalid queue id";
    case CommandError::QueueEntries:
        return "queue size out of range";
    case CommandError::QueueAlignment:
        return "queue base not page aligned";
    case CommandError::QueueCount:
        return "queue count out of range";
    case CommandError::NamespaceId:
        return "invalid namespace id";
    case CommandError::BlockCount:
        return "block count out of range";
    case CommandError::BlockRange:
        return "block range wraps";
    case CommandError::DataPointer:
        return "invalid data pointer";
    }
    return "unknown command error";
}

// --- Registers ----------------------------------------------------------------

Result<Capabilities, RegisterError> parse_capabilities(uint64_t cap) {
    if (cap == ~uint64_t(0))
        return Err{RegisterError::DeviceGone};
    Capabilities parsed;
    uint32_t mqes = uint32_t(cap & 0xffff);
    if (mqes < 1) // 0's based; the minimum is 1h, two entries
        return Err{RegisterError::QueueEntries};
    parsed.max_queue_entries = mqes + 1;
    parsed.contiguous_queues_required = ((cap >> 16) & 1) != 0;
    parsed.weighted_round_robin = ((cap >> 17) & 1) != 0;
    parsed.vendor_arbitration = ((cap >> 18) & 1) != 0;
    parsed.ready_timeout_ms = uint32_t((cap >> 24) & 0xff) * 500;
    parsed.doorbell_stride_shift = uint8_t((cap >> 32) & 0xf);
    parsed.subsystem_reset = ((cap >> 36) & 1) != 0;
    parsed.command_sets = uint8_t((cap >> 37) & 0xff);
    uint8_t mpsmin = uint8_t((cap >> 48) & 0xf);
    uint8_t mpsmax = uint8_t((cap >> 52) & 0xf);
    if (mpsmin > mpsmax)
        return Err{RegisterError::PageSize};
    parsed.min_page_shift = uint8_t(min_page_shift + mpsmin);
    parsed.max_page_shift = uint8_t(min_page_shift + mpsmax);
    uint8_t known = command_set_nvm | command_set_io_sets | command_set_admin_only;
    if ((parsed.command_sets & known) == 0)
        return Err{RegisterError::CommandSet};
    return parsed;
}

Result<uint32_t, RegisterError> encode_configuration(const Configuration& config,
                                                     const Capabilities& cap) {
    if (config.page_shift < cap.min_page_shift || config.page_shift > cap.max_page_shift)
        return Err{RegisterError::PageSize};
    switch (config.command_set) {
    case CommandSetSelection::Nvm:
        if (!(cap.command_sets & command_set_nvm))
            return Err{RegisterError::CommandSet};
        break;
    case CommandSetSelection::AllIoSets:
        if (!(cap.command_sets & command_set_io_sets))
            return Err{RegisterError::CommandSet};
        break;
    case CommandSetSelection::AdminOnly:
        if (!(cap.command_sets & command_set_admin_only))
            return Err{RegisterError::CommandSet};
        break;
    default:
        return Err{RegisterError::Reserved};
    }
    switch (config.arbitration) {
    case Arbitration::RoundRobin:
        break;
    case Arbitration::WeightedRoundRobin:
        if (!cap.weighted_round_robin)
            return Err{RegisterError::Reserved};
        break;
    case Arbitration::VendorSpecific:
        if (!cap.vendor_arbitration)
            return Err{RegisterError::Reserved};
        break;
    default:
        return Err{RegisterError::Reserved};
    }
    switch (config.shutdown) {
    case ShutdownNotification::None:
    case ShutdownNotification::Normal:
    case ShutdownNotification::Abrupt:
        break;
    default:
        return Err{RegisterError::Reserved};
    }
    if (config.submission_entry_shift != 0 &&
        config.submission_entry_shift != submission_entry_shift)
        return Err{RegisterError::EntrySize};
    if (config.completion_entry_shift != 0 &&
        config.completion_entry_shift != completion_entry_shift)
        return Err{RegisterError::EntrySize};
    uint32_t cc = config.enabled ? 1u : 0u;
    cc |= uint32_t(config.command_set) << 4;
    cc |= uint32_t(config.page_shift - min_page_shift) << 7;
    cc |= uint32_t(config.arbitration) << 11;
    cc |= uint32_t(config.shutdown) << 14;
    cc |= uint32_t(config.submission_entry_shift) << 16;
    cc |= uint32_t(config.completion_entry_shift) << 20;
    return cc;
}

Result<Configuration, RegisterError> decode_configuration(uint32_t cc) {
    if (cc == ~uint32_t(0))
        return Err{RegisterError::DeviceGone};
    Configuration config;
    config.enabled = (cc & 1) != 0;
    uint8_t css = uint8_t((cc >> 4) & 0x7);
    if (css != 0 && css != 6 && css != 7)
        return Err{RegisterError::Reserved};
    config.command_set = CommandSetSelection(css);
    config.page_shift = uint8_t(min_page_shift + ((cc >> 7) & 0xf));
    uint8_t ams = uint8_t((cc >> 11) & 0x7);
    if (ams != 0 && ams != 1 && ams != 7)
        return Err{RegisterError::Reserved};
    config.arbitration = Arbitration(ams);
    uint8_t shn = uint8_t((cc >> 14) & 0x3);
    if (shn == 3)
        return Err{RegisterError::Reserved};
    config.shutdown = ShutdownNotification(shn);
    config.submission_entry_shift = uint8_t((cc >> 16) & 0xf);
    config.completion_entry_shift = uint8_t((cc >> 20) & 0xf);
    return config;
}

Result<ControllerStatus, RegisterError> parse_controller_status(uint32_t csts) {
    if (csts == ~uint32_t(0))
        return Err{RegisterError::DeviceGone};
    ControllerStatus status;
    status.ready = (csts & 1) != 0;
    status.fatal = ((csts >> 1) & 1) != 0;
    uint8_t shst = uint8_t((csts >> 2) & 0x3);
    if (shst == 3)
        return Err{RegisterError::Reserved};
    status.shutdown = ShutdownStatus(shst);
    status.subsystem_reset_occurred = ((csts >> 4) & 1) != 0;
    status.processing_paused = ((csts >> 5) & 1) != 0;
    return status;
}

Result<uint32_t, RegisterError> admin_queue_attributes(uint32_t submission_entries,
                                                       uint32_t completion_entries) {
    auto in_range = [](uint32_t entries) {
        return entries >= min_queue_entries && entries <= max_admin_queue_entries;
    };
    if (!in_range(submission_entries) || !in_range(completion_entries))
        return Err{RegisterError::QueueEntries};
    return (submission_entries - 1) | (completion_entries - 1) << 16;
}

Result<uint64_t, RegisterError> admin_queue_base(uint64_t device_address) {
    if (device_address & (min_page_size - 1))
        return Err{RegisterError::Misaligned};
    return device_address;
}

// --- Commands -------------------------------------------------------------------

namespace {

SubmissionEntry command(uint8_t opcode, uint32_t nsid) {
    SubmissionEntry entry;
    // FUSE 00b (not fused), PSDT 00b (PRPs): the command id comes at submit.
    entry.dwords[0] = opcode;
    entry.dwords[1] = nsid;
    return entry;
}

void set_data(SubmissionEntry& entry, DataPointer data) {
    entry.dwords[6] = uint32_t(data.prp1);
    entry.dwords[7] = uint32_t(data.prp1 >> 32);
    entry.dwords[8] = uint32_t(data.prp2);
    entry.dwords[9] = uint32_t(data.prp2 >> 32);
}

// PRP entries are dword aligned (bits 1:0 are 0); a transfer has a PRP1.
bool valid_data(DataPointer data) {
    return data.prp1 != 0 && (data.prp1 & 3) == 0 && (data.prp2 & 3) == 0;
}

Result<SubmissionEntry, CommandError> identify(IdentifyCns cns, uint32_t nsid, DataPointer data) {
    if (!valid_data(data))
        return Err{CommandError::DataPointer};
    SubmissionEntry entry = command(uint8_t(AdminOpcode::Identify), nsid);
    set_data(entry, data);
    entry.dwords[10] = uint8_t(cns); // CNTID (31:16) 0
    return entry;
}

Result<void, CommandError> check_queue(const IoQueue& queue, const QueueLimits& limits) {
    if (queue.queue_id == 0)
        return Err{CommandError::QueueId};
    uint32_t max =
        limits.max_entries < max_io_queue_entries ? limits.max_entries : max_io_queue_entries;
    if (queue.entries < min_queue_entries || queue.entries > max)
        return Err{CommandError::QueueEntries};
    uint32_t page = limits.page_size;
    if (page < min_page_size || (page & (page - 1)) != 0 || queue.base == 0 ||
        (queue.base & (page - 1)) != 0)
        return Err{CommandError::QueueAlignment};
    return {};
}

// CDW10 of both Create commands: QSIZE (31:16, 0's based) and QID (15:0).
uint32_t queue_size_and_id(const IoQueue& queue) {
    return (queue.entries - 1) << 16 | queue.queue_id;
}

Result<SubmissionEntry, CommandError> transfer(IoOpcode opcode, const BlockRange& range,
                                               DataPointer data) {
    if (!valid_namespace_id(range.nsid))
        return Err{CommandError::NamespaceId};
    if (range.block_count == 0 || range.block_count > 65536)
        return Err{CommandError::BlockCount};
    if (range.first_block > ~uint64_t(0) - (range.block_count - 1))
        return Err{CommandError::BlockRange};
    if (!valid_data(data))
        return Err{CommandError::DataPointer};
    SubmissionEntry entry = command(uint8_t(opcode), range.nsid);
    set_data(entry, data);
    entry.dwords[10] = uint32_t(range.first_block);
    entry.dwords[11] = uint32_t(range.first_block >> 32);
    // NLB (15:0) 0's based; PRINFO, FUA and LR stay 0.
    entry.dwords[12] = range.block_count - 1;
    return entry;
}

} // namespace

Result<SubmissionEntry, CommandError> identify_controller(DataPointer data) {
    return identify(IdentifyCns::Controller, 0, data);
}

Result<SubmissionEntry, CommandError> identify_namespace(uint32_t nsid, DataPointer data) {
    if (!valid_namespace_id(nsid))
        return Err{CommandError::NamespaceId};
    return identify(IdentifyCns::Namespace, nsid, data);
}

Result<SubmissionEntry, CommandError> identify_active_namespaces(uint32_t after, DataPointer data) {
    // FFFFFFFEh and FFFFFFFFh are aborted by the controller: nothing follows them.
    if (after >= 0xfffffffeu)
        return Err{CommandError::NamespaceId};
    return identify(IdentifyCns::ActiveNamespaces, after, data);
}

Result<SubmissionEntry, CommandError>
create_io_completion_queue(const IoQueue& queue, std::optional<uint16_t> interrupt_vector,
                           const QueueLimits& limits) {
    TRY(check_queue(queue, limits));
    SubmissionEntry entry = command(uint8_t(AdminOpcode::CreateIoCompletionQueue), 0);
    set_data(entry, DataPointer{queue.base, 0});
    entry.dwords[10] = queue_size_and_id(queue);
    // PC (bit 0) 1: the queue is one contiguous range; IEN (bit 1); IV (31:16).
    uint32_t dw11 = 1;
    if (interrupt_vector)
        dw11 |= 1u << 1 | uint32_t(*interrupt_vector) << 16;
    entry.dwords[11] = dw11;
    return entry;
}

Result<SubmissionEntry, CommandError> create_io_submission_queue(const IoQueue& queue,
                                                                 uint16_t completion_queue_id,
                                                                 QueuePriority priority,
                                                                 const QueueLimits& limits) {
    TRY(check_queue(queue, limits));
    if (completion_queue_id == 0)
        return Err{CommandError::QueueId};
    SubmissionEntry entry = command(uint8_t(AdminOpcode::CreateIoSubmissionQueue), 0);
    set_data(entry, DataPointer{queue.base, 0});
    entry.dwords[10] = queue_size_and_id(queue);
    // PC (bit 0) 1; QPRIO (2:1); CQID (31:16).
    entry.dwords[11] = 1u | (uint32_t(priority) & 0x3) << 1 | uint32_t(completion_queue_id) << 16;
    return entry;
}

Result<SubmissionEntry, CommandError> delete_io_submission_queue(uint16_t queue_id) {
    if (queue_id == 0)
        return Err{CommandError::QueueId};
    SubmissionEntry entry = command(uint8_t(AdminOpcode::DeleteIoSubmissionQueue), 0);
    entry.dwords[10] = queue_id;
    return entry;
}

Result<SubmissionEntry, CommandError> delete_io_completion_queue(uint16_t queue_id) {
    if (queue_id == 0)
        return Err{CommandError::QueueId};
    SubmissionEntry entry = command(uint8_t(AdminOpcode::DeleteIoCompletionQueue), 0);
    entry.dwords[10] = queue_id;
    return entry;
}

Result<SubmissionEntry, CommandError> set_number_of_queues(const QueueCounts& requested) {
    auto in_range = [](uint32_t count) { return count >= 1 && count <= 65535; };
    if (!in_range(requested.submission_queues) || !in_range(requested.completion_queues))
        return Err{CommandError::QueueCount};
    SubmissionEntry entry = command(uint8_t(AdminOpcode::SetFeatures), 0);
    entry.dwords[10] = feature_number_of_queues; // SV (bit 31) 0: not saved
    // NSQR (15:0) and NCQR (31:16), 0's based.
    entry.dwords[11] = (requested.submission_queues - 1) | (requested.completion_queues - 1) << 16;
    return entry;
}

Result<QueueCounts, CommandError> parse_number_of_queues(uint32_t completion_dw0) {
    uint32_t nsqa = completion_dw0 & 0xffff;
    uint32_t ncqa = completion_dw0 >> 16;
    if (nsqa == 0xffff || ncqa == 0xffff)
        return Err{CommandError::QueueCount};
    return QueueCounts{nsqa + 1, ncqa + 1};
}

Result<SubmissionEntry, CommandError> read_blocks(const BlockRange& range, DataPointer data) {
    return transfer(IoOpcode::Read, range, data);
}

Result<SubmissionEntry, CommandError> write_blocks(const BlockRange& range, DataPointer data) {
    return transfer(IoOpcode::Write, range, data);
}

Result<SubmissionEntry, CommandError> flush(uint32_t nsid) {
    if (nsid == 0)
        return Err{CommandError::NamespaceId};
    return command(uint8_t(IoOpcode::Flush), nsid);
}

} // namespace capos::nvme
