// Fuzzes lib/capnp's reader and builder through the code capnpc-capos generates.
// Each input is read twice, as a framed message (segment table first) and as one
// flat segment, and each time:
//   1. every generated accessor of Cap'n Proto's TestAllTypes is called,
//      recursively through its struct fields and lists (bounded depth and width),
//      and of capos.capnp's SystemManifest, CapException and SpawnParams, and of
//      TestLists and TestUnion (lists of lists, struct lists read from primitive
//      encodings, unions);
//   2. gen::validate<TestAllTypes> and the schema-less capnp::validate run;
//   3. the root is deep-copied (canonical form) into a builder; when both the
//      original and the copy read without error, both must read the same values
//      field for field, and copying the copy must give the same words.
// Crashes, sanitizer reports and broken properties are the findings.
#include "capnp/test.capnp.capos.h"
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h"
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

namespace wire = capos::capnp;
namespace gen = capos::gen;
namespace test_schema = test::schema;
namespace capos_schema = capos::schema;

// Bounds on how much of a message one input explores, so that a run stays fast.
constexpr uint32_t max_elements = 8;
constexpr int max_depth = 3;
constexpr wire::ReaderLimits limits{.traversal_words = 1 << 16, .nesting = 64};

// Everything read is folded into a digest, so that two readings of the same
// values can be compared and nothing is optimised away.
class Digest {
public:
    void add(uint64_t value) { m_value = (m_value ^ value) * 0x100000001b3ull; }
    void add(int64_t value) { add(static_cast<uint64_t>(value)); }
    void add(float value) { add(uint64_t{std::bit_cast<uint32_t>(value)}); }
    void add(double value) { add(std::bit_cast<uint64_t>(value)); }
    void add(std::string_view text) {
        add(uint64_t{text.size()});
        for (char c : text)
            add(uint64_t{static_cast<uint8_t>(c)});
    }
    void add(std::span<const uint8_t> data) {
        add(uint64_t{data.size()});
        for (uint8_t byte : data)
            add(uint64_t{byte});
    }
    template <typename E>
    requires std::is_enum_v<E>
    void add(E value) { add(uint64_t{static_cast<uint16_t>(value)}); }
    void add(bool value) { add(uint64_t{value}); }
    template <typename T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) void add(T value) {
        add(static_cast<uint64_t>(value));
    }
    uint64_t value() const { return m_value; }

private:
    uint64_t m_value = 0xcbf29ce484222325ull;
};

template <typename List>
void add_list(Digest& digest, const List& list) {
    digest.add(list.size());
    for (uint32_t i = 0; i < std::min(list.size(), max_elements); ++i)
        digest.add(list[i]);
}

void exercise(Digest& digest, test_schema::TestAllTypes::Reader reader, int depth) {
    digest.add(reader.bool_field());
    digest.add(reader.int8_field());
    digest.add(reader.int16_field());
    digest.add(reader.int32_field());
    digest.add(reader.int64_field());
    digest.add(reader.u_int8_field());
    digest.add(reader.u_int16_field());
    digest.add(reader.u_int32_field());
    digest.add(reader.u_int64_field());
    digest.add(reader.float32_field());
    digest.add(reader.float64_field());
    digest.add(reader.has_text_field());
    digest.add(reader.text_field());
    digest.add(reader.has_data_field());
    digest.add(reader.data_field());
    digest.add(reader.has_struct_field());
    if (depth < max_depth && reader.has_struct_field())
        exercise(digest, reader.struct_field(), depth + 1);
    digest.add(reader.enum_field());
    digest.add(reader.void_list().size());
    add_list(digest, reader.bool_list());
    add_list(digest, reader.int8_list());
    add_list(digest, reader.int16_list());
    add_list(digest, reader.int32_list());
    add_list(digest, reader.int64_list());
    add_list(digest, reader.u_int8_list());
    add_list(digest, reader.u_int16_list());
    add_list(digest, reader.u_int32_list());
    add_list(digest, reader.u_int64_list());
    add_list(digest, reader.float32_list());
    add_list(digest, reader.float64_list());
    add_list(digest, reader.text_list());
    add_list(digest, reader.data_list());
    auto structs = reader.struct_list();
    digest.add(structs.size());
    if (depth < max_depth) {
        for (uint32_t i = 0; i < std::min(structs.size(), max_elements / 2); ++i)
            exercise(digest, structs[i], depth + 1);
    }
    add_list(digest, reader.enum_list());
    digest.add(reader.interface_list().size());
}

