// Generated clients and server skeletons, end to end in one process: a loopback
// transport hands each call's params to the generated dispatch of a test server
// and its results (or CapException) back to the generated client. Checks typed
// results, CapException propagation, unknown methods, malformed params, buffers
// too small on either side, malformed replies, and that a call allocates nothing.
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include "tools/capnpc-capos/testdata/golden.capnp.capos.h"
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <new>
#include <string>
#include <utility>
#include <vector>

// Every allocation in this test binary is counted.
namespace {
std::atomic<size_t> allocations{0};
}

void* operator new(size_t size) {
    ++allocations;
    if (void* memory = std::malloc(size == 0 ? 1 : size))
        return memory;
    throw std::bad_alloc();
}
void* operator new[](size_t size) {
    return operator new(size);
}
void operator delete(void* memory) noexcept {
    std::free(memory);
}
void operator delete[](void* memory) noexcept {
    std::free(memory);
}
void operator delete(void* memory, size_t) noexcept {
    std::free(memory);
}
void operator delete[](void* memory, size_t) noexcept {
    std::free(memory);
}

namespace {

namespace wire = capos::capnp;
namespace gen = capos::gen;
namespace capos_schema = capos::schema;
namespace gold = golden::schema;
using capos::Err;
using capos::Result;
using capos_schema::ExceptionType;

// Transport error codes of the loopback transport (a real transport uses the
// ring's negative CQE results).
constexpr int32_t bad_capability = -1;
constexpr int32_t results_too_large = -2;

constexpr uint32_t server_capability = 7;

// Carries one call at a time to `dispatch(interface_id, method, params, results)`,
// with fixed buffers of the given sizes.
template <typename Dispatch, size_t ParamsWords = 256, size_t ResultsWords = 256>
class LoopbackTransport {
public:
    explicit LoopbackTransport(Dispatch dispatch) : m_dispatch(dispatch) {}

    std::span<wire::Word> params_buffer() { return m_params; }

    gen::Reply call(uint32_t capability, uint64_t interface_id, uint16_t method,
                    std::span<const wire::Word> params) {
        ++calls;
        if (capability != server_capability)
            return {gen::ReplyKind::TransportError, bad_capability, {}};
        wire::MessageReader reader(params);
        gen::DispatchResult result = m_dispatch(interface_id, method, reader, m_results);
        last_status = result.status();
        switch (result.status()) {
        case gen::DispatchStatus::Results:
            return {gen::ReplyKind::Results, 0, result.message()};
        case gen::DispatchStatus::Exception:
            return {gen::ReplyKind::Exception, 0, result.message()};
        case gen::DispatchStatus::BufferFull:
            break;
        }
        return {gen::ReplyKind::TransportError, results_too_large, {}};
    }

    int calls = 0;
    gen::DispatchStatus last_status = gen::DispatchStatus::Results;

private:
    Dispatch m_dispatch;
    std::array<wire::Word, ParamsWords> m_params{};
    std::array<wire::Word, ResultsWords> m_results{};
};

template <size_t ParamsWords = 256, size_t ResultsWords = 256, typename Dispatch>
auto make_transport(Dispatch dispatch) {
    return LoopbackTransport<Dispatch, ParamsWords, ResultsWords>(dispatch);
}

// ---------------------------------------------------------------------------
// Servers.

// capos.capnp's Console and Timer, as the kernel will serve them.
class KernelServer {
public:
    Result<void, gen::Exception> write(capos_schema::Console::WriteParams::Reader params,
                                       capos_schema::Console::WriteResults::Builder) {
        append(params.text());
        return {};
    }
    Result<void, gen::Exception> write_line(capos_schema::Console::WriteLineParams::Reader params,
                                            capos_schema::Console::WriteLineResults::Builder) {
        if (params.text().starts_with("secret"))
            return Err{gen::Exception{ExceptionType::PermissionDenied, "secrets stay in"}};
        append(params.text());
        append("\n");
        return {};
    }
    Result<void, gen::Exception> now(capos_schema::Timer::NowParams::Reader,
                                     capos_schema::Timer::NowResults::Builder results) {
        results.set_ns(123456789);
        return {};
    }
    Result<void, gen::Exception> sleep(capos_schema::Timer::SleepParams::Reader params,
                                       capos_schema::Timer::SleepResults::Builder) {
        slept += params.ns();
        return {};
    }

