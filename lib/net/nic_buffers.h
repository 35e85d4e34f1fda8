// Who holds each buffer of a Nic's frame memory (schema/capos.capnp, "Nic"),
// as every NIC driver keeps it, and the checks of its holder's calls.
//
// Receive buffers go round: the device's (posted to its receive queue),
// arrived (a frame in it, waiting in arrival order for a receive), the
// holder's (handed out by a receive), and the device's again when the holder
// gives them back. Send buffers are the holder's, or the device's from a
// send that names them until that send is answered.
//
// A call that names a buffer it may not is refused whole before anything
// changes: a holder cannot give back a buffer twice, name a receive buffer
// in a send, or touch a buffer the device still has. Nothing here reads the
// frame memory.
#pragma once

#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <span>

namespace capos::net {

inline constexpr uint16_t ethernet_header_bytes = 14;

// Whether a checksum from `start` to the end of a frame of `length` bytes,
// stored at start + offset (two bytes), lies inside the frame after its
// Ethernet header (Nic's checksumStart and checksumOffset, and a device's
// request to complete one).
constexpr bool checksum_spot_fits(uint32_t length, uint16_t start, uint16_t offset) {
    return start >= ethernet_header_bytes && uint32_t(start) + offset + 2 <= length;
}

enum class NicError : uint8_t {
    NotReceiveBuffer, // a buffer given back that is not a receive buffer
    NotHeld,          // a receive buffer given back that the holder does not have
    NotSendBuffer,    // a send naming a buffer that is not a send buffer
    Busy,             // a send naming a buffer an unanswered send holds, or twice
    BadLength,        // a frame shorter than an Ethernet header or past the largest
    NoOffload,        // a checksum asked of a device that computes none
    BadChecksumSpot,  // a checksum whose place lies outside the frame
    TooMany,          // more frames than one call moves
};
const char* to_string(NicError error);

// A frame as the holder names it in a send, or as a receive hands it out.
struct Frame {
    uint16_t buffer = 0;
    uint16_t length = 0;
    uint16_t checksum_start = 0; // send: 0 for none
    uint16_t checksum_offset = 0;
    bool checksum_valid = false; // receive
};

class NicBuffers {
public:
    static constexpr uint16_t max_buffers = 512;
    static constexpr uint16_t max_batch = 64; // Nic.maxBatch

    // `receive` receive buffers (0 to receive - 1), then `send` send
    // buffers, at most max_buffers in all (the caller checks); frames of at
    // most `max_frame` bytes. Every receive buffer starts as the device's.
    NicBuffers(uint16_t receive, uint16_t send, uint16_t max_frame);

    uint16_t receive_buffers() const { return m_receive; }
    uint16_t send_buffers() const { return m_send; }

    // --- Receiving ----------------------------------------------------------
    // The device has put a frame in receive buffer `frame.buffer`: it waits
    // for a receive. False (nothing changed) when the buffer is not the
    // device's: the device completed a buffer it was not given.
    bool arrived(const Frame& frame);
    // Frames waiting for a receive.
    size_t waiting() const { return m_waiting_count; }
    // Hands out up to `out.size()` waiting frames, oldest first, to the
    // holder; how many.
    size_t hand_out(std::span<Frame> out);
    // Whether the holder may give back `buffers`: each a receive buffer it
    // has, none twice.
    Result<void, NicError> check_give_back(std::span<const uint16_t> buffers);
    // Gives back one buffer check_give_back accepted: the device's again.
    void give_back(uint16_t buffer);
    // The holder starts afresh (Nic.buffers): every receive buffer it has
    // is given back, into `out` (room for every receive buffer); how many.
    size_t reclaim(std::span<uint16_t> out);

    // --- Sending ------------------------------------------------------------
    // Whether the holder may send `frames`: each in a send buffer it has
    // (none twice), 14 to max_frame bytes, a checksum only with `offload`
    // and inside the frame after its Ethernet header; at most max_batch.
    Result<void, NicError> check_send(std::span<const Frame> frames, bool offload);
    // The device has send buffer `buffer` (a frame check_send accepted).
    void sending(uint16_t buffer);
    // The device is done with send buffer `buffer`: false (nothing changed)
    // when it did not have it.
    bool sent(uint16_t buffer);

private:
    enum class State : uint8_t { Device, Arrived, Holder };

    bool is_receive(uint16_t buffer) const { return buffer < m_receive; }
    bool is_send(uint16_t buffer) const {
        return buffer >= m_receive && buffer - m_receive < m_send;
    }

    uint16_t m_receive;
    uint16_t m_send;
    uint16_t m_max_frame;
    State m_state[max_buffers] = {};
    // Starts a check's marks afresh (a generation no mark has).
    void next_generation();

    // A check's marks: a buffer is marked when m_mark[b] == m_generation,
    // so no pass has to clear them (but the one that wraps the count).
    uint32_t m_mark[max_buffers] = {};
    uint32_t m_generation = 0;
    // Frames arrived, in order: a ring of at most every receive buffer.
    Frame m_waiting[max_buffers];
    size_t m_waiting_first = 0;
    size_t m_waiting_count = 0;
};

} // namespace capos::net
