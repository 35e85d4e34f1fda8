// Submission decoding (lib/ring) over arbitrary bytes: a hostile SQE and the
// counters of a hostile ring header. Checks the contracts the kernel relies
// on: decoding never reads past its argument, anything accepted names only
// user memory (overflow-free) and has zero in every field its opcode does
// not use, and the counter helpers never report more than the queue holds.
#include "abi/user_layout.h"
#include "lib/ring/ring.h"
#include <cstdint>
#include <cstring>

namespace {

void require(bool condition) {
    if (!condition)
        __builtin_trap();
}

bool inside_user_space(const capos::ring::UserRange& range) {
    if (range.address == 0 && range.length == 0)
        return true;
    return range.address >= capos::abi::user_min_address &&
           range.address < capos::abi::user_limit &&
           range.length <= capos::abi::user_limit - range.address && range.address % 8 == 0 &&
           range.length % 8 == 0 && range.length <= capos::ring::max_message_bytes;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace capos;
    abi::Sqe sqe{};
    std::memcpy(&sqe, data, size < sizeof sqe ? size : sizeof sqe);
    auto decoded = ring::decode_sqe(sqe);
    if (decoded.is_ok()) {
        const ring::DecodedSqe& d = decoded.value();
        require(sqe.opcode < abi::opcode_count);
        require((sqe.flags & ~abi::sqe_valid_flags) == 0);
        bool park = d.opcode == abi::Opcode::Park || d.opcode == abi::Opcode::Unpark;
        if (park) {
            // A word's address (4-byte aligned in user space) and a value.
            require(d.flags == 0 && d.cap.raw != 0 && d.params.address % 4 == 0 &&
                    d.params.address >= abi::user_min_address &&
                    d.params.address < abi::user_limit && d.result.length == 0 &&
                    d.transfer_count == 0 && d.call_id == 0 && d.interface_id == 0);
            if (d.opcode == abi::Opcode::Unpark)
                require(d.result.address == 0);
        } else if (d.flags & abi::SqeInlineParams) {
            // Params in the entry: at most 16 bytes, whole words, nothing
            // after them, and neither an address nor transfers beside them.
            require(d.opcode == abi::Opcode::Call && d.params.address == 0 &&
                    d.params.length <= abi::sqe_inline_params_bytes && d.params.length % 8 == 0 &&
                    d.transfer_count == 0 && d.transfer_address == 0 && d.call_id == 0);
            require((d.params.length >= 16 || d.inline_params[1] == 0) &&
                    (d.params.length >= 8 || d.inline_params[0] == 0));
            require(
                std::memcmp(d.inline_params,
                            reinterpret_cast<const uint8_t*>(&sqe) + abi::sqe_inline_params_offset,
                            sizeof d.inline_params) == 0);
        } else {
            require(inside_user_space(d.params));
            require(d.inline_params[0] == 0 && d.inline_params[1] == 0);
        }
        if (d.flags & (abi::SqeInlineParams | abi::SqeInlineResult))
            require(d.opcode == abi::Opcode::Call);
        if (!park)
            require(inside_user_space(d.result));
        require(d.transfer_count <= abi::max_transfers);
        if (d.transfer_count > 0)
            require(d.transfer_address >= abi::user_min_address &&
                    d.transfer_address + d.transfer_count * sizeof(abi::TransferDescriptor) <=
                        abi::user_limit);
        if (d.opcode == abi::Opcode::Nop)
            require(d.cap.raw == 0 && d.params.length == 0 && d.result.length == 0 &&
                    d.call_id == 0 && d.transfer_count == 0);
        if (d.opcode != abi::Opcode::Nop)
            require(d.cap.raw != 0);
        if (d.opcode == abi::Opcode::Release || d.opcode == abi::Opcode::Recv)
            require(d.params.length == 0 && d.transfer_count == 0);
        require(d.user_data == sqe.user_data);
    }

    // Ring counters from the rest of the input.
    uint32_t counters[4] = {};
    if (size > sizeof sqe)
        std::memcpy(counters, data + sizeof sqe,
                    size - sizeof sqe < sizeof counters ? size - sizeof sqe : sizeof counters);
    auto pending = ring::pending_submissions(counters[0], counters[1], abi::ring_sq_entries);
    if (pending)
        require(*pending <= abi::ring_sq_entries);
    uint32_t unread = ring::unread_completions(counters[2], counters[3], abi::ring_cq_entries);
    uint32_t free = ring::free_completions(counters[2], counters[3], abi::ring_cq_entries);
    require(unread <= abi::ring_cq_entries && unread + free == abi::ring_cq_entries);
    return 0;
}