    std::string_view output() const { return {m_output, m_length}; }
    uint64_t slept = 0;

private:
    void append(std::string_view text) {
        size_t length = std::min(text.size(), sizeof m_output - m_length);
        std::memcpy(m_output + m_length, text.data(), length);
        m_length += length;
    }
    char m_output[1024];
    size_t m_length = 0;
};

gen::DispatchResult dispatch_kernel(KernelServer& server, uint64_t interface_id, uint16_t method,
                                    const wire::MessageReader& params,
                                    std::span<wire::Word> results) {
    if (interface_id == capos_schema::Console::interface_id)
        return capos_schema::Console::dispatch(server, method, params, results);
    if (interface_id == capos_schema::Timer::interface_id)
        return capos_schema::Timer::dispatch(server, method, params, results);
    ADD_FAILURE() << "unexpected interface";
    return {gen::DispatchStatus::BufferFull, {}};
}

// golden.capnp's Console and Store: every kind of param and result.
class GoldenServer {
public:
    Result<void, gen::Exception> write(gold::Console::WriteParams::Reader params,
                                       gold::Console::WriteResults::Builder) {
        last_text_length = params.text().size();
        return {};
    }
    Result<void, gen::Exception> write_line(gold::Console::WriteLineParams::Reader params,
                                            gold::Console::WriteLineResults::Builder results) {
        if (!is_known(params.color()))
            return Err{gen::Exception{ExceptionType::InvalidArgument, "unknown color"}};
        results.set_written(static_cast<uint32_t>(params.text().size()) +
                            (params.bold() ? 100 : 0) +
                            static_cast<uint32_t>(params.color()) * 1000);
        return {};
    }
    Result<void, gen::Exception> lookup(gold::Console::LookupParams::Reader params,
                                        gold::Console::LookupResults::Builder results) {
        auto value = results.init_value();
        value.set_data(params.key());
        value.set_text("found");
        value.set_console(params.target());
        value.init_scalars().set_i64(-5);
        return {};
    }
    Result<void, gen::Exception> put(gold::Store::PutParams::Reader params,
                                     gold::Store::PutResults::Builder results) {
        uint32_t stored = 0;
        uint32_t failed = 0;
        for (auto entry : params.entries()) {
            if (entry.value().empty())
                ++failed;
            else
                ++stored;
        }
        results.set_stored(stored);
        auto failures = results.init_failed(failed);
        uint32_t index = 0;
        for (auto entry : params.entries()) {
            if (entry.value().empty())
                failures.set(index++, entry.key());
        }
        last_mode = params.options().mode();
        return {};
    }
    Result<void, gen::Exception> get(gold::Store::Entry::Reader params,
                                     gold::Store::Entry::Builder results) {
        results.set_key(params.key());
        results.set_value(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("value"), 5));
        return {};
    }
    Result<void, gen::Exception> append(gold::Store::AppendParams::Reader params,
                                        gen::StreamResult::Builder) {
        appended += params.bytes().size();
        return {};
    }
    Result<void, gen::Exception> delete_(gold::Store::DeleteParams::Reader params,
                                         gold::Store::DeleteResults::Builder) {
        if (params.key().empty())
            return Err{gen::Exception{ExceptionType::Failed, long_message}};
        deleted = true;
        return {};
    }

    size_t last_text_length = 0;
    gold::Outer::Mode last_mode = gold::Outer::Mode::Fast;
    size_t appended = 0;
    bool deleted = false;
    std::string_view long_message;
};

