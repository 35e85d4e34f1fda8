#include "lib/nvme/queue.h"

namespace capos::nvme {

const char* to_string(QueueError error) {
    switch (error) {
    case QueueError::Memory:
        return "queue memory out of range";
    case QueueError::Full:
        return "queue full";
    case QueueError::WrongQueue:
        return "completion names another submission queue";
    case QueueError::HeadOutOfRange:
        return "submission queue head out of range";
    case QueueError::HeadPastTail:
        return "submission queue head moved backwards or past the tail";
    case QueueError::CommandIdOutOfRange:
        return "command id out of range";
    case QueueError::NotOutstanding:
        return "command id not outstanding";
    case QueueError::NotFetched:
        return "completion for a command not yet fetched";
    case QueueError::Broken:
        return "queue broken by an earlier bad completion";
    }
    return "unknown queue error";
}

Result<QueuePair, QueueError> QueuePair::create(const Memory& memory) {
    auto ring_ok = [](size_t entries) {
        return entries >= min_queue_entries && entries <= max_io_queue_entries;
    };
    if (!ring_ok(memory.submissions.size()) || !ring_ok(memory.completions.size()))
        return Err{QueueError::Memory};
    if (memory.commands.empty() || memory.commands.size() > 65535)
        return Err{QueueError::Memory};

    QueuePair queue;
    queue.m_queue_id = memory.queue_id;
    queue.m_submissions = memory.submissions;
    queue.m_completions = memory.completions;
    queue.m_commands = memory.commands;
    for (volatile SubmissionEntry& entry : memory.submissions)
        for (volatile uint32_t& dword : entry.dwords)
            dword = 0;
    for (volatile CompletionEntry& entry : memory.completions)
        for (volatile uint32_t& dword : entry.dwords)
            dword = 0;
    // Free list in id order: 0 is handed out first.
    size_t count = memory.commands.size();
    for (size_t id = 0; id < count; ++id) {
        CommandSlot& slot = memory.commands[id];
        slot = CommandSlot{};
        slot.m_next_free = uint16_t(id + 1); // count (the end) after the last
    }
    queue.m_free_head = 0;
    return queue;
}

uint32_t QueuePair::ring_distance(uint16_t from, uint16_t to) const {
    uint32_t entries = uint32_t(m_submissions.size());
    return (uint32_t(to) + entries - from) % entries;
}

uint32_t QueuePair::free_submission_slots() const {
    // One slot stays empty: head == tail means empty, so tail + 1 == head is full.
    return uint32_t(m_submissions.size()) - 1 - ring_distance(m_sq_head, m_sq_tail);
}

Result<uint16_t, QueueError> QueuePair::submit(const SubmissionEntry& entry, uint64_t token) {
    if (m_broken)
        return Err{QueueError::Broken};
    if (free_submission_slots() == 0 || m_free_head >= m_commands.size())
        return Err{QueueError::Full};

    uint16_t id = m_free_head;
    CommandSlot& slot = m_commands[id];
    m_free_head = slot.m_next_free;
    slot.m_token = token;
    slot.m_sequence = m_submitted;
    slot.m_outstanding = true;
    ++m_outstanding;

    SubmissionEntry copy = entry;
    copy.set_command_id(id);
    // Volatile stores: the entry is in place before the caller's doorbell
    // write, which the compiler does not move above them.
    volatile SubmissionEntry& target = m_submissions[m_sq_tail];
    for (size_t i = 0; i < 16; ++i)
        target.dwords[i] = copy.dwords[i];
    m_sq_tail = uint16_t((uint32_t(m_sq_tail) + 1) % m_submissions.size());
    ++m_submitted;
    return id;
}

Result<std::optional<Completion>, QueueError> QueuePair::take_completion() {
    if (m_broken)
        return Err{QueueError::Broken};

    // Read each field once; the phase tag first, the rest only when it says
    // the entry is new (volatile loads stay in this order, and x86 does not
    // reorder loads).
    const volatile CompletionEntry& entry = m_completions[m_cq_head];
    uint32_t dw3 = entry.dwords[3];
    if (((dw3 >> 16) & 1) != m_phase)
        return std::optional<Completion>{};
    uint32_t dw0 = entry.dwords[0];
    uint32_t dw2 = entry.dwords[2];

    uint16_t sq_head = uint16_t(dw2 & 0xffff);
    uint16_t sq_id = uint16_t(dw2 >> 16);
    uint16_t id = uint16_t(dw3 & 0xffff);

    // Check everything before changing anything.
    auto fail = [this](QueueError error) -> Result<std::optional<Completion>, QueueError> {
        m_broken = true;
        return Err{error};
    };
    if (sq_id != m_queue_id)
        return fail(QueueError::WrongQueue);
    if (sq_head >= m_submissions.size())
        return fail(QueueError::HeadOutOfRange);
    // The head moves forward from the last reported one, at most to the tail.
    uint32_t advance = ring_distance(m_sq_head, sq_head);
    if (advance > ring_distance(m_sq_head, m_sq_tail))
        return fail(QueueError::HeadPastTail);
    if (id >= m_commands.size())
        return fail(QueueError::CommandIdOutOfRange);
    CommandSlot& slot = m_commands[id];
    if (!slot.m_outstanding)
        return fail(QueueError::NotOutstanding);
    uint32_t fetched = m_fetched + advance;
    // Fetched means submitted before the reported head: its sequence is
    // below `fetched` (free-running, so compared as a difference).
    if (fetched - slot.m_sequence - 1 >= m_submitted - slot.m_sequence)
        return fail(QueueError::NotFetched);

    // Nothing below can fail.
    m_sq_head = sq_head;
    m_fetched = fetched;
    Completion completion;
    completion.token = slot.m_token;
    completion.command_id = id;
    completion.status = parse_command_status(dw3);
    completion.result = dw0;
    slot.m_outstanding = false;
    slot.m_token = 0;
    slot.m_next_free = m_free_head;
    m_free_head = id;
    --m_outstanding;
    uint32_t next_head = uint32_t(m_cq_head) + 1; // 65536 entries: no 16-bit wrap
    if (next_head == m_completions.size()) {
        next_head = 0;
        m_phase ^= 1;
    }
    m_cq_head = uint16_t(next_head);
    completion.completion_head = m_cq_head;
    return std::optional<Completion>{completion};
}

} // namespace capos::nvme
