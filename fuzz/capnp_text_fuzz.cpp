// Fuzzes the schema-driven text codec (lib/capnp/text.h) on struct types of
// schema/capos.capnp and of tests/host/capnp_text_test.capnp (every field kind,
// unions, groups, defaults). The first byte picks the type and what to do with
// the rest (see `Mode`):
//   - parse it as text (parenthesized, or as a bare field list). Whatever
//     parses must print (in both forms of Data, capabilities as `@cN`) and
//     parse back to the same canonical words; errors must lie within the text
//     and format;
//   - read it as a message's words and print them, which must not fail but by
//     returning an error.
// The message and output buffers are heap blocks of their exact size, so that
// a write past either is an AddressSanitizer report. Crashes, sanitizer
// reports and broken properties are the findings.
#include "lib/capnp/schema_set.h"
#include "lib/capnp/text.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace capos::capnp;

enum class Mode { Parenthesized, Fields, Words };

// A CodeGeneratorRequest compiled at build time (fuzz/CMakeLists.txt).
struct Request {
    std::vector<Word> words;
    std::span<const Word> segments[64];
    std::optional<SchemaSet> set;
};

Request* load(const char* path) {
    FILE* file = fopen(path, "rb");
    if (file == nullptr) {
        fprintf(stderr, "capnp_text_fuzz: cannot open %s\n", path);
        abort();
    }
    auto* request = new Request;
    Word word;
    while (fread(&word, sizeof(word), 1, file) == 1)
        request->words.push_back(word);
    fclose(file);
    auto segments = parse_framed(request->words, request->segments);
    if (segments.is_error())
        abort();
    auto set = SchemaSet::create(segments.value());
    if (set.is_error())
        abort();
    request->set.emplace(set.release_value());
    return request;
}

struct Target {
    const SchemaSet* set;
    StructSchema type;
};

std::vector<Target>* targets;

// `@cN` names capability N; `@w...` is one of the wrong interface.
ResolvedCapability resolve(void*, std::string_view name, uint64_t) {
    if (name.size() > 1 && name[0] == 'w')
        return {CapabilityLookup::WrongInterface, 0};
    if (name.size() < 2 || name.size() > 10 || name[0] != 'c')
        return {CapabilityLookup::Unknown, 0};
    uint32_t index = 0;
    for (char c : name.substr(1)) {
        if (c < '0' || c > '9')
            return {CapabilityLookup::Unknown, 0};
        index = index * 10 + static_cast<uint32_t>(c - '0');
    }
    return {CapabilityLookup::Found, index};
}

void print_name(void*, TextSink& sink, uint32_t index, uint64_t) {
    sink.write("@c");
    sink.write_unsigned(index);
}

// Buffers allocated once, of exactly these sizes. Messages: the parse, its
// canonical copy, the parse of the printed text, and its canonical copy.
constexpr size_t message_words = 1 << 17;
constexpr size_t output_bytes = 1 << 19;
enum Buffer { Parsed, ParsedCanonical, Reparsed, ReparsedCanonical };

std::vector<Word>& buffer(Buffer which) {
    static std::vector<Word> buffers[4] = {
        std::vector<Word>(message_words), std::vector<Word>(message_words),
        std::vector<Word>(message_words), std::vector<Word>(message_words)};
    return buffers[which];
}

std::vector<char>& output() {
    static std::vector<char> bytes(output_bytes);
    return bytes;
}

// The canonical form of the message in `words`, copied into buffer `which`.
std::span<const Word> canonical(std::span<const Word> words, Buffer which) {
    MessageReader reader(words);
    MessageBuilder builder(buffer(which));
    builder.set_root(reader.root());
    if (builder.error() != WireError::None || reader.error() != WireError::None)
        abort();
    return builder.words();
}

