// Cap'n Proto encode and decode, lib/capnp + capnpc-capos against libcapnp, in one
// run (docs/performance.md, "Cap'n Proto encode/decode (host)"). The requirement:
// ours is at least as fast as libcapnp on every figure.
//
// Three messages of schema/capos.capnp, from small to large:
//   write_line  Console.writeLine params: one 40-byte Text;
//   spawn       ProcessSpawner.spawn params: two Texts and a list of four Grants,
//               each a name and a union member (three capabilities, one endpoint);
//   manifest    a SystemManifest: four binaries, init with three grants, three
//               services with grants of every source kind, exports and limits.
//
// encode: build the message. Ours builds into a caller-supplied word buffer,
//   reused across iterations; libcapnp into a MallocMessageBuilder whose first
//   segment is a reused scratch array (no allocation on either side). Both end
//   with the message's words in hand (words() / getSegmentsForOutput()).
// decode: read every field of a flat message. Ours as the kernel does it: a
//   MessageReader over the single segment, capnp::validate() of the whole
//   message, then the generated readers. libcapnp: FlatArrayMessageReader over
//   the framed message (one word of segment table in front) and its generated
//   readers, which check each pointer as it is followed. decode.validate and
//   decode.read time the two halves of ours alone.
//
// Capabilities. libcapnp writes a capability only through a capability table
// (a refcounted ClientHook appended to a vector per message) and reads one only
// into a ClientHook; neither is wire work. To keep that cost out of libcapnp's
// figures, its spawn encoder leaves the Grant's `cap` pointer null and its
// decoder only tests hasCap(), while ours writes and reads the index: ours does
// slightly more work, never less.
//
// Before any benchmark runs, main() checks that both encoders produce the same
// words (but for those cap pointers) and that both decoders read the same
// values, so that the two sides do the same job. Each benchmark then checks its
// own work against that (the message it encoded, the number of fields it read,
// the decoder's verdict) and reports an error when it differs, and main() exits
// 1 when any benchmark reported an error or no iterations; with --require-all
// (the bench.capnp_smoke test) also when a registered benchmark did not run.
#include "lib/capnp/wire.h"
#include "schema/capos.capnp.capos.h" // ours: capos::schema
#include "schema/capos.capnp.h"       // libcapnp's: the global namespace

#include <benchmark/benchmark.h>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace {

namespace wire = ::capos::capnp;
namespace gen = ::capos::gen;
namespace ours = ::capos::schema;

// ---------------------------------------------------------------------------
// The messages' contents, shared by both encoders.

constexpr std::string_view line_text = "[init] started 3 services in 1520 us ok.";
static_assert(line_text.size() == 40);

struct GrantSpec {
    std::string_view name;
    bool new_endpoint; // else a capability
    uint32_t cap;
    bool move;
};
constexpr std::string_view spawn_name = "netstack";
constexpr std::string_view spawn_binary = "boot/netstack";
constexpr std::array<GrantSpec, 4> spawn_grants = {{
    {"console", false, 1, false},
    {"frames", false, 4, false},
    {"log", false, 7, true},
    {"net", true, 0, false},
}};

enum class Source : uint8_t { Kernel, Service, Endpoint };
struct CapGrantSpec {
    std::string_view name;
    uint64_t interface_id;
    Source source;
    uint16_t kernel; // KernelCapability
    std::string_view service;
    std::string_view export_name;
};
struct ServiceSpec {
    std::string_view name;
    std::string_view binary;
    std::vector<CapGrantSpec> grants;
    std::vector<std::string_view> exports;
    bool wait_for_exit;
    uint32_t capability_slots;
    uint32_t outstanding_calls;
    uint64_t queued_bytes;
    uint64_t frames;
};
struct BinarySpec {
    std::string_view name;
    std::string_view path;
};
struct ManifestSpec {
    uint32_t schema_version;
    std::vector<BinarySpec> binaries;
    std::string_view program;
    std::vector<CapGrantSpec> init_grants;
    std::vector<ServiceSpec> services;
    uint16_t log_level; // LogLevel
    std::string_view motd;
};