gen::DispatchResult dispatch_golden(GoldenServer& server, uint64_t interface_id, uint16_t method,
                                    const wire::MessageReader& params,
                                    std::span<wire::Word> results) {
    if (interface_id == gold::Console::interface_id)
        return gold::Console::dispatch(server, method, params, results);
    if (interface_id == gold::Store::interface_id)
        return gold::Store::dispatch(server, method, params, results);
    return gold::Empty::dispatch(server, method, params, results);
}

template <typename Server>
auto loopback(Server& server) {
    return [&server](uint64_t interface_id, uint16_t method, const wire::MessageReader& params,
                     std::span<wire::Word> results) {
        if constexpr (std::is_same_v<Server, KernelServer>)
            return dispatch_kernel(server, interface_id, method, params, results);
        else
            return dispatch_golden(server, interface_id, method, params, results);
    };
}

// ---------------------------------------------------------------------------

TEST(CapnpDispatch, TypedCallsAndResults) {
    KernelServer server;
    auto transport = make_transport(loopback(server));
    capos_schema::Console::Client console(transport, server_capability);
    capos_schema::Timer::Client timer(transport, server_capability);

    ASSERT_TRUE(console.write("hello, ").is_ok());
    ASSERT_TRUE(console.write_line("world").is_ok());
    EXPECT_EQ(server.output(), "hello, world\n");

    auto now = timer.now();
    ASSERT_TRUE(now.is_ok());
    EXPECT_EQ(now.value().ns(), 123456789u);
    ASSERT_TRUE(timer.sleep(1000).is_ok());
    EXPECT_EQ(server.slept, 1000u);
    EXPECT_EQ(transport.calls, 4);
}

TEST(CapnpDispatch, EveryKindOfParam) {
    GoldenServer server;
    auto transport = make_transport(loopback(server));
    gold::Console::Client console(transport, server_capability);
    gold::Store::Client store(transport, server_capability);

    auto written = console.write_line("four", gold::Color::BlueViolet, true);
    ASSERT_TRUE(written.is_ok());
    EXPECT_EQ(written.value().written(), 2104u);

    const uint8_t key[] = {1, 2, 3};
    auto found = console.lookup(key, 42);
    ASSERT_TRUE(found.is_ok());
    auto value = found.value().value();
    EXPECT_EQ(value.text(), "found");
    ASSERT_EQ(value.data().size(), 3u);
    EXPECT_EQ(value.data()[2], 3);
    EXPECT_TRUE(value.has_console());
    EXPECT_EQ(value.console(), 42u);
    EXPECT_EQ(value.scalars().i64(), -5);
    EXPECT_EQ(value.text_default(), "hello, \"capOS\"\n"); // unset: the schema default

    // Complex params through a builder callback.
    auto put = store.put([](gold::Store::PutParams::Builder params) {
        auto entries = params.init_entries(3);
        entries[0].set_key("a");
        entries[0].set_value(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("1"), 1));
        entries[1].set_key("b");
        entries[2].set_key("c");
        entries[2].init_value(2)[1] = 9;
        params.init_options().set_mode(gold::Outer::Mode::Safe);
    });
    ASSERT_TRUE(put.is_ok());
    EXPECT_EQ(put.value().stored(), 2u);
    ASSERT_EQ(put.value().failed().size(), 1u);
    EXPECT_EQ(put.value().failed()[0], "b");
    EXPECT_EQ(server.last_mode, gold::Outer::Mode::Safe);

    // An explicit struct as params and results, a stream, a keyword method.
    auto got = store.get([](gold::Store::Entry::Builder entry) { entry.set_key("k"); });
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(got.value().key(), "k");
    EXPECT_EQ(got.value().value().size(), 5u);
    const uint8_t chunk[16] = {};
    ASSERT_TRUE(store.append(chunk).is_ok());
    EXPECT_EQ(server.appended, 16u);
    ASSERT_TRUE(store.delete_("k").is_ok());
    EXPECT_TRUE(server.deleted);
}

