#include "lib/log/log_ring.h"
#include "lib/base/span_writer.h"

namespace capos::log {

namespace {

// A record's first word (the layout is in the header).
uint64_t header_of(Level level, size_t source_length, size_t message_length) {
    return uint64_t{message_length} | uint64_t{source_length} << 16 |
           uint64_t{static_cast<uint16_t>(level)} << 24;
}
size_t message_length_of(uint64_t header) {
    return header & 0xffff;
}
size_t source_length_of(uint64_t header) {
    return (header >> 16) & 0xff;
}
Level level_of(uint64_t header) {
    return static_cast<Level>((header >> 24) & 0xffff);
}
uint64_t text_words(size_t bytes) {
    return (bytes + 7) / 8;
}
uint64_t record_words(uint64_t header) {
    return LogRing::header_words + text_words(source_length_of(header) + message_length_of(header));
}

static_assert(LogRing::max_source_bytes <= 0xff && LogRing::max_message_bytes <= 0xffff,
              "the lengths fit their fields of the header word");

using Writer = SpanWriter;

} // namespace

void LogRing::append(uint64_t time_ns, Level level, std::string_view source,
                     std::string_view message) {
    if (m_capacity == 0) {
        m_first_sequence = ++m_next_sequence;
        return;
    }
    source = cut_text(source, max_source_bytes);
    message = cut_text(message, max_message_bytes);
    // A storage smaller than the largest record cuts the texts to fit it.
    const size_t room = (m_capacity - header_words) * 8;
    source = cut_text(source, room);
    message = cut_text(message, room - source.size());
    const uint64_t words = header_words + text_words(source.size() + message.size());

    uint64_t at = offset(m_tail);
    if (at + words > m_capacity) {
        // No record is split at the end: skip what is left of it.
        make_room(m_capacity - at);
        m_words[at] = skip_word;
        m_tail += m_capacity - at;
        at = 0;
    }
    make_room(words);
    uint64_t* record = m_words + at;
    record[words - 1] = 0; // the padding after the text (or the time, written next)
    record[0] = header_of(level, source.size(), message.size());
    record[1] = time_ns;
    auto* text = reinterpret_cast<char*>(record + header_words);
    if (!source.empty())
        __builtin_memcpy(text, source.data(), source.size());
    if (!message.empty())
        __builtin_memcpy(text + source.size(), message.data(), message.size());
    m_tail += words;
    ++m_next_sequence;
}

void LogRing::make_room(uint64_t words) {
    while (m_capacity - (m_tail - m_head) < words)
        drop_oldest();
}

void LogRing::drop_oldest() {
    uint64_t at = offset(m_head);
    if (m_words[at] == skip_word) {
        m_head += m_capacity - at;
        return;
    }
    m_head += record_words(m_words[at]);
    ++m_first_sequence;
}

uint64_t LogRing::position_of(uint64_t sequence) const {
    uint64_t position = m_head;
    for (uint64_t at = m_first_sequence; at < sequence; ++at)
        (void)entry_at(position, at);
    return position;
}

Entry LogRing::entry_at(uint64_t& position, uint64_t sequence) const {
    uint64_t at = offset(position);
    if (m_words[at] == skip_word) {
        position += m_capacity - at;
        at = 0;
    }
    const uint64_t header = m_words[at];
    const auto* text = reinterpret_cast<const char*>(m_words + at + header_words);
    const size_t source_length = source_length_of(header);
    position += record_words(header);
    return Entry{.sequence = sequence,
                 .time_ns = m_words[at + 1],
                 .level = level_of(header),
                 .source = {text, source_length},
                 .message = {text + source_length, message_length_of(header)}};
}

std::string_view cut_text(std::string_view text, size_t limit) {
    if (text.size() <= limit)
        return text;
    size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80)
        --end;
    return text.substr(0, end);
}

char level_letter(Level level) {
    switch (level) {
    case Level::Error:
        return 'E';
    case Level::Warn:
        return 'W';
    case Level::Info:
        return 'I';
    case Level::Debug:
        return 'D';
    }
    return '?';
}

size_t format_line(uint64_t time_ns, Level level, std::string_view source, std::string_view message,
                   std::span<char> out) {
    Writer line(out);
    const uint64_t microseconds = time_ns / 1000;
    line.put('[');
    line.decimal(microseconds / 1000000, 5);
    line.put('.');
    line.decimal(microseconds % 1000000, 6);
    line.text("] ");
    line.put(level_letter(level));
    line.put(' ');
    if (source != kernel_source) {
        line.text(source);
        line.text(": ");
    }
    line.text(message);
    return line.length();
}

} // namespace capos::log