void exercise(Digest& digest, test_schema::TestLists::Reader lists) {
    digest.add(lists.list0().size());
    for (auto element : lists.list1())
        digest.add(element.f());
    for (uint32_t i = 0; i < std::min(lists.list8().size(), max_elements); ++i)
        digest.add(lists.list8()[i].f());
    for (uint32_t i = 0; i < std::min(lists.list16().size(), max_elements); ++i)
        digest.add(lists.list16()[i].f());
    for (uint32_t i = 0; i < std::min(lists.list32().size(), max_elements); ++i)
        digest.add(lists.list32()[i].f());
    for (uint32_t i = 0; i < std::min(lists.list64().size(), max_elements); ++i)
        digest.add(lists.list64()[i].f());
    for (uint32_t i = 0; i < std::min(lists.list_p().size(), max_elements); ++i)
        digest.add(lists.list_p()[i].f());
    auto int32s = lists.int32_list_list();
    for (uint32_t i = 0; i < std::min(int32s.size(), max_elements); ++i)
        add_list(digest, int32s[i]);
    auto texts = lists.text_list_list();
    for (uint32_t i = 0; i < std::min(texts.size(), max_elements); ++i)
        add_list(digest, texts[i]);
    auto structs = lists.struct_list_list();
    for (uint32_t i = 0; i < std::min(structs.size(), max_elements); ++i) {
        for (uint32_t j = 0; j < std::min(structs[i].size(), max_elements); ++j)
            exercise(digest, structs[i][j], max_depth);
    }
}

void exercise(Digest& digest, test_schema::TestUnion::Reader value) {
    auto union0 = value.union0();
    digest.add(union0.which());
    if (union0.is_u0f0sp())
        digest.add(union0.u0f0sp());
    if (union0.is_u0f1s64())
        digest.add(union0.u0f1s64());
    auto union1 = value.union1();
    digest.add(union1.which());
    if (union1.is_u1f2sp())
        digest.add(union1.u1f2sp());
    digest.add(value.union2().u2f0s32());
    digest.add(value.union3().u3f0s1());
    digest.add(value.bit0());
    digest.add(value.byte0());
}

void exercise(Digest& digest, capos_schema::CapGrant::Reader grant) {
    digest.add(grant.name());
    digest.add(grant.interface_id());
    auto source = grant.source();
    digest.add(source.which());
    switch (source.which()) {
    case capos_schema::CapGrant::Source::Which::Kernel:
        digest.add(source.kernel());
        digest.add(is_known(source.kernel()));
        break;
    case capos_schema::CapGrant::Source::Which::Service:
        digest.add(source.service().service());
        digest.add(source.service().export_());
        break;
    default:
        break;
    }
}

void exercise(Digest& digest, capos_schema::SystemManifest::Reader manifest) {
    digest.add(manifest.schema_version());
    for (uint32_t i = 0; i < std::min(manifest.binaries().size(), max_elements); ++i) {
        digest.add(manifest.binaries()[i].name());
        digest.add(manifest.binaries()[i].path());
    }
    auto init = manifest.init();
    digest.add(init.program());
    for (uint32_t i = 0; i < std::min(init.grants().size(), max_elements); ++i)
        exercise(digest, init.grants()[i]);
    for (uint32_t i = 0; i < std::min(init.services().size(), max_elements); ++i) {
        auto service = init.services()[i];
        digest.add(service.name());
        digest.add(service.binary());
        for (uint32_t j = 0; j < std::min(service.grants().size(), max_elements); ++j)
            exercise(digest, service.grants()[j]);
        add_list(digest, service.exports());
        digest.add(service.wait_for_exit());
        digest.add(service.limits().capability_slots());
        digest.add(service.limits().frames());
    }
    digest.add(manifest.kernel().log_level());
    digest.add(manifest.kernel().message_of_the_day());
}

