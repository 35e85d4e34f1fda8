#include "lib/net/address.h"

namespace capos::net {

std::string_view format_mac(std::span<const uint8_t, 6> mac, std::span<char, mac_text_bytes> out) {
    constexpr char digits[] = "0123456789abcdef";
    size_t at = 0;
    for (size_t i = 0; i < mac.size(); ++i) {
        if (i != 0)
            out[at++] = ':';
        out[at++] = digits[mac[i] >> 4];
        out[at++] = digits[mac[i] & 0xf];
    }
    return {out.data(), at};
}

} // namespace capos::net
