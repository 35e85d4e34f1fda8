// Host tests for a NIC's frame buffers and for virtio-net's decisions.
// NicBuffers (lib/net/nic_buffers.h): every refusal of a give-back and of a
// send, each shown to change nothing (the buffers' states observed through
// the public calls on a copy), duplicates within one call, arrival order kept
// across the waiting ring's wrap, a device completing buffers it was not
// given, reclaim, the bounds of a frame and of its checksum's place, and
// random traffic against a model of each buffer's holder. virtio-net
// (lib/virtio/net.h): the features taken of every single bit offered, the
// configuration read, the interface served, the send header's bytes, and the
// checks of a received header and used length, with checksums completed in
// real UDP and TCP packets and checked by a checksum written here apart from
// the library's.
#include "lib/net/address.h"
#include "lib/net/checksum.h"
#include "lib/net/nic_buffers.h"
#include "lib/net/receive_window.h"
#include "lib/virtio/net.h"
#include "lib/virtio/virtqueue.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

// gtest prints errors by name.
namespace capos::net {
static void PrintTo(NicError error, std::ostream* out) {
    *out << to_string(error);
}
} // namespace capos::net
namespace capos::virtio::net {
static void PrintTo(NetError error, std::ostream* out) {
    *out << to_string(error);
}
} // namespace capos::virtio::net

namespace capos {
namespace {

using net::Frame;
using net::NicBuffers;
using net::NicError;

template <typename T, typename E>
std::optional<E> error_of(const Result<T, E>& result) {
    if (result.is_ok())
        return std::nullopt;
    return result.error();
}

// ---------------------------------------------------------------------------
// NicBuffers

constexpr uint16_t max_frame = 1514;

// Who has a buffer, as the holder's calls and the device's completions see
// it. Unclear: the calls disagree (no state explains them).
enum class Holds : uint8_t { Device, Arrived, Holder, Unclear };

std::ostream& operator<<(std::ostream& out, Holds holds) {
    const char* names[] = {"Device", "Arrived", "Holder", "Unclear"};
    return out << names[size_t(holds)];
}

// A frame waiting for a receive, as hand_out gives it.
struct Waiting {
    uint16_t buffer = 0;
    uint16_t length = 0;
    bool checksum_valid = false;
    bool operator==(const Waiting&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Waiting& waiting) {
    return out << "{buffer " << waiting.buffer << ", length " << waiting.length
               << (waiting.checksum_valid ? ", checked}" : "}");
}

Waiting waiting_of(const Frame& frame) {
    return {frame.buffer, frame.length, frame.checksum_valid};
}

// Every buffer's holder (receive buffers, then send buffers) and the frames
// waiting, in arrival order.
struct Snapshot {
    std::vector<Holds> holds;
    std::vector<Waiting> waiting;
    bool operator==(const Snapshot&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Snapshot& snapshot) {
    out << "holds [";
    for (Holds holds : snapshot.holds)
        out << holds << ' ';
    out << "] waiting [";
    for (const Waiting& waiting : snapshot.waiting)
        out << waiting << ' ';
    return out << ']';
}

// The states of `buffers` as its calls show them, without changing it: the
// probes that change state run on a copy. A receive buffer is the holder's
// when it may be given back, arrived when hand_out gives it, the device's
// when the device may complete it; a send buffer is the holder's when a send
// may name it, the device's when it may be sent.
Snapshot snapshot(const NicBuffers& buffers) {
    NicBuffers copy = buffers;
    uint16_t receive = copy.receive_buffers();
    uint16_t send = copy.send_buffers();
    std::vector<bool> held(receive + send);
    for (uint16_t buffer = 0; buffer < receive; ++buffer) {
        uint16_t one[] = {buffer};
        held[buffer] = copy.check_give_back(one).is_ok();
    }
    for (uint16_t buffer = receive; buffer < receive + send; ++buffer) {
        Frame frame{buffer, net::ethernet_header_bytes};
        held[buffer] = copy.check_send({&frame, 1}, false).is_ok();
    }

    Snapshot result;
    std::vector<Frame> out(copy.waiting());
    size_t count = copy.hand_out(out);
    std::set<uint16_t> arrived;
    for (size_t i = 0; i < count; ++i) {
        result.waiting.push_back(waiting_of(out[i]));
        arrived.insert(out[i].buffer);
    }
    if (count != out.size() || copy.waiting() != 0)
        result.waiting.push_back({0xffff, 0xffff}); // cannot match any model

    for (uint16_t buffer = 0; buffer < receive; ++buffer) {
        bool was_arrived = arrived.count(buffer) != 0;
        // Taken after hand_out: a buffer the device has is still the device's.
        bool device = copy.arrived(Frame{buffer, net::ethernet_header_bytes});
        int ways = int(held[buffer]) + int(was_arrived) + int(device);
        if (ways != 1)
            result.holds.push_back(Holds::Unclear);
        else
            result.holds.push_back(held[buffer]  ? Holds::Holder
                                   : was_arrived ? Holds::Arrived
                                                 : Holds::Device);
    }
    for (uint16_t buffer = receive; buffer < receive + send; ++buffer) {
        bool device = copy.sent(buffer);
        if (int(held[buffer]) + int(device) != 1)
            result.holds.push_back(Holds::Unclear);
        else
            result.holds.push_back(held[buffer] ? Holds::Holder : Holds::Device);
    }
    return result;
}

// What a NicBuffers should say, written from the Nic interface's contract.
struct Model {
    Model(uint16_t receive, uint16_t send, uint16_t max_frame)
        : receive(receive), send(send), max_frame(max_frame) {
        holds.assign(receive, Holds::Device);
        holds.resize(receive + send, Holds::Holder);
    }

    bool is_receive(uint32_t buffer) const { return buffer < receive; }
    bool is_send(uint32_t buffer) const { return buffer >= receive && buffer < receive + send; }

    std::optional<NicError> give_back_error(const std::vector<uint16_t>& buffers) const {
        std::set<uint16_t> named;
        for (uint16_t buffer : buffers) {
            if (!is_receive(buffer))
                return NicError::NotReceiveBuffer;
            if (holds[buffer] != Holds::Holder || !named.insert(buffer).second)
                return NicError::NotHeld;
        }
        return std::nullopt;
    }

    std::optional<NicError> send_error(const std::vector<Frame>& frames, bool offload) const {
        if (frames.size() > NicBuffers::max_batch)
            return NicError::TooMany;
        std::set<uint16_t> named;
        for (const Frame& frame : frames) {
            if (!is_send(frame.buffer))
                return NicError::NotSendBuffer;
            if (holds[frame.buffer] != Holds::Holder || !named.insert(frame.buffer).second)
                return NicError::Busy;
            if (frame.length < 14 || frame.length > max_frame)
                return NicError::BadLength;
            if (frame.checksum_start != 0) {
                if (!offload)
                    return NicError::NoOffload;
                if (frame.checksum_start < 14 ||
                    frame.checksum_start + frame.checksum_offset + 2 > frame.length)
                    return NicError::BadChecksumSpot;
            }
        }
        return std::nullopt;
    }

    Snapshot snapshot() const { return {holds, {waiting.begin(), waiting.end()}}; }

