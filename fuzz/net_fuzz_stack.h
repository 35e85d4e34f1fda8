// The network stack the net_input fuzz target (net_input_fuzz.cpp) and its
// seed generator (net_input_fuzz_seeds.cpp) both run: lwIP as capOS builds it
// (lib/net/lwip), on one Ethernet netif with everything a hostile frame can
// reach switched on and waiting for an answer.
//
// lwIP's state is global and cannot be initialised twice, so the stack is
// set up once a process and its state saved: every variable lwIP's sources
// define is placed in the sections lwip_bss and lwip_data
// (net_fuzz_sections.h, forced into each lwIP source), and reset_stack()
// copies the saved bytes back, with the few variables of the stack here. lwIP takes all its memory
// from its own pools and heap, which are such variables, so after the copy the stack is the one
// that was saved, byte for byte: each input starts from the same state, and
// an input that fails fails again alone.
//
// An input is a list of records. A record's first byte below 0xf0 gives a
// frame: its length in the next two bytes (big-endian, at most 4096: longer
// than the NIC ever gives, so that buffer chains are parsed too; shorter
// when the input ends first), then the frame. A first byte below 0x80 lends
// the frame to lwIP as the network stack does (a custom pbuf over the start
// of a buffer of Nic.frameBytes, the frame memory's, which AddressSanitizer
// bounds, given back when lwIP frees it; at most lent_frames at once, and
// none longer than the NIC's 1514 bytes, the others copied: lwIP reads a
// few bytes past the end of a short frame, within its buffer, before it
// finds the frame short); 0x80 to 0xef copies it into the
// receive pool, as the stack does once half its buffers are lent. A byte of
// 0xf0 or above moves the clock on by (byte - 0xef) steps of 250 ms,
// running lwIP's timers at each step.
#pragma once

#include "tests/host/net_frames.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace capos::net::fuzz {

using testing::Bytes;
using testing::Ip4;
using testing::Mac;

// The stack's netif: 10.0.2.15/24 with gateway 10.0.2.2 and DNS server
// 10.0.2.3 (QEMU's user network), both known to ARP; a link-local IPv6
// address from the MAC, autoconfiguration from router advertisements on.
inline constexpr Mac stack_mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
inline constexpr Ip4 stack_ip = {10, 0, 2, 15};
inline constexpr Mac gateway_mac = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
inline constexpr Ip4 gateway_ip = {10, 0, 2, 2};
inline constexpr Mac dns_mac = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x03};
inline constexpr Ip4 dns_ip = {10, 0, 2, 3};
// A TCP listener (echoing what it receives) and a UDP pcb (echoing
// datagrams).
inline constexpr uint16_t tcp_port = 80;
inline constexpr uint16_t udp_port = 7;
// The name whose DNS query is outstanding.
inline constexpr char dns_name[] = "capos.example";

inline constexpr size_t max_frame = 4096;
inline constexpr size_t max_lent_frame = 1514;
inline constexpr size_t lent_buffer_bytes = 2048; // Nic.frameBytes
inline constexpr size_t lent_frames = 32;
inline constexpr uint8_t first_copied_record = 0x80;
inline constexpr uint8_t first_clock_record = 0xf0;
inline constexpr uint32_t clock_step_ms = 250;

// Called with every frame the stack sends, after it was checked (see
// check_sent_frame in net_fuzz_stack.cpp); none by default.
using FrameObserver = void (*)(std::span<const uint8_t> frame);
void set_frame_observer(FrameObserver observer);

// Sets the stack up and saves its state; once a process, before the rest.
// Frames it sends while it starts (DHCPDISCOVER, the DNS query, ND and MLD)
// go to the observer.
void start_stack();

// Puts the stack back to its state at the end of start_stack().
void reset_stack();

// Applies the input's first record and returns the rest.
std::span<const uint8_t> apply_record(std::span<const uint8_t> input);

// Ends every TCP connection and lets every timer that frees memory run out
// (reassembly, address resolution), then traps unless lwIP's receive pool,
// heap and pools are back to what they were at the end of start_stack()
// and every lent frame was given back: nothing an input did may keep a
// buffer.
void check_no_leak();

// DHCP's transaction id as start_stack() left it: for seeds that answer it.
uint32_t dhcp_transaction();

// Appends a frame record (lent, or `copied`), or a clock record of `steps`
// (1 to 16), to an input.
void append_frame_record(Bytes& input, std::span<const uint8_t> frame, bool copied = false);
void append_clock_record(Bytes& input, unsigned steps);

} // namespace capos::net::fuzz