const ManifestSpec& manifest_spec() {
    static const ManifestSpec spec = {
        .schema_version = 1,
        .binaries = {{"init", "boot/init"},
                     {"logger", "boot/logger"},
                     {"netstack", "boot/netstack"},
                     {"shell", "boot/shell"}},
        .program = "init",
        .init_grants = {{"console", 0, Source::Kernel, 0, {}, {}},
                        {"spawner", 0x9a2b6cd4e5f60718ull, Source::Kernel, 5, {}, {}},
                        {"boot", 0, Source::Kernel, 6, {}, {}}},
        .services = {{"logger",
                      "logger",
                      {{"console", 0, Source::Kernel, 0, {}, {}},
                       {"sink", 0, Source::Endpoint, 0, {}, {}}},
                      {"sink"},
                      false,
                      64,
                      0,
                      0,
                      256},
                     {"netstack",
                      "netstack",
                      {{"log", 0, Source::Service, 0, "logger", "sink"},
                       {"frames", 0, Source::Kernel, 3, {}, {}},
                       {"net", 0, Source::Endpoint, 0, {}, {}}},
                      {"net"},
                      false,
                      0,
                      32,
                      65536,
                      1024},
                     {"shell",
                      "shell",
                      {{"console", 0, Source::Kernel, 0, {}, {}},
                       {"log", 0, Source::Service, 0, "logger", "sink"},
                       {"net", 0x1122334455667788ull, Source::Service, 0, "netstack", "net"},
                       {"spawner", 0, Source::Kernel, 5, {}, {}}},
                      {},
                      true,
                      0,
                      0,
                      0,
                      0}},
        .log_level = 3, // debug
        .motd = "welcome to capOS",
    };
    return spec;
}

// Every word buffer is bigger than any message here.
constexpr size_t buffer_words = 512;

// libcapnp's words (capnp::word, not copyable) over ours (uint64_t): same layout.
static_assert(sizeof(capnp::word) == sizeof(wire::Word));
kj::ArrayPtr<capnp::word> as_mutable_words(std::span<wire::Word> words) {
    return {reinterpret_cast<capnp::word*>(words.data()), words.size()};
}
kj::ArrayPtr<const capnp::word> as_words(std::span<const wire::Word> words) {
    return {reinterpret_cast<const capnp::word*>(words.data()), words.size()};
}

// ---------------------------------------------------------------------------
// Encoders

void encode_ours(ours::Console::WriteLineParams::Builder params) {
    params.set_text(line_text);
}

void encode_ours(ours::ProcessSpawner::SpawnParams::Builder params) {
    params.set_name(spawn_name);
    params.set_binary(spawn_binary);
    auto grants = params.init_grants(spawn_grants.size());
    for (uint32_t i = 0; i < spawn_grants.size(); ++i) {
        const GrantSpec& spec = spawn_grants[i];
        auto grant = grants[i];
        grant.set_name(spec.name);
        if (spec.new_endpoint) {
            grant.set_new_endpoint();
        } else {
            auto capability = grant.init_capability();
            capability.set_cap(spec.cap);
            capability.set_mode(spec.move ? ours::TransferMode::Move : ours::TransferMode::Copy);
        }
    }
}

void encode_ours_cap_grant(ours::CapGrant::Builder grant, const CapGrantSpec& spec) {
    grant.set_name(spec.name);
    grant.set_interface_id(spec.interface_id);
    auto source = grant.source();
    switch (spec.source) {
    case Source::Kernel:
        source.set_kernel(static_cast<ours::KernelCapability>(spec.kernel));
        break;
    case Source::Service: {
        auto service = source.init_service();
        service.set_service(spec.service);
        service.set_export(spec.export_name);
        break;
    }
    case Source::Endpoint:
        source.set_endpoint();
        break;
    }
}

