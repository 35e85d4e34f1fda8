#include "lib/net/dns.h"

#include <optional>

namespace capos::net::dns {

namespace {

constexpr size_t header_size = 12;
constexpr uint16_t class_in = 1;
constexpr size_t max_label = 63;
// A name as written in a message: length bytes, labels and the final zero.
// The text's max_name is this less the first length byte and the zero.
constexpr size_t max_wire_name = 255;
// A sound name of at most 255 bytes has at most 127 labels, and never needs
// a pointer to land on another pointer, so this many jumps are more than
// any name needs; a loop of pointers reaches it and is refused.
constexpr unsigned max_jumps = 127;

// The header's flag bits (RFC 1035 4.1.1).
constexpr uint16_t flag_response = 0x8000;
constexpr uint16_t flag_truncated = 0x0200;
constexpr uint16_t flag_recursion_desired = 0x0100;
constexpr unsigned opcode_shift = 11;
constexpr uint16_t opcode_mask = 0xf;
constexpr uint16_t rcode_mask = 0xf;
constexpr uint16_t rcode_no_error = 0;
constexpr uint16_t rcode_no_such_name = 3;

// A record's fixed part after its owner name: type, class, TTL, RDLENGTH.
constexpr size_t record_fixed_size = 10;

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool name_byte(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

std::string_view without_final_dot(std::string_view name) {
    if (!name.empty() && name.back() == '.')
        name.remove_suffix(1);
    return name;
}

size_t address_length(Type type) {
    return type == Type::A ? 4 : 16;
}

// Only the types of the enum are asked for: a value cast from another
// number has no address length to check records against.
bool known_type(Type type) {
    return type == Type::A || type == Type::Aaaa;
}

uint16_t read16(std::span<const uint8_t> bytes, size_t at) {
    return uint16_t(bytes[at] << 8 | bytes[at + 1]);
}

uint32_t read32(std::span<const uint8_t> bytes, size_t at) {
    return uint32_t(bytes[at]) << 24 | uint32_t(bytes[at + 1]) << 16 |
           uint32_t(bytes[at + 2]) << 8 | bytes[at + 3];
}

void put16(std::span<uint8_t> out, size_t at, uint16_t value) {
    out[at] = uint8_t(value >> 8);
    out[at + 1] = uint8_t(value);
}

// Reads the name at `at` in `message`, handing each label to `on_label`
// (a std::span<const uint8_t>), and gives where the name ends where it
// began: after its zero byte, or after its first pointer when it is
// compressed. Nothing when it cannot be read: a length or a pointer past
// the message's end, a label type other than a plain length or a pointer
// (0x40 extended labels, 0x80 reserved), a name longer than 255 bytes once
// expanded, or more jumps than a sound name needs (a loop). A pointer may
// lead anywhere in the message, forwards too: the bound on jumps, not the
// direction, is what ends a loop.
template <typename OnLabel>
std::optional<size_t> read_name(std::span<const uint8_t> message, size_t at, OnLabel&& on_label) {
    std::optional<size_t> end;
    size_t length = 1; // the final zero's byte
    unsigned jumps = 0;
    for (;;) {
        if (at >= message.size())
            return std::nullopt;
        uint8_t byte = message[at];
        if (byte == 0)
            return end ? *end : at + 1;
        switch (byte & 0xc0) {
        case 0x00: {
            size_t count = byte;
            if (count > message.size() - at - 1)
                return std::nullopt;
            length += 1 + count;
            if (length > max_wire_name)
                return std::nullopt;
            on_label(message.subspan(at + 1, count));
            at += 1 + count;
            break;
        }
        case 0xc0:
            if (message.size() - at < 2 || ++jumps > max_jumps)
                return std::nullopt;
            if (!end)
                end = at + 2;
            at = size_t(byte & 0x3f) << 8 | message[at + 1];
            break;
        default:
            return std::nullopt;
        }
    }
}

// Compares the labels of a name read from a message with the text of a
// valid name, one label at a time: a label's bytes are not text (one may
// hold a dot), so the two are matched label by label, not as strings.
class SameName {
public:
    explicit SameName(std::string_view name) : m_rest(without_final_dot(name)) {}

    void operator()(std::span<const uint8_t> label) {
        if (!m_same)
            return;
        if (!m_more) {
            m_same = false; // the message's name is longer
            return;
        }
        size_t dot = m_rest.find('.');
        std::string_view want = m_rest.substr(0, dot);
        if (dot == std::string_view::npos)
            m_more = false;
        else
            m_rest.remove_prefix(dot + 1);
        if (want.size() != label.size()) {
            m_same = false;
            return;
        }
        for (size_t i = 0; i < want.size(); ++i)
            if (lower(want[i]) != lower(char(label[i])))
                m_same = false;
    }

    bool same() const { return m_same && !m_more; }

private:
    std::string_view m_rest; // the labels not yet matched
    bool m_more = true;      // (the name is valid, so never empty)
    bool m_same = true;
};

} // namespace

bool valid_name(std::string_view name) {
    name = without_final_dot(name);
    if (name.empty() || name.size() > max_name)
        return false;
    size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (!name_byte(c) || ++label > max_label) {
            return false;
        }
    }
    return label != 0;
}

size_t write_query(uint16_t id, std::string_view name, Type type, std::span<uint8_t> out) {
    if (!valid_name(name) || !known_type(type))
        return 0;
    name = without_final_dot(name);
    // Each dot becomes a label's length, plus the first label's and the zero.
    size_t length = header_size + name.size() + 2 + 4;
    if (out.size() < length)
        return 0;
    put16(out, 0, id);
    put16(out, 2, flag_recursion_desired);
    put16(out, 4, 1); // one question
    put16(out, 6, 0);
    put16(out, 8, 0);
    put16(out, 10, 0);
    size_t at = header_size;
    while (!name.empty()) {
        size_t dot = name.find('.');
        std::string_view label = name.substr(0, dot);
        out[at++] = uint8_t(label.size());
        for (char c : label)
            out[at++] = uint8_t(c);
        name.remove_prefix(dot == std::string_view::npos ? name.size() : dot + 1);
    }
    out[at++] = 0;
    put16(out, at, uint16_t(type));
    put16(out, at + 2, class_in);
    return length;
}

Status read_response(std::span<const uint8_t> message, uint16_t id, std::string_view name,
                     Type type, Addresses& out) {
    out = Addresses{};
    // No query was sent for such a name or type, so nothing answers it.
    if (!valid_name(name) || !known_type(type))
        return Status::NotOurs;
    // Whatever bytes there are say first whether the message is ours at all:
    // a datagram from someone else must not end the query, however short.
    if (message.size() >= 2 && read16(message, 0) != id)
        return Status::NotOurs;
    if (message.size() >= 3) {
        uint16_t high = uint16_t(message[2] << 8); // the flags' first byte: QR and the opcode
        if (!(high & flag_response) || (high >> opcode_shift & opcode_mask) != 0)
            return Status::NotOurs;
    }
    if (message.size() < header_size)
        return Status::Malformed;
    uint16_t flags = read16(message, 2);
    // The answer echoes the one question asked; anything else answers
    // another query (or none a server would send for ours).
    if (read16(message, 4) != 1)
        return Status::NotOurs;
    SameName same_name(name);
    std::optional<size_t> end = read_name(message, header_size, same_name);
    if (!end || message.size() - *end < 4)
        return Status::Malformed;
    size_t at = *end;
    if (!same_name.same() || read16(message, at) != uint16_t(type) ||
        read16(message, at + 2) != class_in)
        return Status::NotOurs;
    at += 4;

    // A truncated answer is not read: its records may be cut anywhere.
    if (flags & flag_truncated)
        return Status::Truncated;
    uint16_t rcode = flags & rcode_mask;
    if (rcode == rcode_no_such_name)
        return Status::NoSuchName;
    if (rcode != rcode_no_error)
        return Status::ServerFailed;

    uint16_t answers = read16(message, 6);
    for (uint16_t i = 0; i < answers; ++i) {
        end = read_name(message, at, [](std::span<const uint8_t>) {});
        if (!end || message.size() - *end < record_fixed_size) {
            out = Addresses{};
            return Status::Malformed;
        }
        at = *end;
        uint16_t record_type = read16(message, at);
        uint16_t record_class = read16(message, at + 2);
        uint32_t ttl = read32(message, at + 4);
        size_t rdlength = read16(message, at + 8);
        at += record_fixed_size;
        if (rdlength > message.size() - at) {
            out = Addresses{};
            return Status::Malformed;
        }
        if (record_type == uint16_t(type) && record_class == class_in) {
            if (rdlength != address_length(type)) {
                out = Addresses{};
                return Status::Malformed;
            }
            // RFC 2181 8: a TTL with its top bit set is read as zero.
            if (ttl > 0x7fffffff)
                ttl = 0;
            if (out.count < max_addresses) {
                for (size_t b = 0; b < rdlength; ++b)
                    out.bytes[out.count][b] = message[at + b];
                out.length[out.count] = uint8_t(rdlength);
                out.ttl = out.count == 0 || ttl < out.ttl ? ttl : out.ttl;
                ++out.count;
            }
        }
        at += rdlength;
    }
    return out.count > 0 ? Status::Answered : Status::NoRecords;
}

std::string_view to_string(Status status) {
    switch (status) {
    case Status::Answered:
        return "answered";
    case Status::NoRecords:
        return "no records of the type";
    case Status::NoSuchName:
        return "no such name";
    case Status::ServerFailed:
        return "the server failed";
    case Status::Truncated:
        return "the answer was truncated";
    case Status::NotOurs:
        return "not a response to the query";
    case Status::Malformed:
        return "a malformed response";
    }
    return "unknown status";
}

} // namespace capos::net::dns
