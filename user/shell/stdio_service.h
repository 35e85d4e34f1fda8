// The StdIO the shell serves each program it starts (schema/capos.capnp): the
// program holds the client side of an endpoint made for it alone (a
// servedEndpoint grant named "stdio", not transferable), the shell its owner
// side. Output goes to the shell's terminal; a program in the foreground
// reads lines from it (the shell reads them: ReadWanted), one in the
// background reads end of input at once.
//
// Nothing a program sends can stop the shell: a call that is not StdIO, a
// malformed or oversized one (received again into a buffer as large as any
// message, then refused), capabilities sent along (released at once) each
// get an exception, and the endpoint is closed on any receive failure other
// than those. The calls are served one at a time, inside the shell's waits:
//
//   1. start() submits a RECV; ticket() is waited for beside the shell's own
//      submissions (the prompt's readLine, a program's wait, Ctrl-C).
//   2. handle() answers what the RECV delivered (a write is written on the
//      terminal) and submits the next RECV, or closes the endpoint when
//      nobody can call any more. A foreground read is left to the shell,
//      which reads the line beside its other waits and hands it to
//      answer_read(); the next RECV follows that.
//   3. finish(), once the program has ended, answers whatever is left with
//      an exception until the endpoint closes, and drops it.
#pragma once

#include "abi/capability.h"
#include "abi/ring.h"
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/rt.h"

namespace capos::shell {

enum class StdioMode : uint8_t { Foreground, Background };

// What handle() saw.
enum class StdioEvent : uint8_t {
    Served,     // a call was answered (or refused); the next RECV waits
    ReadWanted, // a foreground readLine: the shell reads a line for answer_read
    Closed,     // the endpoint is closed and dropped; ticket() is 0
};

class StdioService {
public:
    void start(rt::Capability<schema::TerminalSession>& terminal, abi::CapId owner, StdioMode mode);
    bool active() const { return m_owner.raw != 0; }
    // The outstanding RECV, 0 when none.
    uint64_t ticket() const { return m_ticket; }
    StdioEvent handle(const abi::Cqe& cqe);
    // Whether a readLine waits for answer_read.
    bool read_pending() const { return m_read_pending; }
    // Answers the readLine waiting (text copied) and receives the next call.
    void answer_read(std::string_view text, schema::StdInputEnd end);
    void finish();

private:
    // Why a call is refused without being served.
    enum class Refusal : uint8_t { None, TooLarge, Ended };
    // Answers the call whose header and params lie in `received` (the RECV's
    // buffer, `length` bytes written), or refuses it.
    StdioEvent serve(std::span<const capnp::Word> received, size_t length, Refusal refusal);
    // After a RECV failed for want of room: the call, received again into
    // the large buffer, refused. False when the endpoint is closed.
    bool refuse_large(Refusal refusal);
    void receive();
    void close();
    void reply(uint32_t call_id, std::span<const capnp::Word> message, bool exception);

    rt::Capability<schema::TerminalSession>* m_terminal = nullptr;
    abi::CapId m_owner{};
    StdioMode m_mode = StdioMode::Background;
    uint64_t m_ticket = 0;
    bool m_read_pending = false;
    uint32_t m_read_call = 0; // the call id of the readLine waiting
    // Enough for a write of StdIO.maxWrite bytes with its message, a
    // readLine, and the records of the capabilities a call may carry.
    static constexpr size_t receive_words =
        (sizeof(abi::RecvHeader) + 4096) / 8 + abi::max_transfers * sizeof(abi::CapRecord) / 8;
    alignas(8) capnp::Word m_receive[receive_words];
};

} // namespace capos::shell
