// lwIP's options for capOS (lwIP 2.1.3, built from Debian's source package by
// lib/net/lwip/CMakeLists.txt). One configuration for every build: the network
// stack program on capOS, the host tests and the fuzz target, so that what is
// tested is what runs.
//
// The stack runs in one single-threaded process that owns one NIC: lwIP's raw
// API only (no threads, no sockets, no netconn), driven by frames the process
// receives and by its own clock (sys_now and the timers in
// sys_check_timeouts). All of lwIP's memory is its own static pools and heap,
// so the stack's footprint is fixed when it is linked and a flood of frames
// runs a pool dry (counted in the statistics) instead of growing the process.
#pragma once

// The raw API, single-threaded: no OS layer, no locks (nothing interrupts lwIP
// inside its own process).
#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0

// Memory: lwIP's own heap (for PBUF_RAM: outgoing frames and the TCP data it
// copies) and fixed pools for everything else; never malloc. Eight-byte
// alignment, the x86-64 alignment of the pointers inside pbufs and pcbs.
#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT 8
// Four bulk senders each with a full send buffer queued (TCP_SND_BUF, about
// 48 KiB with headers), and room beside them for the small frames (ARP, ND,
// DNS, DHCP) and DHCP's state.
#define MEM_SIZE (256 * 1024)

// Receive buffers. One buffer holds a whole Ethernet frame (1514 bytes, a
// multiple of 64 above it), so a driver copies a frame into one buffer and
// lwIP never walks a chain on the common path. 128 of them (192 KiB): a full
// receive window (TCP_WND, 44 segments) for each of two connections at once,
// with 40 left for the other traffic (received frames are mostly lent to
// lwIP in the NIC's own buffers, and copied here only past half of those; a
// reader that stops holds at most two windows, 88 buffers).
#define PBUF_POOL_BUFSIZE 1536
#define PBUF_POOL_SIZE 128

// TCP, sized for bulk transfers: the Ethernet MSS, and a window and send
// buffer of 44 segments (64,240 bytes), the most whole segments a window
// holds without window scaling (which QEMU's user network, SLIRP, does not
// do, so a larger one would not be used). A bulk transfer through it is
// bounded by the window over the round trip: 32 segments gave 71 MB/s host
// -> guest, 43 gave 93 MB/s. The network stack gives the window back for up
// to one more window of data not yet read (user/services/net/sockets.cpp).
#define LWIP_TCP 1
#define TCP_MSS 1460
#define TCP_WND (44 * TCP_MSS)
#define TCP_SND_BUF (44 * TCP_MSS)
// lwIP's own rule of thumb (four segments per MSS of buffer, for small
// writes), written out because MEMP_NUM_TCP_SEG depends on it.
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
// Two full send queues, or one and the out-of-order segments of others.
#define MEMP_NUM_TCP_SEG (2 * TCP_SND_QUEUELEN)
// Out-of-order data is kept (loss recovery without resending the whole
// window), but one connection may hold at most 16 receive buffers of it: a
// peer sending only out-of-order segments cannot take the pool.
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_PBUFS 16
#define MEMP_NUM_TCP_PCB 32
#define MEMP_NUM_TCP_PCB_LISTEN 16
// A listener may take its port again while the connections it had wait out
// TIME-WAIT (SOF_REUSEADDR, set by the network stack on listeners only).
#define SO_REUSE 1
// PBUF_REF/ROM headers: data sent without copying, and fragments.
#define MEMP_NUM_PBUF 64
// Received frames lent to lwIP in place (the network stack's own pbufs over
// the frame memory, given back when lwIP frees them).
#define LWIP_SUPPORT_CUSTOM_PBUF 1

#define LWIP_UDP 1
// DHCP, DHCPv6, lwIP's DNS, the network stack's lookups (8) and the
// applications' sockets.
#define MEMP_NUM_UDP_PCB 32

// IPv4 with ARP, ICMP, DHCP and reassembly.
#define LWIP_IPV4 1
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_DHCP 1
// No NTP server from DHCP: capOS takes its time elsewhere.
#define LWIP_DHCP_GET_NTP_SRV 0
#define ARP_TABLE_SIZE 16
// Frames to a neighbour whose address is being resolved wait for the answer
// instead of being dropped (the first packet of every connection would be).
#define ARP_QUEUEING 1
#define MEMP_NUM_ARP_QUEUE 32
// A 64 KiB datagram in 1480-byte fragments is 45 of them; reassembly may hold
// 48 receive buffers, never the whole pool.
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define MEMP_NUM_REASSDATA 4
#define IP_REASS_MAX_PBUFS 48

// IPv6: link-local from the MAC, SLAAC from router advertisements, stateless
// DHCPv6 (DNS servers), ND, MLD and reassembly.
#define LWIP_IPV6 1
#define LWIP_ICMP6 1
#define LWIP_IPV6_MLD 1
#define LWIP_IPV6_AUTOCONFIG 1
#define LWIP_IPV6_DHCP6 1
#define LWIP_IPV6_DHCP6_STATELESS 1
#define LWIP_IPV6_REASS 1
#define LWIP_IPV6_FRAG 1
// Reassembly keeps its bookkeeping (a pointer and two offsets) in place of
// each fragment's 8-byte fragment header, which is too small for a 64-bit
// pointer: the header is saved aside instead (lwIP asserts this).
#define IPV6_FRAG_COPYHEADER 1
#define LWIP_ND6_NUM_NEIGHBORS 16
#define LWIP_ND6_NUM_DESTINATIONS 16
#define MEMP_NUM_ND6_QUEUE 32
// The solicited-node groups of the link-local and two SLAAC addresses, and
// groups the applications join.
#define MEMP_NUM_MLD6_GROUP 8

// One timeout for each of lwIP's cyclic timers. lwIP 2.1.3's count of them
// (LWIP_NUM_SYS_TIMEOUT_INTERNAL) leaves out DHCPv6's, so the last timer
// started (TCP's, at the first connection) found the pool empty and failed
// an assertion (tests/host/lwip_test.cpp).
// The network stack program's own timeouts come on top (user/services/net:
// one per echo, per caller waiting, per connection being opened and per
// name being looked up, each bounded there).
#define CAPOS_NETSTACK_TIMEOUTS 64
#define MEMP_NUM_SYS_TIMEOUT                                                                       \
    (LWIP_NUM_SYS_TIMEOUT_INTERNAL + LWIP_IPV6_DHCP6 + CAPOS_NETSTACK_TIMEOUTS)

// Raw IP endpoints: the network stack's ICMP and ICMPv6 echo (Icmp.echo).
#define LWIP_RAW 1
#define MEMP_NUM_RAW_PCB 4

// DNS, its servers from DHCP, DHCPv6 or a router advertisement (RDNSS).
#define LWIP_DNS 1
#define DNS_TABLE_SIZE 8
#define DNS_MAX_SERVERS 2
#define LWIP_ND6_RDNSS_MAX_DNS_SERVERS DNS_MAX_SERVERS

// The owner of the netif hears of address and link changes.
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1

// Counters of every layer (frames dropped, bad checksums, pool exhaustion),
// read for `ifconfig` and by the tests; never printed by lwIP itself.
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
