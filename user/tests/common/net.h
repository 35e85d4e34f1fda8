// What the network stack's tests share (user/tests/net_*.cpp): taking the
// capability a reply carried, a TcpSocket's reads and writes past the
// thread's own transport, which takes messages of 4 KiB, a read and an echo
// to the stream's end.
#pragma once

#include "schema/capos.capnp.capos.h"
#include "user/rt/async_call.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/tests/common/test.h"

#include <span>

namespace capos::test {

// The capability a reply carried (`field` of its results), taken before
// the thread's next call (a check's line on the console is one) forgets
// what came with the reply; 0 when the call failed.
template <typename Answer, typename Field>
abi::CapId taken(const Answer& answer, Field field) {
    return answer.is_ok() ? rt::received_capability(field(answer.value())) : abi::CapId{};
}

// A read of up to `max_bytes` (at most maxIo) into a buffer of its own,
// valid until the next read.
inline Result<schema::TcpSocket::ReadResults::Reader, gen::CallError>
read_some(rt::Capability<schema::TcpSocket>& socket,
          uint32_t max_bytes = schema::TcpSocket::max_io) {
    using schema::TcpSocket;
    static rt::AsyncCall<TcpSocket::max_io + 512> reader;
    (void)reader.start<TcpSocket::ReadParams>(
        socket.id().raw, TcpSocket::interface_id, uint16_t(TcpSocket::Method::Read),
        [&](TcpSocket::ReadParams::Builder params) { params.set_max_bytes(max_bytes); });
    return reader.finish<TcpSocket::ReadResults>(rt::ring().wait(reader.ticket()));
}

// Writes all of `bytes`, in writes that fit the thread's transport, each
// part the socket had no room for written again; false when a write fails.
inline bool write_all(rt::Capability<schema::TcpSocket>& socket, std::span<const uint8_t> bytes) {
    constexpr size_t most = 3072;
    while (!bytes.empty()) {
        auto written = socket->write(bytes.first(bytes.size() < most ? bytes.size() : most));
        if (written.is_error())
            return false;
        bytes = bytes.subspan(written.value().written());
    }
    return true;
}

// Reads `socket` to the end of its stream, each byte checked against
// `expected(offset)`, each read then given to `each` (false from it stops).
// The bytes read, in `total`; false at a read that failed (said in a note
// of `suite`), a byte that differs or a stop.
template <typename Expected, typename Each>
bool read_to_end(Suite& suite, rt::Capability<schema::TcpSocket>& socket, Expected expected,
                 uint64_t& total, Each each) {
    total = 0;
    bool same = true;
    for (;;) {
        auto read = read_some(socket);
        if (read.is_error()) {
            suite.note(rt::Line("read: ").add(rt::call_error_text(read.error())).view());
            return false;
        }
        auto data = read.value().data();
        if (data.empty())
            return same;
        for (size_t i = 0; i < data.size(); ++i)
            same = same && data[i] == expected(total + i);
        total += data.size();
        if (!each(data))
            return false;
    }
}

template <typename Expected>
bool read_to_end(Suite& suite, rt::Capability<schema::TcpSocket>& socket, Expected expected,
                 uint64_t& total) {
    return read_to_end(suite, socket, expected, total,
                       [](std::span<const uint8_t>) { return true; });
}

// Reads `socket` to the end of its stream as read_to_end does, and writes
// each read back whole (a write that fails is said in a note and stops).
template <typename Expected>
bool echo_to_end(Suite& suite, rt::Capability<schema::TcpSocket>& socket, Expected expected,
                 uint64_t& total) {
    return read_to_end(suite, socket, expected, total, [&](std::span<const uint8_t> data) {
        if (write_all(socket, data))
            return true;
        suite.note("a write failed");
        return false;
    });
}

} // namespace capos::test
