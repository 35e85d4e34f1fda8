// Nic through the virtio-net driver (user/drivers/virtio_net.cpp), on the
// network scenario.nic attaches: QEMU's user network (SLIRP), where the
// gateway 10.0.2.2 answers ARP and ICMP echo itself, and this machine is
// 10.0.2.15 (the address SLIRP's DHCP would give the first guest; no DHCP
// here: the frames are made by hand).
//
// Checked: info (QEMU's default MAC, MTU, link, the buffers); the frame
// memory maps; an ARP request for the gateway answered with its MAC; ICMP
// echo requests answered; with checksum offload, one whose checksum the
// device computed (checksumStart: SLIRP drops an echo whose checksum is
// wrong, so its answer proves the offload), without it (QEMU's user network
// has no virtio header to carry one, so QEMU offers none there) a send
// asking for a checksum refused; 256 echoes in batches of 64, more than the receive
// buffers, each answered once; every bad call refused with nothing done;
// a second Nic.buffers taking the receive buffers back. The test answers
// SLIRP's ARP requests for 10.0.2.15 as it goes.
#include "lib/net/checksum.h"
#include "lib/virtio/net.h"
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;
using schema::ExceptionType;
using schema::Nic;

namespace {

test::Suite suite("nic");

constexpr uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
// SLIRP's gateway, 10.0.2.2.
constexpr uint8_t gateway_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
constexpr uint8_t our_ip[4] = {10, 0, 2, 15};
constexpr uint8_t gateway_ip[4] = {10, 0, 2, 2};
constexpr uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

constexpr uint16_t ethertype_ipv4 = 0x0800;
constexpr uint16_t ethertype_arp = 0x0806;
constexpr size_t ethernet_bytes = 14;
constexpr size_t ipv4_bytes = 20;
constexpr size_t icmp_header_bytes = 8;
constexpr size_t echo_payload_bytes = 56;
constexpr size_t echo_frame_bytes =
    ethernet_bytes + ipv4_bytes + icmp_header_bytes + echo_payload_bytes;

using NicClient = rt::Capability<Nic>::Client;

uint16_t read16(const uint8_t* at) {
    return uint16_t(at[0] << 8 | at[1]);
}
void write16(uint8_t* at, uint16_t value) {
    at[0] = uint8_t(value >> 8);
    at[1] = uint8_t(value);
}
bool same(const uint8_t* a, const uint8_t* b, size_t bytes) {
    return __builtin_memcmp(a, b, bytes) == 0;
}
uint16_t checksum(const uint8_t* bytes, size_t length) {
    return net::checksum_finish(net::checksum_add(0, {bytes, length}));
}

void ethernet(uint8_t* frame, const uint8_t* to, uint16_t type) {
    __builtin_memcpy(frame, to, 6);
    __builtin_memcpy(frame + 6, our_mac, 6);
    write16(frame + 12, type);
}

// An ARP packet (RFC 826) of `operation` (1 request, 2 reply) from us.
size_t arp(uint8_t* frame, uint16_t operation, const uint8_t* to_mac, const uint8_t* target_mac,
           const uint8_t* target_ip) {
    ethernet(frame, to_mac, ethertype_arp);
    uint8_t* arp = frame + ethernet_bytes;
    write16(arp, 1);          // Ethernet
    write16(arp + 2, 0x0800); // IPv4
    arp[4] = 6;
    arp[5] = 4;
    write16(arp + 6, operation);
    __builtin_memcpy(arp + 8, our_mac, 6);
    __builtin_memcpy(arp + 14, our_ip, 4);
    __builtin_memcpy(arp + 18, target_mac, 6);
    __builtin_memcpy(arp + 24, target_ip, 4);
    return ethernet_bytes + 28;
}

// An ICMP echo request to the gateway, identifier 0xcafe and `sequence`,
// its payload a pattern of the sequence. With `offload` the ICMP checksum
// is left 0 for the device to compute.
size_t echo_request(uint8_t* frame, uint16_t sequence, bool offload) {
    ethernet(frame, gateway_mac, ethertype_ipv4);
    uint8_t* ip = frame + ethernet_bytes;
    uint16_t total = uint16_t(ipv4_bytes + icmp_header_bytes + echo_payload_bytes);
    ip[0] = 0x45;
    ip[1] = 0;
    write16(ip + 2, total);
    write16(ip + 4, sequence); // identification
    write16(ip + 6, 0);
    ip[8] = 64; // time to live
    ip[9] = 1;  // ICMP
    write16(ip + 10, 0);
    __builtin_memcpy(ip + 12, our_ip, 4);
    __builtin_memcpy(ip + 16, gateway_ip, 4);
    write16(ip + 10, checksum(ip, ipv4_bytes));
    uint8_t* icmp = ip + ipv4_bytes;
    icmp[0] = 8; // echo request
    icmp[1] = 0;
    write16(icmp + 2, 0);
    write16(icmp + 4, 0xcafe);
    write16(icmp + 6, sequence);
    for (size_t i = 0; i < echo_payload_bytes; ++i)
        icmp[icmp_header_bytes + i] = uint8_t(sequence * 7 + i);
    if (!offload)
        write16(icmp + 2, checksum(icmp, icmp_header_bytes + echo_payload_bytes));
    return echo_frame_bytes;
}

// The sequence number of an echo reply from the gateway to us whose
// checksums and payload are right for it; -1 for any other frame.
int32_t echo_reply_sequence(const uint8_t* frame, size_t length) {
    if (length < echo_frame_bytes || read16(frame + 12) != ethertype_ipv4 ||
        !same(frame, our_mac, 6))
        return -1;
    const uint8_t* ip = frame + ethernet_bytes;
    if (ip[0] != 0x45 || ip[9] != 1 || !same(ip + 12, gateway_ip, 4) || !same(ip + 16, our_ip, 4) ||
        checksum(ip, ipv4_bytes) != 0)
        return -1;
    const uint8_t* icmp = ip + ipv4_bytes;
    if (icmp[0] != 0 || read16(icmp + 4) != 0xcafe ||
        checksum(icmp, icmp_header_bytes + echo_payload_bytes) != 0)
        return -1;
    uint16_t sequence = read16(icmp + 6);
    for (size_t i = 0; i < echo_payload_bytes; ++i) {
        if (icmp[icmp_header_bytes + i] != uint8_t(sequence * 7 + i))
            return -1;
    }
    return sequence;
}

class Tester {
public:
    Tester(NicClient& nic, uint16_t receive_buffers, uint16_t send_buffers, uint8_t* memory)
        : m_nic(nic), m_receive_buffers(receive_buffers), m_send_buffers(send_buffers),
          m_memory(memory) {}

