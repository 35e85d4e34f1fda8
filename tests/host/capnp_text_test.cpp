// lib/capnp/text.h and schema_set.h against the reference. `capnp encode` and
// `capnp decode` are libcapnp's TextCodec over the schema's nodes (its decode
// is stringify, --short's form); the test runs that code in-process on the
// same CodeGeneratorRequests our SchemaSet reads, for every struct (the tool
// cannot name a method's params struct), and the tool itself for named ones:
//  - text to wire: our words equal libcapnp's for the same text, both in
//    canonical form, on hand-picked and on random values of every kind;
//  - wire to text: our printing (DataFormat::Escaped) equals libcapnp's of the
//    same words, and what we print parses back to the same words;
//  - errors: each kind with its message and offset; bounds; malformed schemas
//    and messages; truncated output.
#include "lib/capnp/schema_set.h"
#include "lib/capnp/text.h"
#include "schema/capos.capnp.capos.h"

#include <capnp/any.h>
#include <capnp/capability.h>
#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/schema-loader.h>
#include <capnp/schema.capnp.h>
#include <capnp/serialize-text.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace capos::capnp {
namespace {

using Words = std::vector<Word>;

Words read_words(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(bytes.empty()) << path;
    EXPECT_EQ(bytes.size() % 8, 0u) << path;
    Words words(bytes.size() / 8);
    memcpy(words.data(), bytes.data(), words.size() * 8);
    return words;
}

// One CodeGeneratorRequest, read by our SchemaSet and by libcapnp's SchemaLoader.
class Request {
public:
    explicit Request(const std::string& path) : m_words(read_words(path)) {
        auto segments = parse_framed(m_words, m_segments);
        EXPECT_TRUE(segments.is_ok());
        auto created = SchemaSet::create(segments.value());
        EXPECT_TRUE(created.is_ok());
        m_set.emplace(created.release_value());

        kj::ArrayPtr<const ::capnp::word> flat(
            reinterpret_cast<const ::capnp::word*>(m_words.data()), m_words.size());
        ::capnp::ReaderOptions options;
        options.traversalLimitInWords = uint64_t{1} << 30;
        ::capnp::FlatArrayMessageReader reader(flat, options);
        for (auto node : reader.getRoot<::capnp::schema::CodeGeneratorRequest>().getNodes())
            m_loader.load(node);
    }

    const SchemaSet& set() const { return *m_set; }
    const Words& words() const { return m_words; }

    StructSchema ours(std::string_view name) const {
        auto found = m_set->find_struct(name);
        EXPECT_TRUE(found.is_ok()) << name;
        return found.is_ok() ? found.value() : StructSchema();
    }