void encode_ours(ours::SystemManifest::Builder manifest) {
    const ManifestSpec& spec = manifest_spec();
    manifest.set_schema_version(spec.schema_version);
    auto binaries = manifest.init_binaries(spec.binaries.size());
    for (uint32_t i = 0; i < spec.binaries.size(); ++i) {
        binaries[i].set_name(spec.binaries[i].name);
        binaries[i].set_path(spec.binaries[i].path);
    }
    auto init = manifest.init_init();
    init.set_program(spec.program);
    auto init_grants = init.init_grants(spec.init_grants.size());
    for (uint32_t i = 0; i < spec.init_grants.size(); ++i)
        encode_ours_cap_grant(init_grants[i], spec.init_grants[i]);
    auto services = init.init_services(spec.services.size());
    for (uint32_t i = 0; i < spec.services.size(); ++i) {
        const ServiceSpec& service_spec = spec.services[i];
        auto service = services[i];
        service.set_name(service_spec.name);
        service.set_binary(service_spec.binary);
        auto grants = service.init_grants(service_spec.grants.size());
        for (uint32_t j = 0; j < service_spec.grants.size(); ++j)
            encode_ours_cap_grant(grants[j], service_spec.grants[j]);
        auto exports = service.init_exports(service_spec.exports.size());
        for (uint32_t j = 0; j < service_spec.exports.size(); ++j)
            exports.set(j, service_spec.exports[j]);
        service.set_wait_for_exit(service_spec.wait_for_exit);
        auto limits = service.init_limits();
        limits.set_capability_slots(service_spec.capability_slots);
        limits.set_outstanding_calls(service_spec.outstanding_calls);
        limits.set_queued_bytes(service_spec.queued_bytes);
        limits.set_frames(service_spec.frames);
    }
    auto kernel = manifest.init_kernel();
    kernel.set_log_level(static_cast<ours::LogLevel>(spec.log_level));
    kernel.set_message_of_the_day(spec.motd);
}

capnp::Text::Reader text(std::string_view value) {
    return capnp::Text::Reader(value.data(), value.size());
}

void encode_libcapnp(::Console::WriteLineParams::Builder params) {
    params.setText(text(line_text));
}

void encode_libcapnp(::ProcessSpawner::SpawnParams::Builder params) {
    params.setName(text(spawn_name));
    params.setBinary(text(spawn_binary));
    auto grants = params.initGrants(spawn_grants.size());
    for (uint32_t i = 0; i < spawn_grants.size(); ++i) {
        const GrantSpec& spec = spawn_grants[i];
        auto grant = grants[i];
        grant.setName(text(spec.name));
        if (spec.new_endpoint) {
            grant.setNewEndpoint();
        } else {
            // No setCap(): see the file comment.
            auto capability = grant.initCapability();
            capability.setMode(spec.move ? ::TransferMode::MOVE : ::TransferMode::COPY);
        }
    }
}

void encode_libcapnp_cap_grant(::CapGrant::Builder grant, const CapGrantSpec& spec) {
    grant.setName(text(spec.name));
    grant.setInterfaceId(spec.interface_id);
    auto source = grant.getSource();
    switch (spec.source) {
    case Source::Kernel:
        source.setKernel(static_cast<::KernelCapability>(spec.kernel));
        break;
    case Source::Service: {
        auto service = source.initService();
        service.setService(text(spec.service));
        service.setExport(text(spec.export_name));
        break;
    }
    case Source::Endpoint:
        source.setEndpoint();
        break;
    }
}

void encode_libcapnp(::SystemManifest::Builder manifest) {
    const ManifestSpec& spec = manifest_spec();
    manifest.setSchemaVersion(spec.schema_version);
    auto binaries = manifest.initBinaries(spec.binaries.size());
    for (uint32_t i = 0; i < spec.binaries.size(); ++i) {
        binaries[i].setName(text(spec.binaries[i].name));
        binaries[i].setPath(text(spec.binaries[i].path));
    }
    auto init = manifest.initInit();
    init.setProgram(text(spec.program));
    auto init_grants = init.initGrants(spec.init_grants.size());
    for (uint32_t i = 0; i < spec.init_grants.size(); ++i)
        encode_libcapnp_cap_grant(init_grants[i], spec.init_grants[i]);
    auto services = init.initServices(spec.services.size());
    for (uint32_t i = 0; i < spec.services.size(); ++i) {
        const ServiceSpec& service_spec = spec.services[i];
        auto service = services[i];
        service.setName(text(service_spec.name));
        service.setBinary(text(service_spec.binary));
        auto grants = service.initGrants(service_spec.grants.size());
        for (uint32_t j = 0; j < service_spec.grants.size(); ++j)
            encode_libcapnp_cap_grant(grants[j], service_spec.grants[j]);
        auto exports = service.initExports(service_spec.exports.size());
        for (uint32_t j = 0; j < service_spec.exports.size(); ++j)
            exports.set(j, text(service_spec.exports[j]));
        service.setWaitForExit(service_spec.wait_for_exit);
        auto limits = service.initLimits();
        limits.setCapabilitySlots(service_spec.capability_slots);
        limits.setOutstandingCalls(service_spec.outstanding_calls);
        limits.setQueuedBytes(service_spec.queued_bytes);
        limits.setFrames(service_spec.frames);
    }
    auto kernel = manifest.initKernel();
    kernel.setLogLevel(static_cast<::LogLevel>(spec.log_level));
    kernel.setMessageOfTheDay(text(spec.motd));
}

