// lib/manifest: what a boot manifest may say, checked before anything boots;
// how its framed bytes are read (read.h); the kernel-capability table
// (kernel_sources.h); the limits on names and counts and their text (limits.h).
#include "abi/args.h"
#include "abi/limits.h"
#include "lib/capnp/wire.h"
#include "lib/manifest/read.h"
#include "lib/manifest/validate.h"
#include "user/tests/common/shared_levels.h"
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <vector>

namespace capos::manifest {
namespace {

using schema::CapGrant;
using schema::KernelCapability;

// Builds manifests the way the tests need them: init ("init" binary) holding
// `init_kernel`, then services given as simple descriptions.
// A PCI function as a device grant names it (schema DeviceSelector).
struct DeviceSpec {
    bool by_address = false;
    uint16_t vendor = 0, device = 0, index = 0; // by identity
    uint16_t segment = 0;                       // by address
    uint8_t bus = 0, slot = 0, function = 0;
    bool unisolated_dma = false;
};
DeviceSpec identity(uint16_t vendor, uint16_t device, uint16_t index = 0) {
    DeviceSpec d;
    d.vendor = vendor;
    d.device = device;
    d.index = index;
    return d;
}
DeviceSpec address(uint16_t segment, uint8_t bus, uint8_t slot, uint8_t function) {
    DeviceSpec d;
    d.by_address = true;
    d.segment = segment;
    d.bus = bus;
    d.slot = slot;
    d.function = function;
    return d;
}

struct GrantSpec {
    std::string name;
    enum Kind { Kernel, Service, Endpoint, Device, Supervisor } kind = Kernel;
    KernelCapability kernel = KernelCapability::Console;
    std::string service, exported;
    DeviceSpec device;
    uint64_t interface_id = 0;
};
GrantSpec kernel_grant(std::string name, KernelCapability kind) {
    GrantSpec g;
    g.name = std::move(name);
    g.kind = GrantSpec::Kernel;
    g.kernel = kind;
    return g;
}
GrantSpec endpoint_grant(std::string name) {
    GrantSpec g;
    g.name = std::move(name);
    g.kind = GrantSpec::Endpoint;
    return g;
}
GrantSpec import_grant(std::string name, std::string service, std::string exported) {
    GrantSpec g;
    g.name = std::move(name);
    g.kind = GrantSpec::Service;
    g.service = std::move(service);
    g.exported = std::move(exported);
    return g;
}

GrantSpec device_grant(std::string name, DeviceSpec device) {
    GrantSpec g;
    g.name = std::move(name);
    g.kind = GrantSpec::Device;
    g.device = device;
    return g;
}

GrantSpec supervisor_grant(std::string name) {
    GrantSpec g;
    g.name = std::move(name);
    g.kind = GrantSpec::Supervisor;
    return g;
}

struct ServiceSpec {
    std::string name, binary;
    std::vector<GrantSpec> grants;
    std::vector<std::string> exports;
};

// A service's ResourceLimits as written in a manifest (0: the default).
struct LimitsSpec {
    uint32_t capability_slots = 0;
    uint32_t outstanding_calls = 0;
    uint64_t queued_bytes = 0;
    uint64_t frames = 0;
};

class ManifestTest : public ::testing::Test {
protected:
    std::vector<std::string> binaries{"init", "server", "client"};
    std::vector<GrantSpec> init_grants{kernel_grant("console", KernelCapability::Console),
                                       kernel_grant("spawner", KernelCapability::ProcessSpawner)};
    std::vector<ServiceSpec> services;
    std::map<size_t, LimitsSpec> service_limits;             // by index into services
    std::map<size_t, std::vector<std::string>> service_args; // by index into services
    std::string init_program = "init";
    uint32_t version = schema::current_schema_version;

    static void fill_grant(CapGrant::Builder out, const GrantSpec& g) {
        out.set_name(g.name);
        out.set_interface_id(g.interface_id);
        auto source = out.source();
        switch (g.kind) {
        case GrantSpec::Kernel:
            source.set_kernel(g.kernel);
            break;
        case GrantSpec::Service: {
            auto service = source.init_service();
            service.set_service(g.service);
            service.set_export(g.exported);
            break;
        }
        case GrantSpec::Endpoint:
            source.set_endpoint();
            break;
        case GrantSpec::Supervisor:
            source.set_supervisor();
            break;
        case GrantSpec::Device: {
            auto selector = source.init_device();
            const DeviceSpec& d = g.device;
            if (d.by_address) {
                auto at = selector.init_address();
                at.set_segment(d.segment);
                at.set_bus(d.bus);
                at.set_device(d.slot);
                at.set_function(d.function);
            } else {
                auto id = selector.init_identity();
                id.set_vendor_id(d.vendor);
                id.set_device_id(d.device);
                id.set_index(d.index);
            }
            selector.set_unisolated_dma(d.unisolated_dma);
            break;
        }
        }
    }

    Result<void, ManifestError> check() {
        std::span<const capnp::Word> words = build();
        m_reader.emplace(words);
        return validate(schema::SystemManifest::Reader(m_reader->root()));
    }