    ::capnp::StructSchema theirs(std::string_view name) const {
        for (::capnp::Schema schema : m_loader.getAllLoaded()) {
            std::string display = schema.getProto().getDisplayName();
            if (display.substr(display.find(':') + 1) == name)
                return schema.asStruct();
        }
        ADD_FAILURE() << "libcapnp has no " << name;
        return {};
    }

private:
    Words m_words;
    std::span<const Word> m_segments[64];
    std::optional<SchemaSet> m_set;
    ::capnp::SchemaLoader m_loader;
};

const Request& capos_request() {
    static Request request(CAPNP_TEXT_REQUESTS "/capos.request");
    return request;
}

const Request& test_request() {
    static Request request(CAPNP_TEXT_REQUESTS "/test.request");
    return request;
}

// Scratch reused by every call (zeroing megabytes per value is what a
// sanitized run would spend its time on).
std::span<Word> scratch_words(int which) {
    static Words buffers[2] = {Words(1 << 16), Words(1 << 16)};
    return buffers[which];
}

Words canonical(std::span<const Word> words) {
    MessageReader reader(words);
    MessageBuilder builder(scratch_words(0));
    builder.set_root(reader.root());
    EXPECT_EQ(builder.error(), WireError::None);
    EXPECT_EQ(reader.error(), WireError::None);
    return Words(builder.words().begin(), builder.words().end());
}

// libcapnp's encode (capnp encode): canonical words, or its error.
struct Theirs {
    bool ok = false;
    Words words;
    std::string error;
};

Theirs their_encode(const Request& request, std::string_view type, const std::string& text) {
    Theirs result;
    ::capnp::MallocMessageBuilder builder;
    auto root = builder.initRoot<::capnp::DynamicStruct>(request.theirs(type));
    try {
        ::capnp::TextCodec codec;
        codec.decode(text, root);
    } catch (kj::Exception& e) {
        result.error = e.getDescription().cStr();
        return result;
    }
    auto words = builder.getRoot<::capnp::AnyStruct>().asReader().canonicalize();
    result.ok = true;
    result.words.assign(reinterpret_cast<const Word*>(words.begin()),
                        reinterpret_cast<const Word*>(words.end()));
    return result;
}

// libcapnp's decode --short, capabilities read through a table of broken ones
// (printed "<external capability>", or "<opaque pointer>" for `:Capability`).
std::string their_print(const Request& request, std::string_view type,
                        std::span<const Word> words) {
    kj::ArrayPtr<const ::capnp::word> segment(reinterpret_cast<const ::capnp::word*>(words.data()),
                                              words.size());
    kj::ArrayPtr<const ::capnp::word> segments[1] = {segment};
    ::capnp::SegmentArrayMessageReader reader(segments);
    auto table = kj::heapArray<kj::Maybe<kj::Own<::capnp::ClientHook>>>(64);
    for (auto& entry : table)
        entry = ::capnp::newBrokenCap("test");
    ::capnp::ReaderCapabilityTable capabilities(kj::mv(table));
    auto root = capabilities.imbue(reader.getRoot<::capnp::AnyPointer>())
                    .getAs<::capnp::DynamicStruct>(request.theirs(type));
    return kj::str(root).cStr();
}

// Capabilities printed as libcapnp prints them (for comparisons), or as
// `@cN`, which `resolve_c` reads back.
void print_like_libcapnp(TextSink& sink, uint32_t, uint64_t interface_id) {
    sink.write(interface_id == 0 ? "<opaque pointer>" : "<external capability>");
}

void print_as_name(TextSink& sink, uint32_t index, uint64_t) {
    sink.write("@c");
    sink.write_unsigned(index);
}

ResolvedCapability resolve_c(void*, std::string_view name, uint64_t interface_id) {
    if (name == "wrong")
        return {CapabilityLookup::WrongInterface, 0};
    if (name.size() < 2 || name[0] != 'c')
        return {CapabilityLookup::Unknown, 0};
    (void)interface_id;
    return {CapabilityLookup::Found,
            static_cast<uint32_t>(std::stoul(std::string(name.substr(1))))};
}

struct Ours {
    std::optional<TextError> error;
    Words words; // canonical
    std::string message;
};

Ours our_encode(const Request& request, std::string_view type, std::string_view text,
                ParseOptions options = {}) {
    if (options.capabilities.resolve == nullptr)
        options.capabilities = CapabilityResolver{resolve_c, nullptr};
    MessageBuilder builder(scratch_words(1));
    Ours result;
    auto parsed = parse_text(request.set(), request.ours(type), text, builder, options);
    if (parsed.is_error()) {
        result.error = parsed.error();
        char line[256];
        result.message.assign(line, format_error(parsed.error(), line));
        return result;
    }
    EXPECT_EQ(builder.error(), WireError::None);
    result.words = canonical(builder.words());
    return result;
}

std::string our_print(const Request& request, std::string_view type, std::span<const Word> words,
                      DataFormat data = DataFormat::Escaped,
                      void (*capability)(TextSink&, uint32_t, uint64_t) = print_like_libcapnp) {
    MessageReader reader(words, ReaderLimits::for_message(words.size()));
    static std::vector<char> buffer(1 << 20);
    TextSink sink(buffer);
    PrintOptions options;
    options.data = data;
    options.capabilities =
        CapabilityPrinter{[](void* context, TextSink& out, uint32_t index, uint64_t interface_id) {
                              reinterpret_cast<void (*)(TextSink&, uint32_t, uint64_t)>(context)(
                                  out, index, interface_id);
                          },
                          reinterpret_cast<void*>(capability)};
    auto printed = print_text(request.set(), request.ours(type), reader, sink, options);
    EXPECT_TRUE(printed.is_ok()) << (printed.is_ok() ? "" : to_string(printed.error()));
    EXPECT_FALSE(sink.truncated());
    return std::string(sink.text());
}

// Everything one value must satisfy: both encodings agree, both printers
// agree, and what we print (either form of Data) parses back to the same words.
void check_value(const Request& request, std::string_view type, const std::string& text) {
    SCOPED_TRACE(std::string(type) + " " + text);
    Theirs theirs = their_encode(request, type, text);
    ASSERT_TRUE(theirs.ok) << theirs.error;
    Ours ours = our_encode(request, type, text);
    ASSERT_FALSE(ours.error) << ours.message;
    EXPECT_EQ(ours.words, theirs.words);

    std::string printed = our_print(request, type, ours.words);
    EXPECT_EQ(printed, their_print(request, type, ours.words));
    Ours again = our_encode(request, type, printed);
    ASSERT_FALSE(again.error) << again.message << " in " << printed;
    EXPECT_EQ(again.words, ours.words);

    std::string hex = our_print(request, type, ours.words, DataFormat::Hex);
    Ours from_hex = our_encode(request, type, hex);
    ASSERT_FALSE(from_hex.error) << from_hex.message << " in " << hex;
    EXPECT_EQ(from_hex.words, ours.words);
}

// ---------------------------------------------------------------------------
// SchemaSet

TEST(CapnpSchemaSet, FindsNodesMethodsFieldsAndEnumerants) {
    const SchemaSet& set = capos_request().set();
    EXPECT_GT(set.node_count(), 50u);

    auto timer = set.find_interface(capos::schema::Timer::interface_id);
    ASSERT_TRUE(timer.is_ok());
    EXPECT_EQ(timer.value().name(), "Timer");
    auto sleep = set.find_method(timer.value(), "sleep");
    ASSERT_TRUE(sleep.is_ok());
    EXPECT_EQ(sleep.value().ordinal, static_cast<uint16_t>(capos::schema::Timer::Method::Sleep));
    EXPECT_EQ(sleep.value().interface_id, capos::schema::Timer::interface_id);
    EXPECT_EQ(sleep.value().params_id, capos::schema::Timer::SleepParams::type_id);
    EXPECT_EQ(sleep.value().results_id, capos::schema::Timer::SleepResults::type_id);
    EXPECT_EQ(set.find_method(timer.value(), "slumber").error(), SchemaError::NotFound);

    auto params = set.find_struct(sleep.value().params_id);
    ASSERT_TRUE(params.is_ok());
    EXPECT_EQ(params.value().name(), "Timer.sleep$Params");
    auto ns = params.value().find_field("ns");
    ASSERT_TRUE(ns.is_ok());
    EXPECT_EQ(ns.value().type().kind(), TypeKind::UInt64);
    EXPECT_EQ(ns.value().offset(), 0u);
    EXPECT_FALSE(ns.value().in_union());
    EXPECT_EQ(params.value().find_field("nanoseconds").error(), SchemaError::NotFound);

    // Unions and groups: Grant { name, union { capability :group, newEndpoint,
    // servedEndpoint } }.
    auto grant = set.find_struct(capos::schema::Grant::type_id);
    ASSERT_TRUE(grant.is_ok());
    EXPECT_EQ(grant.value().data_words(), capos::schema::Grant::data_words);
    EXPECT_EQ(grant.value().pointer_count(), capos::schema::Grant::pointer_count);
    EXPECT_EQ(grant.value().discriminant_count(), 3u);
    auto capability = grant.value().find_field("capability");
    ASSERT_TRUE(capability.is_ok());
    EXPECT_TRUE(capability.value().is_group());
    EXPECT_TRUE(capability.value().in_union());
    auto group = set.find_struct(capability.value().group_id());
    ASSERT_TRUE(group.is_ok());
    EXPECT_TRUE(group.value().is_group());
    EXPECT_EQ(group.value().find_field("cap").value().type().kind(), TypeKind::Capability);
    EXPECT_EQ(grant.value().union_member(1).value().name(), "newEndpoint");

    // Lists and enums: LogReader.read's results.
    auto read = set.find_method(set.find_interface("LogReader").value(), "read");
    ASSERT_TRUE(read.is_ok());
    auto results = set.find_struct(read.value().results_id).value();
    Type entries = results.find_field("entries").value().type();
    EXPECT_EQ(entries.kind(), TypeKind::List);
    EXPECT_EQ(entries.element().kind(), TypeKind::Struct);
    EXPECT_EQ(entries.element().node_id(), capos::schema::LogEntry::type_id);
    auto level = set.find_enum(capos::schema::LogEntry::type_id);
    EXPECT_EQ(level.error(), SchemaError::WrongKind);
    auto levels = set.find_struct(capos::schema::LogEntry::type_id).value().find_field("level");
    auto log_level = set.find_enum(levels.value().type().node_id());
    ASSERT_TRUE(log_level.is_ok());
    EXPECT_EQ(log_level.value().enumerant_count(), 4u);
    EXPECT_EQ(log_level.value().enumerant_name(2), "info");
    EXPECT_EQ(log_level.value().enumerant_name(9), "");
    EXPECT_EQ(log_level.value().find_enumerant("debug").value(), 3);
    EXPECT_EQ(log_level.value().find_enumerant("trace").error(), SchemaError::NotFound);

    EXPECT_EQ(set.find_struct(uint64_t{12345}).error(), SchemaError::NotFound);
    EXPECT_EQ(set.find_struct("Timer").error(), SchemaError::WrongKind);
}

TEST(CapnpSchemaSet, DefaultsAndSuperclasses) {
    const SchemaSet& set = test_request().set();
    StructSchema defaults = test_request().ours("Defaults");
    EXPECT_EQ(defaults.find_field("boolField").value().default_bits(), 1u);
    EXPECT_EQ(defaults.find_field("int8Field").value().default_bits(), 0xfbu);
    EXPECT_EQ(defaults.find_field("int64Field").value().default_bits(),
              static_cast<uint64_t>(int64_t{-1234567890123}));
    EXPECT_EQ(defaults.find_field("float32Field").value().default_bits(), 0x44800000u);
    EXPECT_EQ(defaults.find_field("float64Field").value().default_bits(), 0xc000000000000000u);
    EXPECT_EQ(defaults.find_field("enumField").value().default_bits(), 2u);
    EXPECT_EQ(defaults.find_field("textField").value().default_pointer().get_text().view(),
              "default");
    EXPECT_TRUE(defaults.find_field("uInt16Field").value().default_pointer().is_null());

    // SubThing extends Thing: `get` is Thing's method, under Thing's id.
    auto sub = set.find_interface("SubThing");
    auto thing = set.find_interface("Thing");
    ASSERT_TRUE(sub.is_ok() && thing.is_ok());
    auto get = set.find_method(sub.value(), "get");
    ASSERT_TRUE(get.is_ok());
    EXPECT_EQ(get.value().interface_id, thing.value().id());
    EXPECT_EQ(get.value().ordinal, 0);
    EXPECT_EQ(set.find_method(sub.value(), "more").value().interface_id, sub.value().id());
    EXPECT_EQ(set.find_method(thing.value(), "more").error(), SchemaError::NotFound);
}

TEST(CapnpSchemaSet, RefusesMalformedRequests) {
    const Words& words = capos_request().words();
    std::span<const Word> storage[64];
    auto segments = parse_framed(words, storage);
    ASSERT_TRUE(segments.is_ok());
    // Every segment cut short: pointers leave it.
    std::vector<std::span<const Word>> cut(segments.value().begin(), segments.value().end());
    for (auto& segment : cut)
        segment = segment.first(segment.size() / 2);
    EXPECT_EQ(SchemaSet::create(cut).error(), SchemaError::Malformed);
    EXPECT_EQ(SchemaSet::create({}).error(), SchemaError::Malformed);

    // Random corruption: refused, or read and used without harm (the
    // sanitized build checks the harm).
    std::mt19937_64 random(3);
    int refused = 0;
    for (int round = 0; round < 300; ++round) {
        Words copy = words;
        for (int i = 0; i < 4; ++i)
            reinterpret_cast<uint8_t*>(copy.data())[8 + random() % (copy.size() * 8 - 8)] ^=
                static_cast<uint8_t>(1u << (random() % 8));
        std::span<const Word> copy_storage[64];
        auto copy_segments = parse_framed(copy, copy_storage);
        if (copy_segments.is_error())
            continue;
        auto set = SchemaSet::create(copy_segments.value());
        if (set.is_error()) {
            ++refused;
            continue;
        }
        for (const char* type : {"ProcessSpawner.spawn$Params", "SystemManifest", "ExitStatus"}) {
            auto schema = set.value().find_struct(type);
            if (schema.is_error())
                continue;
            Words buffer(4096);
            MessageBuilder builder(buffer);
            (void)parse_text(set.value(), schema.value(),
                             "(name = \"x\", grants = [(name = \"a\", newEndpoint = void)], "
                             "binaries = [(name = \"b\")], exited = -3)",
                             builder)
                .is_ok();
            MessageReader reader(builder.words());
            char text[512];
            TextSink sink(text);
            (void)print_text(set.value(), schema.value(), reader, sink).is_ok();
        }
    }
    EXPECT_GT(refused, 10);
}

// A request whose field offsets lie outside their struct: parse says so.
TEST(CapnpSchemaSet, OffsetsOutsideTheirStructAreSchemaErrors) {
    const Words& words = test_request().words();
    kj::ArrayPtr<const ::capnp::word> flat(reinterpret_cast<const ::capnp::word*>(words.data()),
                                           words.size());
    ::capnp::FlatArrayMessageReader reader(flat);
    ::capnp::MallocMessageBuilder copy;
    copy.setRoot(reader.getRoot<::capnp::schema::CodeGeneratorRequest>());
    for (auto node : copy.getRoot<::capnp::schema::CodeGeneratorRequest>().getNodes()) {
        std::string name = node.getDisplayName().cStr();
        if (name.substr(name.find(':') + 1) != "AllTypes")
            continue;
        for (auto field : node.getStruct().getFields()) {
            if (field.getName() == "uInt32Field" || field.getName() == "textField")
                field.getSlot().setOffset(1000);
        }
        node.getStruct().setDiscriminantOffset(500);
    }
    kj::Array<::capnp::word> bytes = ::capnp::messageToFlatArray(copy);
    Words changed(reinterpret_cast<const Word*>(bytes.begin()),
                  reinterpret_cast<const Word*>(bytes.end()));
    std::span<const Word> storage[64];
    auto set = SchemaSet::create(parse_framed(changed, storage).value());
    ASSERT_TRUE(set.is_ok());
    StructSchema all = set.value().find_struct("AllTypes").value();
    Words buffer(1024);
    for (const char* text : {"(uInt32Field = 1)", "(textField = \"x\")"}) {
        MessageBuilder builder(buffer);
        auto parsed = parse_text(set.value(), all, text, builder);
        ASSERT_TRUE(parsed.is_error()) << text;
        EXPECT_EQ(parsed.error().kind, TextErrorKind::BadSchema) << text;
        EXPECT_EQ(parsed.error().offset, 1u);
    }
    MessageBuilder builder(buffer);
    EXPECT_TRUE(parse_text(set.value(), all, "(uInt64Field = 1)", builder).is_ok());
    // Printing reads within bounds whatever the offsets say.
    MessageReader message(builder.words());
    char text[4096];
    TextSink sink(text);
    EXPECT_TRUE(print_text(set.value(), all, message, sink).is_ok());
}

// ---------------------------------------------------------------------------
// Values of schema/capos.capnp, compared with libcapnp both ways.

TEST(CapnpText, CaposValuesMatchLibcapnp) {
    const std::pair<const char*, const char*> cases[] = {
        {"Timer.sleep$Params", "(ns = 0)"},
        {"Timer.sleep$Params", "(ns = 18446744073709551615)"},
        {"Timer.sleep$Params", "(ns = 0xffffffffffffffff)"},
        {"Timer.sleep$Params", "(ns = 0777)"},
        {"Timer.sleep$Params", "(ns = -0)"},
        {"Timer.sleep$Params", "  ( ns=5 , )  "},
        {"Timer.sleep$Params", "()"},
        {"Timer.now$Results", "(ns = 123456789)"},
        {"ProcessSpawner.spawn$Params", "(name = \"shell\", binary = \"shell\")"},
        {"ProcessSpawner.spawn$Params",
         "(name = \"sh\", grants = [(name = \"a\", newEndpoint = void), (name = \"b\", "
         "capability = (mode = move)), (name = \"c\", capability = (mode = copy))], "
         "limits = (frames = 3, capabilitySlots = 4294967295))"},
        {"ProcessSpawner.spawn$Params", "(grants = [], limits = ())"},
        {"ProcessSpawner.spawn$Params",
         "(limits = (queuedBytes = 1, outstandingCalls = 2), name = \"x\" # a comment\n)"},
        {"ExitStatus", "(exited = -9223372036854775808)"},
        {"ExitStatus", "(exited = 9223372036854775807)"},
        {"ExitStatus", "(faulted = (vector = 14, address = 0xdeadbeef, detail = \"page fault\"))"},
        {"ExitStatus", "(faulted = ())"},
        {"ExitStatus", "()"},
        {"LogEntry", "(sequence = 1, timeNs = 2, level = debug, source = \"kernel\", message = "
                     "\"tab\\there \\\"quoted\\\" \\\\ \\x41\\101 \\a\\b\\f\\v\\r\\n\\' \\?\")"},
        {"LogEntry", "(message = \"caf\xc3\xa9 \xe2\x82\xac\", source = \"\")"},
        {"LogEntry", "(message = \"joined \" \"across \"\n  \"lines\")"},
        {"LogEntry", "(message = \"\\0\\1\\177\\377\")"},
        {"LogReader.read$Params", "(cursor = 7, maxEntries = 100, minLevel = error)"},
        {"LogReader.read$Results",
         "(entries = [(sequence = 1, level = warn, message = \"a\"), (), (source = \"b\")], "
         "nextCursor = 4, dropped = 0)"},
        {"EntropySource.fill$Results", "(bytes = 0x\"00ff10\")"},
        {"EntropySource.fill$Results", "(bytes = 0x\" 00 ff  10 \")"},
        {"EntropySource.fill$Results", "(bytes = \"raw\\n\")"},
        {"EntropySource.fill$Results", "(bytes = \"\")"},
        {"MemoryObject.map$Params",
         "(address = 0x1000, offsetPages = 0, pages = 16, access = readExecute)"},
        {"TerminalSession.readLine$Results", "(line = \"ls -l\", end = endOfInput)"},
        {"CapException", "(type = permissionDenied, message = \"no\", truncated = true)"},
        {"CapGrant", "(name = \"console\", interfaceId = 0x88cc6b26ca1a0ae3, source = "
                     "(kernel = console))"},
        {"CapGrant", "(name = \"fs\", source = (service = (service = \"store\", export = "
                     "\"root\")))"},
        {"CapGrant", "(name = \"ep\", source = (endpoint = void))"},
        {"KernelParameters", "(logLevel = error, messageOfTheDay = \"hi\")"},
        {"KernelParameters", "()"},
        {"SystemManifest",
         "(schemaVersion = 1, binaries = [(name = \"init\", path = \"bin/init\"), (name = "
         "\"shell\", path = \"bin/shell\")], init = (program = \"init\", grants = [(name = "
         "\"console\", source = (kernel = console))], services = [(name = \"shell\", binary = "
         "\"shell\", grants = [(name = \"log\", source = (kernel = logSink))], exports = "
         "[\"a\", \"b\"], waitForExit = true, limits = (frames = 64))]), kernel = (logLevel = "
         "warn))"},
    };
    for (const auto& [type, text] : cases)
        check_value(capos_request(), type, text);
}

TEST(CapnpText, AllKindsMatchLibcapnp) {
    const std::pair<const char*, const char*> cases[] = {
        {"AllTypes", "()"},
        {"AllTypes", "(voidField = void, boolField = true, int8Field = -128, int16Field = 32767, "
                     "int32Field = -2147483648, int64Field = -1, uInt8Field = 255, uInt16Field = "
                     "65535, uInt32Field = 4294967295, uInt64Field = 1)"},
        {"AllTypes", "(float32Field = 999999, float64Field = -999999999999999)"},
        {"AllTypes", "(float32Field = inf, float64Field = -inf)"},
        {"AllTypes", "(float32Field = nan, float64Field = nan)"},
        {"AllTypes", "(float32Field = - inf, float64Field = -0)"},
        {"AllTypes", "(float32Field = -16777216, float64Field = 9007199254740992)"},
        {"AllTypes", "(structField = (structField = (textField = \"deep\")), enumField = green)"},
        {"AllTypes", "(voidList = [void, void, void], boolList = [true, false, true, true, false, "
                     "false, false, false, true], int8List = [-1, 2], int16List = [-300], "
                     "int32List = [1, 2, 3], int64List = [-9223372036854775808])"},
        {"AllTypes", "(uInt8List = [0, 0xff], uInt16List = [65535], uInt32List = [], "
                     "uInt64List = [0xffffffffffffffff, 0])"},
        {"AllTypes", "(float32List = [1, -2, inf, nan], float64List = [0, 1099511627776])"},
        {"AllTypes", "(textList = [\"a\", \"\", \"b\" \"c\"], dataList = [0x\"01\", \"\", "
                     "\"x\"], enumList = [blue, red, green])"},
        {"AllTypes", "(structList = [(int8Field = 1), (), (textList = [\"x\"], structList = "
                     "[(uInt8Field = 9)])])"},
        {"AllTypes", "(listList = [[1, 2], [], [3]], textListList = [[\"a\"], [], [\"b\", "
                     "\"c\"]])"},
        {"AllTypes", "(textList = [\"a,b\", \"[c]\", \"(d)\", \"#e\", \"\\\"\"])"},
        {"AllTypes", "(int32List = [1, 2,], textList = [\"x\",],)"},
        {"Defaults", "()"},
        {"Defaults", "(boolField = false, int8Field = -5, uInt16Field = 0, int64Field = 0, "
                     "float32Field = 0, float64Field = -2, enumField = red, textField = "
                     "\"other\", dataField = \"\", structField = (), listField = [])"},
        {"Defaults", "(structField = (structField = (boolField = true)))"},
        {"Unions", "()"},
        {"Unions", "(before = 1, first = 0, after = 2)"},
        {"Unions", "(second = \"s\")"},
        {"Unions", "(second = \"\")"},
        {"Unions", "(third = void)"},
        {"Unions", "(fourth = (x = 1, y = \"why\"))"},
        {"Unions", "(fourth = ())"},
        {"Unions", "(fifth = \"5\", before = 3)"},
        {"Unions", "(named = (q = -7))"},
        {"Unions", "(named = (r = (int8Field = 1)))"},
        {"Unions", "(named = (r = ()))"},
        {"Unions", "(outer = (z = 5, inner = (n = 0x\"ab\")))"},
        {"Unions", "(outer = (inner = (m = void)), named = (p = true), after = -1)"},
        {"Tree", "(label = \"root\", children = [(label = \"a\", children = [(label = \"a1\")]), "
                 "(label = \"b\", children = [])])"},
    };
    for (const auto& [type, text] : cases)
        check_value(test_request(), type, text);
}

// Our printing of values our parser cannot make (null pointers in unions,
// enumerants the schema lacks, wider structs) against libcapnp's.
TEST(CapnpText, PrintsWhatTextCannotWrite) {
    const Request& request = test_request();
    StructSchema unions = request.ours("Unions");
    // fifth selected, its pointer null: both print its default.
    Words buffer(64);
    {
        MessageBuilder builder(buffer);
        StructBuilder root = builder.init_root(unions.data_words(), unions.pointer_count());
        Field fifth = unions.find_field("fifth").value();
        root.set_data_field<uint16_t>(unions.discriminant_offset(), fifth.discriminant_value());
        Words words(builder.words().begin(), builder.words().end());
        std::string printed = our_print(request, "Unions", words);
        EXPECT_NE(printed.find("fifth = \"fifth default\""), std::string::npos) << printed;
        EXPECT_EQ(printed, their_print(request, "Unions", words));
    }
    // An enumerant the schema does not name, and a discriminant it does not know.
    {
        StructSchema all = request.ours("AllTypes");
        MessageBuilder builder(buffer);
        StructBuilder root = builder.init_root(all.data_words(), all.pointer_count());
        root.set_data_field<uint16_t>(all.find_field("enumField").value().offset(), 7);
        Words words(builder.words().begin(), builder.words().end());
        std::string printed = our_print(request, "AllTypes", words);
        EXPECT_NE(printed.find("enumField = (7)"), std::string::npos) << printed;
        EXPECT_EQ(printed, their_print(request, "AllTypes", words));

        MessageBuilder other(buffer);
        StructBuilder u = other.init_root(unions.data_words(), unions.pointer_count());
        u.set_data_field<uint16_t>(unions.discriminant_offset(), 99);
        Words union_words(other.words().begin(), other.words().end());
        EXPECT_EQ(our_print(request, "Unions", union_words),
                  their_print(request, "Unions", union_words));
    }
    // A struct from a newer schema (more data and pointers) and an older one
    // (none): fields beyond read as defaults.
    for (auto [data_words, pointers] : {std::pair{8, 30}, std::pair{0, 0}, std::pair{1, 1}}) {
        MessageBuilder builder(buffer);
        StructBuilder root =
            builder.init_root(static_cast<uint16_t>(data_words), static_cast<uint16_t>(pointers));
        if (data_words != 0)
            root.set_data_field<uint64_t>(0, 0x8070605040302010);
        if (pointers != 0)
            root.pointer_field(0).set_text("t");
        Words words(builder.words().begin(), builder.words().end());
        EXPECT_EQ(our_print(request, "AllTypes", words), their_print(request, "AllTypes", words));
    }
}

// Capabilities: `@name` through the resolver into capability pointers, and
// printed through the printer where libcapnp prints its placeholders.
TEST(CapnpText, Capabilities) {
    const Request& request = test_request();
    Ours ours = our_encode(request, "AllTypes",
                           "(interfaceField = @c5, capabilityField = @c7, interfaceList = [@c1, "
                           "@c2], structField = (interfaceField = @c9))");
    ASSERT_FALSE(ours.error) << ours.message;
    MessageReader reader(ours.words);
    StructSchema all = request.ours("AllTypes");
    StructReader root = reader.root();
    auto pointer = [&](StructReader value, const char* name) {
        return value.pointer_field(static_cast<uint16_t>(all.find_field(name).value().offset()));
    };
    EXPECT_EQ(pointer(root, "interfaceField").capability_index(), 5u);
    EXPECT_EQ(pointer(root, "capabilityField").capability_index(), 7u);
    ListReader list = pointer(root, "interfaceList").get_list(ElementSize::Pointer);
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list.get_pointer(1).capability_index(), 2u);
    EXPECT_EQ(
        pointer(pointer(root, "structField").get_struct(), "interfaceField").capability_index(),
        9u);

