// EntropySource: fills differ, lengths 0 and the maximum
// (schema::EntropySource::max_fill) work, and one byte more is an
// invalidArgument CapException.
#include "schema/capos.capnp.capos.h"
#include "user/tests/common/test.h"

using namespace capos;
using capos::test::Line;

namespace {

constexpr uint32_t max_fill = schema::EntropySource::max_fill;

bool all_zero(std::span<const uint8_t> bytes) {
    for (uint8_t b : bytes)
        if (b != 0)
            return false;
    return true;
}

} // namespace

int main() {
    test::Suite suite("entropy");
    auto entropy = rt::lookup<schema::EntropySource>("entropy");
    if (entropy.is_error())
        return 2;
    auto& client = entropy.value().client();

    uint8_t first[64] = {};
    auto a = client.fill(64);
    suite.check_ok("fill(64)", a);
    bool sized = a.is_ok() && a.value().bytes().size() == 64;
    suite.check("fill(64) returns 64 bytes", sized);
    if (sized)
        __builtin_memcpy(first, a.value().bytes().data(), 64);
    suite.check("fill(64) is not all zero", !all_zero(first));

    auto b = client.fill(64);
    bool differ = b.is_ok() && b.value().bytes().size() == 64 &&
                  __builtin_memcmp(first, b.value().bytes().data(), 64) != 0;
    suite.check("two fills differ", differ);

    auto empty = client.fill(0);
    suite.check_ok("fill(0)", empty);
    suite.check("fill(0) returns no bytes", empty.is_ok() && empty.value().bytes().empty());

    auto one = client.fill(1);
    suite.check("fill(1) returns 1 byte", one.is_ok() && one.value().bytes().size() == 1);

    auto large = client.fill(max_fill + 1);
    suite.check_exception(Line("fill(").udec(max_fill + 1).add(") is invalidArgument").view(),
                          large, schema::ExceptionType::InvalidArgument);
    auto huge = client.fill(0xffffffff);
    suite.check_exception("fill(2^32-1) is invalidArgument", huge,
                          schema::ExceptionType::InvalidArgument);

    // The maximum needs a result buffer larger than the runtime's 4 KiB one:
    // a raw call with twice the maximum of room.
    alignas(8) static capnp::Word params[2] = {uint64_t(1) << 32, max_fill};
    alignas(8) static capnp::Word result[2 * max_fill / sizeof(capnp::Word)];
    abi::Sqe sqe{};
    sqe.opcode = uint8_t(abi::Opcode::Call);
    sqe.cap = entropy.value().id().raw;
    sqe.method = uint16_t(schema::EntropySource::Method::Fill);
    sqe.interface_id = schema::EntropySource::interface_id;
    sqe.user_data = 0x4096;
    sqe.params_addr = reinterpret_cast<uint64_t>(params);
    sqe.params_len = sizeof params;
    sqe.result_addr = reinterpret_cast<uint64_t>(result);
    sqe.result_len = sizeof result;
    abi::Cqe cqe = test::raw::run(sqe);
    suite.check_result(Line("fill(")
                           .udec(max_fill)
                           .add(") into an ")
                           .udec(sizeof result / 1024)
                           .add(" KiB buffer")
                           .view(),
                       cqe.result, 0);
    capnp::MessageReader message(std::span<const capnp::Word>(result, cqe.result_len / 8));
    schema::EntropySource::FillResults::Reader results(message.root());
    suite.check(Line("fill(")
                    .udec(max_fill)
                    .add(") returns ")
                    .udec(max_fill)
                    .add(" bytes not all zero")
                    .view(),
                cqe.result == 0 && results.bytes().size() == max_fill && !all_zero(results.bytes()),
                Line("got ").udec(results.bytes().size()));

    // The same into exactly 4 KiB cannot fit (the message needs a few words
    // more than its data): a transport error, and nothing else.
    sqe.result_len = max_fill;
    sqe.user_data = 0x4097;
    cqe = test::raw::run(sqe);
    suite.check_result(Line("fill(")
                           .udec(max_fill)
                           .add(") into a ")
                           .udec(max_fill / 1024)
                           .add(" KiB buffer is ResultTooSmall")
                           .view(),
                       cqe.result, abi::TransportError::ResultTooSmall);
    // And the client still works after that.
    suite.check("fill(16) after ResultTooSmall", client.fill(16).is_ok());

    return suite.finish();
}
