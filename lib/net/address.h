// Network addresses as people read them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace capos::net {

inline constexpr size_t mac_text_bytes = 17;

// "52:54:00:12:34:56": six bytes in lower-case hex, colon-separated, into
// `out`; the text.
std::string_view format_mac(std::span<const uint8_t, 6> mac, std::span<char, mac_text_bytes> out);

} // namespace capos::net