    // The manifest as `capnp eval --binary` writes it: a segment table (one
    // segment), then the segment.
    std::vector<capnp::Word> framed() {
        std::span<const capnp::Word> words = build();
        std::vector<capnp::Word> out{capnp::Word{words.size()} << 32};
        out.insert(out.end(), words.begin(), words.end());
        return out;
    }

    // The manifest the members describe, as one segment.
    std::span<const capnp::Word> build() {
        capnp::MessageBuilder message(m_buffer);
        schema::SystemManifest::Builder root(message.init_root(
            schema::SystemManifest::data_words, schema::SystemManifest::pointer_count));
        root.set_schema_version(version);
        auto list = root.init_binaries(binaries.size());
        for (size_t i = 0; i < binaries.size(); ++i) {
            list[i].set_name(binaries[i]);
            list[i].set_path("bin/" + binaries[i]);
        }
        auto init = root.init_init();
        init.set_program(init_program);
        auto grants = init.init_grants(init_grants.size());
        for (size_t i = 0; i < init_grants.size(); ++i)
            fill_grant(grants[i], init_grants[i]);
        auto out = init.init_services(services.size());
        for (size_t s = 0; s < services.size(); ++s) {
            out[s].set_name(services[s].name);
            out[s].set_binary(services[s].binary);
            auto g = out[s].init_grants(services[s].grants.size());
            for (size_t i = 0; i < services[s].grants.size(); ++i)
                fill_grant(g[i], services[s].grants[i]);
            auto e = out[s].init_exports(services[s].exports.size());
            for (size_t i = 0; i < services[s].exports.size(); ++i)
                e.set(i, services[s].exports[i]);
            if (auto found = service_args.find(s); found != service_args.end()) {
                auto args = out[s].init_args(found->second.size());
                for (size_t i = 0; i < found->second.size(); ++i)
                    args.set(i, found->second[i]);
            }
            if (auto found = service_limits.find(s); found != service_limits.end()) {
                auto limits = out[s].init_limits();
                limits.set_capability_slots(found->second.capability_slots);
                limits.set_outstanding_calls(found->second.outstanding_calls);
                limits.set_queued_bytes(found->second.queued_bytes);
                limits.set_frames(found->second.frames);
            }
        }
        EXPECT_EQ(message.error(), capnp::WireError::None);
        return message.words();
    }

    ManifestErrorCode error_of() {
        auto result = check();
        EXPECT_TRUE(result.is_error());
        return result.is_error() ? result.error().code : ManifestErrorCode::SchemaVersion;
    }

    // The error's code and subject, copied out of the message.
    std::pair<ManifestErrorCode, std::string> error_and_subject() {
        auto result = check();
        EXPECT_TRUE(result.is_error());
        if (!result.is_error())
            return {ManifestErrorCode::SchemaVersion, "(no error)"};
        return {result.error().code, std::string(result.error().subject)};
    }