TEST(CapnpDispatch, CapExceptionReachesTheCaller) {
    KernelServer server;
    auto transport = make_transport(loopback(server));
    capos_schema::Console::Client console(transport, server_capability);
    auto result = console.write_line("secret plans");
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(transport.last_status, gen::DispatchStatus::Exception);
    EXPECT_EQ(result.error().kind, gen::CallErrorKind::Exception);
    EXPECT_EQ(result.error().exception.type, ExceptionType::PermissionDenied);
    EXPECT_EQ(result.error().exception.message, "secrets stay in");
    EXPECT_FALSE(result.error().truncated);
    EXPECT_EQ(server.output(), "");

    // A handler's own check of an enum the schema does not name.
    GoldenServer golden_server;
    auto golden_transport = make_transport(loopback(golden_server));
    gold::Console::Client golden_console(golden_transport, server_capability);
    auto bad = golden_console.write_line("x", static_cast<gold::Color>(9), false);
    ASSERT_TRUE(bad.is_error());
    EXPECT_EQ(bad.error().exception.type, ExceptionType::InvalidArgument);
}

TEST(CapnpDispatch, TransportErrorReachesTheCaller) {
    KernelServer server;
    auto transport = make_transport(loopback(server));
    capos_schema::Console::Client console(transport, server_capability + 1);
    auto result = console.write("x");
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().kind, gen::CallErrorKind::Transport);
    EXPECT_EQ(result.error().transport_error, bad_capability);
}

// Decodes a dispatch's CapException.
struct DecodedException {
    ExceptionType type;
    std::string message;
    bool truncated;
};

DecodedException decode_exception(const gen::DispatchResult& result) {
    EXPECT_EQ(result.status(), gen::DispatchStatus::Exception);
    wire::MessageReader reader(result.message());
    EXPECT_EQ(gen::validate<capos_schema::CapException>(reader), wire::WireError::None);
    auto exception = gen::read_root<capos_schema::CapException>(reader);
    return {exception.type(), std::string(exception.message()), exception.truncated()};
}

TEST(CapnpDispatch, UnknownMethodIsUnimplemented) {
    KernelServer server;
    std::array<wire::Word, 16> params_buffer{};
    wire::MessageBuilder params(params_buffer);
    params.init_root(0, 0);
    wire::MessageReader reader(params.words());
    std::array<wire::Word, 64> results{};

    auto result = capos_schema::Console::dispatch(server, 2, reader, results);
    DecodedException exception = decode_exception(result);
    EXPECT_EQ(exception.type, ExceptionType::Unimplemented);
    EXPECT_FALSE(exception.message.empty());

    GoldenServer golden_server;
    EXPECT_EQ(decode_exception(gold::Empty::dispatch(golden_server, 0, reader, results)).type,
              ExceptionType::Unimplemented);

    // Through a transport and a client of another interface's method ordinals.
    auto transport = make_transport(loopback(golden_server));
    auto reply = transport.call(server_capability, gold::Empty::interface_id, 0, params.words());
    EXPECT_EQ(reply.kind, gen::ReplyKind::Exception);
}

// golden.capnp's inheritance: Labelled extends Described extends Named, and
// Tagged extends Labelled and Counted (which extends Named too). One handler
// serves every method of them all; it records which it ran.
class InheritingServer {
public:
    Result<void, gen::Exception> name(gold::Named::NameParams::Reader,
                                      gold::Named::NameResults::Builder results) {
        ran("name");
        results.set_name(m_name);
        return {};
    }
    Result<void, gen::Exception> rename(gold::Named::RenameParams::Reader params,
                                        gold::Named::RenameResults::Builder) {
        ran("rename");
        m_name = std::string(params.name());
        return {};
    }
    Result<void, gen::Exception> describe(gold::Described::DescribeParams::Reader,
                                          gold::Described::DescribeResults::Builder results) {
        ran("describe");
        results.set_text("described " + m_name);
        return {};
    }
    Result<void, gen::Exception> label(gold::Labelled::LabelParams::Reader params,
                                       gold::Labelled::LabelResults::Builder results) {
        ran("label");
        results.set_label("label " + std::to_string(params.index()));
        return {};
    }
    Result<void, gen::Exception> count(gold::Counted::CountParams::Reader,
                                       gold::Counted::CountResults::Builder results) {
        ran("count");
        results.set_count(++m_counted);
        return {};
    }
    Result<void, gen::Exception> tag(gold::Tagged::TagParams::Reader params,
                                     gold::Tagged::TagResults::Builder) {
        ran("tag");
        tag_text = std::string(params.text());
        return {};
    }

