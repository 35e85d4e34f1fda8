#include "lib/net/nic_buffers.h"

namespace capos::net {

const char* to_string(NicError error) {
    switch (error) {
    case NicError::NotReceiveBuffer:
        return "a buffer given back is not a receive buffer";
    case NicError::NotHeld:
        return "a receive buffer given back was not handed out (or was given back already)";
    case NicError::NotSendBuffer:
        return "a frame sent is not in a send buffer";
    case NicError::Busy:
        return "a send buffer is named twice, or by a send not yet answered";
    case NicError::BadLength:
        return "a frame's length is outside 14 to maxFrame";
    case NicError::NoOffload:
        return "the device computes no checksums";
    case NicError::BadChecksumSpot:
        return "a checksum's place lies outside the frame";
    case NicError::TooMany:
        return "more frames than maxBatch";
    }
    return "unknown Nic error";
}

NicBuffers::NicBuffers(uint16_t receive, uint16_t send, uint16_t max_frame)
    : m_receive(receive), m_send(send), m_max_frame(max_frame) {
    // Receive buffers start as the device's; send buffers as the holder's.
    for (uint16_t buffer = 0; buffer < max_buffers; ++buffer)
        m_state[buffer] = is_receive(buffer) ? State::Device : State::Holder;
}

void NicBuffers::next_generation() {
    // After 2^32 checks the count comes round to marks still standing: a
    // buffer last named that long ago would read as named twice.
    if (++m_generation == 0) {
        for (uint32_t& mark : m_mark)
            mark = 0;
        m_generation = 1;
    }
}

bool NicBuffers::arrived(const Frame& frame) {
    if (!is_receive(frame.buffer) || m_state[frame.buffer] != State::Device)
        return false;
    m_state[frame.buffer] = State::Arrived;
    // Every waiting frame is in a buffer of its own: the ring cannot fill.
    m_waiting[(m_waiting_first + m_waiting_count) % max_buffers] = frame;
    ++m_waiting_count;
    return true;
}

size_t NicBuffers::hand_out(std::span<Frame> out) {
    size_t count = 0;
    while (count < out.size() && m_waiting_count > 0) {
        Frame frame = m_waiting[m_waiting_first];
        m_waiting_first = (m_waiting_first + 1) % max_buffers;
        --m_waiting_count;
        m_state[frame.buffer] = State::Holder;
        out[count++] = frame;
    }
    return count;
}

Result<void, NicError> NicBuffers::check_give_back(std::span<const uint16_t> buffers) {
    next_generation();
    for (uint16_t buffer : buffers) {
        if (!is_receive(buffer))
            return Err{NicError::NotReceiveBuffer};
        if (m_state[buffer] != State::Holder || m_mark[buffer] == m_generation)
            return Err{NicError::NotHeld};
        m_mark[buffer] = m_generation;
    }
    return {};
}

void NicBuffers::give_back(uint16_t buffer) {
    m_state[buffer] = State::Device;
}

size_t NicBuffers::reclaim(std::span<uint16_t> out) {
    size_t count = 0;
    for (uint16_t buffer = 0; buffer < m_receive && count < out.size(); ++buffer) {
        if (m_state[buffer] == State::Holder) {
            m_state[buffer] = State::Device;
            out[count++] = buffer;
        }
    }
    return count;
}

Result<void, NicError> NicBuffers::check_send(std::span<const Frame> frames, bool offload) {
    if (frames.size() > max_batch)
        return Err{NicError::TooMany};
    next_generation();
    for (const Frame& frame : frames) {
        if (!is_send(frame.buffer))
            return Err{NicError::NotSendBuffer};
        if (m_state[frame.buffer] != State::Holder || m_mark[frame.buffer] == m_generation)
            return Err{NicError::Busy};
        m_mark[frame.buffer] = m_generation;
        if (frame.length < ethernet_header_bytes || frame.length > m_max_frame)
            return Err{NicError::BadLength};
        if (frame.checksum_start != 0) {
            if (!offload)
                return Err{NicError::NoOffload};
            if (!checksum_spot_fits(frame.length, frame.checksum_start, frame.checksum_offset))
                return Err{NicError::BadChecksumSpot};
        }
    }
    return {};
}

void NicBuffers::sending(uint16_t buffer) {
    m_state[buffer] = State::Device;
}

bool NicBuffers::sent(uint16_t buffer) {
    if (!is_send(buffer) || m_state[buffer] != State::Device)
        return false;
    m_state[buffer] = State::Holder;
    return true;
}

} // namespace capos::net
