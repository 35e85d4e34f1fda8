// What a scenario types into the guest's serial line: the `send:` lines, each
// released once the expects above it have matched, queued in order for the runner to
// write into QEMU's stdin as the pipe takes them. Pure logic, no I/O: the runner
// moves the bytes and says how far the serial log had come.
#pragma once

#include "tools/qemu-runner/scenario.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace capos::qemu {

// Where in the serial log a send was released, for the failure report.
struct SendMark {
    size_t send;       // index into sends()
    size_t line_index; // the line being received then (SerialMonitor::line())
    size_t column;     // bytes of that line received by then; 0: before the line
};

class SerialInput {
public:
    explicit SerialInput(std::vector<Send> sends);

    // Queues, in file order, every send not yet released whose expects have all
    // matched (`expects_seen` of them), and marks each at the given log position.
    void release(size_t expects_seen, size_t line_index, size_t column);

    // Released bytes not yet written, oldest first.
    std::string_view pending() const { return std::string_view(m_queue).substr(m_queue_start); }
    // The first `count` bytes of pending() were written.
    void consume(size_t count);

    bool all_released() const { return m_released == m_sends.size(); }
    // Every send released and all of its bytes written: the script is over.
    bool all_written() const { return all_released() && pending().empty(); }
    size_t released_bytes() const { return m_released_bytes; }
    size_t written_bytes() const { return m_released_bytes - pending().size(); }

    // The first released send of which some byte is past `delivered` (a count of
    // the released bytes, in order, that reached the guest); nullopt when none is.
    std::optional<size_t> first_undelivered(size_t delivered) const;
    // How many bytes of released send `index` are past `delivered`.
    size_t undelivered_bytes(size_t index, size_t delivered) const;

    const std::vector<Send>& sends() const { return m_sends; }
    const std::vector<SendMark>& marks() const { return m_marks; }

private:
    std::vector<Send> m_sends;
    std::vector<SendMark> m_marks;
    // Offset just past each released send in the stream of all released bytes.
    std::vector<size_t> m_ends;
    size_t m_released = 0; // sends released: a prefix of m_sends
    size_t m_released_bytes = 0;
    std::string m_queue;      // pending() is m_queue from m_queue_start on
    size_t m_queue_start = 0; // the written prefix, dropped once it is half the queue
};

} // namespace capos::qemu