    std::string log; // the methods run, each followed by a space
    std::string tag_text;

private:
    void ran(const char* method) { (log += method) += ' '; }
    std::string m_name = "first";
    uint32_t m_counted = 0;
};

// What went over the wire: the interface id and ordinal of each call.
struct WireCall {
    uint64_t interface_id;
    uint16_t method;
    bool operator==(const WireCall&) const = default;
};

template <typename Interface>
auto inheriting_loopback(InheritingServer& server, std::vector<WireCall>& wire_calls) {
    return
        [&server, &wire_calls](uint64_t interface_id, uint16_t method,
                               const wire::MessageReader& params, std::span<wire::Word> results) {
            wire_calls.push_back({interface_id, method});
            return Interface::dispatch(server, interface_id, method, params, results);
        };
}

TEST(CapnpDispatch, InheritedMethodsGoOutUnderTheDeclaringInterface) {
    InheritingServer server;
    std::vector<WireCall> wire_calls;
    auto transport = make_transport(inheriting_loopback<gold::Labelled>(server, wire_calls));
    gold::Labelled::Client labelled(transport, server_capability);

    auto label = labelled.label(7);
    ASSERT_TRUE(label.is_ok());
    EXPECT_EQ(label.value().label(), "label 7");
    ASSERT_TRUE(labelled.rename("second").is_ok());
    auto described = labelled.describe();
    ASSERT_TRUE(described.is_ok());
    EXPECT_EQ(described.value().text(), "described second");
    auto name = labelled.name();
    ASSERT_TRUE(name.is_ok());
    EXPECT_EQ(name.value().name(), "second");

    EXPECT_EQ(server.log, "label rename describe name ");
    std::vector<WireCall> expected = {
        {gold::Labelled::interface_id, uint16_t(gold::Labelled::Method::Label)},
        {gold::Named::interface_id, uint16_t(gold::Named::Method::Rename)},
        {gold::Described::interface_id, uint16_t(gold::Described::Method::Describe)},
        {gold::Named::interface_id, uint16_t(gold::Named::Method::Name)},
    };
    EXPECT_EQ(wire_calls, expected);
    // Every method is ordinal 0 or 1 of its own interface: only the id tells
    // them apart.
    EXPECT_EQ(uint16_t(gold::Labelled::Method::Label), 0);
    EXPECT_EQ(uint16_t(gold::Described::Method::Describe), 0);
    EXPECT_EQ(uint16_t(gold::Named::Method::Name), 0);
}