    uint8_t* buffer(uint16_t index) const { return m_memory + size_t(index) * Nic::frame_bytes; }
    uint16_t send_buffer(uint16_t i) const { return uint16_t(m_receive_buffers + i); }

    // Sends frames already written in send buffers 0 to count - 1 (of the
    // send buffers), each `lengths[i]` bytes; `checksum` asks the device for
    // the ICMP checksum of each.
    bool send(size_t count, const size_t* lengths, bool checksum) {
        auto sent = m_nic.send([&](Nic::SendParams::Builder params) {
            auto frames = params.init_frames(uint32_t(count));
            for (size_t i = 0; i < count; ++i) {
                frames[uint32_t(i)].set_buffer(send_buffer(uint16_t(i)));
                frames[uint32_t(i)].set_length(uint16_t(lengths[i]));
                if (checksum) {
                    frames[uint32_t(i)].set_checksum_start(uint16_t(ethernet_bytes + ipv4_bytes));
                    frames[uint32_t(i)].set_checksum_offset(2);
                }
            }
        });
        return sent.is_ok();
    }

    // Receives until `wanted(frame, length)` has said true `count` times,
    // giving every frame back with the next receive and answering ARP
    // requests for our address. False when a receive fails.
    template <typename Wanted>
    bool receive_until(size_t count, Wanted wanted) {
        size_t seen = 0;
        while (seen < count) {
            auto received = m_nic.receive([&](Nic::ReceiveParams::Builder params) {
                auto done = params.init_done(uint32_t(m_held_count));
                for (size_t i = 0; i < m_held_count; ++i)
                    done.set(uint32_t(i), m_held[i]);
            });
            if (received.is_error()) {
                m_error = test::describe(received.error());
                return false;
            }
            m_held_count = 0;
            auto frames = received.value().frames();
            if (frames.size() == 0) {
                m_error = Line("a receive answered with no frames");
                return false;
            }
            for (uint32_t i = 0; i < frames.size(); ++i) {
                uint16_t index = frames[i].buffer();
                uint16_t length = frames[i].length();
                if (index >= m_receive_buffers || length < ethernet_bytes ||
                    length > Nic::max_frame) {
                    m_error = Line("a frame outside the receive buffers or of a bad length");
                    return false;
                }
                m_held[m_held_count++] = index;
                ++m_frames;
                const uint8_t* frame = buffer(index);
                answer_arp(frame, length);
                if (wanted(frame, length))
                    ++seen;
            }
        }
        return true;
    }