// ---------------------------------------------------------------------------
// Decoders: every field, each value handed to a Sink. The benchmarks' sink
// keeps the values alive for the optimizer (DoNotOptimize) and counts them (the
// same small cost on both sides), so that a decoder that skipped fields shows;
// the start-up check's sink records them, to compare the two decoders.

struct KeepSink {
    void text(const char* data, size_t size) {
        benchmark::DoNotOptimize(data);
        benchmark::DoNotOptimize(size);
        ++fields;
    }
    void value(uint64_t value) {
        benchmark::DoNotOptimize(value);
        ++fields;
    }
    uint64_t fields = 0;
};

struct RecordSink {
    void text(const char* data, size_t size) { values.emplace_back(data, size); }
    void value(uint64_t value) { values.push_back(std::to_string(value)); }
    std::vector<std::string> values;
};

template <typename Sink>
void decode_ours(ours::Console::WriteLineParams::Reader params, Sink& sink) {
    std::string_view line = params.text();
    sink.text(line.data(), line.size());
}

template <typename Sink>
void decode_ours(ours::ProcessSpawner::SpawnParams::Reader params, Sink& sink) {
    std::string_view name = params.name();
    sink.text(name.data(), name.size());
    std::string_view binary = params.binary();
    sink.text(binary.data(), binary.size());
    for (auto grant : params.grants()) {
        std::string_view grant_name = grant.name();
        sink.text(grant_name.data(), grant_name.size());
        auto which = grant.which();
        sink.value(static_cast<uint64_t>(which));
        if (which == ours::Grant::Which::Capability) {
            auto capability = grant.capability();
            sink.value(capability.cap() != wire::PointerReader::no_capability);
            sink.value(static_cast<uint64_t>(capability.mode()));
        }
    }
}

template <typename Sink>
void decode_ours_cap_grant(ours::CapGrant::Reader grant, Sink& sink) {
    std::string_view name = grant.name();
    sink.text(name.data(), name.size());
    sink.value(grant.interface_id());
    auto source = grant.source();
    auto which = source.which();
    sink.value(static_cast<uint64_t>(which));
    switch (which) {
    case ours::CapGrant::Source::Which::Kernel:
        sink.value(static_cast<uint64_t>(source.kernel()));
        break;
    case ours::CapGrant::Source::Which::Service: {
        auto service = source.service();
        std::string_view from = service.service();
        sink.text(from.data(), from.size());
        std::string_view export_name = service.export_();
        sink.text(export_name.data(), export_name.size());
        break;
    }
    case ours::CapGrant::Source::Which::Endpoint:
    case ours::CapGrant::Source::Which::Supervisor:
        break;
    case ours::CapGrant::Source::Which::Device: {
        auto device = source.device();
        sink.value(static_cast<uint64_t>(device.which()));
        if (device.is_identity()) {
            sink.value(device.identity().vendor_id());
            sink.value(device.identity().device_id());
            sink.value(device.identity().index());
        } else {
            sink.value(device.address().segment());
            sink.value(device.address().bus());
            sink.value(device.address().device());
            sink.value(device.address().function());
        }
        sink.value(device.unisolated_dma());
        break;
    }
    }
}