    std::string printed = our_print(request, "AllTypes", ours.words);
    EXPECT_EQ(printed, their_print(request, "AllTypes", ours.words));
    EXPECT_NE(printed.find("interfaceField = <external capability>"), std::string::npos);
    EXPECT_NE(printed.find("capabilityField = <opaque pointer>"), std::string::npos);

    // Printed as names, parsed back to the same message.
    std::string named = our_print(request, "AllTypes", ours.words, DataFormat::Hex, print_as_name);
    EXPECT_NE(named.find("interfaceList = [@c1, @c2]"), std::string::npos) << named;
    Ours again = our_encode(request, "AllTypes", named);
    ASSERT_FALSE(again.error) << again.message;
    EXPECT_EQ(again.words, ours.words);

    // Without a printer.
    MessageReader message(ours.words);
    char text[2048];
    TextSink sink(text);
    ASSERT_TRUE(print_text(request.set(), all, message, sink).is_ok());
    EXPECT_NE(sink.text().find("interfaceField = <capability 5>"), std::string::npos);

    // The resolver is told the interface each field declares.
    auto thing = request.set().find_interface("Thing");
    ASSERT_TRUE(thing.is_ok());
    std::vector<std::pair<std::string, uint64_t>> asked;
    auto resolve = [&](std::string_view name, uint64_t interface_id) {
        asked.emplace_back(std::string(name), interface_id);
        return ResolvedCapability{CapabilityLookup::Found, 1};
    };
    ParseOptions options;
    options.capabilities = capability_resolver(resolve);
    ASSERT_FALSE(our_encode(request, "AllTypes",
                            "(interfaceField = @console, capabilityField = @log.sink-2/x)", options)
                     .error);
    ASSERT_EQ(asked.size(), 2u);
    EXPECT_EQ(asked[0], (std::pair<std::string, uint64_t>{"console", thing.value().id()}));
    EXPECT_EQ(asked[1], (std::pair<std::string, uint64_t>{"log.sink-2/x", 0}));
}