TEST(CapnpDispatch, MultipleInheritanceDispatchesEveryAncestorOnce) {
    InheritingServer server;
    std::vector<WireCall> wire_calls;
    auto transport = make_transport(inheriting_loopback<gold::Tagged>(server, wire_calls));
    gold::Tagged::Client tagged(transport, server_capability);

    ASSERT_TRUE(tagged.tag("t").is_ok());
    ASSERT_TRUE(tagged.label(1).is_ok());
    ASSERT_TRUE(tagged.describe().is_ok());
    ASSERT_TRUE(tagged.name().is_ok());
    auto counted = tagged.count();
    ASSERT_TRUE(counted.is_ok());
    EXPECT_EQ(counted.value().count(), 1u);
    EXPECT_EQ(server.log, "tag label describe name count ");
    EXPECT_EQ(server.tag_text, "t");
    ASSERT_EQ(wire_calls.size(), 5u);
    EXPECT_EQ(wire_calls[0].interface_id, gold::Tagged::interface_id);
    EXPECT_EQ(wire_calls[1].interface_id, gold::Labelled::interface_id);
    EXPECT_EQ(wire_calls[2].interface_id, gold::Described::interface_id);
    EXPECT_EQ(wire_calls[3].interface_id, gold::Named::interface_id);
    EXPECT_EQ(wire_calls[4].interface_id, gold::Counted::interface_id);

    // A client of an ancestor works on the same capability (the server is a
    // Tagged): Counted's client reaches Counted's and Named's methods.
    gold::Counted::Client as_counted(transport, server_capability);
    auto again = as_counted.count();
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(again.value().count(), 2u);
    EXPECT_TRUE(as_counted.rename("x").is_ok());

    EXPECT_EQ(gold::Tagged::ancestor_count, 4u); // Labelled, Described, Named, Counted
    EXPECT_EQ(gold::Labelled::ancestor_count, 2u);
    EXPECT_EQ(gold::Named::ancestor_count, 0u);
}

TEST(CapnpDispatch, UnrelatedInterfaceIsUnimplemented) {
    InheritingServer server;
    std::array<wire::Word, 16> params_buffer{};
    wire::MessageBuilder params(params_buffer);
    params.init_root(1, 1);
    wire::MessageReader reader(params.words());
    std::array<wire::Word, 64> results{};

    // Counted is Tagged's sibling branch, not Labelled's ancestor; a child is
    // not an ancestor either; Console is unrelated.
    for (uint64_t other :
         {gold::Counted::interface_id, gold::Tagged::interface_id, gold::Console::interface_id}) {
        auto result = gold::Labelled::dispatch(server, other, 0, reader, results);
        EXPECT_EQ(decode_exception(result).type, ExceptionType::Unimplemented) << std::hex << other;
    }
    EXPECT_EQ(decode_exception(
                  gold::Named::dispatch(server, gold::Described::interface_id, 0, reader, results))
                  .type,
              ExceptionType::Unimplemented);
    // A method ordinal past the declaring interface's methods.
    EXPECT_EQ(decode_exception(
                  gold::Tagged::dispatch(server, gold::Described::interface_id, 1, reader, results))
                  .type,
              ExceptionType::Unimplemented);
    EXPECT_EQ(server.log, "");
    // The same ordinal under the right interface runs.
    auto ran = gold::Tagged::dispatch(server, gold::Named::interface_id, 1, reader, results);
    EXPECT_EQ(ran.status(), gen::DispatchStatus::Results);
    EXPECT_EQ(server.log, "rename ");
}

TEST(CapnpDispatch, AncestryTableListsEveryAncestorOnce) {
    using Ancestry = gold::InterfaceAncestry;
    std::vector<std::pair<uint64_t, uint64_t>> table;
    for (const gen::InterfaceAncestor& line : gold::interface_ancestors)
        table.emplace_back(line.interface_id, line.ancestor);
    EXPECT_TRUE(std::is_sorted(table.begin(), table.end()));
    EXPECT_EQ(std::adjacent_find(table.begin(), table.end()), table.end());
    EXPECT_EQ(table.size(), 8u);

    EXPECT_TRUE(Ancestry::extends(gold::Described::interface_id, gold::Named::interface_id));
    EXPECT_TRUE(Ancestry::extends(gold::Labelled::interface_id, gold::Named::interface_id));
    EXPECT_TRUE(Ancestry::extends(gold::Tagged::interface_id, gold::Named::interface_id));
    EXPECT_TRUE(Ancestry::extends(gold::Tagged::interface_id, gold::Counted::interface_id));
    EXPECT_TRUE(Ancestry::extends(gold::Tagged::interface_id, gold::Described::interface_id));
    EXPECT_FALSE(Ancestry::extends(gold::Named::interface_id, gold::Described::interface_id));
    EXPECT_FALSE(Ancestry::extends(gold::Labelled::interface_id, gold::Counted::interface_id));
    EXPECT_FALSE(Ancestry::extends(gold::Named::interface_id, gold::Named::interface_id));
    EXPECT_FALSE(Ancestry::extends(gold::Console::interface_id, gold::Named::interface_id));
    // capos.capnp extends nothing: its table is empty.
    EXPECT_TRUE(capos_schema::interface_ancestors.empty());
    EXPECT_FALSE(capos_schema::InterfaceAncestry::extends(capos_schema::Console::interface_id,
                                                          capos_schema::Timer::interface_id));
}