template <typename Sink>
void decode_ours(ours::SystemManifest::Reader manifest, Sink& sink) {
    sink.value(manifest.schema_version());
    for (auto binary : manifest.binaries()) {
        std::string_view name = binary.name();
        sink.text(name.data(), name.size());
        std::string_view path = binary.path();
        sink.text(path.data(), path.size());
    }
    auto init = manifest.init();
    std::string_view program = init.program();
    sink.text(program.data(), program.size());
    for (auto grant : init.grants())
        decode_ours_cap_grant(grant, sink);
    for (auto service : init.services()) {
        std::string_view name = service.name();
        sink.text(name.data(), name.size());
        std::string_view binary = service.binary();
        sink.text(binary.data(), binary.size());
        for (auto grant : service.grants())
            decode_ours_cap_grant(grant, sink);
        for (std::string_view export_name : service.exports())
            sink.text(export_name.data(), export_name.size());
        sink.value(service.wait_for_exit());
        auto limits = service.limits();
        sink.value(limits.capability_slots());
        sink.value(limits.outstanding_calls());
        sink.value(limits.queued_bytes());
        sink.value(limits.frames());
    }
    auto kernel = manifest.kernel();
    sink.value(static_cast<uint64_t>(kernel.log_level()));
    std::string_view motd = kernel.message_of_the_day();
    sink.text(motd.data(), motd.size());
}

template <typename Sink>
void decode_libcapnp(::Console::WriteLineParams::Reader params, Sink& sink) {
    auto line = params.getText();
    sink.text(line.begin(), line.size());
}

template <typename Sink>
void decode_libcapnp(::ProcessSpawner::SpawnParams::Reader params, Sink& sink) {
    auto name = params.getName();
    sink.text(name.begin(), name.size());
    auto binary = params.getBinary();
    sink.text(binary.begin(), binary.size());
    for (auto grant : params.getGrants()) {
        auto grant_name = grant.getName();
        sink.text(grant_name.begin(), grant_name.size());
        auto which = grant.which();
        sink.value(static_cast<uint64_t>(which));
        if (which == ::Grant::CAPABILITY) {
            auto capability = grant.getCapability();
            // No getCap(): see the file comment.
            sink.value(capability.hasCap());
            sink.value(static_cast<uint64_t>(capability.getMode()));
        }
    }
}

template <typename Sink>
void decode_libcapnp_cap_grant(::CapGrant::Reader grant, Sink& sink) {
    auto name = grant.getName();
    sink.text(name.begin(), name.size());
    sink.value(grant.getInterfaceId());
    auto source = grant.getSource();
    auto which = source.which();
    sink.value(static_cast<uint64_t>(which));
    switch (which) {
    case ::CapGrant::Source::KERNEL:
        sink.value(static_cast<uint64_t>(source.getKernel()));
        break;
    case ::CapGrant::Source::SERVICE: {
        auto service = source.getService();
        auto from = service.getService();
        sink.text(from.begin(), from.size());
        auto export_name = service.getExport();
        sink.text(export_name.begin(), export_name.size());
        break;
    }
    case ::CapGrant::Source::ENDPOINT:
    case ::CapGrant::Source::SUPERVISOR:
        break;
    case ::CapGrant::Source::DEVICE: {
        auto device = source.getDevice();
        sink.value(static_cast<uint64_t>(device.which()));
        if (device.isIdentity()) {
            sink.value(device.getIdentity().getVendorId());
            sink.value(device.getIdentity().getDeviceId());
            sink.value(device.getIdentity().getIndex());
        } else {
            sink.value(device.getAddress().getSegment());
            sink.value(device.getAddress().getBus());
            sink.value(device.getAddress().getDevice());
            sink.value(device.getAddress().getFunction());
        }
        sink.value(device.getUnisolatedDma());
        break;
    }
    }
}

template <typename Sink>
void decode_libcapnp(::SystemManifest::Reader manifest, Sink& sink) {
    sink.value(manifest.getSchemaVersion());
    for (auto binary : manifest.getBinaries()) {
        auto name = binary.getName();
        sink.text(name.begin(), name.size());
        auto path = binary.getPath();
        sink.text(path.begin(), path.size());
    }
    auto init = manifest.getInit();
    auto program = init.getProgram();
    sink.text(program.begin(), program.size());
    for (auto grant : init.getGrants())
        decode_libcapnp_cap_grant(grant, sink);
    for (auto service : init.getServices()) {
        auto name = service.getName();
        sink.text(name.begin(), name.size());
        auto binary = service.getBinary();
        sink.text(binary.begin(), binary.size());
        for (auto grant : service.getGrants())
            decode_libcapnp_cap_grant(grant, sink);
        for (auto export_name : service.getExports())
            sink.text(export_name.begin(), export_name.size());
        sink.value(service.getWaitForExit());
        auto limits = service.getLimits();
        sink.value(limits.getCapabilitySlots());
        sink.value(limits.getOutstandingCalls());
        sink.value(limits.getQueuedBytes());
        sink.value(limits.getFrames());
    }
    auto kernel = manifest.getKernel();
    sink.value(static_cast<uint64_t>(kernel.getLogLevel()));
    auto motd = kernel.getMessageOfTheDay();
    sink.text(motd.begin(), motd.size());
}