// What the two printers print differently: floats that need an exponent or a
// fraction, and Data in hex.
TEST(CapnpText, FloatsAndHexData) {
    const Request& request = test_request();
    Ours big = our_encode(request, "AllTypes", "(float32Field = 1000000, float64Field = 1e15)");
    ASSERT_TRUE(big.error);
    EXPECT_EQ(big.error->kind, TextErrorKind::FloatFraction);
    EXPECT_EQ(big.error->offset, 40u);

    big = our_encode(request, "AllTypes",
                     "(float32Field = 1000000, float64Field = 1000000000000000)");
    ASSERT_FALSE(big.error) << big.message;
    EXPECT_EQ(big.words, their_encode(request, "AllTypes",
                                      "(float32Field = 1000000, float64Field = 1000000000000000)")
                             .words);
    std::string ours = our_print(request, "AllTypes", big.words);
    std::string theirs = their_print(request, "AllTypes", big.words);
    EXPECT_NE(ours.find("float32Field = 1000000, float64Field = 1000000000000000"),
              std::string::npos);
    EXPECT_NE(theirs.find("float32Field = 1e06, float64Field = 1e15"), std::string::npos);

    // 1.5 and 0.1 have no integer form: their bits.
    Words buffer(64);
    MessageBuilder builder(buffer);
    StructSchema all = request.ours("AllTypes");
    StructBuilder root = builder.init_root(all.data_words(), all.pointer_count());
    root.set_data_field<uint32_t>(all.find_field("float32Field").value().offset(), 0x3fc00000);
    root.set_data_field<uint64_t>(all.find_field("float64Field").value().offset(),
                                  0x3fb999999999999a);
    std::string bits = our_print(request, "AllTypes", builder.words());
    EXPECT_NE(bits.find("float32Field = <float32 0x3fc00000>, float64Field = <float64 "
                        "0x3fb999999999999a>"),
              std::string::npos)
        << bits;

    Ours data = our_encode(request, "AllTypes",
                           "(dataField = 0x\"00ff7f\", dataList = [\"\", "
                           "0x\"0a\"])");
    ASSERT_FALSE(data.error);
    std::string hex = our_print(request, "AllTypes", data.words, DataFormat::Hex);
    EXPECT_NE(hex.find("dataField = 0x\"00ff7f\""), std::string::npos) << hex;
    EXPECT_NE(hex.find("dataList = [\"\", 0x\"0a\"]"), std::string::npos) << hex;
    EXPECT_NE(our_print(request, "AllTypes", data.words).find("dataField = \"\\000\\377\\177\""),
              std::string::npos);
}