    const Line& error() const { return m_error; }
    uint64_t frames() const { return m_frames; }
    size_t held_count() const { return m_held_count; }
    const uint16_t* held() const { return m_held; }
    // Forgets the buffers held (after Nic.buffers took them back).
    void forget_held() { m_held_count = 0; }

private:
    void answer_arp(const uint8_t* frame, size_t length) {
        if (length < ethernet_bytes + 28 || read16(frame + 12) != ethertype_arp)
            return;
        const uint8_t* packet = frame + ethernet_bytes;
        if (read16(packet + 6) != 1 || !same(packet + 24, our_ip, 4))
            return;
        // The last send buffer: the others hold frames being made.
        uint16_t index = send_buffer(uint16_t(m_send_buffers - 1));
        size_t bytes = arp(buffer(index), 2, packet + 8, packet + 8, packet + 14);
        (void)m_nic.send([&](Nic::SendParams::Builder params) {
            auto frames = params.init_frames(1);
            frames[0].set_buffer(index);
            frames[0].set_length(uint16_t(bytes));
        });
    }

    NicClient& m_nic;
    uint16_t m_receive_buffers;
    uint16_t m_send_buffers;
    uint8_t* m_memory;
    uint16_t m_held[Nic::max_batch] = {};
    size_t m_held_count = 0;
    uint64_t m_frames = 0;
    Line m_error;
};

void check_arp(Tester& tester) {
    size_t length = arp(tester.buffer(tester.send_buffer(0)), 1, broadcast,
                        (const uint8_t[6]){0, 0, 0, 0, 0, 0}, gateway_ip);
    suite.check("an ARP request for 10.0.2.2 is sent", tester.send(1, &length, false));
    bool answered = tester.receive_until(1, [](const uint8_t* frame, size_t frame_length) {
        if (frame_length < ethernet_bytes + 28 || read16(frame + 12) != ethertype_arp)
            return false;
        const uint8_t* packet = frame + ethernet_bytes;
        return read16(packet + 6) == 2 && same(packet + 14, gateway_ip, 4) &&
               same(packet + 8, gateway_mac, 6) && same(packet + 24, our_ip, 4);
    });
    suite.check("the gateway answers with its MAC 52:55:0a:00:02:02", answered, tester.error());
}

void check_echo(Tester& tester, uint16_t sequence, bool offload, std::string_view what) {
    size_t length = echo_request(tester.buffer(tester.send_buffer(0)), sequence, offload);
    bool sent = tester.send(1, &length, offload);
    bool answered = sent && tester.receive_until(1, [&](const uint8_t* frame, size_t bytes) {
        return echo_reply_sequence(frame, bytes) == sequence;
    });
    suite.check(what, answered, sent ? tester.error() : Line("the send failed"));
}

// 256 echoes, 64 to a send: each answered once, and the receive buffers
// (fewer than the answers) given back and used again.
void check_batches(Tester& tester) {
    constexpr uint16_t rounds = 4;
    constexpr uint16_t batch = Nic::max_batch;
    bool seen[rounds * batch] = {};
    bool ok = true;
    size_t duplicates = 0;
    for (uint16_t round = 0; round < rounds && ok; ++round) {
        size_t lengths[batch];
        for (uint16_t i = 0; i < batch; ++i) {
            uint16_t sequence = uint16_t(1000 + round * batch + i);
            lengths[i] = echo_request(tester.buffer(tester.send_buffer(i)), sequence, false);
        }
        ok = tester.send(batch, lengths, false);
        if (!ok)
            break;
        ok = tester.receive_until(batch, [&](const uint8_t* frame, size_t bytes) {
            int32_t sequence = echo_reply_sequence(frame, bytes);
            int32_t index = sequence - 1000 - round * batch;
            if (sequence < 0 || index < 0 || index >= batch)
                return false;
            if (seen[sequence - 1000]) {
                ++duplicates;
                return false;
            }
            seen[sequence - 1000] = true;
            return true;
        });
    }
    suite.check("256 echo requests in sends of 64: each answered once", ok && duplicates == 0,
                ok ? Line("duplicates: ").udec(duplicates) : tester.error());
}

void check_refused(NicClient& nic, uint32_t nic_id, Tester& tester, uint16_t receive_buffers) {
    auto send_one = [&](uint16_t buffer, uint16_t length, uint16_t start, uint16_t offset) {
        return nic.send([&](Nic::SendParams::Builder params) {
            auto frames = params.init_frames(1);
            frames[0].set_buffer(buffer);
            frames[0].set_length(length);
            frames[0].set_checksum_start(start);
            frames[0].set_checksum_offset(offset);
        });
    };
    uint16_t first_send = receive_buffers;
    suite.check_exception("a send from a receive buffer is invalidArgument", send_one(0, 60, 0, 0),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a send from past the last buffer is invalidArgument",
                          send_one(uint16_t(first_send + 1000), 60, 0, 0),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a frame of 13 bytes is invalidArgument", send_one(first_send, 13, 0, 0),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a frame of maxFrame + 1 bytes is invalidArgument",
                          send_one(first_send, uint16_t(Nic::max_frame + 1), 0, 0),
                          ExceptionType::InvalidArgument);
    suite.check_exception("a checksum placed past the frame is invalidArgument",
                          send_one(first_send, 60, 34, 25), ExceptionType::InvalidArgument);
    suite.check_exception("a checksum starting in the Ethernet header is invalidArgument",
                          send_one(first_send, 60, 13, 2), ExceptionType::InvalidArgument);
    auto twice = nic.send([&](Nic::SendParams::Builder params) {
        auto frames = params.init_frames(2);
        for (uint32_t i = 0; i < 2; ++i) {
            frames[i].set_buffer(first_send);
            frames[i].set_length(60);
        }
    });
    suite.check_exception("one send naming a buffer twice is invalidArgument", twice,
                          ExceptionType::InvalidArgument);
    auto too_many = nic.send([&](Nic::SendParams::Builder params) {
        auto frames = params.init_frames(Nic::max_batch + 1);
        for (uint32_t i = 0; i < Nic::max_batch + 1; ++i) {
            frames[i].set_buffer(uint16_t(first_send + i));
            frames[i].set_length(60);
        }
    });
    suite.check_exception("a send of maxBatch + 1 frames is invalidArgument", too_many,
                          ExceptionType::InvalidArgument);
    auto give_back = [&](std::initializer_list<uint16_t> buffers) {
        return nic.receive([&](Nic::ReceiveParams::Builder params) {
            auto done = params.init_done(uint32_t(buffers.size()));
            uint32_t i = 0;
            for (uint16_t buffer : buffers)
                done.set(i++, buffer);
        });
    };
    // Buffers the test holds now (the last receive's frames) and one it does not.
    uint16_t held = tester.held_count() > 0 ? tester.held()[0] : 0;
    uint16_t not_held = uint16_t(held == 0 ? 1 : held - 1);
    for (size_t i = 0; i < tester.held_count(); ++i) {
        if (tester.held()[i] == not_held)
            not_held = uint16_t(not_held + receive_buffers / 2) % receive_buffers;
    }
    suite.check_exception("giving back a receive buffer not held is invalidArgument",
                          give_back({held, not_held}), ExceptionType::InvalidArgument);
    suite.check_exception("giving back a buffer twice is invalidArgument", give_back({held, held}),
                          ExceptionType::InvalidArgument);
    suite.check_exception("giving back a send buffer is invalidArgument", give_back({first_send}),
                          ExceptionType::InvalidArgument);
    suite.check_exception(
        "another interface's method is unimplemented",
        schema::Echo::Client<rt::RingTransport>(rt::transport(), nic_id).echo("x"),
        ExceptionType::Unimplemented);
}

} // namespace