// ---------------------------------------------------------------------------
// One message type on both sides.

template <typename O, typename T>
struct Case {
    using Ours = O;
    using Theirs = T;

    // Ours: one encode; the message's words, or empty on error.
    static std::span<const wire::Word> build_ours(wire::MessageBuilder& builder) {
        encode_ours(gen::init_root<Ours>(builder));
        if (builder.error() != wire::WireError::None)
            return {};
        return builder.words();
    }

    // Ours, as the kernel reads params: validate, then read. False when invalid.
    template <typename Sink>
    static bool read_ours(std::span<const wire::Word> words, Sink& sink) {
        wire::MessageReader message(words);
        if (wire::validate(message) != wire::WireError::None)
            return false;
        decode_ours(gen::read_root<Ours>(message), sink);
        return message.error() == wire::WireError::None;
    }

    template <typename Sink>
    static void read_libcapnp(kj::ArrayPtr<const capnp::word> framed, Sink& sink) {
        capnp::FlatArrayMessageReader message(framed);
        decode_libcapnp(message.getRoot<Theirs>(), sink);
    }
};

using WriteLine = Case<ours::Console::WriteLineParams, ::Console::WriteLineParams>;
using Spawn = Case<ours::ProcessSpawner::SpawnParams, ::ProcessSpawner::SpawnParams>;
using Manifest = Case<ours::SystemManifest, ::SystemManifest>;

// What main() built and checked once for one case: the decoders' inputs and
// what each benchmark's work must match.
struct Inputs {
    std::vector<wire::Word> ours;              // the single segment
    std::vector<wire::Word> libcapnp;          // framed: segment table, then the segment
    std::vector<wire::Word> libcapnp_encoding; // libcapnp's own words (no cap pointers)
    uint64_t fields = 0;                       // values a decoder hands its sink
};

bool same_words(std::span<const wire::Word> words, const std::vector<wire::Word>& expected) {
    return words.size() == expected.size() &&
           std::memcmp(words.data(), expected.data(), words.size_bytes()) == 0;
}

// After a decode benchmark's loop: an error unless every iteration read every field.
void check_fields(benchmark::State& state, const KeepSink& sink, const Inputs* input) {
    uint64_t expected = input->fields * static_cast<uint64_t>(state.iterations());
    if (!state.error_occurred() && sink.fields != expected) {
        std::string message = "read " + std::to_string(sink.fields) + " fields in " +
                              std::to_string(state.iterations()) + " iterations, expected " +
                              std::to_string(input->fields) + " each";
        state.SkipWithError(message.c_str());
    }
}

template <typename C>
void bench_encode_ours(benchmark::State& state, const Inputs* input) {
    std::array<wire::Word, buffer_words> buffer{};
    std::span<const wire::Word> words;
    for (auto _ : state) {
        wire::MessageBuilder builder(buffer);
        words = C::build_ours(builder);
        benchmark::DoNotOptimize(words.data());
        benchmark::DoNotOptimize(words.size());
        benchmark::ClobberMemory();
    }
    // The last iteration's message is still in the buffer.
    if (!same_words(words, input->ours))
        state.SkipWithError("the encoded message is not the one checked against libcapnp");
    state.SetItemsProcessed(state.iterations());
}

