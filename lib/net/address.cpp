#include "lib/net/address.h"

namespace capos::net {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::optional<IpAddress> parse_ipv4(std::string_view text) {
    IpAddress address;
    address.length = 4;
    size_t at = 0;
    for (int part = 0; part < 4; ++part) {
        if (part != 0) {
            if (at >= text.size() || text[at] != '.')
                return std::nullopt;
            ++at;
        }
        size_t start = at;
        uint32_t value = 0;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9' && at - start < 3)
            value = value * 10 + uint32_t(text[at++] - '0');
        size_t digits = at - start;
        if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0'))
            return std::nullopt;
        address.bytes[part] = uint8_t(value);
    }
    if (at != text.size())
        return std::nullopt;
    return address;
}

// Hex groups separated by ':' into `groups`; how many, or -1 when malformed.
int parse_groups(std::string_view text, uint16_t* groups, int most) {
    if (text.empty())
        return 0;
    int count = 0;
    size_t at = 0;
    for (;;) {
        if (count == most)
            return -1;
        uint32_t value = 0;
        size_t start = at;
        while (at < text.size() && hex_value(text[at]) >= 0 && at - start < 4)
            value = value << 4 | uint32_t(hex_value(text[at++]));
        if (at == start)
            return -1;
        groups[count++] = uint16_t(value);
        if (at == text.size())
            return count;
        if (text[at] != ':')
            return -1;
        ++at;
    }
}

std::optional<IpAddress> parse_ipv6(std::string_view text) {
    uint16_t head[8];
    uint16_t tail[8];
    int head_count = 0;
    int tail_count = 0;
    size_t gap = text.find("::");
    if (gap == std::string_view::npos) {
        head_count = parse_groups(text, head, 8);
        if (head_count != 8)
            return std::nullopt;
    } else {
        if (text.find("::", gap + 1) != std::string_view::npos)
            return std::nullopt; // one "::" at most
        head_count = parse_groups(text.substr(0, gap), head, 7);
        tail_count = parse_groups(text.substr(gap + 2), tail, 7);
        if (head_count < 0 || tail_count < 0 || head_count + tail_count > 7)
            return std::nullopt;
    }
    IpAddress address;
    address.length = 16;
    for (int i = 0; i < head_count; ++i) {
        address.bytes[2 * i] = uint8_t(head[i] >> 8);
        address.bytes[2 * i + 1] = uint8_t(head[i]);
    }
    for (int i = 0; i < tail_count; ++i) {
        int group = 8 - tail_count + i;
        address.bytes[2 * group] = uint8_t(tail[i] >> 8);
        address.bytes[2 * group + 1] = uint8_t(tail[i]);
    }
    return address;
}

} // namespace

std::string_view format_mac(std::span<const uint8_t, 6> mac, std::span<char, mac_text_bytes> out) {
    size_t at = 0;
    for (size_t i = 0; i < mac.size(); ++i) {
        if (i != 0)
            out[at++] = ':';
        out[at++] = hex_digits[mac[i] >> 4];
        out[at++] = hex_digits[mac[i] & 0xf];
    }
    return {out.data(), at};
}

std::optional<IpAddress> parse_ip(std::string_view text) {
    if (text.find(':') != std::string_view::npos)
        return parse_ipv6(text);
    return parse_ipv4(text);
}

std::string_view format_ip(std::span<const uint8_t> address, std::span<char, ipv6_text_bytes> out) {
    size_t at = 0;
    if (address.size() == 4) {
        for (size_t i = 0; i < 4; ++i) {
            if (i != 0)
                out[at++] = '.';
            uint8_t value = address[i];
            if (value >= 100)
                out[at++] = char('0' + value / 100);
            if (value >= 10)
                out[at++] = char('0' + value / 10 % 10);
            out[at++] = char('0' + value % 10);
        }
        return {out.data(), at};
    }
    if (address.size() != 16) {
        out[0] = '?';
        return {out.data(), 1};
    }
    uint16_t groups[8];
    for (int i = 0; i < 8; ++i)
        groups[i] = uint16_t(address[2 * i] << 8 | address[2 * i + 1]);
    // The longest run of two or more zero groups (the first of equals).
    int best_start = -1;
    int best_length = 1;
    for (int i = 0; i < 8;) {
        if (groups[i] != 0) {
            ++i;
            continue;
        }
        int start = i;
        while (i < 8 && groups[i] == 0)
            ++i;
        if (i - start > best_length) {
            best_start = start;
            best_length = i - start;
        }
    }
    for (int i = 0; i < 8; ++i) {
        if (i == best_start) {
            out[at++] = ':';
            out[at++] = ':';
            i += best_length - 1;
            continue;
        }
        if (i != 0 && !(best_start >= 0 && i == best_start + best_length))
            out[at++] = ':';
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            uint8_t digit = uint8_t(groups[i] >> shift & 0xf);
            if (digit != 0 || started || shift == 0) {
                out[at++] = hex_digits[digit];
                started = true;
            }
        }
    }
    return {out.data(), at};
}

} // namespace capos::net
