// The capability ring: one page shared by a process and the kernel, holding a
// submission queue (SQ, written by the process) and a completion queue (CQ,
// written by the kernel), in the style of io_uring.
//
// Protocol. The process fills sqes[sq_tail % sq_entries] and then advances
// sq_tail (release store); the kernel consumes entries from sq_head to sq_tail
// during cap_enter and advances sq_head. The kernel writes CQEs at
// cq_tail % cq_entries and advances cq_tail; the process reads from cq_head
// and advances cq_head. Counters are free-running 32-bit values.
//
// The kernel trusts nothing in this page: it copies each SQE before looking at
// it, validates every field, and treats impossible head/tail values as a
// corrupted ring (docs/abi.md says how it recovers). When the CQ is full, a
// completion is dropped and cq_overflow counts it.
#pragma once

#include "abi/capability.h"
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capos::abi {

inline constexpr uint32_t ring_sq_entries = 16;
inline constexpr uint32_t ring_cq_entries = 64;
// Submissions the kernel handles per cap_enter before it returns to the process.
inline constexpr uint32_t ring_max_batch = ring_sq_entries;
// Completions the kernel may owe a process at once for submissions it answers
// later (calls through endpoints, Recv, ProcessHandle.wait): the kernel takes
// a submission only when the completion queue has room for its answer, and
// keeps the rest of the queue for submissions answered at once (Return,
// Release, ...), so a process whose owed answers fill what they may can still
// receive, answer and release (a server that called itself can still serve).
inline constexpr uint32_t ring_max_owed = ring_cq_entries - 4;
// Counters are free-running 32-bit values and a slot is counter mod entries:
// both sizes divide 2^32, so a counter's wrap keeps its slot in sequence.
static_assert((ring_sq_entries & (ring_sq_entries - 1)) == 0 &&
              (ring_cq_entries & (ring_cq_entries - 1)) == 0);

enum class Opcode : uint8_t {
    Nop = 0,     // completes at once with result 0
    Call = 1,    // invoke method `method` of capability `cap`
    Recv = 2,    // (endpoint owner) wait for the next call on endpoint `cap`
    Return = 3,  // (endpoint owner) answer call `call_id`
    Release = 4, // drop capability `cap` from the table
    Park = 5,    // (ParkSpace `cap`) sleep while the word at params_addr holds params_len
    Unpark = 6,  // (ParkSpace `cap`) wake up to params_len threads parked on the word
    // 7..255 reserved: rejected with TransportError::BadOpcode
};
inline constexpr uint8_t opcode_count = 7;

// An endpoint holds up to this many CALLs queued for a RECV, and up to this
// many RECVs waiting for a CALL (the oldest waiting RECV takes the next call;
// a server's threads, or one thread keeping several calls coming, each wait).
inline constexpr uint32_t endpoint_max_queued_calls = 32;
inline constexpr uint32_t endpoint_max_receivers = 16;
// Client facets minted on one endpoint (Endpoint.mint) that may exist at
// once: a facet counts from its mint until the RECV that takes its release
// notice (or until the owner goes), since its memory is the notice's. Another
// mint is refused (an overloaded exception). Release notices themselves do
// not count against endpoint_max_queued_calls: this bounds them.
inline constexpr uint32_t endpoint_max_minted = 16384;
// The method of a release notice: what a RECV receives, instead of a call,
// when the last capability naming a minted client facet has gone. Its header
// has call_id 0 (nothing to RETURN: a RETURN to it is NoSuchCall), interface_id,
// caller and cap_count 0, and the facet's badge; no call has call_id 0, so the
// id alone tells a notice from a call. When more notices wait, one after
// another at the head of the queue, a RECV takes up to notice_max_badges of
// them at once: the badges after the first are its params, each a uint32_t
// in the order the facets went, a last 0 filling the word (params_len 0 for
// one alone).
inline constexpr uint16_t endpoint_release_notice = 0xFFFF;
inline constexpr uint32_t notice_max_badges = 32;

// PARK's non-negative results (UNPARK's is the number of threads it woke).
enum class ParkResult : int32_t {
    Woken = 0,       // an UNPARK of the word woke it
    NotExpected = 1, // the word did not hold the expected value: it never slept
    TimedOut = 2,    // its timeout passed first
};
// PARK's timeout (result_addr, in nanoseconds) that means none.
inline constexpr uint64_t park_no_timeout = UINT64_MAX;

// SQE flags; undefined bits, and bits an opcode does not take, are rejected
// with TransportError::BadFlags.
enum SqeFlags : uint8_t {
    SqeNone = 0,
    // Return: the message is a CapException, not the method's results.
    SqeReturnException = 1 << 0,
    // Call: the params are the first params_len bytes (0, 8 or 16) of the
    // entry's last 16 (sqe_inline_params), not at params_addr, which must be
    // 0; the bytes after them must be 0 too. Those 16 bytes are where a call
    // lists transfers, so such a call sends no capabilities.
    SqeInlineParams = 1 << 1,
    // Call: an answer that is the method's results, carries no capabilities
    // and takes at most cqe_inline_bytes comes in the completion itself
    // (CallStatus::OkInline, the message in the completion's last 16 bytes) instead of
    // the result buffer. Anything else goes to the result buffer as usual;
    // a call whose answers always fit may leave that buffer absent.
    SqeInlineResult = 1 << 2,
};
inline constexpr uint8_t sqe_valid_flags = SqeReturnException | SqeInlineParams | SqeInlineResult;
// The flags each opcode takes (BadFlags otherwise).
inline constexpr uint8_t sqe_call_flags = SqeInlineParams | SqeInlineResult;
inline constexpr uint8_t sqe_return_flags = SqeReturnException;

// Negative CQE results: the call never reached the object (or its server).
enum class TransportError : int32_t {
    BadSqe = -1,         // a reserved field is nonzero or a length is out of range
    BadOpcode = -2,      // reserved opcode
    BadFlags = -3,       // undefined flag bits
    BadBuffer = -4,      // params or result buffer not readable/writable user memory
    InvalidCap = -5,     // no capability with that id (never existed or released)
    StaleCap = -6,       // the id's generation is old: its slot was released
    WrongInterface = -7, // the capability does not speak the SQE's interface id
    BadParams = -8,      // the params are not a valid Cap'n Proto message
    ResultTooSmall = -9, // the result does not fit the result buffer
    Disconnected = -10,  // the object or its server is gone
    BadTransfer = -11,   // malformed capability-transfer descriptors
    NoMemory = -12,      // the kernel could not allocate what the call needed
    QuotaExceeded = -13, // a per-process limit was reached
    RingCorrupted = -14, // cap_enter: the ring header made no sense (recovered)
    NoSuchCall = -15,    // Return: no call with that id waits for an answer here
};

// Non-negative CQE results.
enum class CallStatus : int32_t {
    Ok = 0,        // the result buffer holds the method's results
    Exception = 1, // the result buffer holds a CapException
    OkInline = 2,  // the completion holds the method's results (SqeInlineResult)
};

// The names of the values above, as spelled there ("BadBuffer"), for logs and
// test output; empty for a value that is not one. The switches have no
// default, so an error added without a name fails to compile (-Wswitch with
// warnings as errors, as everything here is built).
constexpr std::string_view to_string(TransportError error) {
    switch (error) {
    case TransportError::BadSqe:
        return "BadSqe";
    case TransportError::BadOpcode:
        return "BadOpcode";
    case TransportError::BadFlags:
        return "BadFlags";
    case TransportError::BadBuffer:
        return "BadBuffer";
    case TransportError::InvalidCap:
        return "InvalidCap";
    case TransportError::StaleCap:
        return "StaleCap";
    case TransportError::WrongInterface:
        return "WrongInterface";
    case TransportError::BadParams:
        return "BadParams";
    case TransportError::ResultTooSmall:
        return "ResultTooSmall";
    case TransportError::Disconnected:
        return "Disconnected";
    case TransportError::BadTransfer:
        return "BadTransfer";
    case TransportError::NoMemory:
        return "NoMemory";
    case TransportError::QuotaExceeded:
        return "QuotaExceeded";
    case TransportError::RingCorrupted:
        return "RingCorrupted";
    case TransportError::NoSuchCall:
        return "NoSuchCall";
    }
    return {};
}

constexpr std::string_view to_string(CallStatus status) {
    switch (status) {
    case CallStatus::Ok:
        return "Ok";
    case CallStatus::Exception:
        return "Exception";
    case CallStatus::OkInline:
        return "OkInline";
    }
    return {};
}

// The name of a CQE result: its CallStatus or TransportError, or "?" for a
// value that is neither.
constexpr std::string_view cqe_result_name(int32_t result) {
    std::string_view name = result < 0 ? to_string(static_cast<TransportError>(result))
                                       : to_string(static_cast<CallStatus>(result));
    return name.empty() ? "?" : name;
}
static_assert(cqe_result_name(-4) == "BadBuffer" && cqe_result_name(1) == "Exception");
static_assert(cqe_result_name(-16) == "?" && cqe_result_name(3) == "?");

struct Sqe {
    uint8_t opcode;          // Opcode
    uint8_t flags;           // SqeFlags
    uint16_t method;         // Call: method ordinal
    uint32_t cap;            // CapId of the target
    uint64_t user_data;      // copied to the CQE
    uint64_t interface_id;   // Call: the interface the caller speaks
    uint64_t params_addr;    // Call/Return: Cap'n Proto message (flat, one segment)
    uint32_t params_len;     // bytes, multiple of 8
    uint32_t result_len;     // bytes available at result_addr
    uint64_t result_addr;    // Call/Recv: where the result (or received call) goes
    uint32_t call_id;        // Return: the call being answered
    uint32_t transfer_count; // Call/Return to an endpoint: TransferDescriptors at transfer_addr
    uint64_t transfer_addr;
};
static_assert(sizeof(Sqe) == 64);
static_assert(offsetof(Sqe, user_data) == 8);
static_assert(offsetof(Sqe, params_addr) == 24);
static_assert(offsetof(Sqe, result_addr) == 40);
// Where a Call with SqeInlineParams carries its params: the entry's last 16
// bytes, in place of call_id, transfer_count and transfer_addr.
inline constexpr size_t sqe_inline_params_offset = 48;
inline constexpr uint32_t sqe_inline_params_bytes = 16;
static_assert(offsetof(Sqe, call_id) == sqe_inline_params_offset);
static_assert(sqe_inline_params_offset + sqe_inline_params_bytes == sizeof(Sqe));

struct Cqe {
    uint64_t user_data;  // from the SQE
    int32_t result;      // CallStatus (>= 0) or TransportError (< 0)
    uint32_t result_len; // bytes written to the result buffer
    uint32_t call_id;    // Recv: the id to Return with
    uint32_t cap_count;  // CapRecords written after the message (capabilities received)
    uint64_t extra;      // Recv: the caller's process id; otherwise 0
};
static_assert(sizeof(Cqe) == 32);
// Where a completion with CallStatus::OkInline carries the results message
// (result_len bytes of it, the rest 0): its last 16 bytes, in place of
// call_id, cap_count and extra, which such a completion does not use.
inline constexpr size_t cqe_inline_offset = 16;
inline constexpr uint32_t cqe_inline_bytes = 16;
static_assert(offsetof(Cqe, call_id) == cqe_inline_offset);
static_assert(cqe_inline_offset + cqe_inline_bytes == sizeof(Cqe));
// The inline results of `cqe`, as two words.
inline void cqe_inline_words(const Cqe& cqe, uint64_t (&words)[2]) {
    __builtin_memcpy(words, reinterpret_cast<const unsigned char*>(&cqe) + cqe_inline_offset,
                     sizeof words);
}
inline void set_cqe_inline_words(Cqe& cqe, uint64_t first, uint64_t second) {
    uint64_t words[2] = {first, second};
    __builtin_memcpy(reinterpret_cast<unsigned char*>(&cqe) + cqe_inline_offset, words,
                     sizeof words);
}

struct RingHeader {
    uint32_t sq_head;     // kernel → process
    uint32_t sq_tail;     // process → kernel
    uint32_t cq_head;     // process → kernel
    uint32_t cq_tail;     // kernel → process
    uint32_t sq_entries;  // ring_sq_entries, set by the kernel
    uint32_t cq_entries;  // ring_cq_entries, set by the kernel
    uint32_t cq_overflow; // completions dropped because the CQ was full
    uint32_t reserved[9];
};
static_assert(sizeof(RingHeader) == 64);

// Capabilities sent with a Call or Return to an endpoint. Every capability
// pointer in the message names the sender's CapId of one of the listed
// capabilities; each is copied (the sender keeps it) or moved (it leaves the
// sender only if the whole transfer succeeds). The same values as the
// schema's TransferMode (a Grant's mode), which abi/schema.h ties to these.
enum class TransferMode : uint8_t { Copy = 0, Move = 1 };
inline constexpr uint8_t transfer_mode_count = 2;
// Whether a descriptor's mode byte names a mode.
constexpr bool is_transfer_mode(uint8_t mode) {
    return mode < transfer_mode_count;
}
static_assert(uint8_t(TransferMode::Move) + 1 == transfer_mode_count);
// A descriptor's mode beside the TransferModes, in a Return only: `cap` is a
// badge (not 0), and the kernel mints a new client facet of the endpoint
// answered on with that badge, speaking the Return's interface_id (0: any),
// charged to the owner as Endpoint.mint is, for the caller alone: the
// answer's capability pointers name it by the badge. A server handing out an
// object's facet with its answer needs no Endpoint.mint call of its own, and
// holds nothing: the release notice comes when the caller's copies are gone,
// or at once when the answer fails.
inline constexpr uint8_t transfer_mint = transfer_mode_count;
struct TransferDescriptor {
    uint32_t cap;        // the sender's CapId (transfer_mint: the badge)
    uint8_t mode;        // TransferMode, or transfer_mint
    uint8_t reserved[3]; // 0
};
static_assert(sizeof(TransferDescriptor) == 8);
inline constexpr uint32_t max_transfers = 8;

// A capability received with a message: its id in the receiver's table and
// the interface it speaks. The message's capability pointers already name
// the new ids; the records list them with their interfaces.
struct CapRecord {
    uint32_t cap;
    uint32_t reserved;
    uint64_t interface_id;
};
static_assert(sizeof(CapRecord) == 16);

// What Recv writes at the start of its result buffer: this header, then the
// call's params (a flat Cap'n Proto message, params_len bytes), then
// cap_count CapRecords; a release notice is the header alone.
struct RecvHeader {
    uint32_t call_id;      // to Return with
    uint16_t method;       // the method the caller invoked
    uint16_t cap_count;    // CapRecords after the params
    uint64_t interface_id; // the interface the caller spoke
    uint64_t caller;       // the calling process's id
    uint32_t params_len;   // bytes of params after this header
    uint32_t badge;        // the client facet's (Endpoint.mint), 0 for the plain one
};
static_assert(sizeof(RecvHeader) == 32);

// Whether a received header is a release notice (endpoint_release_notice),
// not a call.
constexpr bool is_release_notice(const RecvHeader& header) {
    return header.call_id == 0 && header.method == endpoint_release_notice;
}

// The ring is one page: the kernel maps a single frame for it.
inline constexpr size_t ring_page_size = 4096;
struct RingPage {
    RingHeader header;
    Sqe sqes[ring_sq_entries];
    Cqe cqes[ring_cq_entries];
};
static_assert(offsetof(RingPage, sqes) == 64);
static_assert(offsetof(RingPage, cqes) == 64 + 64 * ring_sq_entries);
static_assert(sizeof(RingPage) == 64 + 64 * ring_sq_entries + 32 * ring_cq_entries);
static_assert(sizeof(RingPage) <= ring_page_size);

} // namespace capos::abi