template <typename C>
void bench_encode_libcapnp(benchmark::State& state, const Inputs* input) {
    std::array<wire::Word, buffer_words> scratch{}; // zeroed, as libcapnp requires
    kj::ArrayPtr<capnp::word> first_segment = as_mutable_words(scratch);
    size_t words = 0;
    for (auto _ : state) {
        // Zeroes what it used on destruction, ready for the next iteration.
        capnp::MallocMessageBuilder message(first_segment);
        encode_libcapnp(message.initRoot<typename C::Theirs>());
        auto segments = message.getSegmentsForOutput();
        benchmark::DoNotOptimize(segments[0].begin());
        benchmark::DoNotOptimize(segments[0].size());
        benchmark::ClobberMemory();
        words = segments.size() == 1 ? segments[0].size() : 0;
    }
    // The builder is gone with its iteration: build once more, untimed, to compare.
    capnp::MallocMessageBuilder message(first_segment);
    encode_libcapnp(message.initRoot<typename C::Theirs>());
    auto segments = message.getSegmentsForOutput();
    bool same = segments.size() == 1 && words == input->libcapnp_encoding.size() &&
                same_words(std::span<const wire::Word>(
                               reinterpret_cast<const wire::Word*>(segments[0].begin()),
                               segments[0].size()),
                           input->libcapnp_encoding);
    if (!same)
        state.SkipWithError("libcapnp's message is not the one checked against ours");
    state.SetItemsProcessed(state.iterations());
}

template <typename C>
void bench_decode_ours(benchmark::State& state, const Inputs* input) {
    KeepSink sink;
    for (auto _ : state) {
        bool ok = C::read_ours(input->ours, sink);
        if (!ok) {
            state.SkipWithError("our decoder rejected the message");
            break;
        }
    }
    check_fields(state, sink, input);
    state.SetItemsProcessed(state.iterations());
}

