#include "lib/crypto/chacha20.h"

namespace capos {

namespace {

using chacha20::block_size;
using chacha20::State;

// "expand 32-byte k" read as four little-endian words (RFC 8439 §2.3).
constexpr uint32_t constant_words[4] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};

constexpr uint32_t load_le32(const uint8_t* bytes) {
    return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 |
           uint32_t{bytes[3]} << 24;
}

constexpr void store_le32(uint8_t* bytes, uint32_t value) {
    bytes[0] = static_cast<uint8_t>(value);
    bytes[1] = static_cast<uint8_t>(value >> 8);
    bytes[2] = static_cast<uint8_t>(value >> 16);
    bytes[3] = static_cast<uint8_t>(value >> 24);
}

void secure_zero_state(State& state) {
    volatile uint32_t* words = state.data();
    for (size_t i = 0; i < state.size(); ++i)
        words[i] = 0;
}

// One keystream block from an input matrix. working is scratch space, passed in so
// that a caller producing many blocks wipes it once at the end.
void block_from_state(const State& input, State& working, std::span<uint8_t, block_size> out) {
    working = input;
    chacha20::run_rounds(working);
    for (size_t i = 0; i < working.size(); ++i)
        store_le32(out.data() + 4 * i, working[i] + input[i]);
}

// Number of blocks needed for length bytes; cannot overflow.
constexpr uint64_t blocks_for(size_t length) {
    return uint64_t{length / block_size} + (length % block_size != 0 ? 1 : 0);
}

bool counter_suffices(uint32_t initial_counter, size_t length) {
    return blocks_for(length) <= chacha20::max_blocks - initial_counter;
}

// Shared body of keystream() and xor_stream(): out[i] = in[i] ^ keystream[i], or
// the keystream alone when in is null. The counter was checked by the caller.
void apply_keystream(chacha20::Key key, uint32_t counter, chacha20::Nonce nonce, const uint8_t* in,
                     std::span<uint8_t> out) {
    State input = chacha20::initial_state(key, counter, nonce);
    State working;
    std::array<uint8_t, block_size> stream;
    for (size_t done = 0; done < out.size(); done += block_size) {
        block_from_state(input, working, stream);
        size_t length = out.size() - done < block_size ? out.size() - done : block_size;
        for (size_t i = 0; i < length; ++i)
            out[done + i] = static_cast<uint8_t>((in ? in[done + i] : 0) ^ stream[i]);
        // May wrap to 0 after the last block the check allowed; then it is unused.
        ++input[12];
    }
    secure_zero_state(input);
    secure_zero_state(working);
    secure_zero(stream);
}

} // namespace

const char* to_string(ChaChaError error) {
    switch (error) {
    case ChaChaError::CounterOverflow:
        return "ChaCha20 block counter overflow";
    }
    return "unknown ChaCha20 error";
}

void secure_zero(std::span<uint8_t> bytes) {
    volatile uint8_t* data = bytes.data();
    for (size_t i = 0; i < bytes.size(); ++i)
        data[i] = 0;
}

namespace chacha20 {

State initial_state(Key key, uint32_t counter, Nonce nonce) {
    State state;
    for (size_t i = 0; i < 4; ++i)
        state[i] = constant_words[i];
    for (size_t i = 0; i < 8; ++i)
        state[4 + i] = load_le32(key.data() + 4 * i);
    state[12] = counter;
    for (size_t i = 0; i < 3; ++i)
        state[13 + i] = load_le32(nonce.data() + 4 * i);
    return state;
}

void run_rounds(State& state) {
    for (int i = 0; i < 10; ++i) {
        // Column round.
        quarter_round(state, 0, 4, 8, 12);
        quarter_round(state, 1, 5, 9, 13);
        quarter_round(state, 2, 6, 10, 14);
        quarter_round(state, 3, 7, 11, 15);
        // Diagonal round.
        quarter_round(state, 0, 5, 10, 15);
        quarter_round(state, 1, 6, 11, 12);
        quarter_round(state, 2, 7, 8, 13);
        quarter_round(state, 3, 4, 9, 14);
    }
}

void block(Key key, uint32_t counter, Nonce nonce, std::span<uint8_t, block_size> out) {
    State input = initial_state(key, counter, nonce);
    State working;
    block_from_state(input, working, out);
    secure_zero_state(input);
    secure_zero_state(working);
}

Result<void, ChaChaError> keystream(Key key, uint32_t initial_counter, Nonce nonce,
                                    std::span<uint8_t> out) {
    if (!counter_suffices(initial_counter, out.size()))
        return Err{ChaChaError::CounterOverflow};
    apply_keystream(key, initial_counter, nonce, nullptr, out);
    return {};
}

Result<void, ChaChaError> xor_stream(Key key, uint32_t initial_counter, Nonce nonce,
                                     std::span<uint8_t> data) {
    if (!counter_suffices(initial_counter, data.size()))
        return Err{ChaChaError::CounterOverflow};
    apply_keystream(key, initial_counter, nonce, data.data(), data);
    return {};
}

} // namespace chacha20

} // namespace capos