int main() {
    auto found = rt::lookup<Nic>("nic");
    if (!suite.check("the CapSet has 'nic'", found.is_ok()))
        return suite.finish();
    NicClient& nic = found.value().client();
    uint32_t nic_id = found.value().id().raw;

    auto info = nic.info();
    if (!suite.check_ok("info", info))
        return suite.finish();
    auto mac = info.value().mac();
    uint16_t receive_buffers = info.value().receive_buffers();
    uint16_t send_buffers = info.value().send_buffers();
    Line detail("MTU ");
    detail.udec(info.value().mtu()).add(", ").udec(receive_buffers).add(" receive and ");
    detail.udec(send_buffers).add(" send buffers, model '").add(info.value().model()).add('\'');
    suite.check(Line("info: QEMU's MAC, link up, ").add(detail.view()).view(),
                mac.size() == 6 && same(mac.data(), our_mac, 6) && info.value().link_up() &&
                    info.value().mtu() == 1500 && receive_buffers == 128 && send_buffers == 128 &&
                    info.value().model() == "virtio-net",
                detail);
    bool offload = info.value().checksum_offload();

    auto made = nic.buffers();
    if (!suite.check_ok("buffers", made))
        return suite.finish();
    rt::Capability<schema::MemoryObject> memory(abi::CapId{made.value().memory()});
    uint32_t pages = uint32_t((receive_buffers + send_buffers) * Nic::frame_bytes / 4096);
    auto mapped = memory->map(0, 0, pages, schema::Access::ReadWrite);
    if (!suite.check_ok("the frame memory maps", mapped))
        return suite.finish();
    auto* frames = reinterpret_cast<uint8_t*>(mapped.value().address());
    Tester tester(nic, receive_buffers, send_buffers, frames);

    check_arp(tester);
    check_echo(tester, 1, false, "an echo request to 10.0.2.2 is answered");
    if (offload) {
        check_echo(tester, 2, true,
                   "an echo request whose checksum the device computes is answered");
    } else {
        size_t length = echo_request(tester.buffer(tester.send_buffer(0)), 2, true);
        auto asked = nic.send([&](Nic::SendParams::Builder params) {
            auto frames = params.init_frames(1);
            frames[0].set_buffer(tester.send_buffer(0));
            frames[0].set_length(uint16_t(length));
            frames[0].set_checksum_start(uint16_t(ethernet_bytes + ipv4_bytes));
            frames[0].set_checksum_offset(2);
        });
        suite.check_exception("without checksum offload a send asking for a checksum is "
                              "invalidArgument",
                              asked, ExceptionType::InvalidArgument);
    }
    check_batches(tester);
    check_refused(nic, nic_id, tester, receive_buffers);
    check_echo(tester, 3, false, "after the refusals, an echo request is still answered");

    // A new holder takes over: the buffers this one held are the device's.
    uint16_t held = tester.held()[0];
    auto again = nic.buffers();
    suite.check_ok("buffers again", again);
    if (again.is_ok())
        (void)rt::release(abi::CapId{again.value().memory()});
    auto stale =
        nic.receive([&](Nic::ReceiveParams::Builder params) { params.init_done(1).set(0, held); });
    suite.check_exception("a buffer held before buffers was called again is not held now", stale,
                          ExceptionType::InvalidArgument);
    tester.forget_held();
    check_echo(tester, 4, false, "and the new holder's echo request is answered");
    suite.note(Line("frames received: ").udec(tester.frames()).view());
    return suite.finish();
}