    uint16_t receive;
    uint16_t send;
    uint16_t max_frame;
    std::vector<Holds> holds;
    std::deque<Waiting> waiting;
};

// Frames arrive in `order` and are handed out (checked): the buffers are the
// holder's afterwards.
void arrive_and_hand_out(NicBuffers& buffers, const std::vector<uint16_t>& order) {
    for (uint16_t buffer : order)
        ASSERT_TRUE(buffers.arrived(Frame{buffer, 60}));
    std::vector<Frame> out(order.size());
    ASSERT_EQ(buffers.hand_out(out), order.size());
    for (size_t i = 0; i < order.size(); ++i)
        ASSERT_EQ(out[i].buffer, order[i]);
}

std::vector<Holds> holds_of(uint16_t receive, uint16_t send, Holds receive_holds = Holds::Device) {
    std::vector<Holds> holds(receive, receive_holds);
    holds.resize(receive + send, Holds::Holder);
    return holds;
}

TEST(NicBuffers, ReceiveBuffersStartAsTheDevicesAndSendBuffersAsTheHolders) {
    NicBuffers buffers(8, 4, max_frame);
    EXPECT_EQ(buffers.receive_buffers(), 8u);
    EXPECT_EQ(buffers.send_buffers(), 4u);
    EXPECT_EQ(buffers.waiting(), 0u);
    EXPECT_EQ(snapshot(buffers), (Snapshot{holds_of(8, 4), {}}));
    // The schema's Nic.maxBatch.
    EXPECT_EQ(NicBuffers::max_batch, 64u);
}

TEST(NicBuffers, GiveBackRefusesABufferThatIsNotAReceiveBuffer) {
    NicBuffers buffers(8, 4, max_frame);
    arrive_and_hand_out(buffers, {0, 1});
    Snapshot before = snapshot(buffers);
    // Send buffers (the first and the last), just past them, the last index
    // the arrays have, and far out of range.
    for (uint16_t buffer : {8, 11, 12, 511, 512, 65535}) {
        uint16_t list[] = {buffer};
        EXPECT_EQ(error_of(buffers.check_give_back(list)), NicError::NotReceiveBuffer) << buffer;
        // After a buffer the holder does have, too: the whole call is refused.
        uint16_t after_held[] = {0, buffer};
        EXPECT_EQ(error_of(buffers.check_give_back(after_held)), NicError::NotReceiveBuffer)
            << buffer;
    }
    EXPECT_EQ(snapshot(buffers), before);
}

TEST(NicBuffers, GiveBackRefusesAReceiveBufferTheHolderDoesNotHave) {
    NicBuffers buffers(8, 4, max_frame);
    arrive_and_hand_out(buffers, {2, 3});
    ASSERT_TRUE(buffers.arrived(Frame{4, 60})); // arrived, not handed out
    Snapshot before = snapshot(buffers);
    EXPECT_EQ(before.holds[4], Holds::Arrived);

    uint16_t device[] = {0};
    EXPECT_EQ(error_of(buffers.check_give_back(device)), NicError::NotHeld);
    uint16_t arrived[] = {4};
    EXPECT_EQ(error_of(buffers.check_give_back(arrived)), NicError::NotHeld);
    uint16_t after_held[] = {2, 0};
    EXPECT_EQ(error_of(buffers.check_give_back(after_held)), NicError::NotHeld);
    EXPECT_EQ(snapshot(buffers), before);

    // Given back once, it is the device's: not again.
    uint16_t two[] = {2};
    ASSERT_TRUE(buffers.check_give_back(two).is_ok());
    buffers.give_back(2);
    EXPECT_EQ(error_of(buffers.check_give_back(two)), NicError::NotHeld);
}

TEST(NicBuffers, GiveBackRefusesABufferNamedTwiceInOneCall) {
    NicBuffers buffers(8, 4, max_frame);
    arrive_and_hand_out(buffers, {5, 6, 7});
    Snapshot before = snapshot(buffers);
    uint16_t twice[] = {5, 5};
    EXPECT_EQ(error_of(buffers.check_give_back(twice)), NicError::NotHeld);
    uint16_t apart[] = {5, 6, 7, 6};
    EXPECT_EQ(error_of(buffers.check_give_back(apart)), NicError::NotHeld);
    EXPECT_EQ(snapshot(buffers), before);
    // The refused calls' marks are gone: each alone, and all together, may
    // be given back.
    for (uint16_t buffer : {5, 6, 7}) {
        uint16_t one[] = {buffer};
        EXPECT_TRUE(buffers.check_give_back(one).is_ok()) << buffer;
    }
    uint16_t all[] = {7, 5, 6};
    ASSERT_TRUE(buffers.check_give_back(all).is_ok());
    for (uint16_t buffer : all)
        buffers.give_back(buffer);
    EXPECT_EQ(snapshot(buffers), (Snapshot{holds_of(8, 4), {}}));
}

TEST(NicBuffers, AcceptedGiveBackMakesTheBuffersTheDevicesAgain) {
    NicBuffers buffers(4, 1, max_frame);
    arrive_and_hand_out(buffers, {3, 0, 2});
    uint16_t none[] = {0};
    EXPECT_TRUE(buffers.check_give_back({none, 0}).is_ok()); // an empty list
    uint16_t some[] = {2, 3};
    ASSERT_TRUE(buffers.check_give_back(some).is_ok());
    buffers.give_back(2);
    buffers.give_back(3);
    std::vector<Holds> expected = holds_of(4, 1);
    expected[0] = Holds::Holder;
    EXPECT_EQ(snapshot(buffers), (Snapshot{expected, {}}));
    // The device may fill them again.
    EXPECT_TRUE(buffers.arrived(Frame{2, 14}));
    EXPECT_TRUE(buffers.arrived(Frame{3, 14}));
}

Frame frame_in(uint16_t buffer, uint16_t length = 60, uint16_t checksum_start = 0,
               uint16_t checksum_offset = 0) {
    return Frame{buffer, length, checksum_start, checksum_offset};
}

TEST(NicBuffers, SendRefusesABufferThatIsNotASendBuffer) {
    NicBuffers buffers(8, 4, max_frame);
    arrive_and_hand_out(buffers, {0});
    Snapshot before = snapshot(buffers);
    // A receive buffer the holder has, one the device has, the first index
    // past the send buffers, and far out of range.
    for (uint16_t buffer : {0, 1, 7, 12, 511, 512, 65535}) {
        Frame frames[] = {frame_in(buffer)};
        EXPECT_EQ(error_of(buffers.check_send(frames, true)), NicError::NotSendBuffer) << buffer;
        Frame after_good[] = {frame_in(8), frame_in(buffer)};
        EXPECT_EQ(error_of(buffers.check_send(after_good, true)), NicError::NotSendBuffer)
            << buffer;
    }
    EXPECT_EQ(snapshot(buffers), before);
}

TEST(NicBuffers, SendRefusesABufferAnUnansweredSendHoldsOrOneNamedTwice) {
    NicBuffers buffers(2, 4, max_frame);
    Frame first[] = {frame_in(2), frame_in(3)};
    ASSERT_TRUE(buffers.check_send(first, false).is_ok());
    buffers.sending(2);
    buffers.sending(3);
    Snapshot before = snapshot(buffers);
    EXPECT_EQ(before.holds, (std::vector<Holds>{Holds::Device, Holds::Device, Holds::Device,
                                                Holds::Device, Holds::Holder, Holds::Holder}));

    Frame busy[] = {frame_in(4), frame_in(3)};
    EXPECT_EQ(error_of(buffers.check_send(busy, false)), NicError::Busy);
    Frame twice[] = {frame_in(4), frame_in(5), frame_in(4)};
    EXPECT_EQ(error_of(buffers.check_send(twice, false)), NicError::Busy);
    EXPECT_EQ(snapshot(buffers), before);

    // Answered, the buffer may be sent again; the refused calls left no mark.
    EXPECT_TRUE(buffers.sent(3));
    EXPECT_TRUE(buffers.check_send(busy, false).is_ok());
    Frame each[] = {frame_in(4), frame_in(5)};
    EXPECT_TRUE(buffers.check_send(each, false).is_ok());
}

TEST(NicBuffers, SendBoundsTheFramesLength) {
    NicBuffers buffers(1, 1, max_frame);
    auto length_error = [&](uint16_t length) {
        Frame frames[] = {frame_in(1, length)};
        return error_of(buffers.check_send(frames, true));
    };
    EXPECT_EQ(length_error(0), NicError::BadLength);
    EXPECT_EQ(length_error(13), NicError::BadLength);
    EXPECT_EQ(length_error(14), std::nullopt);
    EXPECT_EQ(length_error(max_frame), std::nullopt);
    EXPECT_EQ(length_error(max_frame + 1), NicError::BadLength);
    EXPECT_EQ(length_error(65535), NicError::BadLength);

    // The largest is the one the buffers were made with.
    NicBuffers small(1, 1, 100);
    Frame hundred[] = {frame_in(1, 100)};
    EXPECT_TRUE(small.check_send(hundred, false).is_ok());
    Frame past[] = {frame_in(1, 101)};
    EXPECT_EQ(error_of(small.check_send(past, false)), NicError::BadLength);
}

TEST(NicBuffers, SendBoundsTheChecksumsPlace) {
    NicBuffers buffers(1, 1, max_frame);
    auto spot_error = [&](uint16_t length, uint16_t start, uint16_t offset) {
        Frame frames[] = {frame_in(1, length, start, offset)};
        return error_of(buffers.check_send(frames, true));
    };
    // UDP over IPv4: the checksum at 34 + 6, its two bytes the frame's last.
    EXPECT_EQ(spot_error(42, 34, 6), std::nullopt);
    EXPECT_EQ(spot_error(41, 34, 6), NicError::BadChecksumSpot);
    EXPECT_EQ(spot_error(42, 34, 7), NicError::BadChecksumSpot);
    // Inside the Ethernet header: never, even when it would fit the frame.
    EXPECT_EQ(spot_error(60, 13, 0), NicError::BadChecksumSpot);
    EXPECT_EQ(spot_error(60, 1, 20), NicError::BadChecksumSpot);
    EXPECT_EQ(spot_error(60, 14, 0), std::nullopt);
    EXPECT_EQ(spot_error(16, 14, 0), std::nullopt);
    EXPECT_EQ(spot_error(15, 14, 0), NicError::BadChecksumSpot);
    // A start past the frame, and sums that would wrap 16 bits.
    EXPECT_EQ(spot_error(60, 60, 0), NicError::BadChecksumSpot);
    EXPECT_EQ(spot_error(max_frame, 65535, 65535), NicError::BadChecksumSpot);
    EXPECT_EQ(spot_error(max_frame, 14, 65534), NicError::BadChecksumSpot);
    EXPECT_EQ(spot_error(max_frame, 65534, 4), NicError::BadChecksumSpot);

    EXPECT_TRUE(net::checksum_spot_fits(42, 34, 6));
    EXPECT_FALSE(net::checksum_spot_fits(41, 34, 6));
    EXPECT_FALSE(net::checksum_spot_fits(65535, 13, 0));
    EXPECT_FALSE(net::checksum_spot_fits(65535, 65535, 65535));
}

TEST(NicBuffers, SendRefusesAChecksumWithoutOffload) {
    NicBuffers buffers(1, 2, max_frame);
    Frame checksum[] = {frame_in(1, 42, 34, 6)};
    EXPECT_EQ(error_of(buffers.check_send(checksum, false)), NicError::NoOffload);
    EXPECT_TRUE(buffers.check_send(checksum, true).is_ok());
    // A start of 0 asks for none: its offset is not looked at.
    Frame none[] = {frame_in(1, 42, 0, 6000)};
    EXPECT_TRUE(buffers.check_send(none, false).is_ok());
    // Refused after a frame that asks for none.
    Frame second[] = {frame_in(2), frame_in(1, 42, 34, 6)};
    EXPECT_EQ(error_of(buffers.check_send(second, false)), NicError::NoOffload);
}

TEST(NicBuffers, SendMovesAtMostMaxBatchFrames) {
    constexpr uint16_t receive = 4;
    constexpr uint16_t send = NicBuffers::max_batch + 6;
    NicBuffers buffers(receive, send, max_frame);
    std::vector<Frame> frames;
    for (uint16_t i = 0; i <= NicBuffers::max_batch; ++i)
        frames.push_back(frame_in(receive + i));
    // max_batch + 1 frames, every one good on its own.
    EXPECT_EQ(error_of(buffers.check_send(frames, false)), NicError::TooMany);
    EXPECT_EQ(snapshot(buffers), (Snapshot{holds_of(receive, send), {}}));

    frames.pop_back();
    ASSERT_EQ(frames.size(), NicBuffers::max_batch);
    ASSERT_TRUE(buffers.check_send(frames, false).is_ok());
    for (const Frame& frame : frames)
        buffers.sending(frame.buffer);
    std::vector<Holds> expected = holds_of(receive, send);
    std::fill(expected.begin() + receive, expected.begin() + receive + NicBuffers::max_batch,
              Holds::Device);
    EXPECT_EQ(snapshot(buffers), (Snapshot{expected, {}}));
    EXPECT_TRUE(buffers.check_send({frames.data(), 0}, false).is_ok()); // an empty send
}

TEST(NicBuffers, RefusedSendChangesNothing) {
    NicBuffers buffers(2, 3, max_frame);
    // Good frames before a bad one: none of them is taken.
    Frame frames[] = {frame_in(2), frame_in(3), frame_in(4, 13)};
    EXPECT_EQ(error_of(buffers.check_send(frames, true)), NicError::BadLength);
    EXPECT_EQ(snapshot(buffers), (Snapshot{holds_of(2, 3), {}}));
    EXPECT_FALSE(buffers.sent(2));
    frames[2].length = 14;
    EXPECT_TRUE(buffers.check_send(frames, true).is_ok());
}

TEST(NicBuffers, ArrivedRefusesABufferNotTheDevices) {
    NicBuffers buffers(4, 2, max_frame);
    arrive_and_hand_out(buffers, {1});
    ASSERT_TRUE(buffers.arrived(Frame{0, 100}));
    Snapshot before = snapshot(buffers);
    EXPECT_FALSE(buffers.arrived(Frame{0, 200})) << "arrived twice";
    EXPECT_FALSE(buffers.arrived(Frame{1, 60})) << "the holder's";
    EXPECT_FALSE(buffers.arrived(Frame{4, 60})) << "a send buffer";
    EXPECT_FALSE(buffers.arrived(Frame{5, 60})) << "a send buffer";
    for (uint16_t buffer : {6, 511, 512, 65535})
        EXPECT_FALSE(buffers.arrived(Frame{buffer, 60})) << buffer;
    // A send buffer the device has (in a send) is not one it may fill either.
    Frame send[] = {frame_in(4)};
    ASSERT_TRUE(buffers.check_send(send, false).is_ok());
    buffers.sending(4);
    EXPECT_FALSE(buffers.arrived(Frame{4, 60}));
    EXPECT_TRUE(buffers.sent(4));
    EXPECT_EQ(snapshot(buffers), before);
    EXPECT_EQ(buffers.waiting(), 1u);
    std::vector<Frame> out(4);
    ASSERT_EQ(buffers.hand_out(out), 1u);
    EXPECT_EQ(out[0].length, 100u); // the first arrival's, not the refused one's
}

TEST(NicBuffers, SentRefusesABufferTheDeviceDoesNotHave) {
    NicBuffers buffers(2, 2, max_frame);
    Snapshot before = snapshot(buffers);
    EXPECT_FALSE(buffers.sent(2)) << "the holder's";
    EXPECT_FALSE(buffers.sent(0)) << "a receive buffer the device has";
    for (uint16_t buffer : {4, 511, 512, 65535})
        EXPECT_FALSE(buffers.sent(buffer)) << buffer;
    EXPECT_EQ(snapshot(buffers), before);

    Frame frames[] = {frame_in(3)};
    ASSERT_TRUE(buffers.check_send(frames, false).is_ok());
    buffers.sending(3);
    EXPECT_TRUE(buffers.sent(3));
    EXPECT_FALSE(buffers.sent(3)) << "answered twice";
    EXPECT_EQ(snapshot(buffers), before);
}

TEST(NicBuffers, ReclaimGivesBackExactlyTheHoldersBuffers) {
    NicBuffers buffers(8, 2, max_frame);
    arrive_and_hand_out(buffers, {6, 1, 4, 3});
    uint16_t given[] = {4};
    ASSERT_TRUE(buffers.check_give_back(given).is_ok());
    buffers.give_back(4);
    ASSERT_TRUE(buffers.arrived(Frame{7, 70})); // waiting, not the holder's
    ASSERT_TRUE(buffers.arrived(Frame{4, 80}));
    Frame sending[] = {frame_in(9)};
    ASSERT_TRUE(buffers.check_send(sending, false).is_ok());
    buffers.sending(9);

    std::vector<uint16_t> out(8, 0xeeee);
    ASSERT_EQ(buffers.reclaim(out), 3u);
    EXPECT_EQ(std::vector<uint16_t>(out.begin(), out.begin() + 3),
              (std::vector<uint16_t>{1, 3, 6}));
    std::vector<Holds> expected = holds_of(8, 2);
    expected[7] = Holds::Arrived;
    expected[4] = Holds::Arrived;
    expected[9] = Holds::Device;
    EXPECT_EQ(snapshot(buffers), (Snapshot{expected, {{7, 70}, {4, 80}}}));
    EXPECT_EQ(buffers.reclaim(out), 0u);

    // The frames that waited are handed out after it, in order.
    std::vector<Frame> frames(8);
    ASSERT_EQ(buffers.hand_out(frames), 2u);
    EXPECT_EQ(frames[0].buffer, 7u);
    EXPECT_EQ(frames[1].buffer, 4u);
    ASSERT_EQ(buffers.reclaim(out), 2u);
    EXPECT_EQ(out[0], 4u);
    EXPECT_EQ(out[1], 7u);
    EXPECT_EQ(snapshot(buffers).holds[4], Holds::Device);
    EXPECT_TRUE(buffers.arrived(Frame{1, 60}));
}

TEST(NicBuffers, HandOutGivesTheFramesAsTheyArrived) {
    NicBuffers buffers(4, 0, max_frame);
    ASSERT_TRUE(buffers.arrived(Frame{2, 1514, 0, 0, true}));
    ASSERT_TRUE(buffers.arrived(Frame{0, 14, 0, 0, false}));
    std::vector<Frame> none;
    EXPECT_EQ(buffers.hand_out(none), 0u);
    EXPECT_EQ(buffers.waiting(), 2u);
    std::vector<Frame> out(1);
    ASSERT_EQ(buffers.hand_out(out), 1u);
    EXPECT_EQ(waiting_of(out[0]), (Waiting{2, 1514, true}));
    EXPECT_EQ(buffers.waiting(), 1u);
    out.resize(3);
    ASSERT_EQ(buffers.hand_out(out), 1u);
    EXPECT_EQ(waiting_of(out[0]), (Waiting{0, 14, false}));
    EXPECT_EQ(buffers.hand_out(out), 0u);
}

// Many rounds of frames arriving in random buffer order, handed out in
// random batches (some left waiting into the next round) and given back in a
// random subset: the waiting ring's start moves past its end over a hundred
// times (it is full, every receive buffer waiting, in the first round).
TEST(NicBuffers, HandOutKeepsArrivalOrderAcrossTheRingsWrap) {
    constexpr uint16_t all = NicBuffers::max_buffers;
    NicBuffers buffers(all, 0, max_frame);
    std::mt19937 random(20240611);
    std::vector<uint16_t> device;
    for (uint16_t buffer = 0; buffer < all; ++buffer)
        device.push_back(buffer);
    std::vector<uint16_t> held;
    std::deque<Waiting> waiting;
    uint32_t serial = 0;
    uint64_t handed_out = 0;
    size_t fullest = 0;
    for (uint32_t round = 0; round < 600; ++round) {
        std::shuffle(device.begin(), device.end(), random);
        size_t arrivals = round % 8 == 0 ? device.size() : random() % (device.size() + 1);
        for (size_t i = 0; i < arrivals; ++i) {
            // The length and checksum_valid tell arrivals apart.
            Waiting frame{device.back(), uint16_t(14 + serial % 1501), serial % 3 == 0};
            ++serial;
            device.pop_back();
            ASSERT_TRUE(
                buffers.arrived(Frame{frame.buffer, frame.length, 0, 0, frame.checksum_valid}));
            waiting.push_back(frame);
        }
        fullest = std::max(fullest, waiting.size());
        ASSERT_EQ(buffers.waiting(), waiting.size());

        size_t take = round % 8 == 0 ? waiting.size() : random() % (waiting.size() + 1);
        while (take > 0) {
            std::vector<Frame> out(1 + random() % NicBuffers::max_batch);
            size_t count = buffers.hand_out(out);
            ASSERT_EQ(count, std::min(out.size(), waiting.size()));
            for (size_t i = 0; i < count; ++i) {
                ASSERT_EQ(waiting_of(out[i]), waiting.front()) << "round " << round;
                held.push_back(waiting.front().buffer);
                waiting.pop_front();
            }
            handed_out += count;
            take -= std::min(take, count);
        }

        std::shuffle(held.begin(), held.end(), random);
        size_t give = random() % (held.size() + 1);
        std::vector<uint16_t> back(held.end() - give, held.end());
        held.resize(held.size() - give);
        for (size_t first = 0; first < back.size(); first += NicBuffers::max_batch) {
            size_t count = std::min<size_t>(NicBuffers::max_batch, back.size() - first);
            std::span<const uint16_t> batch(back.data() + first, count);
            ASSERT_TRUE(buffers.check_give_back(batch).is_ok());
            for (uint16_t buffer : batch) {
                buffers.give_back(buffer);
                device.push_back(buffer);
            }
        }
    }
    EXPECT_EQ(fullest, size_t(all));
    EXPECT_GT(handed_out, 100u * all); // the ring wrapped a hundred times
}

// A few thousand random calls, good and bad, against the model; the states
// compared after every one.
TEST(NicBuffers, RandomCallsAgainstAModel) {
    struct Shape {
        uint16_t receive, send, max_frame;
    };
    const Shape shapes[] = {{1, 1, max_frame},
                            {8, 4, max_frame},
                            {64, 64, max_frame},
                            {200, 70, 600},
                            {448, 64, max_frame}};
    std::mt19937 random(1071);
    auto chance = [&](uint32_t percent) { return random() % 100 < percent; };
    std::map<std::optional<NicError>, uint32_t> give_back_outcomes;
    std::map<std::optional<NicError>, uint32_t> send_outcomes;
    uint32_t arrived = 0;
    uint32_t sent = 0;
    uint32_t reclaimed = 0;
    for (const Shape& shape : shapes) {
        NicBuffers buffers(shape.receive, shape.send, shape.max_frame);
        Model model(shape.receive, shape.send, shape.max_frame);
        uint32_t all = shape.receive + shape.send;
        auto any_buffer = [&]() -> uint16_t {
            switch (random() % 4) {
            case 0:
                return uint16_t(all + random() % 8); // just out of range
            case 1:
                return uint16_t(random());
            default:
                return uint16_t(random() % all);
            }
        };
        auto pick = [&](Holds holds, uint16_t first, uint16_t count) -> std::optional<uint16_t> {
            std::vector<uint16_t> candidates;
            for (uint16_t buffer = first; buffer < first + count; ++buffer) {
                if (model.holds[buffer] == holds)
                    candidates.push_back(buffer);
            }
            if (candidates.empty())
                return std::nullopt;
            return candidates[random() % candidates.size()];
        };

        for (uint32_t step = 0; step < 3000; ++step) {
            switch (random() % 11) {
            case 0:
            case 1:
            case 2: { // the device completes a receive buffer
                auto device = pick(Holds::Device, 0, shape.receive);
                uint16_t buffer = device && chance(80) ? *device : any_buffer();
                Waiting frame{buffer, uint16_t(14 + random() % 1501), chance(50)};
                bool expected = model.is_receive(buffer) && model.holds[buffer] == Holds::Device;
                ASSERT_EQ(buffers.arrived(Frame{buffer, frame.length, 0, 0, frame.checksum_valid}),
                          expected)
                    << buffer;
                if (expected) {
                    model.holds[buffer] = Holds::Arrived;
                    model.waiting.push_back(frame);
                    ++arrived;
                }
                break;
            }
            case 3:
            case 4: { // a receive hands frames out
                std::vector<Frame> out(random() % (NicBuffers::max_batch + 4));
                size_t count = buffers.hand_out(out);
                ASSERT_EQ(count, std::min(out.size(), model.waiting.size()));
                for (size_t i = 0; i < count; ++i) {
                    ASSERT_EQ(waiting_of(out[i]), model.waiting.front());
                    model.holds[out[i].buffer] = Holds::Holder;
                    model.waiting.pop_front();
                }
                break;
            }
            case 5:
            case 6: { // the holder gives buffers back
                std::vector<uint16_t> list;
                size_t length = random() % 6;
                for (size_t i = 0; i < length; ++i) {
                    auto held = pick(Holds::Holder, 0, shape.receive);
                    if (!list.empty() && chance(5))
                        list.push_back(list[random() % list.size()]);
                    else if (held && chance(85))
                        list.push_back(*held);
                    else
                        list.push_back(any_buffer());
                }
                auto expected = model.give_back_error(list);
                ++give_back_outcomes[expected];
                ASSERT_EQ(error_of(buffers.check_give_back(list)), expected);
                if (!expected) {
                    for (uint16_t buffer : list) {
                        buffers.give_back(buffer);
                        model.holds[buffer] = Holds::Device;
                    }
                }
                break;
            }
            case 7:
            case 8: { // the holder sends
                std::vector<Frame> frames;
                size_t count = chance(3) ? NicBuffers::max_batch + random() % 2 : random() % 5;
                for (size_t i = 0; i < count; ++i) {
                    auto held = pick(Holds::Holder, shape.receive, shape.send);
                    Frame frame;
                    frame.buffer = held && chance(90) ? *held : any_buffer();
                    frame.length = uint16_t(chance(90) ? 14 + random() % (shape.max_frame - 13)
                                                       : random() % 2000);
                    if (chance(30)) {
                        frame.checksum_start = uint16_t(random() % (frame.length + 2));
                        frame.checksum_offset =
                            uint16_t(random() % std::max(1, frame.length - frame.checksum_start));
                    }
                    frames.push_back(frame);
                }
                bool offload = chance(70);
                auto expected = model.send_error(frames, offload);
                ++send_outcomes[expected];
                ASSERT_EQ(error_of(buffers.check_send(frames, offload)), expected);
                if (!expected) {
                    for (const Frame& frame : frames) {
                        buffers.sending(frame.buffer);
                        model.holds[frame.buffer] = Holds::Device;
                    }
                }
                break;
            }
            case 9: { // the device answers a send
                auto busy = pick(Holds::Device, shape.receive, shape.send);
                uint16_t buffer = busy && chance(80) ? *busy : any_buffer();
                bool expected = model.is_send(buffer) && model.holds[buffer] == Holds::Device;
                ASSERT_EQ(buffers.sent(buffer), expected) << buffer;
                if (expected) {
                    model.holds[buffer] = Holds::Holder;
                    ++sent;
                }
                break;
            }
            case 10: { // the holder starts afresh, now and then
                if (!chance(15))
                    break;
                std::vector<uint16_t> expected;
                for (uint16_t buffer = 0; buffer < shape.receive; ++buffer) {
                    if (model.holds[buffer] == Holds::Holder) {
                        expected.push_back(buffer);
                        model.holds[buffer] = Holds::Device;
                    }
                }
                std::vector<uint16_t> out(shape.receive);
                size_t count = buffers.reclaim(out);
                ASSERT_EQ(std::vector<uint16_t>(out.begin(), out.begin() + count), expected);
                reclaimed += count;
                break;
            }
            }
            ASSERT_EQ(buffers.waiting(), model.waiting.size());
            ASSERT_EQ(snapshot(buffers), model.snapshot()) << "step " << step;
        }
    }
    // The calls reached every outcome, and many succeeded.
    EXPECT_GT(give_back_outcomes[std::nullopt], 600u);
    EXPECT_GT(give_back_outcomes[NicError::NotReceiveBuffer], 100u);
    EXPECT_GT(give_back_outcomes[NicError::NotHeld], 100u);
    EXPECT_GT(send_outcomes[std::nullopt], 600u);
    for (NicError error : {NicError::NotSendBuffer, NicError::Busy, NicError::BadLength,
                           NicError::NoOffload, NicError::BadChecksumSpot, NicError::TooMany})
        EXPECT_GT(send_outcomes[error], 20u) << to_string(error);
    EXPECT_GT(arrived, 1500u);
    EXPECT_GT(sent, 500u);
    EXPECT_GT(reclaimed, 200u);
}

// ---------------------------------------------------------------------------
// virtio-net

namespace vnet = virtio::net;
using virtio::feature_bit;
using vnet::NetError;

constexpr uint64_t version_1 = feature_bit(virtio::feature_version_1);
constexpr uint64_t access_platform = feature_bit(virtio::feature_access_platform);
constexpr uint64_t mac = feature_bit(vnet::feature_mac);
constexpr uint64_t mtu = feature_bit(vnet::feature_mtu);
constexpr uint64_t status = feature_bit(vnet::feature_status);
constexpr uint64_t checksum = feature_bit(vnet::feature_checksum);
constexpr uint64_t guest_checksum = feature_bit(vnet::feature_guest_checksum);
constexpr auto physical = virtio::DmaAddresses::Physical;
constexpr auto translated = virtio::DmaAddresses::Translated;
constexpr auto modern = virtio::DeviceInterface::Modern;
constexpr auto legacy = virtio::DeviceInterface::Legacy;

TEST(VirtioNet, LayoutFollowsTheSpecification) {
    EXPECT_EQ(vnet::pci_device_modern, 0x1041);
    EXPECT_EQ(vnet::pci_device_transitional, 0x1000);
    // 5.1.3's bit numbers.
    EXPECT_EQ(vnet::feature_checksum, 0u);
    EXPECT_EQ(vnet::feature_guest_checksum, 1u);
    EXPECT_EQ(vnet::feature_mtu, 3u);
    EXPECT_EQ(vnet::feature_mac, 5u);
    EXPECT_EQ(vnet::feature_guest_tso4, 7u);
    EXPECT_EQ(vnet::feature_merge_receive_buffers, 15u);
    EXPECT_EQ(vnet::feature_status, 16u);
    EXPECT_EQ(vnet::feature_control_queue, 17u);
    EXPECT_EQ(vnet::feature_multiqueue, 22u);
    // struct virtio_net_config: mac[6], status, max_virtqueue_pairs, mtu.
    EXPECT_EQ(vnet::config::mac, 0u);
    EXPECT_EQ(vnet::config::status, 6u);
    EXPECT_EQ(vnet::config::mtu, 10u);
    EXPECT_EQ(offsetof(vnet::Header, flags), 0u);
    EXPECT_EQ(offsetof(vnet::Header, gso_type), 1u);
    EXPECT_EQ(offsetof(vnet::Header, header_length), 2u);
    EXPECT_EQ(offsetof(vnet::Header, gso_size), 4u);
    EXPECT_EQ(offsetof(vnet::Header, checksum_start), 6u);
    EXPECT_EQ(offsetof(vnet::Header, checksum_offset), 8u);
    EXPECT_EQ(offsetof(vnet::Header, buffers), 10u);
    EXPECT_EQ(vnet::receive_queue, 0u);
    EXPECT_EQ(vnet::send_queue, 1u);
    // The schema's Nic.maxFrame.
    EXPECT_EQ(vnet::max_frame_bytes, 1514u);
}

TEST(VirtioNet, FeaturesTakenOfThoseOffered) {
    constexpr uint64_t required = version_1 | mac;
    constexpr uint64_t wanted =
        required | status | mtu | checksum | guest_checksum | access_platform;
    EXPECT_EQ(vnet::select_features(required, physical, modern).value(), required);
    EXPECT_EQ(vnet::select_features(~uint64_t{0}, physical, modern).value(), wanted);
    EXPECT_EQ(vnet::select_features(~uint64_t{0}, translated, modern).value(), wanted);
    // Each bit offered alone beside the required two: taken exactly when it
    // is one of the wanted.
    for (unsigned bit = 0; bit < 64; ++bit) {
        uint64_t offered = required | feature_bit(bit);
        EXPECT_EQ(vnet::select_features(offered, physical, modern).value(), offered & wanted)
            << bit;
    }
    // Never a layout change, a control queue, event indexes or a ring kind
    // the driver does not drive, whatever else is offered.
    for (unsigned bit :
         {2u /* CTRL_GUEST_OFFLOADS */, 7u /* GUEST_TSO4 */, 8u /* GUEST_TSO6 */,
          9u /* GUEST_ECN */, 10u /* GUEST_UFO */, 11u /* HOST_TSO4 */, 12u /* HOST_TSO6 */,
          14u /* HOST_UFO */, 15u /* MRG_RXBUF */, 17u /* CTRL_VQ */, 22u /* MQ */,
          28u /* INDIRECT_DESC */, 29u /* EVENT_IDX */, 34u /* RING_PACKED */,
          38u /* NOTIFICATION_DATA */, 61u /* RSC_EXT */}) {
        EXPECT_EQ(vnet::select_features(~uint64_t{0}, physical, modern).value() & feature_bit(bit),
                  0u)
            << bit;
    }
    EXPECT_EQ(virtio::feature_event_index, 29u);
    EXPECT_EQ(virtio::feature_indirect_descriptors, 28u);
}

TEST(VirtioNet, RequiresVersion1AndAMac) {
    EXPECT_EQ(error_of(vnet::select_features(0, physical, modern)), NetError::NoVersion1);
    EXPECT_EQ(error_of(vnet::select_features(mac, physical, modern)), NetError::NoVersion1);
    EXPECT_EQ(error_of(vnet::select_features(~version_1, physical, modern)), NetError::NoVersion1);
    EXPECT_EQ(error_of(vnet::select_features(version_1, physical, modern)), NetError::NoMac);
    EXPECT_EQ(error_of(vnet::select_features(~mac, physical, modern)), NetError::NoMac);
}

TEST(VirtioNet, BehindAnIommuTheDeviceMustUseIt) {
    EXPECT_EQ(error_of(vnet::select_features(version_1 | mac, translated, modern)),
              NetError::BypassesIommu);
    EXPECT_EQ(error_of(vnet::select_features(~access_platform, translated, modern)),
              NetError::BypassesIommu);
    EXPECT_EQ(vnet::select_features(version_1 | mac | access_platform, translated, modern).value(),
              version_1 | mac | access_platform);
    // Without an IOMMU it is taken when offered, not required.
    EXPECT_EQ(vnet::select_features(version_1 | mac | access_platform, physical, modern).value(),
              version_1 | mac | access_platform);
    // VERSION_1 is still the first thing missing.
    EXPECT_EQ(error_of(vnet::select_features(access_platform | mac, translated, modern)),
              NetError::NoVersion1);
}

TEST(VirtioNet, ThroughTheLegacyInterface) {
    // 32 feature bits, VERSION_1 neither required nor taken; MAC still
    // required; the same optional features.
    constexpr uint64_t wanted = mac | status | mtu | checksum | guest_checksum;
    EXPECT_EQ(vnet::select_features(mac, physical, legacy).value(), mac);
    EXPECT_EQ(vnet::select_features(~uint64_t{0}, physical, legacy).value(), wanted);
    EXPECT_EQ(vnet::select_features(uint64_t{UINT32_MAX}, physical, legacy).value(), wanted);
    EXPECT_EQ(error_of(vnet::select_features(0, physical, legacy)), NetError::NoMac);
    EXPECT_EQ(error_of(vnet::select_features(~mac, physical, legacy)), NetError::NoMac);
    // A legacy device cannot go through an IOMMU's translation.
    EXPECT_EQ(error_of(vnet::select_features(~uint64_t{0}, translated, legacy)),
              NetError::BypassesIommu);
    // Its header stops before num_buffers.
    EXPECT_EQ(vnet::header_bytes(mac), 10u);
    EXPECT_EQ(vnet::header_bytes(version_1 | mac), 12u);
    std::vector<uint8_t> buffer(2048);
    vnet::Header header{};
    EXPECT_EQ(error_of(vnet::receive(header, 23, buffer, mac)), NetError::ShortFrame);
    auto received = vnet::receive(header, 24, buffer, mac);
    ASSERT_TRUE(received.is_ok());
    EXPECT_EQ(received.value().length, 14u);
    EXPECT_EQ(vnet::receive(header, 10 + 1514, buffer, mac).value().length, 1514u);
    EXPECT_EQ(error_of(vnet::receive(header, 10 + 1515, buffer, mac)), NetError::LongFrame);
}

TEST(VirtioNet, ConfigurationBytesTheFeaturesNeed) {
    EXPECT_EQ(vnet::config_bytes_needed(version_1 | mac), 6u);
    EXPECT_EQ(vnet::config_bytes_needed(version_1 | mac | checksum | guest_checksum), 6u);
    EXPECT_EQ(vnet::config_bytes_needed(version_1 | mac | status), 8u);
    EXPECT_EQ(vnet::config_bytes_needed(version_1 | mac | mtu), 12u);
    EXPECT_EQ(vnet::config_bytes_needed(version_1 | mac | status | mtu), 12u);
}

vnet::DeviceConfig config_of(uint16_t mtu_value, uint16_t status_value = 0) {
    vnet::DeviceConfig config;
    const uint8_t address[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    std::memcpy(config.mac, address, 6);
    config.mtu = mtu_value;
    config.status = status_value;
    return config;
}

TEST(VirtioNet, InterfaceMtuFromTheDevice) {
    auto mtu_of = [](uint16_t value, uint64_t features) -> std::optional<uint16_t> {
        auto interface = vnet::describe_interface(config_of(value), features);
        if (interface.is_error()) {
            EXPECT_EQ(interface.error(), NetError::BadMtu);
            return std::nullopt;
        }
        return interface.value().mtu;
    };
    uint64_t features = version_1 | mac | mtu;
    EXPECT_EQ(mtu_of(0, features), std::nullopt);
    EXPECT_EQ(mtu_of(67, features), std::nullopt);
    EXPECT_EQ(mtu_of(68, features), 68);
    EXPECT_EQ(mtu_of(576, features), 576);
    EXPECT_EQ(mtu_of(1499, features), 1499);
    EXPECT_EQ(mtu_of(1500, features), 1500);
    // Jumbo frames do not fit the frame memory's buffers: served as 1500.
    EXPECT_EQ(mtu_of(1501, features), 1500);
    EXPECT_EQ(mtu_of(9000, features), 1500);
    EXPECT_EQ(mtu_of(65535, features), 1500);
    // Without MTU the field is not the device's to say.
    EXPECT_EQ(mtu_of(0, version_1 | mac), 1500);
    EXPECT_EQ(mtu_of(67, version_1 | mac), 1500);
    EXPECT_EQ(mtu_of(576, version_1 | mac), 1500);
}

TEST(VirtioNet, InterfaceMacLinkAndChecksums) {
    auto interface = vnet::describe_interface(config_of(0), version_1 | mac);
    ASSERT_TRUE(interface.is_ok());
    const uint8_t address[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    EXPECT_EQ(std::memcmp(interface.value().mac, address, 6), 0);
    EXPECT_TRUE(interface.value().link_up);
    EXPECT_FALSE(interface.value().checksum_offload);
    EXPECT_FALSE(interface.value().checksums_checked);

    interface = vnet::describe_interface(config_of(0), version_1 | mac | checksum);
    EXPECT_TRUE(interface.value().checksum_offload);
    EXPECT_FALSE(interface.value().checksums_checked);
    interface = vnet::describe_interface(config_of(0), version_1 | mac | guest_checksum);
    EXPECT_FALSE(interface.value().checksum_offload);
    EXPECT_TRUE(interface.value().checksums_checked);

    auto link = [](uint16_t status_value, uint64_t features) {
        auto described = vnet::describe_interface(config_of(1500, status_value), features);
        EXPECT_EQ(described.value().link_up, vnet::link_up(status_value, features));
        return described.value().link_up;
    };
    uint64_t with_status = version_1 | mac | status;
    EXPECT_FALSE(link(0, with_status));
    EXPECT_TRUE(link(1, with_status));
    EXPECT_TRUE(link(3, with_status));       // up, and an announcement asked
    EXPECT_FALSE(link(0xfffe, with_status)); // only bit 0 says up
    // Without STATUS there is no field to read: the link is taken as up.
    EXPECT_TRUE(link(0, version_1 | mac));
    EXPECT_TRUE(link(0xfffe, version_1 | mac));
}

std::vector<uint8_t> bytes_of(const vnet::Header& header) {
    std::vector<uint8_t> bytes(sizeof header);
    std::memcpy(bytes.data(), &header, sizeof header);
    return bytes;
}

TEST(VirtioNet, SendHeaderAsTheDeviceReadsIt) {
    // Little-endian fields (VERSION_1): no segmentation, no checksum.
    EXPECT_EQ(bytes_of(vnet::send_header(0, 0)), std::vector<uint8_t>(12, 0));
    EXPECT_EQ(bytes_of(vnet::send_header(0, 16)), std::vector<uint8_t>(12, 0));
    // NEEDS_CSUM, GSO_NONE, hdr_len 0, gso_size 0, csum_start, csum_offset,
    // num_buffers 0.
    EXPECT_EQ(bytes_of(vnet::send_header(34, 6)),
              (std::vector<uint8_t>{1, 0, 0, 0, 0, 0, 34, 0, 6, 0, 0, 0}));
    EXPECT_EQ(bytes_of(vnet::send_header(0x0123, 0x0456)),
              (std::vector<uint8_t>{1, 0, 0, 0, 0, 0, 0x23, 0x01, 0x56, 0x04, 0, 0}));
}

// --- Receiving --------------------------------------------------------------

constexpr uint64_t receive_features = version_1 | mac | guest_checksum;
constexpr uint32_t header_bytes = sizeof(vnet::Header);

vnet::Header header_with(uint8_t flags, uint16_t start = 0, uint16_t offset = 0,
                         uint8_t gso_type = 0) {
    vnet::Header header{};
    header.flags = flags;
    header.gso_type = gso_type;
    header.checksum_start = start;
    header.checksum_offset = offset;
    return header;
}

TEST(VirtioNet, ReceiveRefusesAFrameShorterThanAnEthernetHeader) {
    std::vector<uint8_t> buffer(2048);
    for (uint32_t used : {0u, 1u, 12u, 25u}) {
        EXPECT_EQ(error_of(vnet::receive(header_with(0), used, buffer, receive_features)),
                  NetError::ShortFrame)
            << used;
    }
    auto received = vnet::receive(header_with(0), 26, buffer, receive_features);
    ASSERT_TRUE(received.is_ok());
    EXPECT_EQ(received.value().length, 14u);
    EXPECT_FALSE(received.value().checksum_valid);
}

TEST(VirtioNet, ReceiveRefusesAFramePastItsBufferOrTheLargest) {
    std::vector<uint8_t> buffer(2048);
    auto length = [&](uint32_t used, std::span<uint8_t> frame) -> std::optional<uint32_t> {
        auto received = vnet::receive(header_with(0), used, frame, receive_features);
        if (received.is_error()) {
            EXPECT_EQ(received.error(), NetError::LongFrame);
            return std::nullopt;
        }
        return received.value().length;
    };
    EXPECT_EQ(length(header_bytes + 1514, buffer), 1514u);
    EXPECT_EQ(length(header_bytes + 1515, buffer), std::nullopt); // fits the buffer
    EXPECT_EQ(length(header_bytes + 2048, buffer), std::nullopt);
    EXPECT_EQ(length(0xffffffff, buffer), std::nullopt);
    // A buffer smaller than the largest frame.
    std::span<uint8_t> small(buffer.data(), 100);
    EXPECT_EQ(length(header_bytes + 100, small), 100u);
    EXPECT_EQ(length(header_bytes + 101, small), std::nullopt);
}

TEST(VirtioNet, ReceiveRefusesASegmentedFrame) {
    std::vector<uint8_t> buffer(2048);
    for (uint8_t gso_type :
         {1 /* TCPV4 */, 3 /* UDP */, 4 /* TCPV6 */, 5 /* UDP_L4 */, 0x80 /* ECN */, 0x81}) {
        EXPECT_EQ(error_of(vnet::receive(header_with(0, 0, 0, gso_type), 60 + header_bytes, buffer,
                                         receive_features)),
                  NetError::BadHeader)
            << int(gso_type);
    }
}

TEST(VirtioNet, ReceiveRefusesFlagsTheFeaturesDoNotAllow) {
    std::vector<uint8_t> buffer(2048);
    uint32_t used = header_bytes + 60;
    // Without GUEST_CSUM the device must leave flags zero.
    for (uint8_t flags : {vnet::header_needs_checksum, vnet::header_data_valid}) {
        EXPECT_EQ(error_of(vnet::receive(header_with(flags, 34, 6), used, buffer, version_1 | mac)),
                  NetError::BadHeader)
            << int(flags);
    }
    // RSC_INFO (4, only with RSC_EXT) and bits no feature defines.
    for (uint8_t flags : {4, 8, 0x80, 0x06, 0xff}) {
        EXPECT_EQ(
            error_of(vnet::receive(header_with(flags, 34, 6), used, buffer, receive_features)),
            NetError::BadHeader)
            << int(flags);
    }
    EXPECT_TRUE(vnet::receive(header_with(0), used, buffer, version_1 | mac).is_ok());
}

TEST(VirtioNet, ReceiveTakesDataValidAsChecked) {
    std::vector<uint8_t> buffer(2048, 0x5a);
    std::vector<uint8_t> before = buffer;
    auto received = vnet::receive(header_with(vnet::header_data_valid, 34, 6), 60 + header_bytes,
                                  buffer, receive_features);
    ASSERT_TRUE(received.is_ok());
    EXPECT_TRUE(received.value().checksum_valid);
    EXPECT_EQ(received.value().length, 60u);
    EXPECT_EQ(buffer, before); // nothing to complete
    received = vnet::receive(header_with(0), 60 + header_bytes, buffer, receive_features);
    EXPECT_FALSE(received.value().checksum_valid);
}

// RFC 1071's sum, computed another way than the library's: bytes at even
// offsets are the words' high bytes, those at odd offsets their low ones,
// each kind summed alone and the two put together at the end.
uint16_t reference_sum(const std::vector<uint8_t>& bytes) {
    uint64_t high = 0;
    uint64_t low = 0;
    for (size_t i = 0; i < bytes.size(); ++i)
        (i % 2 == 0 ? high : low) += bytes[i];
    uint64_t sum = (high << 8) + low;
    while (sum > 0xffff)
        sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(sum);
}

std::vector<uint8_t> joined(std::vector<uint8_t> first, const std::vector<uint8_t>& second) {
    first.insert(first.end(), second.begin(), second.end());
    return first;
}

uint16_t read16(const std::vector<uint8_t>& bytes, size_t at) {
    return uint16_t(bytes[at] << 8 | bytes[at + 1]);
}

void write16(std::vector<uint8_t>& bytes, size_t at, uint16_t value) {
    bytes[at] = uint8_t(value >> 8);
    bytes[at + 1] = uint8_t(value);
}

constexpr uint8_t protocol_tcp = 6;
constexpr uint8_t protocol_udp = 17;
constexpr size_t transport_start = 34;
const std::vector<uint8_t> source_ip = {10, 0, 2, 15};
const std::vector<uint8_t> destination_ip = {10, 0, 2, 2};

// The pseudo-header before a TCP or UDP packet over IPv4 (RFC 768, RFC 793).
std::vector<uint8_t> pseudo_header(uint8_t protocol, size_t transport_length) {
    std::vector<uint8_t> pseudo = joined(source_ip, destination_ip);
    pseudo.insert(pseudo.end(),
                  {0, protocol, uint8_t(transport_length >> 8), uint8_t(transport_length)});
    return pseudo;
}

// An Ethernet frame with an IPv4 packet (header checksum filled in)
// carrying `transport`.
std::vector<uint8_t> ipv4_frame(uint8_t protocol, const std::vector<uint8_t>& transport) {
    std::vector<uint8_t> frame = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // destination
                                  0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, // source
                                  0x08, 0x00};                        // IPv4
    size_t total = 20 + transport.size();
    std::vector<uint8_t> ip = {
        0x45, 0, uint8_t(total >> 8), uint8_t(total), 0x1c, 0x46, 0x40, 0, 64, protocol, 0, 0};
    ip = joined(joined(ip, source_ip), destination_ip);
    write16(ip, 10, uint16_t(~reference_sum(ip)));
    return joined(joined(frame, ip), transport);
}

std::vector<uint8_t> payload(size_t length) {
    std::vector<uint8_t> bytes(length);
    for (size_t i = 0; i < length; ++i)
        bytes[i] = uint8_t(0x41 + i * 7);
    return bytes;
}

// A UDP datagram from port 5353 to 53 with `data`, its checksum field 0.
std::vector<uint8_t> udp_packet(const std::vector<uint8_t>& data) {
    size_t length = 8 + data.size();
    return joined({0x14, 0xe9, 0x00, 0x35, uint8_t(length >> 8), uint8_t(length), 0, 0}, data);
}

// A TCP segment (PSH, ACK) from port 40000 to 80 with `data`, its checksum 0.
std::vector<uint8_t> tcp_packet(const std::vector<uint8_t>& data) {
    return joined({0x9c, 0x40, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
                   0xde, 0xf0, 0x50, 0x18, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00},
                  data);
}

// A packet as a device delivers it with NEEDS_CSUM: its sender (with
// checksum offload) left the pseudo-header's sum, not complemented, in the
// checksum field, for the checksum to be completed over the packet.
struct Partial {
    std::vector<uint8_t> frame;
    std::vector<uint8_t> pseudo;
    uint16_t checksum_offset;
};

Partial partial(uint8_t protocol, const std::vector<uint8_t>& transport) {
    uint16_t offset = protocol == protocol_udp ? 6 : 16;
    Partial packet{ipv4_frame(protocol, transport), pseudo_header(protocol, transport.size()),
                   offset};
    write16(packet.frame, transport_start + offset, reference_sum(packet.pseudo));
    return packet;
}

// Receives `packet` in a 2048-byte buffer whose bytes past the frame are not
// the frame's, and checks the completed checksum: what the reference says,
// RFC 1071's verification over pseudo-header and packet summing to 0xffff,
// and no other byte touched. The checksum stored, or nullopt (a failure
// reported) when receive refused the frame.
std::optional<uint16_t> complete(const Partial& packet) {
    std::vector<uint8_t> buffer(2048, 0xa5);
    std::copy(packet.frame.begin(), packet.frame.end(), buffer.begin());
    std::vector<uint8_t> before = buffer;
    auto received = vnet::receive(
        header_with(vnet::header_needs_checksum, transport_start, packet.checksum_offset),
        uint32_t(header_bytes + packet.frame.size()), buffer, receive_features);
    EXPECT_TRUE(received.is_ok());
    if (received.is_error())
        return std::nullopt;
    EXPECT_EQ(received.value().length, packet.frame.size());
    EXPECT_TRUE(received.value().checksum_valid);

    size_t at = transport_start + packet.checksum_offset;
    std::vector<uint8_t> transport(packet.frame.begin() + transport_start, packet.frame.end());
    transport[packet.checksum_offset] = 0;
    transport[packet.checksum_offset + 1] = 0;
    uint16_t expected = uint16_t(~reference_sum(joined(packet.pseudo, transport)));
    if (expected == 0)
        expected = 0xffff; // RFC 768: a UDP checksum of 0 goes as all ones
    uint16_t stored = read16(buffer, at);
    EXPECT_EQ(stored, expected);

    std::vector<uint8_t> completed(buffer.begin() + transport_start,
                                   buffer.begin() + packet.frame.size());
    EXPECT_EQ(reference_sum(joined(packet.pseudo, completed)), 0xffff);
    write16(before, at, stored);
    EXPECT_EQ(buffer, before) << "bytes besides the checksum's changed";
    return stored;
}

TEST(VirtioNet, ReceiveCompletesAUdpChecksum) {
    for (size_t length : {0, 1, 18, 25, 1472}) {
        Partial packet = partial(protocol_udp, udp_packet(payload(length)));
        EXPECT_TRUE(complete(packet).has_value()) << length;
    }
}

TEST(VirtioNet, ReceiveCompletesATcpChecksum) {
    for (size_t length : {0, 1, 37, 536, 1460}) {
        Partial packet = partial(protocol_tcp, tcp_packet(payload(length)));
        EXPECT_TRUE(complete(packet).has_value()) << length;
    }
}

// A UDP checksum that comes out 0 would say "no checksum" (RFC 768): it is
// stored as 0xffff, its equal in ones' complement.
TEST(VirtioNet, ReceiveStoresAUdpChecksumOfZeroAsAllOnes) {
    std::vector<uint8_t> udp = udp_packet(payload(20));
    // Two payload bytes (at an even offset) chosen to make the sum 0xffff.
    write16(udp, 8, 0);
    uint16_t sum = reference_sum(joined(pseudo_header(protocol_udp, udp.size()), udp));
    write16(udp, 8, uint16_t(0xffff - sum));
    ASSERT_EQ(reference_sum(joined(pseudo_header(protocol_udp, udp.size()), udp)), 0xffff);
    EXPECT_EQ(complete(partial(protocol_udp, udp)), 0xffff);
}

TEST(VirtioNet, ReceiveRefusesAChecksumOutsideTheFrame) {
    Partial packet = partial(protocol_udp, udp_packet(payload(18)));
    ASSERT_EQ(packet.frame.size(), 60u);
    std::vector<uint8_t> buffer(2048, 0xa5);
    std::copy(packet.frame.begin(), packet.frame.end(), buffer.begin());
    std::vector<uint8_t> before = buffer;
    uint32_t used = header_bytes + 60;
    auto spot_error = [&](uint16_t start, uint16_t offset) {
        return error_of(vnet::receive(header_with(vnet::header_needs_checksum, start, offset), used,
                                      buffer, receive_features));
    };
    EXPECT_EQ(spot_error(13, 0), NetError::BadChecksumSpot); // in the Ethernet header
    EXPECT_EQ(spot_error(0, 40), NetError::BadChecksumSpot);
    EXPECT_EQ(spot_error(34, 25), NetError::BadChecksumSpot); // its second byte the 61st
    EXPECT_EQ(spot_error(59, 0), NetError::BadChecksumSpot);
    EXPECT_EQ(spot_error(60, 0), NetError::BadChecksumSpot);
    EXPECT_EQ(spot_error(65535, 65535), NetError::BadChecksumSpot);
    EXPECT_EQ(spot_error(14, 65535), NetError::BadChecksumSpot);
    EXPECT_EQ(buffer, before);
    // The last two bytes of the frame: accepted, and nothing past them written.
    EXPECT_EQ(spot_error(34, 24), std::nullopt);
    EXPECT_TRUE(std::equal(buffer.begin() + 60, buffer.end(), before.begin() + 60));
}

// Random headers and lengths from a hostile device: an accepted frame fits
// its buffer (the buffer is exactly its size, so the sanitizers see a write
// past it) and a completed checksum changes only its two bytes.
TEST(VirtioNet, RandomHeadersNeverEscapeTheChecks) {
    std::mt19937 random(768);
    uint32_t accepted = 0;
    uint32_t completed = 0;
    for (uint32_t round = 0; round < 20000; ++round) {
        std::vector<uint8_t> buffer(1 + random() % 2048);
        for (uint8_t& byte : buffer)
            byte = uint8_t(random());
        std::vector<uint8_t> before = buffer;
        vnet::Header header = header_with(uint8_t(random() % 4), uint16_t(random() % 1600),
                                          uint16_t(random() % 64), random() % 8 == 0 ? 1 : 0);
        if (random() % 8 == 0)
            header.flags = uint8_t(random());
        uint32_t used = random() % 8 == 0 ? uint32_t(random()) : random() % 2100;
        uint64_t features = version_1 | mac | (random() % 4 ? guest_checksum : 0);
        auto received = vnet::receive(header, used, buffer, features);
        if (received.is_error())
            continue;
        ++accepted;
        uint32_t length = received.value().length;
        EXPECT_EQ(length, used - header_bytes);
        EXPECT_GE(length, 14u);
        EXPECT_LE(length, buffer.size());
        EXPECT_LE(length, vnet::max_frame_bytes);
        EXPECT_EQ(header.gso_type, 0);
        if (header.flags & vnet::header_needs_checksum) {
            ++completed;
            size_t at = header.checksum_start + header.checksum_offset;
            EXPECT_GE(header.checksum_start, 14u);
            ASSERT_LE(at + 2, length);
            before[at] = buffer[at];
            before[at + 1] = buffer[at + 1];
        }
        EXPECT_EQ(buffer, before);
    }
    EXPECT_GT(accepted, 1000u);
    EXPECT_GT(completed, 200u);
}

// --- Checksums ----------------------------------------------------------------

const std::vector<uint8_t> rfc1071_example = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

TEST(VirtioNet, ChecksumOfRfc1071sExample) {
    EXPECT_EQ(net::checksum_add(0, rfc1071_example), 0xddf2u);
    EXPECT_EQ(net::checksum_finish(0xddf2), 0x220d);
    // In two parts of even length, in either order.
    std::span<const uint8_t> all(rfc1071_example);
    EXPECT_EQ(net::checksum_add(net::checksum_add(0, all.subspan(0, 4)), all.subspan(4)), 0xddf2u);
    EXPECT_EQ(net::checksum_add(net::checksum_add(0, all.subspan(6)), all.subspan(0, 6)), 0xddf2u);
    // With the checksum added, the sum is all ones and the check 0.
    std::vector<uint8_t> with = joined(rfc1071_example, {0x22, 0x0d});
    EXPECT_EQ(net::checksum_add(0, with), 0xffffu);
    EXPECT_EQ(net::checksum_finish(net::checksum_add(0, with)), 0);
}

// The sum as RFC 1071 writes it: 16-bit little-endian words one at a time,
// each carry folded back at once.
uint16_t reference_ones_sum(std::span<const uint8_t> bytes) {
    uint32_t sum = 0;
    for (size_t i = 0; i < bytes.size(); i += 2) {
        sum += bytes[i] | (i + 1 < bytes.size() ? bytes[i + 1] << 8 : 0);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return uint16_t(sum);
}

TEST(VirtioNet, OnesSumWithCarriesIsRfc1071s) {
    // Every length to 200 at every alignment (the 64-byte steps, the 8-byte
    // ones and the last bytes), then long random runs: the same sum as the
    // word-at-a-time loop; all-ones words (a carry out of every addition).
    std::mt19937 random(7);
    std::vector<uint8_t> bytes(70000);
    for (uint8_t& byte : bytes)
        byte = uint8_t(random());
    for (size_t offset = 0; offset < 8; ++offset) {
        for (size_t length = 0; length <= 200; ++length) {
            std::span<const uint8_t> part(bytes.data() + offset, length);
            ASSERT_EQ(capos_ones_sum(part.data(), part.size()), reference_ones_sum(part))
                << offset << " " << length;
        }
    }
    std::vector<uint8_t> high(300, 0xff);
    high[0] = 0xfe;
    for (size_t length = 0; length <= high.size(); ++length) {
        std::span<const uint8_t> part(high.data(), length);
        ASSERT_EQ(capos_ones_sum(part.data(), part.size()), reference_ones_sum(part)) << length;
    }
    for (int round = 0; round < 200; ++round) {
        size_t offset = random() % 64;
        size_t length = random() % (bytes.size() - offset);
        std::span<const uint8_t> part(bytes.data() + offset, length);
        ASSERT_EQ(capos_ones_sum(part.data(), part.size()), reference_ones_sum(part)) << length;
    }
    std::vector<uint8_t> ones(65536, 0xff);
    EXPECT_EQ(capos_ones_sum(ones.data(), ones.size()), 0xffff);
    EXPECT_EQ(capos_ones_sum(ones.data(), 1), 0x00ff);
    std::vector<uint8_t> zeros(100, 0);
    EXPECT_EQ(capos_ones_sum(zeros.data(), zeros.size()), 0);
}

TEST(VirtioNet, ChecksumOfAnIpv4Header) {
    // A commonly quoted IPv4 header, its checksum b861.
    std::vector<uint8_t> header = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    EXPECT_EQ(net::checksum_finish(net::checksum_add(0, header)), 0xb861);
    write16(header, 10, 0xb861);
    EXPECT_EQ(net::checksum_add(0, header), 0xffffu);
}

TEST(VirtioNet, ChecksumOfOddLengthsPadsTheLastByte) {
    std::vector<uint8_t> none;
    EXPECT_EQ(net::checksum_add(0, none), 0u);
    EXPECT_EQ(net::checksum_add(0x1234, none), 0x1234u);
    EXPECT_EQ(net::checksum_add(0, std::vector<uint8_t>{0x01}), 0x0100u);
    EXPECT_EQ(net::checksum_add(0, std::vector<uint8_t>{0x00, 0x01, 0xf2}), 0xf201u);
    // RFC 1071's example without its last byte: ddf2 - 00f7.
    std::span<const uint8_t> seven(rfc1071_example.data(), 7);
    EXPECT_EQ(net::checksum_add(0, seven), 0xdcfbu);
    EXPECT_EQ(net::checksum_add(0, std::vector<uint8_t>{0xff, 0xff, 0xff}), 0xff00u);
}

TEST(VirtioNet, ChecksumCarriesFoldBack) {
    EXPECT_EQ(net::checksum_add(0, std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff}), 0xffffu);
    EXPECT_EQ(net::checksum_add(0, std::vector<uint8_t>{0x80, 0x00, 0x80, 0x01}), 0x0002u);
    // A starting sum wider than 16 bits is folded in.
    EXPECT_EQ(net::checksum_add(0x1'0001, std::vector<uint8_t>{0x00, 0x01}), 0x0003u);
    std::vector<uint8_t> ones(4000, 0xff);
    EXPECT_EQ(net::checksum_add(0, ones), 0xffffu);
    EXPECT_EQ(net::checksum_finish(0), 0xffff);
    EXPECT_EQ(net::checksum_finish(0xffff), 0);
    EXPECT_EQ(net::checksum_finish(0x1'fffe), 0); // folds to ffff
    EXPECT_EQ(net::checksum_finish(0x2'0001), 0xfffc);
    // Against the reference, on random bytes of every length up to 300.
    std::mt19937 random(1071);
    for (size_t length = 0; length <= 300; ++length) {
        std::vector<uint8_t> bytes(length);
        for (uint8_t& byte : bytes)
            byte = uint8_t(random());
        EXPECT_EQ(net::checksum_add(0, bytes), reference_sum(bytes)) << length;
    }
}

} // namespace
} // namespace capos

// --- Addresses as text (lib/net/address.h) ---------------------------------------

namespace {

std::string ip_text(std::string_view text) {
    auto parsed = capos::net::parse_ip(text);
    if (!parsed)
        return "(refused)";
    char out[capos::net::ipv6_text_bytes];
    return std::string(capos::net::format_ip(parsed->view(), out));
}

} // namespace

TEST(NetAddress, Ipv4RoundTripsAndRefusesWhatIsNotDottedQuad) {
    EXPECT_EQ(ip_text("10.0.2.15"), "10.0.2.15");
    EXPECT_EQ(ip_text("0.0.0.0"), "0.0.0.0");
    EXPECT_EQ(ip_text("255.255.255.255"), "255.255.255.255");
    for (const char* bad : {"256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.4 ", "", "1..2.3",
                            "1.2.3.-4", "a.b.c.d", "1.2.3.4/24", "1000.1.1.1"})
        EXPECT_EQ(ip_text(bad), "(refused)") << bad;
}

TEST(NetAddress, Ipv6IsWrittenAsRfc5952Recommends) {
    EXPECT_EQ(ip_text("fe80:0:0:0:5054:ff:fe12:3456"), "fe80::5054:ff:fe12:3456");
    EXPECT_EQ(ip_text("FEC0::2"), "fec0::2");
    EXPECT_EQ(ip_text("::"), "::");
    EXPECT_EQ(ip_text("::1"), "::1");
    EXPECT_EQ(ip_text("1::"), "1::");
    // The longest run of zeros, the first of two equal ones; a lone zero
    // group stays "0".
    EXPECT_EQ(ip_text("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
    EXPECT_EQ(ip_text("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
    EXPECT_EQ(ip_text("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
    EXPECT_EQ(ip_text("2001:db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
    for (const char* bad :
         {":::", "1:::2", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4::5:6:7:8",
          "12345::", "g::", ":1::", "1:2:3:4:5:6:7:", "::1.2.3.4", "fe80::1%en0"})
        EXPECT_EQ(ip_text(bad), "(refused)") << bad;
}

TEST(NetAddress, MacIsLowerCaseHexWithColons) {
    const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xAB, 0x0c, 0xff};
    char out[capos::net::mac_text_bytes];
    EXPECT_EQ(capos::net::format_mac(mac, out), "52:54:00:ab:0c:ff");
}

// --- ReceiveWindow ------------------------------------------------------------

namespace {

// A sender that respects the window and a reader that reads when it likes:
// the window the sender sees never passes the full window, every byte's
// window is given back exactly once, and what is unread never passes the
// window plus the advance.
struct WindowModel {
    static constexpr uint32_t window = 64240;
    static constexpr uint32_t advance = 64240;
    capos::net::ReceiveWindow receive;
    uint32_t allowed = advance; // the advance the caller allows now
    uint64_t open = window;     // the window the sender may fill
    uint64_t sent = 0, read = 0, given_back = 0;

    void send(uint32_t bytes) {
        ASSERT_LE(bytes, open);
        open -= bytes;
        sent += bytes;
        uint32_t credit = receive.arrived(bytes, allowed);
        given_back += credit;
        open += credit;
        check();
    }
    void take(uint32_t bytes) {
        ASSERT_LE(bytes, receive.unread());
        read += bytes;
        uint32_t credit = receive.read(bytes, allowed);
        given_back += credit;
        open += credit;
        check();
    }
    void check() {
        ASSERT_LE(open, window);
        ASSERT_LE(receive.unread(), window + advance);
        ASSERT_LE(receive.advanced(), receive.unread());
        ASSERT_EQ(sent - read, receive.unread());
        // Every byte's window given back once: the read ones all, the
        // unread ones those advanced.
        ASSERT_EQ(given_back, read + receive.advanced());
    }
};

} // namespace

TEST(ReceiveWindow, AReaderBehindKeepsTheWindowOpen) {
    WindowModel model;
    // Two windows' worth arrive unread: the first is given back as it
    // comes, the second closes the window.
    for (int i = 0; i < 44; ++i)
        model.send(1460);
    EXPECT_EQ(model.open, WindowModel::window);
    for (int i = 0; i < 44; ++i)
        model.send(1460);
    EXPECT_EQ(model.open, 0u);
    EXPECT_EQ(model.receive.unread(), WindowModel::window + WindowModel::advance);
    // Reading opens it again byte for byte, and once what is unread is
    // within the advance, everything is given back.
    model.take(1000);
    EXPECT_EQ(model.open, 1000u);
    model.take(WindowModel::window - 1000);
    EXPECT_EQ(model.open, WindowModel::window);
    model.take(WindowModel::advance);
    EXPECT_EQ(model.open, WindowModel::window);
    EXPECT_EQ(model.given_back, model.sent);
}

TEST(ReceiveWindow, ALoweredAdvanceKeepsWhatWasGivenBack) {
    WindowModel model;
    for (int i = 0; i < 10; ++i)
        model.send(1460);
    EXPECT_EQ(model.open, WindowModel::window); // 14,600 advanced
    model.allowed = 0;                          // buffers run short
    model.send(1460);
    EXPECT_EQ(model.open, WindowModel::window - 1460);
    EXPECT_EQ(model.receive.advanced(), 14600u);
    // Reads give back only what was not: the advanced bytes go first.
    model.take(14600);
    EXPECT_EQ(model.open, WindowModel::window - 1460);
    EXPECT_EQ(model.receive.advanced(), 0u);
    model.take(1460);
    EXPECT_EQ(model.open, WindowModel::window);
    EXPECT_EQ(model.given_back, model.sent);
}

TEST(ReceiveWindow, RandomSendsAndReadsGiveEveryByteBackOnce) {
    std::mt19937 random(11);
    for (int round = 0; round < 200; ++round) {
        WindowModel model;
        for (int step = 0; step < 500; ++step) {
            if (random() % 16 == 0)
                model.allowed = random() % 2 ? WindowModel::advance : uint32_t(random() % 20000);
            if (random() % 2 && model.open > 0)
                model.send(uint32_t(1 + random() % std::min<uint64_t>(model.open, 4000)));
            else if (model.receive.unread() > 0)
                model.take(
                    uint32_t(1 + random() % std::min<uint32_t>(model.receive.unread(), 70000)));
            if (HasFatalFailure())
                return;
        }
        model.take(model.receive.unread());
        ASSERT_EQ(model.given_back, model.sent);
        ASSERT_EQ(model.open, WindowModel::window);
    }
}