    void add_echo_pair() {
        services.push_back({"server", "server", {endpoint_grant("echo")}, {"echo"}});
        services.push_back({"client",
                            "client",
                            {kernel_grant("console", KernelCapability::Console),
                             import_grant("echo", "server", "echo")},
                            {}});
    }

private:
    capnp::Word m_buffer[max_manifest_bytes / sizeof(capnp::Word)];
    std::optional<capnp::MessageReader> m_reader;
};

TEST_F(ManifestTest, AWellFormedSystemPasses) {
    add_echo_pair();
    EXPECT_TRUE(check().is_ok());
}

TEST_F(ManifestTest, SchemaVersion) {
    version = 99;
    EXPECT_EQ(error_of(), ManifestErrorCode::SchemaVersion);
}

TEST_F(ManifestTest, Binaries) {
    binaries.push_back("server");
    EXPECT_EQ(error_of(), ManifestErrorCode::DuplicateBinary);
    binaries.pop_back();
    init_program = "nope";
    EXPECT_EQ(error_of(), ManifestErrorCode::MissingBinary);
    init_program = "init";
    services.push_back({"svc", "missing", {}, {}});
    EXPECT_EQ(error_of(), ManifestErrorCode::MissingBinary);
}

TEST_F(ManifestTest, InitGetsOnlyKernelCapabilities) {
    init_grants.push_back(endpoint_grant("ep"));
    EXPECT_EQ(error_of(), ManifestErrorCode::InitGrantNotKernel);
}

TEST_F(ManifestTest, GrantNames) {
    init_grants.push_back(kernel_grant("console", KernelCapability::Timer));
    EXPECT_EQ(error_of(), ManifestErrorCode::DuplicateGrant);
    init_grants.pop_back();
    init_grants.push_back(
        kernel_grant(std::string(abi::capset_name_max + 1, 'x'), KernelCapability::Timer));
    EXPECT_EQ(error_of(), ManifestErrorCode::NameTooLong);
    init_grants.back().name.pop_back(); // the longest a CapSet holds
    EXPECT_TRUE(check().is_ok());
    init_grants.pop_back();
    init_grants.push_back(kernel_grant("", KernelCapability::Timer));
    EXPECT_EQ(error_of(), ManifestErrorCode::EmptyName);
    init_grants.pop_back();
    init_grants.clear();
    for (uint32_t i = 0; i < abi::capset_max_entries; ++i)
        init_grants.push_back(kernel_grant("g" + std::to_string(i), KernelCapability::Timer));
    EXPECT_TRUE(check().is_ok());
    init_grants.push_back(kernel_grant("one-more", KernelCapability::Timer));
    EXPECT_EQ(error_of(), ManifestErrorCode::TooManyGrants);
}

TEST_F(ManifestTest, Services) {
    services.push_back({"server", "server", {}, {}});
    services.push_back({"server", "client", {}, {}});
    EXPECT_EQ(error_of(), ManifestErrorCode::DuplicateService);
    services.clear();
    services.push_back({std::string(schema::max_process_name + 1, 'n'), "server", {}, {}});
    EXPECT_EQ(error_of(), ManifestErrorCode::NameTooLong);
    services[0].name.pop_back(); // the longest a process may have
    EXPECT_TRUE(check().is_ok());
    services[0].name.clear();
    EXPECT_EQ(error_of(), ManifestErrorCode::EmptyName);
}

TEST_F(ManifestTest, AtMostMaxServices) {
    for (uint32_t i = 0; i < schema::max_services; ++i)
        services.push_back({"s" + std::to_string(i), "server", {}, {}});
    EXPECT_TRUE(check().is_ok());
    services.push_back({"one-more", "server", {}, {}});
    EXPECT_EQ(error_of(), ManifestErrorCode::TooManyServices);
}

TEST_F(ManifestTest, ASupervisorGrantToAServicePasses) {
    services.push_back({"client", "client", {supervisor_grant("supervisor")}, {}});
    EXPECT_TRUE(check().is_ok());
    services[0].grants[0].interface_id = schema::Supervisor::interface_id;
    EXPECT_TRUE(check().is_ok());
    services[0].grants[0].interface_id = schema::Console::interface_id;
    EXPECT_EQ(error_of(), ManifestErrorCode::InterfaceMismatch);
}

TEST_F(ManifestTest, InitItselfIsNotGrantedASupervisor) {
    init_grants.push_back(supervisor_grant("supervisor"));
    EXPECT_EQ(error_of(), ManifestErrorCode::InitGrantNotKernel);
}

// init waits for every service and serves every supervisor at once: each
// supervisor grant counts as one more service.
TEST_F(ManifestTest, SupervisorGrantsCountAsServices) {
    for (uint32_t i = 0; i + 1 < schema::max_services; ++i)
        services.push_back({"s" + std::to_string(i), "server", {}, {}});
    services[0].grants.push_back(supervisor_grant("supervisor"));
    EXPECT_TRUE(check().is_ok());
    services[1].grants.push_back(supervisor_grant("supervisor"));
    EXPECT_EQ(error_of(), ManifestErrorCode::TooManyServices);
}

TEST_F(ManifestTest, KernelSourcesMustBeHeldByInit) {
    services.push_back({"svc", "server", {kernel_grant("timer", KernelCapability::Timer)}, {}});
    EXPECT_EQ(error_of(), ManifestErrorCode::KernelSourceNotHeld);
    init_grants.push_back(kernel_grant("timer", KernelCapability::Timer));
    EXPECT_TRUE(check().is_ok());
}

TEST_F(ManifestTest, ImportsMatchEarlierExports) {
    add_echo_pair();
    std::swap(services[0], services[1]); // the client before its server
    EXPECT_EQ(error_of(), ManifestErrorCode::UnknownService);
    std::swap(services[0], services[1]);
    services[1].grants[1].exported = "other";
    EXPECT_EQ(error_of(), ManifestErrorCode::UnknownExport);
    services[1].grants[1].exported = "echo";
    services[0].exports = {"console"}; // not an endpoint grant of the server
    EXPECT_EQ(error_of(), ManifestErrorCode::ExportNotEndpoint);
}

TEST_F(ManifestTest, InterfaceIds) {
    init_grants[0].interface_id = schema::Console::interface_id;
    EXPECT_TRUE(check().is_ok());
    init_grants[0].interface_id = schema::Timer::interface_id;
    EXPECT_EQ(error_of(), ManifestErrorCode::InterfaceMismatch);
}

// A service's arguments: as many and as long as spawn's block holds.
TEST_F(ManifestTest, ServiceArgumentsFitTheArgsBlock) {
    add_echo_pair();
    service_args[0] = {"read-only", "cache=64"};
    EXPECT_TRUE(check().is_ok());
    service_args[0] = std::vector<std::string>(abi::args_max_count, "x");
    EXPECT_TRUE(check().is_ok());
    service_args[0].push_back("x");
    EXPECT_EQ(error_and_subject(),
              std::make_pair(ManifestErrorCode::ArgumentsTooLong, std::string("server")));
    service_args[0] = {std::string(abi::args_max_text + 1, 'y')};
    EXPECT_EQ(error_of(), ManifestErrorCode::ArgumentsTooLong);
}

// An export speaks any interface: a grant of it may name the one its
// receiver expects (which spawn narrows it to), but only one the schema has.
TEST_F(ManifestTest, ImportedInterfaceIdsAreTheSchemas) {
    add_echo_pair();
    services[1].grants[1].interface_id = schema::Echo::interface_id;
    EXPECT_TRUE(check().is_ok());
    services[1].grants[1].interface_id = 0x1234;
    EXPECT_EQ(error_and_subject(),
              std::make_pair(ManifestErrorCode::UnknownInterface, std::string("echo")));
}

TEST_F(ManifestTest, UnknownKernelCapability) {
    init_grants.push_back(kernel_grant("weird", static_cast<KernelCapability>(77)));
    EXPECT_EQ(error_of(), ManifestErrorCode::UnknownKernelCapability);
}

using Refused = std::pair<ManifestErrorCode, std::string>;

TEST_F(ManifestTest, LimitsUpToTheKernelsMaximumsPass) {
    services.push_back({"svc", "server", {}, {}});
    service_limits[0] = {}; // present, every field the default
    EXPECT_TRUE(check().is_ok());
    service_limits[0] = {abi::max_capability_slots, abi::max_outstanding_calls,
                         abi::max_queued_bytes, abi::max_frames};
    EXPECT_TRUE(check().is_ok());
    service_limits[0] = {1, 1, 1, 1};
    EXPECT_TRUE(check().is_ok());
}

TEST_F(ManifestTest, EachLimitBeyondItsMaximumIsRefused) {
    services.push_back({"first", "server", {}, {}});
    services.push_back({"svc", "client", {}, {}});
    const LimitsSpec over[] = {
        {abi::max_capability_slots + 1, 0, 0, 0},
        {0, abi::max_outstanding_calls + 1, 0, 0},
        {0, 0, abi::max_queued_bytes + 1, 0},
        {0, 0, 0, abi::max_frames + 1},
        {UINT32_MAX, UINT32_MAX, UINT64_MAX, UINT64_MAX},
    };
    for (const LimitsSpec& limits : over) {
        service_limits[1] = limits;
        EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::LimitTooLarge, "svc"));
    }
}