// The two halves of our decode, reported on their own (no libcapnp counterpart:
// libcapnp checks each pointer only as it is read).
template <typename C>
void bench_validate_ours(benchmark::State& state, const Inputs* input) {
    for (auto _ : state) {
        wire::MessageReader message(input->ours);
        wire::WireError error = wire::validate(message);
        benchmark::DoNotOptimize(error);
        if (error != wire::WireError::None) {
            state.SkipWithError("validate rejected the message");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

template <typename C>
void bench_read_ours(benchmark::State& state, const Inputs* input) {
    KeepSink sink;
    for (auto _ : state) {
        wire::MessageReader message(input->ours);
        decode_ours(gen::read_root<typename C::Ours>(message), sink);
        benchmark::DoNotOptimize(message.error());
    }
    check_fields(state, sink, input);
    state.SetItemsProcessed(state.iterations());
}

template <typename C>
void bench_decode_libcapnp(benchmark::State& state, const Inputs* input) {
    KeepSink sink;
    kj::ArrayPtr<const capnp::word> framed = as_words(std::span<const wire::Word>(input->libcapnp));
    for (auto _ : state)
        C::read_libcapnp(framed, sink);
    check_fields(state, sink, input);
    state.SetItemsProcessed(state.iterations());
}

// Builds the inputs of one case and checks that both sides agree; false (with a
// message on stderr) when they do not.
template <typename C>
bool prepare(const char* name, Inputs& inputs) {
    std::array<wire::Word, buffer_words> buffer{};
    wire::MessageBuilder builder(buffer);
    std::span<const wire::Word> ours_words = C::build_ours(builder);
    if (ours_words.empty()) {
        std::fprintf(stderr, "%s: our encoder failed: %s\n", name,
                     wire::to_string(builder.error()));
        return false;
    }

    capnp::MallocMessageBuilder message;
    encode_libcapnp(message.initRoot<typename C::Theirs>());
    auto segments = message.getSegmentsForOutput();
    if (segments.size() != 1 || segments[0].size() != ours_words.size()) {
        std::fprintf(stderr, "%s: libcapnp's message has another size (%zu segments)\n", name,
                     segments.size());
        return false;
    }
    // The same words, but for the capability pointers only ours writes.
    for (size_t i = 0; i < ours_words.size(); ++i) {
        wire::Word theirs;
        std::memcpy(&theirs, &segments[0][i], sizeof theirs);
        bool cap_only_ours = theirs == 0 && static_cast<uint32_t>(ours_words[i]) == 3;
        if (theirs != ours_words[i] && !cap_only_ours) {
            std::fprintf(stderr, "%s: encodings differ at word %zu\n", name, i);
            return false;
        }
    }

    inputs.ours.assign(ours_words.begin(), ours_words.end());
    inputs.libcapnp_encoding.resize(segments[0].size());
    std::memcpy(inputs.libcapnp_encoding.data(), segments[0].begin(),
                segments[0].size() * sizeof(capnp::word));
    // libcapnp decodes our encoding (capability pointers and all), framed.
    kj::Array<capnp::word> framed = capnp::messageToFlatArray(segments);
    inputs.libcapnp.resize(framed.size());
    std::memcpy(inputs.libcapnp.data(), framed.begin(), framed.size() * sizeof(capnp::word));
    std::memcpy(inputs.libcapnp.data() + 1, ours_words.data(), ours_words.size_bytes());

    RecordSink ours_values;
    RecordSink their_values;
    if (!C::read_ours(inputs.ours, ours_values)) {
        std::fprintf(stderr, "%s: our decoder rejected the message\n", name);
        return false;
    }
    C::read_libcapnp(as_words(std::span<const wire::Word>(inputs.libcapnp)), their_values);
    if (ours_values.values != their_values.values || ours_values.values.empty()) {
        std::fprintf(stderr, "%s: the decoders read different values\n", name);
        return false;
    }
    inputs.fields = ours_values.values.size();
    return true;
}

// Every registered benchmark's name, for --require-all.
std::vector<std::string>& registered() {
    static std::vector<std::string> names;
    return names;
}

template <typename... Args>
void register_benchmark(const std::string& name, Args&&... args) {
    benchmark::RegisterBenchmark(name.c_str(), std::forward<Args>(args)...);
    registered().push_back(name);
}

template <typename C>
bool register_case(const char* name, Inputs& inputs) {
    if (!prepare<C>(name, inputs))
        return false;
    std::string prefix = std::string("capnp/") + "encode/" + name + "/";
    register_benchmark(prefix + "ours", bench_encode_ours<C>, &inputs);
    register_benchmark(prefix + "libcapnp", bench_encode_libcapnp<C>, &inputs);
    prefix = std::string("capnp/") + "decode/" + name + "/";
    register_benchmark(prefix + "ours", bench_decode_ours<C>, &inputs);
    register_benchmark(prefix + "libcapnp", bench_decode_libcapnp<C>, &inputs);
    register_benchmark(std::string("capnp/decode.validate/") + name + "/ours",
                       bench_validate_ours<C>, &inputs);
    register_benchmark(std::string("capnp/decode.read/") + name + "/ours", bench_read_ours<C>,
                       &inputs);
    return true;
}

// The console output, plus a record of what each benchmark reported: main()
// judges the run from it.
class CheckingReporter : public benchmark::ConsoleReporter {
public:
    // Colours only on a terminal, as Google Benchmark's own default.
    CheckingReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Color : OO_None) {}

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& run : runs) {
            const std::string& name = run.run_name.function_name;
            ++m_reported[name];
            if (run.error_occurred) {
                m_problems.push_back(name + ": " + run.error_message);
                continue;
            }
            if (run.run_type != Run::RT_Iteration)
                continue;
            auto items = run.counters.find("items_per_second");
            if (run.iterations <= 0 || items == run.counters.end() || !(items->second.value > 0))
                m_problems.push_back(name + ": no iterations or no items per second reported");
        }
        ConsoleReporter::ReportRuns(runs);
    }

    // What went wrong, one line each; empty when the run is good.
    std::vector<std::string> problems(bool require_all) const {
        std::vector<std::string> problems = m_problems;
        if (require_all) {
            for (const std::string& name : registered()) {
                if (m_reported.find(name) == m_reported.end())
                    problems.push_back(name + ": did not run");
            }
        }
        return problems;
    }

private:
    std::map<std::string, int> m_reported;
    std::vector<std::string> m_problems;
};

} // namespace

int main(int argc, char** argv) {
    static Inputs write_line;
    static Inputs spawn;
    static Inputs manifest;
    bool ok = register_case<WriteLine>("write_line", write_line) &&
              register_case<Spawn>("spawn", spawn) && register_case<Manifest>("manifest", manifest);
    if (!ok)
        return 1;

    // Our own option, taken out before Google Benchmark sees the arguments.
    bool require_all = false;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--require-all") == 0)
            require_all = true;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;

    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    CheckingReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    std::vector<std::string> problems = reporter.problems(require_all);
    for (const std::string& problem : problems)
        std::fprintf(stderr, "capnp_bench: %s\n", problem.c_str());
    return problems.empty() ? 0 : 1;
}
