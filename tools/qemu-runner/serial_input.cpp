#include "tools/qemu-runner/serial_input.h"

#include <algorithm>

namespace capos::qemu {

SerialInput::SerialInput(std::vector<Send> sends) : m_sends(std::move(sends)) {}

void SerialInput::release(size_t expects_seen, size_t line_index, size_t column) {
    while (m_released < m_sends.size() && m_sends[m_released].after_expects <= expects_seen) {
        const std::string& bytes = m_sends[m_released].bytes;
        m_queue.append(bytes);
        m_released_bytes += bytes.size();
        m_ends.push_back(m_released_bytes);
        m_marks.push_back(SendMark{m_released, line_index, column});
        ++m_released;
    }
}

void SerialInput::consume(size_t count) {
    m_queue_start += std::min(count, pending().size());
    if (m_queue_start == m_queue.size()) {
        m_queue.clear();
        m_queue_start = 0;
    } else if (m_queue_start > m_queue.size() / 2) {
        m_queue.erase(0, m_queue_start);
        m_queue_start = 0;
    }
}

std::optional<size_t> SerialInput::first_undelivered(size_t delivered) const {
    auto it = std::upper_bound(m_ends.begin(), m_ends.end(), delivered);
    if (it == m_ends.end())
        return std::nullopt;
    return it - m_ends.begin();
}

size_t SerialInput::undelivered_bytes(size_t index, size_t delivered) const {
    size_t start = index == 0 ? 0 : m_ends[index - 1];
    return m_ends[index] - std::clamp(delivered, start, m_ends[index]);
}

} // namespace capos::qemu