void exercise(Digest& digest, capos_schema::ProcessSpawner::SpawnParams::Reader params) {
    digest.add(params.name());
    digest.add(params.binary());
    for (uint32_t i = 0; i < std::min(params.grants().size(), max_elements); ++i) {
        auto grant = params.grants()[i];
        digest.add(grant.name());
        digest.add(grant.which());
        if (grant.is_capability()) {
            digest.add(grant.capability().has_cap());
            digest.add(grant.capability().cap());
            digest.add(grant.capability().mode());
        }
    }
}

// A message's bytes as one of the two encodings, read under the fuzz limits.
enum class Encoding { Framed, Flat };

class Input {
public:
    Input(std::span<const wire::Word> words, Encoding encoding) : m_words(words) {
        if (encoding == Encoding::Flat) {
            m_segments = std::span<const std::span<const wire::Word>>(&m_words, 1);
            return;
        }
        auto parsed = wire::parse_framed(words, m_storage);
        if (parsed.is_ok())
            m_segments = parsed.value();
        else
            m_segments = {};
    }
    bool ok() const { return !m_segments.empty(); }
    wire::MessageReader reader() const { return wire::MessageReader(m_segments, limits); }

private:
    std::span<const wire::Word> m_words;
    std::array<std::span<const wire::Word>, 256> m_storage;
    std::span<const std::span<const wire::Word>> m_segments;
};

std::array<wire::Word, 1 << 17> copy_buffer;
std::array<wire::Word, 1 << 17> second_copy_buffer;

void run(const Input& input) {
    if (!input.ok())
        return;
    {
        const wire::MessageReader message = input.reader();
        Digest digest;
        exercise(digest, gen::read_root<test_schema::TestAllTypes>(message), 0);
    }
    {
        const wire::MessageReader message = input.reader();
        Digest digest;
        exercise(digest, gen::read_root<test_schema::TestLists>(message));
        exercise(digest, gen::read_root<test_schema::TestUnion>(message));
        exercise(digest, gen::read_root<capos_schema::SystemManifest>(message));
        exercise(digest, gen::read_root<capos_schema::ProcessSpawner::SpawnParams>(message));
        auto exception = gen::read_root<capos_schema::CapException>(message);
        digest.add(exception.type());
        digest.add(exception.message());
    }
    const wire::MessageReader validated = input.reader();
    const bool valid = gen::validate<test_schema::TestAllTypes>(validated) == wire::WireError::None;
    (void)wire::validate(input.reader());
    (void)gen::validate<capos_schema::SystemManifest>(input.reader());

    // The canonical copy reads like the original.
    const wire::MessageReader original = input.reader();
    wire::MessageBuilder copy(copy_buffer);
    copy.set_root(original.root());
    if (original.error() != wire::WireError::None || copy.error() != wire::WireError::None)
        return;
    const wire::MessageReader copied(copy.words(), limits);
    const bool copy_valid =
        gen::validate<test_schema::TestAllTypes>(copied) == wire::WireError::None;
    if (valid != copy_valid)
        std::abort();
    if (valid) {
        const wire::MessageReader first = input.reader();
        const wire::MessageReader second(copy.words(), limits);
        Digest a, b;
        exercise(a, gen::read_root<test_schema::TestAllTypes>(first), 0);
        exercise(b, gen::read_root<test_schema::TestAllTypes>(second), 0);
        if (first.error() == wire::WireError::None && second.error() == wire::WireError::None &&
            a.value() != b.value())
            std::abort();
    }
    // Copying a canonical message changes nothing.
    const wire::MessageReader again(copy.words(), limits);
    wire::MessageBuilder second_copy(second_copy_buffer);
    second_copy.set_root(again.root());
    if (again.error() == wire::WireError::None && second_copy.error() == wire::WireError::None) {
        auto x = copy.words();
        auto y = second_copy.words();
        if (x.size() != y.size() || !std::equal(x.begin(), x.end(), y.begin()))
            std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<wire::Word> words(size / sizeof(wire::Word));
    if (!words.empty())
        std::memcpy(words.data(), data, words.size() * sizeof(wire::Word));
    run(Input(words, Encoding::Framed));
    run(Input(words, Encoding::Flat));
    return 0;
}