TEST_F(ManifestTest, TheLimitNumbers) {
    // The values the manifest rules and the kernel share (abi/limits.h).
    EXPECT_EQ(abi::max_capability_slots, 4096u);
    EXPECT_EQ(abi::max_queued_bytes, 16u * 1024 * 1024);
    EXPECT_EQ(abi::max_frames, 1048576u);
    // No more calls outstanding than the completion queue can deliver.
    EXPECT_EQ(abi::max_outstanding_calls, abi::ring_max_owed);
    EXPECT_EQ(abi::default_outstanding_calls, abi::ring_max_owed);
    EXPECT_LT(abi::ring_max_owed, abi::ring_cq_entries);
    services.push_back({"svc", "server", {}, {}});
    service_limits[0] = {0, abi::max_outstanding_calls, 0, 0};
    EXPECT_TRUE(check().is_ok());
    service_limits[0] = {0, abi::max_outstanding_calls + 1, 0, 0};
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::LimitTooLarge, "svc"));
}

// Spawn refuses a child with more grants than capability slots: so does the
// manifest, at the same boundary, with 0 standing for the default.
TEST_F(ManifestTest, GrantsUpToTheCapabilitySlotsPass) {
    init_grants.push_back(kernel_grant("timer", KernelCapability::Timer));
    services.push_back({"svc",
                        "server",
                        {kernel_grant("console", KernelCapability::Console),
                         kernel_grant("timer", KernelCapability::Timer), endpoint_grant("work")},
                        {}});
    service_limits[0] = {3, 0, 0, 0};
    EXPECT_TRUE(check().is_ok());
    service_limits[0] = {2, 0, 0, 0};
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::GrantsBeyondSlots, "svc"));
    service_limits[0] = {1, 0, 0, 0};
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::GrantsBeyondSlots, "svc"));
    // One slot, one grant; no grants at all fit any limit.
    services[0].grants.resize(1);
    EXPECT_TRUE(check().is_ok());
    services[0].grants.clear();
    EXPECT_TRUE(check().is_ok());
}

TEST_F(ManifestTest, GrantsBeyondTheSlotsOfALaterServiceAreRefused) {
    add_echo_pair(); // the client holds 2 grants
    service_limits[1] = {2, 0, 0, 0};
    EXPECT_TRUE(check().is_ok());
    service_limits[1] = {1, 0, 0, 0};
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::GrantsBeyondSlots, "client"));
}

TEST_F(ManifestTest, ZeroSlotsMeansTheDefault) {
    // The most grants a service may have fit the default table: with no
    // limits, with limits all 0, and with exactly that many slots.
    std::vector<GrantSpec> grants;
    for (uint32_t i = 0; i < abi::capset_max_entries; ++i)
        grants.push_back(endpoint_grant("e" + std::to_string(i)));
    static_assert(abi::capset_max_entries <= abi::default_capability_slots);
    services.push_back({"svc", "server", grants, {}});
    EXPECT_TRUE(check().is_ok());
    service_limits[0] = {};
    EXPECT_TRUE(check().is_ok());
    service_limits[0] = {abi::capset_max_entries, 0, 0, 0};
    EXPECT_TRUE(check().is_ok());
    service_limits[0] = {abi::capset_max_entries - 1, 0, 0, 0};
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::GrantsBeyondSlots, "svc"));
}

