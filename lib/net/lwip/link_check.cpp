// lwip_link_check: proof, at build time, that a capOS program can link
// lwIP's freestanding library. Linked like a user program (the user flags,
// ThinLTO, -nostdlib -static) but with nothing else than what a program
// always has, lib/freestanding/mem.cpp, so that any other C library function
// lwIP comes to call is an undefined symbol and fails the build. The entry
// points a network stack uses are all referenced, so that LTO keeps them and
// what they call. The embedder's three hooks (port/arch/cc.h) are stubs here.
#include "lwip/dhcp.h"
#include "lwip/dhcp6.h"
#include "lwip/dns.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/nd6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "netif/ethernet.h"

extern "C" {

u32_t sys_now(void) {
    return 0;
}
uint32_t capos_lwip_random(void) {
    return 4;
}
void capos_lwip_assert(const char*, const char*, int) {
    __builtin_trap();
}

[[noreturn]] void _start() {
    lwip_init();
    __builtin_trap();
}

} // extern "C"

namespace {

using EntryPoint = const void*;

[[gnu::used]] const EntryPoint entry_points[] = {
    reinterpret_cast<EntryPoint>(&sys_check_timeouts),
    reinterpret_cast<EntryPoint>(&netif_add),
    reinterpret_cast<EntryPoint>(&netif_remove),
    reinterpret_cast<EntryPoint>(&netif_find),
    reinterpret_cast<EntryPoint>(&netif_set_default),
    reinterpret_cast<EntryPoint>(&netif_set_up),
    reinterpret_cast<EntryPoint>(&netif_set_down),
    reinterpret_cast<EntryPoint>(&netif_set_link_up),
    reinterpret_cast<EntryPoint>(&netif_set_link_down),
    reinterpret_cast<EntryPoint>(&netif_set_status_callback),
    reinterpret_cast<EntryPoint>(&netif_set_link_callback),
    reinterpret_cast<EntryPoint>(&netif_set_addr),
    reinterpret_cast<EntryPoint>(&netif_create_ip6_linklocal_address),
    reinterpret_cast<EntryPoint>(&netif_add_ip6_address),
    reinterpret_cast<EntryPoint>(&ethernet_input),
    reinterpret_cast<EntryPoint>(&etharp_output),
    reinterpret_cast<EntryPoint>(&ethip6_output),
    reinterpret_cast<EntryPoint>(&dhcp_start),
    reinterpret_cast<EntryPoint>(&dhcp_stop),
    reinterpret_cast<EntryPoint>(&dhcp_release_and_stop),
    reinterpret_cast<EntryPoint>(&dhcp6_enable_stateless),
    reinterpret_cast<EntryPoint>(&dhcp6_disable),
    reinterpret_cast<EntryPoint>(&nd6_restart_netif),
    reinterpret_cast<EntryPoint>(&dns_setserver),
    reinterpret_cast<EntryPoint>(&dns_getserver),
    reinterpret_cast<EntryPoint>(&dns_gethostbyname_addrtype),
    reinterpret_cast<EntryPoint>(&tcp_new_ip_type),
    reinterpret_cast<EntryPoint>(&tcp_bind),
    reinterpret_cast<EntryPoint>(&tcp_listen_with_backlog),
    reinterpret_cast<EntryPoint>(&tcp_accept),
    reinterpret_cast<EntryPoint>(&tcp_connect),
    reinterpret_cast<EntryPoint>(&tcp_recv),
    reinterpret_cast<EntryPoint>(&tcp_sent),
    reinterpret_cast<EntryPoint>(&tcp_err),
    reinterpret_cast<EntryPoint>(&tcp_poll),
    reinterpret_cast<EntryPoint>(&tcp_write),
    reinterpret_cast<EntryPoint>(&tcp_output),
    reinterpret_cast<EntryPoint>(&tcp_recved),
    reinterpret_cast<EntryPoint>(&tcp_shutdown),
    reinterpret_cast<EntryPoint>(&tcp_close),
    reinterpret_cast<EntryPoint>(&tcp_abort),
    reinterpret_cast<EntryPoint>(&udp_new_ip_type),
    reinterpret_cast<EntryPoint>(&udp_bind),
    reinterpret_cast<EntryPoint>(&udp_connect),
    reinterpret_cast<EntryPoint>(&udp_recv),
    reinterpret_cast<EntryPoint>(&udp_sendto),
    reinterpret_cast<EntryPoint>(&udp_remove),
    reinterpret_cast<EntryPoint>(&pbuf_alloc),
    reinterpret_cast<EntryPoint>(&pbuf_free),
    reinterpret_cast<EntryPoint>(&pbuf_take),
    reinterpret_cast<EntryPoint>(&pbuf_copy_partial),
    reinterpret_cast<EntryPoint>(&ipaddr_aton),
    reinterpret_cast<EntryPoint>(&ipaddr_ntoa_r),
    reinterpret_cast<EntryPoint>(&lwip_stats),
};

} // namespace
