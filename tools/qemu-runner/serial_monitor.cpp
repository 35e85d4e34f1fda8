#include "tools/qemu-runner/serial_monitor.h"

#include <string>

namespace capos::qemu {

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
            out += static_cast<char>(c);
        } else {
            out += '^';
            out += static_cast<char>(c == 0x7f ? '?' : c + 0x40);
        }
    }
    return out;
}

SerialMonitor::SerialMonitor(std::vector<std::string> expects, std::vector<std::string> forbidden)
    : m_expects(std::move(expects)), m_forbidden(std::move(forbidden)) {}

void SerialMonitor::feed(std::string_view bytes) {
    m_byte_count += bytes.size();
    while (!bytes.empty()) {
        size_t newline = bytes.find('\n');
        if (newline == std::string_view::npos) {
            m_partial.append(bytes);
            if (m_partial.size() <= max_partial_match) {
                std::string line = m_partial;
                std::erase(line, '\r');
                examine(line, m_lines.size());
            }
            return;
        }
        m_partial.append(bytes.substr(0, newline));
        bytes.remove_prefix(newline + 1);
        complete_line();
    }
}

void SerialMonitor::finish() {
    if (!m_partial.empty())
        complete_line();
}

void SerialMonitor::complete_line() {
    std::string line = std::move(m_partial);
    m_partial.clear();
    std::erase(line, '\r');
    examine(line, m_lines.size());
    m_lines.push_back(std::move(line));
}

void SerialMonitor::examine(std::string_view line, size_t index) {
    if (!m_matching || m_forbidden_hit)
        return;
    for (const std::string& pattern : m_forbidden) {
        if (line.find(pattern) != std::string_view::npos) {
            m_forbidden_hit = ForbiddenHit{pattern, index};
            return;
        }
    }
    // A line satisfies at most one expect, even when examined again once complete.
    bool line_used = !m_matched_lines.empty() && m_matched_lines.back() == index;
    if (!all_expects_seen() && !line_used &&
        line.find(m_expects[m_next_expect]) != std::string_view::npos) {
        m_matched_lines.push_back(index);
        ++m_next_expect;
    }
}

std::string SerialMonitor::line(size_t index) const {
    if (index < m_lines.size())
        return m_lines[index];
    std::string partial = m_partial;
    std::erase(partial, '\r');
    return partial;
}

} // namespace capos::qemu