// Every kind the schema names is served (SourceUnavailable stays for a kind
// a later schema adds before the kernel serves it); values it does not name
// are not.
TEST_F(ManifestTest, KernelServesEveryKnownSource) {
    for (uint16_t kind = 0; schema::is_known(static_cast<KernelCapability>(kind)); ++kind)
        EXPECT_TRUE(kernel_serves(static_cast<KernelCapability>(kind))) << kind;
    EXPECT_FALSE(kernel_serves(static_cast<KernelCapability>(kernel_source_count)));
    EXPECT_FALSE(kernel_serves(static_cast<KernelCapability>(77)));
}

TEST_F(ManifestTest, EveryServedSourceMayBeGranted) {
    init_grants.clear();
    for (uint16_t kind = 0; schema::is_known(static_cast<KernelCapability>(kind)); ++kind) {
        auto which = static_cast<KernelCapability>(kind);
        if (kernel_serves(which))
            init_grants.push_back(kernel_grant("k" + std::to_string(kind), which));
    }
    EXPECT_EQ(init_grants.size(), kernel_source_count);
    std::vector<GrantSpec> all = init_grants;
    services.push_back({"svc", "server", all, {}});
    EXPECT_TRUE(check().is_ok());
}

// LogReader, served since the kernel keeps its log in a ring: granted to init
// and to a service, naming its interface or none; naming another is refused.
TEST_F(ManifestTest, ALogReaderGrantToInitPasses) {
    init_grants.push_back(kernel_grant("log", KernelCapability::LogReader));
    EXPECT_TRUE(check().is_ok());
    init_grants.back().interface_id = schema::LogReader::interface_id;
    EXPECT_TRUE(check().is_ok());
    init_grants.back().interface_id = schema::LogSink::interface_id;
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::InterfaceMismatch, "log"));
}

TEST_F(ManifestTest, ALogReaderGrantToAServicePassesWhenInitHoldsOne) {
    services.push_back({"svc", "server", {kernel_grant("log", KernelCapability::LogReader)}, {}});
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::KernelSourceNotHeld, "log"));
    init_grants.push_back(kernel_grant("reader", KernelCapability::LogReader));
    EXPECT_TRUE(check().is_ok());
}

// A device grant: init claims the function through its own DeviceManager
// and hands the Device over, so init must hold one; a function is claimed
// once, so no two grants may name it the same way.
class ManifestDeviceTest : public ManifestTest {
protected:
    ManifestDeviceTest() {
        init_grants.push_back(kernel_grant("devices", KernelCapability::DeviceManager));
    }
};

TEST_F(ManifestDeviceTest, ADeviceGrantToAServicePassesWhenInitHoldsADeviceManager) {
    services.push_back({"driver",
                        "server",
                        {kernel_grant("console", KernelCapability::Console),
                         device_grant("edu", identity(0x1234, 0x11e8))},
                        {}});
    EXPECT_TRUE(check().is_ok());
    services[0].grants[1].device = address(0, 0, 3, 0);
    services[0].grants[1].device.unisolated_dma = true;
    EXPECT_TRUE(check().is_ok());
}

TEST_F(ManifestDeviceTest, InitMustHoldADeviceManager) {
    init_grants.pop_back();
    services.push_back({"driver", "server", {device_grant("edu", identity(0x1234, 0x11e8))}, {}});
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::DeviceManagerNotHeld, "edu"));
    EXPECT_STREQ(to_string(ManifestErrorCode::DeviceManagerNotHeld),
                 "device granted to a service but init holds no deviceManager");
    // Another kernel capability does not stand in for it.
    init_grants.push_back(kernel_grant("inventory", KernelCapability::DeviceInventory));
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::DeviceManagerNotHeld, "edu"));
}

TEST_F(ManifestDeviceTest, InitItselfIsNotGrantedADevice) {
    init_grants.push_back(device_grant("edu", identity(0x1234, 0x11e8)));
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::InitGrantNotKernel, "edu"));
}

TEST_F(ManifestDeviceTest, TheGrantNamesDevicesInterfaceOrNone) {
    services.push_back({"driver", "server", {device_grant("edu", identity(0x1234, 0x11e8))}, {}});
    services[0].grants[0].interface_id = schema::Device::interface_id;
    EXPECT_TRUE(check().is_ok());
    for (uint64_t other : {schema::DeviceManager::interface_id, schema::DeviceMmio::interface_id,
                           schema::Console::interface_id}) {
        services[0].grants[0].interface_id = other;
        EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::InterfaceMismatch, "edu"))
            << std::hex << other;
    }
}

