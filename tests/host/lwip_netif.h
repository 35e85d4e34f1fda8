// An Ethernet netif for running lwIP on the host (tests/host/lwip_test.cpp,
// fuzz/net_input_fuzz.cpp): what lwIP sends is kept as whole frames, and
// frames are given to lwIP the way a driver does, copied into buffers of the
// receive pool and passed to netif->input (ethernet_input).
#pragma once

#include "tests/host/net_frames.h"

#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

#include <span>
#include <vector>

namespace capos::net::testing {

struct CapturedNetif {
    struct netif netif = {};
    Mac mac = {};
    std::vector<Bytes> sent;
};

inline err_t capture_frame(struct netif* netif, struct pbuf* frame) {
    auto* owner = static_cast<CapturedNetif*>(netif->state);
    Bytes bytes(frame->tot_len);
    if (pbuf_copy_partial(frame, bytes.data(), frame->tot_len, 0) != frame->tot_len)
        return ERR_BUF;
    owner->sent.push_back(std::move(bytes));
    return ERR_OK;
}

// netif_add's init function: an Ethernet link with ARP, broadcast and IPv6
// multicast (MLD), the standard MTU, and the MAC of the CapturedNetif.
inline err_t init_captured_netif(struct netif* netif) {
    auto* owner = static_cast<CapturedNetif*>(netif->state);
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->mtu = 1500;
    netif->mtu6 = 1500;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    std::copy(owner->mac.begin(), owner->mac.end(), netif->hwaddr);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = capture_frame;
    return ERR_OK;
}

// Adds the netif with an IPv4 address (0.0.0.0 for none, as before DHCP),
// makes it the default, and brings it and its link up.
inline void add_captured_netif(CapturedNetif& owner, const Mac& mac, const Ip4& address,
                               const Ip4& netmask, const Ip4& gateway) {
    owner.mac = mac;
    auto to_lwip = [](const Ip4& a) {
        ip4_addr_t lwip;
        IP4_ADDR(&lwip, a[0], a[1], a[2], a[3]);
        return lwip;
    };
    ip4_addr_t ip = to_lwip(address), mask = to_lwip(netmask), gw = to_lwip(gateway);
    netif_add(&owner.netif, &ip, &mask, &gw, &owner, init_captured_netif, ethernet_input);
    netif_set_default(&owner.netif);
    netif_set_up(&owner.netif);
    netif_set_link_up(&owner.netif);
}

// One received frame, as a driver gives it: copied into receive-pool buffers
// (a chain when it is longer than one) and passed to the netif's input, which
// owns the buffers unless it fails. False when the pool is empty, as a
// driver then drops the frame.
inline bool deliver_frame(struct netif& netif, std::span<const uint8_t> frame) {
    struct pbuf* buffers = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(frame.size()), PBUF_POOL);
    if (buffers == nullptr)
        return false;
    if (pbuf_take(buffers, frame.data(), static_cast<u16_t>(frame.size())) != ERR_OK ||
        netif.input(buffers, &netif) != ERR_OK)
        pbuf_free(buffers);
    return true;
}

} // namespace capos::net::testing