TEST(CapnpDispatch, MalformedParamsAreInvalidArgument) {
    KernelServer server;
    std::array<wire::Word, 64> results{};

    // WriteParams with its text pointer aimed past the end of the message.
    std::array<wire::Word, 3> out_of_bounds = {
        0x0001000000000000ull, // root: struct, offset 0, no data, one pointer
        0x0000000a00000401ull, // list pointer: offset 256, byte elements, 1 element
        0,
    };
    wire::MessageReader reader(out_of_bounds);
    DecodedException exception =
        decode_exception(capos_schema::Console::dispatch(server, 1, reader, results));
    EXPECT_EQ(exception.type, ExceptionType::InvalidArgument);
    EXPECT_EQ(server.output(), ""); // the handler never ran

    // Text without its NUL.
    std::array<wire::Word, 3> unterminated = {
        0x0001000000000000ull,
        0x0000001a00000001ull, // list pointer: offset 0, byte elements, 3 elements
        0x0000000000636261ull, // "abc", no NUL inside the 3 bytes
    };
    wire::MessageReader reader2(unterminated);
    EXPECT_EQ(decode_exception(capos_schema::Console::dispatch(server, 0, reader2, results)).type,
              ExceptionType::InvalidArgument);

    // A struct where the text should be.
    std::array<wire::Word, 3> wrong_kind = {
        0x0001000000000000ull,
        0x0000000100000000ull, // struct pointer: offset 0, one data word
        0,
    };
    wire::MessageReader reader3(wrong_kind);
    EXPECT_EQ(decode_exception(capos_schema::Console::dispatch(server, 0, reader3, results)).type,
              ExceptionType::InvalidArgument);
    EXPECT_EQ(server.output(), "");

    // A capability field holding a data pointer (golden Console.lookup's target).
    GoldenServer golden_server;
    std::array<wire::Word, 4> not_a_capability = {
        0x0002000000000000ull, // root: no data, two pointers
        0,                     // key: null
        0x0000000100000000ull, // target: a struct pointer, not a capability
        0,
    };
    wire::MessageReader reader4(not_a_capability);
    EXPECT_EQ(decode_exception(gold::Console::dispatch(golden_server, 2, reader4, results)).type,
              ExceptionType::InvalidArgument);
}

TEST(CapnpDispatch, ResultsTooLargeIsReported) {
    GoldenServer server;
    // Room for the results' root pointer and struct but not for the lookup's value.
    auto transport = make_transport<256, 4>(loopback(server));
    gold::Console::Client console(transport, server_capability);
    const uint8_t key[64] = {};
    auto result = console.lookup(key, 1);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(transport.last_status, gen::DispatchStatus::BufferFull);
    EXPECT_EQ(result.error().kind, gen::CallErrorKind::Transport);
    EXPECT_EQ(result.error().transport_error, results_too_large);

    // The same buffer still carries small results.
    auto written = console.write_line("ok", gold::Color::Red, false);
    ASSERT_TRUE(written.is_ok());
    EXPECT_EQ(written.value().written(), 2u);
}