TEST_F(ManifestDeviceTest, TheSameIdentityTwiceIsRefused) {
    services.push_back({"first", "server", {device_grant("edu", identity(0x1234, 0x11e8))}, {}});
    services.push_back({"second", "client", {device_grant("again", identity(0x1234, 0x11e8))}, {}});
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::DuplicateDevice, "again"));
    EXPECT_STREQ(to_string(ManifestErrorCode::DuplicateDevice), "device granted twice");
    // Trusting it with unisolated DMA makes it no other function.
    services[1].grants[0].device.unisolated_dma = true;
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::DuplicateDevice, "again"));
    // Another index, vendor or device id is another function.
    services[1].grants[0].device = identity(0x1234, 0x11e8, 1);
    EXPECT_TRUE(check().is_ok());
    services[1].grants[0].device = identity(0x1235, 0x11e8);
    EXPECT_TRUE(check().is_ok());
    services[1].grants[0].device = identity(0x1234, 0x11e9);
    EXPECT_TRUE(check().is_ok());
}

TEST_F(ManifestDeviceTest, TheSameAddressTwiceIsRefused) {
    services.push_back({"first", "server", {device_grant("nic", address(0, 0, 2, 0))}, {}});
    services.push_back({"second", "client", {device_grant("again", address(0, 0, 2, 0))}, {}});
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::DuplicateDevice, "again"));
    const DeviceSpec others[] = {address(1, 0, 2, 0), address(0, 1, 2, 0), address(0, 0, 3, 0),
                                 address(0, 0, 2, 1)};
    for (const DeviceSpec& other : others) {
        services[1].grants[0].device = other;
        EXPECT_TRUE(check().is_ok());
    }
    // An identity is not compared with an address, even one laid out in the
    // same bytes (00:02.0 as ids 0000:0200): which function an identity
    // names is known only at boot.
    services[1].grants[0].device = identity(0, 0x0200, 0);
    EXPECT_TRUE(check().is_ok());
}

TEST_F(ManifestDeviceTest, TwiceInOneServiceIsRefused) {
    services.push_back({"driver",
                        "server",
                        {device_grant("one", address(0, 0, 3, 0)),
                         kernel_grant("console", KernelCapability::Console),
                         device_grant("two", address(0, 0, 3, 0))},
                        {}});
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::DuplicateDevice, "two"));
    services[0].grants[2].device.function = 1;
    EXPECT_TRUE(check().is_ok());
}

TEST_F(ManifestDeviceTest, ADuplicateAfterOtherServicesIsRefused) {
    services.push_back({"first", "server", {device_grant("edu", identity(0x1234, 0x11e8))}, {}});
    services.push_back({"middle", "server", {device_grant("nic", identity(0x8086, 0x10d3))}, {}});
    services.push_back({"last", "client", {device_grant("edu", identity(0x1234, 0x11e8))}, {}});
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::DuplicateDevice, "edu"));
    services.pop_back();
    EXPECT_TRUE(check().is_ok());
}

TEST_F(ManifestTest, EveryCodeHasText) {
    for (int code = 0; code <= int(ManifestErrorCode::DuplicateDevice); ++code)
        EXPECT_STRNE(to_string(static_cast<ManifestErrorCode>(code)), "unknown manifest error");
}

// The kernel-capability table is what the manifest checks use: a grant naming
// the interface the table lists for its kind passes, one naming another
// kind's interface is refused (the kernel checks at boot that each service
// speaks the listed interface).
TEST_F(ManifestTest, GrantInterfacesComeFromTheKernelSourceTable) {
    ASSERT_EQ(kernel_source_count, size_t{schema::enumerant_count(KernelCapability{})});
    for (size_t kind = 0; kind < kernel_source_count; ++kind) {
        const KernelSource& row = kernel_sources[kind];
        EXPECT_EQ(kernel_source(row.kind), &row);
        EXPECT_EQ(kernel_interface(row.kind), row.interface_id);
        EXPECT_EQ(kernel_serves(row.kind), row.served);
        if (!row.served)
            continue;
        init_grants = {kernel_grant("k", row.kind)};
        init_grants[0].interface_id = row.interface_id;
        EXPECT_TRUE(check().is_ok()) << kind;
        const KernelSource& other = kernel_sources[(kind + 1) % kernel_source_count];
        init_grants[0].interface_id = other.interface_id;
        EXPECT_EQ(error_of(), ManifestErrorCode::InterfaceMismatch) << kind;
    }
    EXPECT_EQ(kernel_source(static_cast<KernelCapability>(kernel_source_count)), nullptr);
    EXPECT_EQ(kernel_interface(static_cast<KernelCapability>(kernel_source_count)), 0u);
}