capos::Result<void, TextError> parse(const Target& target, std::string_view text, Mode mode,
                                     MessageBuilder& builder, size_t max_input) {
    ParseOptions options;
    options.form = mode == Mode::Fields ? TextForm::Fields : TextForm::Parenthesized;
    options.capabilities = CapabilityResolver{resolve, nullptr};
    options.limits.max_input = max_input;
    return parse_text(*target.set, target.type, text, builder, options);
}

// Prints `words` and parses the text back: the same canonical words.
void round_trip(const Target& target, std::span<const Word> words, DataFormat data) {
    MessageReader reader(words);
    TextSink sink(output());
    PrintOptions options;
    options.data = data;
    options.capabilities = CapabilityPrinter{print_name, nullptr};
    if (print_text(*target.set, target.type, reader, sink, options).is_error())
        abort(); // we wrote it: it prints
    if (sink.truncated())
        return;
    MessageBuilder builder(buffer(Reparsed));
    auto again = parse(target, sink.text(), Mode::Parenthesized, builder, output_bytes);
    if (again.is_error()) {
        char line[256];
        size_t length = format_error(again.error(), line);
        fprintf(stderr, "printed text does not parse: %.*s\n%.*s\n", static_cast<int>(length), line,
                static_cast<int>(sink.text().size()), sink.text().data());
        abort();
    }
    std::span<const Word> reparsed = canonical(builder.words(), ReparsedCanonical);
    if (reparsed.size() != words.size() ||
        memcmp(reparsed.data(), words.data(), words.size() * sizeof(Word)) != 0) {
        fprintf(stderr, "printed text parses to other words: %.*s\n",
                static_cast<int>(sink.text().size()), sink.text().data());
        abort();
    }
}

void parse_and_print(const Target& target, std::string_view text, Mode mode) {
    MessageBuilder builder(buffer(Parsed));
    auto parsed = parse(target, text, mode, builder, TextLimits{}.max_input);
    if (parsed.is_error()) {
        if (parsed.error().offset > text.size())
            abort();
        char line[128];
        if (format_error(parsed.error(), line) == 0)
            abort();
        return;
    }
    if (builder.error() != WireError::None)
        abort();
    std::span<const Word> words = canonical(builder.words(), ParsedCanonical);
    round_trip(target, words, DataFormat::Hex);
    round_trip(target, words, DataFormat::Escaped);
}

void print_words(const Target& target, const uint8_t* data, size_t size) {
    std::vector<Word> words(size / sizeof(Word));
    if (!words.empty())
        memcpy(words.data(), data, words.size() * sizeof(Word));
    MessageReader reader(words, ReaderLimits::for_message(words.size()));
    TextSink sink(output());
    (void)print_text(*target.set, target.type, reader, sink).is_ok();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    Request* capos = load(CAPNP_TEXT_REQUESTS "/capos.request");
    Request* test = load(CAPNP_TEXT_REQUESTS "/test.request");
    targets = new std::vector<Target>;
    auto add = [](Request* request, const char* name) {
        auto type = request->set->find_struct(std::string_view(name));
        if (type.is_error()) {
            fprintf(stderr, "capnp_text_fuzz: no struct %s\n", name);
            abort();
        }
        targets->push_back(Target{&*request->set, type.value()});
    };
    // Eight, so that the seeds' first bytes pick them readably (CMakeLists.txt).
    add(test, "AllTypes");
    add(test, "Unions");
    add(test, "Tree");
    add(test, "Defaults");
    add(capos, "ProcessSpawner.spawn$Params");
    add(capos, "SystemManifest");
    add(capos, "ExitStatus");
    add(capos, "LogReader.read$Results");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const Target& target = (*targets)[data[0] % targets->size()];
    Mode mode;
    switch ((data[0] / targets->size()) % 4) {
    case 2:
        mode = Mode::Fields;
        break;
    case 3:
        mode = Mode::Words;
        break;
    default:
        mode = Mode::Parenthesized;
        break;
    }
    if (mode == Mode::Words)
        print_words(target, data + 1, size - 1);
    else
        parse_and_print(target, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1),
                        mode);
    return 0;
}