TEST(CapnpDispatch, LongExceptionIsTruncatedToFit) {
    GoldenServer server;
    std::string long_message(200, 'x');
    long_message.replace(38, 3, "\xe2\x99\xab"); // a UTF-8 sequence across the cut
    server.long_message = long_message;
    auto transport = make_transport<256, 8>(loopback(server));
    gold::Store::Client store(transport, server_capability);
    auto result = store.delete_("");
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().kind, gen::CallErrorKind::Exception);
    EXPECT_EQ(result.error().exception.type, ExceptionType::Failed);
    EXPECT_TRUE(result.error().truncated);
    // 8 words: root pointer, one data word, one pointer, then 5 words (39 bytes and
    // the NUL) of text, cut back to the start of the UTF-8 sequence at 38.
    EXPECT_EQ(result.error().exception.message, long_message.substr(0, 38));

    // Not even an exception fits in 2 words.
    auto tiny = make_transport<256, 2>(loopback(server));
    gold::Store::Client tiny_store(tiny, server_capability);
    auto none = tiny_store.delete_("");
    ASSERT_TRUE(none.is_error());
    EXPECT_EQ(none.error().kind, gen::CallErrorKind::Transport);
    EXPECT_EQ(none.error().transport_error, results_too_large);
}

TEST(CapnpDispatch, ParamsTooLargeAreNotSent) {
    KernelServer server;
    auto transport = make_transport<4, 256>(loopback(server));
    capos_schema::Console::Client console(transport, server_capability);
    auto result = console.write("this text needs more than the two words left");
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().kind, gen::CallErrorKind::ParamsTooLarge);
    EXPECT_EQ(result.error().wire_error, wire::WireError::BufferFull);
    EXPECT_EQ(transport.calls, 0);
    ASSERT_TRUE(console.write("short").is_ok());
}

// A transport whose replies are garbage.
class BrokenTransport {
public:
    std::span<wire::Word> params_buffer() { return m_params; }
    gen::Reply call(uint32_t, uint64_t, uint16_t, std::span<const wire::Word>) {
        return {kind, 0, m_reply};
    }
    gen::ReplyKind kind = gen::ReplyKind::Results;

private:
    std::array<wire::Word, 64> m_params{};
    std::array<wire::Word, 2> m_reply = {0x0001000000000000ull, 0x0000000100000fa0ull};
};

TEST(CapnpDispatch, MalformedReplyIsBadReply) {
    BrokenTransport transport;
    gold::Console::Client console(transport, server_capability);
    // LookupResults.value points far outside the reply.
    auto result = console.lookup({}, 0);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().kind, gen::CallErrorKind::BadReply);
    EXPECT_EQ(result.error().wire_error, wire::WireError::OutOfBounds);

    transport.kind = gen::ReplyKind::Exception;
    auto exception = console.lookup({}, 0);
    ASSERT_TRUE(exception.is_error());
    EXPECT_EQ(exception.error().kind, gen::CallErrorKind::BadReply);
}

TEST(CapnpDispatch, CallsDoNotAllocate) {
    KernelServer server;
    GoldenServer golden_server;
    auto transport = make_transport(loopback(server));
    auto golden_transport = make_transport(loopback(golden_server));
    capos_schema::Console::Client console(transport, server_capability);
    capos_schema::Timer::Client timer(transport, server_capability);
    gold::Console::Client golden_console(golden_transport, server_capability);
    gold::Store::Client store(golden_transport, server_capability);
    const uint8_t key[] = {1, 2, 3};

    size_t before = allocations.load();
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(console.write("x").is_ok());
        ASSERT_TRUE(console.write_line("secret").is_error());
        ASSERT_TRUE(timer.now().is_ok());
        ASSERT_TRUE(golden_console.lookup(key, 1).is_ok());
        ASSERT_TRUE(store
                        .put([](gold::Store::PutParams::Builder params) {
                            params.init_entries(2)[0].set_key("k");
                        })
                        .is_ok());
    }
    EXPECT_EQ(allocations.load(), before);
}

} // namespace