// The rules' text states the numbers the rules apply.
TEST(ManifestLimits, TheTextStatesTheLimits) {
    EXPECT_EQ(process_name_rule.view(),
              "process name must be 1.." + std::to_string(schema::max_process_name) + " bytes");
    EXPECT_EQ(grant_name_rule.view(),
              "grant names must be 1.." + std::to_string(abi::capset_name_max) + " bytes");
    EXPECT_EQ(grant_count_rule.view(),
              "too many grants (at most " + std::to_string(abi::capset_max_entries) + ")");
    EXPECT_STREQ(to_string(ManifestErrorCode::TooManyGrants), grant_count_rule.c_str());
    EXPECT_STREQ(to_string(ManifestErrorCode::TooManyServices), service_count_rule.c_str());
    EXPECT_EQ(std::string(service_count_rule.c_str()),
              "too many services (at most " + std::to_string(schema::max_services) +
                  ", each supervisor grant counting as one)");
    constexpr LimitText zero{"", 0, ""}, largest{"<", UINT64_MAX, ">"};
    EXPECT_EQ(zero.view(), "0");
    EXPECT_EQ(largest.view(), "<18446744073709551615>");
}

TEST(ManifestLimits, TheRulesAtTheirBoundaries) {
    EXPECT_FALSE(process_name_valid(""));
    EXPECT_TRUE(process_name_valid(std::string(schema::max_process_name, 'p')));
    EXPECT_FALSE(process_name_valid(std::string(schema::max_process_name + 1, 'p')));
    EXPECT_FALSE(grant_name_valid(""));
    EXPECT_TRUE(grant_name_valid(std::string(abi::capset_name_max, 'g')));
    EXPECT_FALSE(grant_name_valid(std::string(abi::capset_name_max + 1, 'g')));
    EXPECT_TRUE(grant_count_valid(abi::capset_max_entries));
    EXPECT_FALSE(grant_count_valid(abi::capset_max_entries + 1));
    EXPECT_TRUE(service_count_valid(schema::max_services));
    EXPECT_FALSE(service_count_valid(schema::max_services + 1));
}

// Reading framed bytes: each of the four steps refuses what it should, and a
// manifest that passes them all is read whole.
class ManifestReadTest : public ManifestTest {
protected:
    Result<schema::SystemManifest::Reader, ReadError> read(const std::vector<capnp::Word>& words) {
        return m_framed.read(words);
    }
    ReadError error_reading(const std::vector<capnp::Word>& words) {
        auto result = read(words);
        EXPECT_TRUE(result.is_error());
        return result.is_error() ? result.error() : ReadError{ReadErrorKind::Size};
    }

private:
    FramedManifest m_framed;
};

TEST_F(ManifestReadTest, AWellFormedManifestIsRead) {
    add_echo_pair();
    std::vector<capnp::Word> words = framed();
    auto manifest = read(words);
    ASSERT_TRUE(manifest.is_ok());
    EXPECT_EQ(manifest.value().init().program(), "init");
    ASSERT_EQ(manifest.value().init().services().size(), 2u);
    EXPECT_EQ(manifest.value().init().services()[1].name(), "client");
    EXPECT_EQ(manifest.value().kernel().log_level(), schema::LogLevel::Info);
}

TEST_F(ManifestReadTest, TheSize) {
    EXPECT_TRUE(check_size(8).is_ok());
    EXPECT_TRUE(check_size(max_manifest_bytes).is_ok());
    for (uint64_t bytes : {uint64_t{0}, uint64_t{7}, uint64_t{12}, uint64_t{max_manifest_bytes + 8},
                           uint64_t{UINT64_MAX}}) {
        auto checked = check_size(bytes);
        ASSERT_TRUE(checked.is_error()) << bytes;
        EXPECT_EQ(checked.error().kind, ReadErrorKind::Size);
    }
    EXPECT_EQ(error_reading({}).kind, ReadErrorKind::Size);
    std::vector<capnp::Word> too_large(max_manifest_bytes / sizeof(capnp::Word) + 1);
    too_large[0] = capnp::Word{too_large.size() - 1} << 32;
    EXPECT_EQ(error_reading(too_large).kind, ReadErrorKind::Size);
    EXPECT_EQ(std::string(to_string(ReadErrorKind::Size)),
              "is empty, over " + std::to_string(max_manifest_bytes) + " bytes or not whole words");
}

TEST_F(ManifestReadTest, TheFraming) {
    std::vector<capnp::Word> words = framed();
    std::vector<capnp::Word> short_segment = words;
    short_segment[0] += capnp::Word{1} << 32; // one word more than there is
    ReadError error = error_reading(short_segment);
    EXPECT_EQ(error.kind, ReadErrorKind::Framing);
    EXPECT_EQ(error.wire, capnp::WireError::BadFraming);
    std::vector<capnp::Word> trailing = words;
    trailing.push_back(0);
    EXPECT_EQ(error_reading(trailing).kind, ReadErrorKind::Framing);
    // max_manifest_segments segments are read; one more is refused.
    std::vector<capnp::Word> many((max_manifest_segments + 2) / 2, 0);
    many[0] = max_manifest_segments - 1; // every segment empty: framed, but no manifest
    EXPECT_NE(error_reading(many).kind, ReadErrorKind::Framing);
    std::vector<capnp::Word> too_many((max_manifest_segments + 3) / 2, 0);
    too_many[0] = max_manifest_segments;
    error = error_reading(too_many);
    EXPECT_EQ(error.kind, ReadErrorKind::Framing);
    EXPECT_EQ(error.wire, capnp::WireError::TooManySegments);
}