// The body form the shell passes for `call @x.m(a = 1)`.
TEST(CapnpText, FieldsForm) {
    ParseOptions options;
    options.form = TextForm::Fields;
    Ours ours = our_encode(capos_request(), "ProcessSpawner.spawn$Params",
                           " name = \"a\", limits = (frames = 1) ", options);
    ASSERT_FALSE(ours.error) << ours.message;
    EXPECT_EQ(ours.words, their_encode(capos_request(), "ProcessSpawner.spawn$Params",
                                       "(name = \"a\", limits = (frames = 1))")
                              .words);
    EXPECT_FALSE(our_encode(capos_request(), "Timer.sleep$Params", "", options).error);
    EXPECT_FALSE(our_encode(capos_request(), "Timer.sleep$Params", "ns = 1,", options).error);
    Ours bad = our_encode(capos_request(), "Timer.sleep$Params", "ns = 1)", options);
    ASSERT_TRUE(bad.error);
    EXPECT_EQ(bad.error->kind, TextErrorKind::ExpectedSeparator);
    EXPECT_EQ(bad.message, "expected ',' or the end of the input, got ')' (at byte 6)");
}

// ---------------------------------------------------------------------------
// Errors

struct ErrorCase {
    const char* type;
    const char* text;
    TextErrorKind kind;
    size_t offset;
    bool libcapnp_accepts; // where we are stricter than capnp encode
};