TEST_F(ManifestReadTest, TheEncodingWithABudgetProportionalToTheSize) {
    // 46 words whose walk visits two million structs: refused at once.
    std::vector<capnp::Word> words(1 + test::shared_levels_words);
    words[0] = capnp::Word{test::shared_levels_words} << 32;
    test::shared_levels_message(words.data() + 1);
    ReadError error = error_reading(words);
    EXPECT_EQ(error.kind, ReadErrorKind::Encoding);
    EXPECT_EQ(error.wire, capnp::WireError::TraversalLimit);
    EXPECT_EQ(to_string(error.kind), "is malformed");
    EXPECT_EQ(reason(error), capnp::to_string(capnp::WireError::TraversalLimit));
    // A pointer out of bounds.
    std::vector<capnp::Word> outside{capnp::Word{1} << 32, capnp::Word{100} << 2};
    EXPECT_EQ(error_reading(outside).kind, ReadErrorKind::Encoding);
}

TEST_F(ManifestReadTest, TheMeaning) {
    version = 99;
    ReadError error = error_reading(framed());
    EXPECT_EQ(error.kind, ReadErrorKind::Invalid);
    EXPECT_EQ(error.invalid.code, ManifestErrorCode::SchemaVersion);
    EXPECT_EQ(reason(error), to_string(ManifestErrorCode::SchemaVersion));
    version = schema::current_schema_version;
    services.push_back({"svc", "server", {}, {}});
    service_limits[0] = {0, 0, 0, abi::max_frames + 1};
    std::vector<capnp::Word> words = framed(); // the subject points into it
    error = error_reading(words);
    EXPECT_EQ(error.kind, ReadErrorKind::Invalid);
    EXPECT_EQ(error.invalid.code, ManifestErrorCode::LimitTooLarge);
    EXPECT_EQ(error.invalid.subject, "svc");
}

// The fields are read with the default budget after the proportional walk:
// validate's pairwise name comparisons read more words than a manifest with
// many services and grants holds.
TEST_F(ManifestReadTest, ALargeValidManifestIsRead) {
    std::vector<GrantSpec> grants;
    for (uint32_t i = 0; i < 16; ++i)
        grants.push_back(endpoint_grant("endpoint-" + std::to_string(i)));
    for (uint32_t i = 0; i < schema::max_services; ++i)
        services.push_back({"service-" + std::to_string(i), "server", grants, {}});
    std::vector<capnp::Word> words = framed();
    ASSERT_LE(words.size() * sizeof(capnp::Word), max_manifest_bytes);
    EXPECT_TRUE(read(words).is_ok());
}

// Every device grant is compared with every one before it, in a manifest as
// large as one may be: a duplicate in the last service is still found
// within the reader's budget.
TEST_F(ManifestReadTest, ADuplicateDeviceInALargeManifestIsFound) {
    init_grants.push_back(kernel_grant("devices", KernelCapability::DeviceManager));
    const uint16_t per_service = 28;
    for (uint16_t s = 0; s < schema::max_services; ++s) {
        std::vector<GrantSpec> grants;
        for (uint16_t i = 0; i < per_service; ++i)
            grants.push_back(device_grant("d" + std::to_string(i),
                                          identity(0x1234, 0x11e8, s * per_service + i)));
        services.push_back({"s" + std::to_string(s), "server", grants, {}});
    }
    std::vector<capnp::Word> words = framed();
    ASSERT_LE(words.size() * sizeof(capnp::Word), max_manifest_bytes);
    EXPECT_TRUE(read(words).is_ok());
    services.back().grants.back().device = identity(0x1234, 0x11e8, 0);
    words = framed();
    ReadError error = error_reading(words);
    EXPECT_EQ(error.kind, ReadErrorKind::Invalid);
    EXPECT_EQ(error.invalid.code, ManifestErrorCode::DuplicateDevice);
    EXPECT_EQ(error.invalid.subject, "d" + std::to_string(per_service - 1));
}

TEST_F(ManifestReadTest, TheKernelLogLevel) {
    // Set KernelParameters.logLevel = debug through a builder of its own.
    capnp::Word buffer[4096];
    capnp::MessageBuilder message(buffer);
    schema::SystemManifest::Builder root(message.init_root(schema::SystemManifest::data_words,
                                                           schema::SystemManifest::pointer_count));
    root.set_schema_version(schema::current_schema_version);
    auto binaries = root.init_binaries(1);
    binaries[0].set_name("init");
    binaries[0].set_path("bin/init");
    root.init_init().set_program("init");
    root.init_kernel().set_log_level(schema::LogLevel::Debug);
    std::vector<capnp::Word> debug{capnp::Word{message.words().size()} << 32};
    debug.insert(debug.end(), message.words().begin(), message.words().end());
    auto manifest = read(debug);
    ASSERT_TRUE(manifest.is_ok());
    EXPECT_EQ(manifest.value().kernel().log_level(), schema::LogLevel::Debug);
}

} // namespace
} // namespace capos::manifest