TEST(CapnpText, ErrorsNameTheFieldAndOffset) {
    using K = TextErrorKind;
    const ErrorCase cases[] = {
        {"Timer.sleep$Params", "(ns = -1)", K::OutOfRange, 6, false},
        {"Timer.sleep$Params", "(ns = 18446744073709551616)", K::OutOfRange, 6, true}, // wraps
        {"Timer.sleep$Params", "(ns = 1.5)", K::WrongType, 6, false},
        {"Timer.sleep$Params", "(ns = 12abc)", K::WrongType, 6, false},
        {"Timer.sleep$Params", "(ns = 08)", K::WrongType, 6, false},
        {"Timer.sleep$Params", "(ns = \"5\")", K::WrongType, 6, false},
        {"Timer.sleep$Params", "(ns = )", K::WrongType, 6, false},
        {"Timer.sleep$Params", "(ns = 1", K::UnexpectedEnd, 7, false},
        {"Timer.sleep$Params", "(ns = 1 2)", K::ExpectedSeparator, 8, false},
        {"Timer.sleep$Params", "(ns 1)", K::ExpectedEquals, 4, false},
        {"Timer.sleep$Params", "(nss = 1)", K::UnknownField, 1, false},
        {"Timer.sleep$Params", "(ns = 1, ns = 2)", K::DuplicateField, 9, true},
        {"Timer.sleep$Params", "(ns = 1))", K::TrailingInput, 8, false},
        {"Timer.sleep$Params", "(ns = 1) x", K::TrailingInput, 9, false},
        {"Timer.sleep$Params", "ns = 1", K::WrongType, 0, false},
        {"Timer.sleep$Params", "", K::UnexpectedEnd, 0, false},
        {"Timer.sleep$Params", "(1)", K::ExpectedFieldName, 1, false},
        {"Timer.sleep$Params", "(, ns = 1)", K::ExpectedFieldName, 1, false},
        {"ExitStatus", "(exited = 9223372036854775808)", K::OutOfRange, 10, false},
        {"ExitStatus", "(exited = -9223372036854775809)", K::OutOfRange, 10, false},
        {"ExitStatus", "(exited = 1, faulted = ())", K::UnionConflict, 13, true},
        {"ExitStatus", "(faulted = 1)", K::WrongType, 11, false},
        {"ExitStatus", "(faulted = (vector = 256))", K::OutOfRange, 21, false},
        {"Grant", "(capability = (mode = moved))", K::UnknownEnumerant, 22, false},
        {"Grant", "(capability = (mode = 1))", K::WrongType, 22, false},
        {"Grant", "(newEndpoint = true)", K::WrongType, 15, false},
        {"Grant", "(name = \"a)", K::UnterminatedString, 8, false},
        {"Grant", "(name = \"a\n\")", K::UnterminatedString, 8, false},
        {"Grant", "(name = \"\\q\")", K::BadEscape, 9, false},
        {"Grant", "(name = \"\\x4\")", K::BadEscape, 9, false},
        {"Grant", "(name = 0x\"41\")", K::WrongType, 8, false},
        {"Grant", "(name = 'a')", K::WrongType, 8, false},
        {"Grant", "(capability = (cap = 5))", K::WrongType, 21, false},
        {"ProcessSpawner.spawn$Params", "(grants = [(name = \"a\"), 5])", K::WrongType, 25, false},
        {"ProcessSpawner.spawn$Params", "(grants = [(name = \"a\")", K::UnexpectedEnd, 23, false},
        {"ProcessSpawner.spawn$Params", "(grants = [(name = \"a\") (name = \"b\")])",
         K::ExpectedSeparator, 24, false},
        {"ProcessSpawner.spawn$Params", "(grants = [,])", K::ExpectedSeparator, 11, false},
        {"ProcessSpawner.spawn$Params", "(grants = (name = \"a\"))", K::WrongType, 10, false},
        {"ProcessSpawner.spawn$Params", "(limits = (frame = 1))", K::UnknownField, 11, false},
        {"EntropySource.fill$Results", "(bytes = 0x\"0g\")", K::BadBinary, 12, false},
        {"EntropySource.fill$Results", "(bytes = 0x\"0\")", K::BadBinary, 12, false},
        {"EntropySource.fill$Results", "(bytes = 0x\"00", K::UnterminatedString, 9, false},
        // capnp rounds integers to floats, and parses fractions: we have no floating point.
        {"AllTypes", "(float32Field = 16777217)", K::NotRepresentable, 16, true},
        {"AllTypes", "(float64Field = 9007199254740993)", K::NotRepresentable, 16, true},
        {"AllTypes", "(float64Field = 0.5)", K::FloatFraction, 16, true},
        {"AllTypes", "(float64Field = -nan)", K::WrongType, 16, false},
        {"AllTypes", "(float64Field = infinity)", K::WrongType, 16, false},
        {"AllTypes", "(anyField = [])", K::UnsupportedType, 12, false},
        {"AllTypes", "(interfaceField = @nobody)", K::UnknownCapability, 18, false},
        {"AllTypes", "(interfaceField = @wrong)", K::CapabilityInterface, 18, false},
        {"AllTypes", "(interfaceField = @)", K::WrongType, 18, false},
        {"AllTypes", "(interfaceField = c1)", K::WrongType, 18, false},
        {"AllTypes", "(enumField = void)", K::UnknownEnumerant, 13, false},
        {"AllTypes", "(voidField = 0)", K::WrongType, 13, false},
        {"AllTypes", "(boolField = 1)", K::WrongType, 13, false},
        {"AllTypes", "(int8List = [1, 128])", K::OutOfRange, 16, false},
        {"AllTypes", "(listList = [[1], [x]])", K::WrongType, 19, false},
        {"Unions", "(fourth = (x = 1), fourth = (y = \"\"))", K::DuplicateField, 19, true},
        {"Unions", "(first = 1, fourth = ())", K::UnionConflict, 12, true},
        {"Unions", "(outer = (inner = (m = void, n = \"\")))", K::UnionConflict, 29, true},
        {"Unions", "(named = (p = true, q = 1))", K::UnionConflict, 20, true},
        {"Unions", "(outer = 5)", K::WrongType, 9, false},
    };
    for (const ErrorCase& c : cases) {
        SCOPED_TRACE(std::string(c.type) + " " + c.text);
        const Request& request =
            capos_request().set().find_struct(c.type).is_ok() ? capos_request() : test_request();
        Ours ours = our_encode(request, c.type, c.text);
        ASSERT_TRUE(ours.error);
        EXPECT_EQ(ours.error->kind, c.kind) << ours.message;
        EXPECT_EQ(ours.error->offset, c.offset) << ours.message;
        EXPECT_NE(ours.message.find("(at byte " + std::to_string(c.offset) + ")"),
                  std::string::npos)
            << ours.message;
        if (std::string_view(c.text).find('@') == std::string_view::npos)
            EXPECT_EQ(their_encode(request, c.type, c.text).ok, c.libcapnp_accepts);
    }
}

TEST(CapnpText, ErrorMessages) {
    const Request& capos = capos_request();
    auto message = [](const Request& request, const char* type, const std::string& text) {
        return our_encode(request, type, text).message;
    };
    EXPECT_EQ(message(capos, "Timer.sleep$Params", "(ns = -1)"),
              "field 'ns': expected an unsigned integer up to 2^64-1, got '-1' (at byte 6)");
    EXPECT_EQ(message(capos, "ExitStatus", "(faulted = (vector = 256))"),
              "field 'vector': expected an unsigned integer up to 255, got '256' (at byte 21)");
    EXPECT_EQ(message(capos, "ExitStatus", "(exited = 1, faulted = ())"),
              "field 'faulted': its union already has 'exited' set, and a union holds one "
              "member (at byte 13)");
    EXPECT_EQ(message(capos, "ProcessSpawner.spawn$Params", "(limits = (frame = 1))"),
              "field 'limits': struct ResourceLimits has no field named 'frame' (at byte 11)");
    EXPECT_EQ(message(capos, "ProcessSpawner.spawn$Params", "(grants = [(name = \"a\"), 5])"),
              "field 'grants' element 1: expected a value of Grant in parentheses, got '5' (at "
              "byte 25)");
    EXPECT_EQ(message(capos, "Grant", "(capability = (mode = moved))"),
              "field 'mode': expected an enumerant of TransferMode, got 'moved' (at byte 22)");
    EXPECT_EQ(message(capos, "Timer.sleep$Params", "(ns = 1, ns = 2)"),
              "field 'ns': set twice (at byte 9)");
    EXPECT_EQ(message(capos, "ExitStatus", "(exited = 0x8000000000000000)"),
              "field 'exited': expected an integer from -2^63 to 2^63-1, got "
              "'0x8000000000000000' (at byte 10)");
    EXPECT_EQ(message(test_request(), "AllTypes", "(interfaceField = @wrong)"),
              "field 'interfaceField': capability '@wrong' is not a Thing (at byte 18)");
    EXPECT_EQ(message(test_request(), "AllTypes", "(float32Field = 16777217)"),
              "field 'float32Field': expected an integer that Float32 holds exactly, inf, -inf or "
              "nan (it cannot hold this one exactly), got '16777217' (at byte 16)");
    EXPECT_EQ(message(capos, "LogEntry", "(message = \"" + std::string(60, 'x')),
              "field 'message': string without its closing quote, got "
              "'\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' (at byte 11)");

    // A message cut to fit its buffer, with no NUL.
    TextError error;
    error.kind = TextErrorKind::UnknownField;
    error.type_name = "Somewhere";
    error.got = "thing";
    char small[10];
    EXPECT_EQ(format_error(error, small), sizeof(small));
    EXPECT_EQ(std::string(small, sizeof(small)), "struct Som");
}

TEST(CapnpText, Bounds) {
    const Request& request = test_request();
    // Nesting: the root is level 1, every struct, group and list one more.
    ParseOptions options;
    options.limits.max_depth = 4;
    EXPECT_FALSE(our_encode(request, "AllTypes",
                            "(structField = (structField = (structField = "
                            "())))",
                            options)
                     .error);
    Ours too_deep = our_encode(request, "AllTypes",
                               "(structField = (structField = (listList = [[1]])))", options);
    ASSERT_TRUE(too_deep.error);
    EXPECT_EQ(too_deep.error->kind, TextErrorKind::TooDeep);
    EXPECT_EQ(too_deep.error->offset, 43u);
    EXPECT_EQ(too_deep.message,
              "field 'listList' element 0: values nested more than 4 deep (at byte 43)");

    // A default depth's worth of '(' and '[' fails at once, not after the
    // nesting, and a hundred thousand fail without recursing further.
    std::string text;
    for (int i = 0; i < 100000; ++i)
        text += "(structField = ";
    options = {};
    options.limits.max_input = 1 << 21;
    Ours nested = our_encode(request, "AllTypes", text, options);
    ASSERT_TRUE(nested.error);
    EXPECT_EQ(nested.error->kind, TextErrorKind::TooDeep);

    std::string lists = "(listList = ";
    for (int i = 0; i < 100000; ++i)
        lists += "[";
    nested = our_encode(request, "AllTypes", lists, options);
    ASSERT_TRUE(nested.error);
    EXPECT_EQ(nested.error->kind, TextErrorKind::WrongType); // List(List(Int32)): 2 levels

    // Input length.
    options = {};
    options.limits.max_input = 16;
    Ours long_input = our_encode(request, "AllTypes", "(textField = \"0123456789\")", options);
    ASSERT_TRUE(long_input.error);
    EXPECT_EQ(long_input.error->kind, TextErrorKind::TooLong);
    EXPECT_EQ(long_input.message, "input longer than 16 bytes (at byte 16)");

    // The message buffer: every size from nothing up fails cleanly until one fits.
    std::string value = "(textList = [\"aaaaaaaaaaaaaaaaa\", \"b\"], structList = [(), (int8List = "
                        "[1, 2, 3])], dataField = 0x\"0102030405060708090a\")";
    StructSchema all = request.ours("AllTypes");
    bool fitted = false;
    for (size_t words = 0; words < 200 && !fitted; ++words) {
        std::vector<Word> buffer(words);
        MessageBuilder builder(buffer);
        auto parsed = parse_text(request.set(), all, value, builder);
        if (parsed.is_ok()) {
            fitted = true;
            EXPECT_EQ(canonical(builder.words()), our_encode(request, "AllTypes", value).words);
        } else {
            EXPECT_EQ(parsed.error().kind, TextErrorKind::BufferFull) << words;
        }
    }
    EXPECT_TRUE(fitted);
}

// ---------------------------------------------------------------------------
// Printing: truncation and malformed messages.

TEST(CapnpText, TruncatesAtCharacterBoundaries) {
    const Request& request = capos_request();
    Ours ours =
        our_encode(request, "LogEntry",
                   "(message = \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 end\", source = \"k\")");
    ASSERT_FALSE(ours.error);
    std::string full = our_print(request, "LogEntry", ours.words);
    for (size_t size = 0; size <= full.size() + 1; ++size) {
        std::vector<char> buffer(size);
        TextSink sink(buffer);
        MessageReader message(ours.words);
        ASSERT_TRUE(print_text(request.set(), request.ours("LogEntry"), message, sink,
                               PrintOptions{DataFormat::Escaped, {}, 32})
                        .is_ok());
        std::string_view text = sink.text();
        EXPECT_EQ(sink.truncated(), size < full.size()) << size;
        EXPECT_EQ(full.substr(0, text.size()), text) << size;
        EXPECT_GE(text.size() + 3, size < full.size() ? size : full.size()) << size;
        // Never half a character.
        size_t i = 0;
        while (i < text.size()) {
            uint8_t lead = static_cast<uint8_t>(text[i]);
            size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
            ASSERT_LE(i + length, text.size()) << size;
            i += length;
        }
    }
}

TEST(CapnpText, MalformedMessagesAreErrors) {
    const Request& request = capos_request();
    Ours ours = our_encode(request, "ProcessSpawner.spawn$Params",
                           "(name = \"n\", grants = [(name = \"a\", newEndpoint = void)])");
    ASSERT_FALSE(ours.error);
    // Point the name's pointer past the end.
    Words words = ours.words;
    words[1 + capos::schema::ProcessSpawner::SpawnParams::data_words] += Word{1000} << 2;
    MessageReader reader(words, ReaderLimits::for_message(words.size()));
    char text[1024];
    TextSink sink(text);
    auto printed =
        print_text(request.set(), request.ours("ProcessSpawner.spawn$Params"), reader, sink);
    ASSERT_TRUE(printed.is_error());
    EXPECT_EQ(printed.error(), PrintError::Malformed);

    // Random corruption never breaks the printer (the sanitized build checks).
    std::mt19937_64 random(5);
    for (int round = 0; round < 2000; ++round) {
        Words copy = ours.words;
        for (int i = 0; i < 3; ++i)
            reinterpret_cast<uint8_t*>(copy.data())[random() % (copy.size() * 8)] ^=
                static_cast<uint8_t>(1u << (random() % 8));
        MessageReader message(copy, ReaderLimits::for_message(copy.size()));
        TextSink out(text);
        (void)print_text(request.set(), request.ours("ProcessSpawner.spawn$Params"), message, out)
            .is_ok();
    }

    // Deeper than the printer's bound.
    Ours tree = our_encode(test_request(), "Tree",
                           "(children = [(children = [(children = [(label = \"x\")])])])");
    ASSERT_FALSE(tree.error);
    MessageReader message(tree.words);
    TextSink out(text);
    PrintOptions options;
    options.max_depth = 5;
    EXPECT_EQ(print_text(test_request().set(), test_request().ours("Tree"), message, out, options)
                  .error(),
              PrintError::TooDeep);
}

// ---------------------------------------------------------------------------
// Random values of every type, written as text the way a person might.

class RandomText {
public:
    explicit RandomText(uint64_t seed) : m_random(seed) {}

    std::string value_of(::capnp::StructSchema schema) { return fields(schema, 0); }

private:
    uint64_t below(uint64_t bound) { return m_random() % bound; }
    bool chance(uint64_t one_in) { return below(one_in) == 0; }

    std::string space() {
        static const char* spaces[] = {"", " ", "  ", "\n", " # note\n", "\t"};
        return chance(3) ? spaces[below(6)] : "";
    }

    std::string fields(::capnp::StructSchema schema, int depth) {
        std::vector<std::string> parts;
        for (auto field : schema.getNonUnionFields()) {
            if (chance(2))
                continue;
            std::string part = field_value(field, depth);
            if (!part.empty())
                parts.push_back(part);
        }
        auto members = schema.getUnionFields();
        if (members.size() != 0 && !chance(3)) {
            std::string part =
                field_value(members[static_cast<uint>(below(members.size()))], depth);
            if (!part.empty())
                parts.push_back(part);
        }
        std::shuffle(parts.begin(), parts.end(), m_random);
        std::string text = "(" + space();
        for (size_t i = 0; i < parts.size(); ++i)
            text += (i != 0 ? "," + space() : "") + parts[i];
        if (!parts.empty() && chance(5))
            text += ",";
        return text + space() + ")";
    }

    // Empty for what text cannot write (capabilities, AnyPointer).
    std::string field_value(::capnp::StructSchema::Field field, int depth) {
        std::string name = field.getProto().getName();
        std::string value;
        if (field.getProto().isGroup())
            value = fields(field.getType().asStruct(), depth + 1);
        else
            value = value_of(field.getType(), depth);
        if (value.empty())
            return {};
        std::string after = space();
        if (after.empty() && value[0] == '-')
            after = " "; // capnp's lexer reads "=-" as one operator
        return name + space() + "=" + after + value;
    }

    std::string integer(bool is_signed, int bits) {
        uint64_t max = bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1;
        if (is_signed)
            max >>= 1;
        uint64_t magnitude;
        switch (below(5)) {
        case 0:
            magnitude = 0;
            break;
        case 1:
            magnitude = max;
            break;
        case 2:
            magnitude = below(10);
            break;
        default:
            magnitude = m_random() & max;
            break;
        }
        bool negative = is_signed && chance(2);
        if (negative && magnitude == max && chance(2))
            magnitude = max + 1; // the most negative
        std::string digits;
        switch (below(3)) {
        case 0: {
            char hex[32];
            snprintf(hex, sizeof(hex), "0x%llx", static_cast<unsigned long long>(magnitude));
            digits = hex;
            break;
        }
        case 1: {
            char octal[32];
            snprintf(octal, sizeof(octal), "0%llo", static_cast<unsigned long long>(magnitude));
            digits = octal;
            break;
        }
        default:
            digits = std::to_string(magnitude);
        }
        return (negative ? "-" : "") + digits;
    }

    std::string text_literal(bool data) {
        static const char* pieces[] = {"a",   "Z",     " ",     "\\n",   "\\t",   "\\\\", "\\\"",
                                       "\\'", "\\x7f", "\\001", "\\377", "\\0",   "é",    "€",
                                       ",",   "]",     ")",     "#",     "\\x41", "\\?",  "(["};
        std::string text = "\"";
        for (uint64_t i = below(8); i > 0; --i) {
            if (chance(8))
                text += "\"" + space() + "\"";
            text += pieces[below(sizeof(pieces) / sizeof(pieces[0]))];
        }
        text += "\"";
        if (data && chance(2)) {
            text = "0x\"";
            for (uint64_t i = 1 + below(6); i > 0; --i) {
                char hex[3];
                snprintf(hex, sizeof(hex), "%02x", static_cast<unsigned>(below(256)));
                text += hex;
                if (chance(3))
                    text += " ";
            }
            text += "\"";
        }
        return text;
    }

    std::string value_of(::capnp::Type type, int depth) {
        switch (type.which()) {
        case ::capnp::schema::Type::VOID:
            return "void";
        case ::capnp::schema::Type::BOOL:
            return chance(2) ? "true" : "false";
        case ::capnp::schema::Type::INT8:
            return integer(true, 8);
        case ::capnp::schema::Type::INT16:
            return integer(true, 16);
        case ::capnp::schema::Type::INT32:
            return integer(true, 32);
        case ::capnp::schema::Type::INT64:
            return integer(true, 64);
        case ::capnp::schema::Type::UINT8:
            return integer(false, 8);
        case ::capnp::schema::Type::UINT16:
            return integer(false, 16);
        case ::capnp::schema::Type::UINT32:
            return integer(false, 32);
        case ::capnp::schema::Type::UINT64:
            return integer(false, 64);
        case ::capnp::schema::Type::FLOAT32:
        case ::capnp::schema::Type::FLOAT64: {
            static const char* floats[] = {"0",  "1",    "-1",   "inf",    "-inf", "nan",
                                           "-0", "1024", "-999", "123456", "0x10", "4096"};
            return floats[below(sizeof(floats) / sizeof(floats[0]))];
        }
        case ::capnp::schema::Type::TEXT:
            return text_literal(false);
        case ::capnp::schema::Type::DATA:
            return text_literal(true);
        case ::capnp::schema::Type::LIST: {
            if (depth > 3)
                return "[]";
            ::capnp::Type element = type.asList().getElementType();
            if (element.isInterface() || element.isAnyPointer())
                return {};
            std::string text = "[" + space();
            uint64_t count = below(5);
            for (uint64_t i = 0; i < count; ++i) {
                std::string item = element.isStruct() ? fields(element.asStruct(), depth + 1)
                                                      : value_of(element, depth + 1);
                text += (i != 0 ? "," + space() : "") + item;
            }
            if (count != 0 && chance(5))
                text += ",";
            return text + space() + "]";
        }
        case ::capnp::schema::Type::ENUM: {
            auto enumerants = type.asEnum().getEnumerants();
            return enumerants[static_cast<uint>(below(enumerants.size()))].getProto().getName();
        }
        case ::capnp::schema::Type::STRUCT:
            return depth > 3 ? "()" : fields(type.asStruct(), depth + 1);
        case ::capnp::schema::Type::INTERFACE:
        case ::capnp::schema::Type::ANY_POINTER:
            return {};
        }
        return {};
    }

    std::mt19937_64 m_random;
};

TEST(CapnpText, RandomValuesMatchLibcapnp) {
    RandomText random(11);
    struct Target {
        const Request& request;
        const char* type;
    };
    const Target targets[] = {
        {test_request(), "AllTypes"},
        {test_request(), "Unions"},
        {test_request(), "Defaults"},
        {test_request(), "Tree"},
        {capos_request(), "ProcessSpawner.spawn$Params"},
        {capos_request(), "SystemManifest"},
        {capos_request(), "ExitStatus"},
        {capos_request(), "LogReader.read$Results"},
        {capos_request(), "CapGrant"},
        {capos_request(), "MemoryObject.map$Params"},
    };
    for (int round = 0; round < 150; ++round) {
        for (const Target& target : targets) {
            std::string text = random.value_of(target.request.theirs(target.type));
            check_value(target.request, target.type, text);
            if (HasFatalFailure())
                return;
        }
    }
}

// ---------------------------------------------------------------------------
// The capnp tool itself, on the named structs it can address.

std::string run(const std::string& command) {
    std::string output;
    FILE* pipe = popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr) << command;
    if (pipe == nullptr)
        return output;
    char buffer[4096];
    size_t read;
    while ((read = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
        output.append(buffer, read);
    EXPECT_EQ(pclose(pipe), 0) << command;
    return output;
}

void write_file(const std::string& path, std::string_view bytes) {
    std::ofstream file(path, std::ios::binary);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(CapnpText, TheCapnpToolAgrees) {
    struct ToolCase {
        const char* schema;
        const Request& request;
        const char* type;
        const char* text;
    };
    const ToolCase cases[] = {
        {CAPOS_SCHEMA_FILE, capos_request(), "SystemManifest",
         "(schemaVersion = 1, binaries = [(name = \"init\", path = \"bin/init\")], init = "
         "(program = \"init\", services = [(name = \"sh\", exports = [\"x\"], limits = (frames "
         "= 2))]), kernel = (logLevel = debug))"},
        {CAPOS_SCHEMA_FILE, capos_request(), "ExitStatus",
         "(faulted = (vector = 13, address = 0xffff800000001000, detail = \"#GP\\n\"))"},
        {CAPOS_SCHEMA_FILE, capos_request(), "LogEntry",
         "(sequence = 9, level = warn, source = \"caf\xc3\xa9\", message = \"\\x01\\\"\")"},
        {CAPOS_SCHEMA_FILE, capos_request(), "Grant", "(name = \"a\", capability = (mode = move))"},
        {TEXT_TEST_SCHEMA_FILE, test_request(), "Unions",
         "(fifth = \"x\", named = (q = -5), outer = (inner = (n = 0x\"ff00\")))"},
        {TEXT_TEST_SCHEMA_FILE, test_request(), "AllTypes",
         "(int64List = [-1, 0, 1], float32Field = -5, dataList = [\"\\377\"], enumList = "
         "[green])"},
    };
    std::string dir = ::testing::TempDir();
    for (const ToolCase& c : cases) {
        SCOPED_TRACE(std::string(c.type) + " " + c.text);
        std::string text_path = dir + "/capnp_text_input.txt";
        std::string binary_path = dir + "/capnp_text_input.bin";
        write_file(text_path, c.text);
        std::string framed = run(std::string(CAPNP_TOOL) + " encode '" + c.schema + "' " + c.type +
                                 " < '" + text_path + "'");
        ASSERT_EQ(framed.size() % 8, 0u);
        Words tool_words(framed.size() / 8);
        memcpy(tool_words.data(), framed.data(), framed.size());
        std::span<const Word> storage[16];
        auto segments = parse_framed(tool_words, storage);
        ASSERT_TRUE(segments.is_ok());
        MessageReader tool_message(segments.value());
        Words buffer(1 << 14);
        MessageBuilder copy(buffer);
        copy.set_root(tool_message.root());
        Words tool_canonical(copy.words().begin(), copy.words().end());

        Ours ours = our_encode(c.request, c.type, c.text);
        ASSERT_FALSE(ours.error) << ours.message;
        EXPECT_EQ(ours.words, tool_canonical);

        // Our framed bytes into capnp decode --short.
        MessageBuilder ours_again(buffer);
        MessageReader canonical_reader(ours.words);
        ours_again.set_root(canonical_reader.root());
        Words framed_ours(ours_again.framed_size_words());
        ASSERT_TRUE(ours_again.write_framed(framed_ours).is_ok());
        write_file(binary_path, std::string_view(reinterpret_cast<const char*>(framed_ours.data()),
                                                 framed_ours.size() * 8));
        std::string decoded = run(std::string(CAPNP_TOOL) + " decode --short '" + c.schema + "' " +
                                  c.type + " < '" + binary_path + "'");
        EXPECT_EQ(decoded, our_print(c.request, c.type, ours.words) + "\n");
    }
}

} // namespace
} // namespace capos::capnp
