// lib/manifest: what a boot manifest may say, checked before anything boots.
#include "abi/limits.h"
#include "lib/capnp/wire.h"
#include "lib/manifest/validate.h"
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
struct GrantSpec {
    std::string name;
    enum Kind { Kernel, Service, Endpoint } kind = Kernel;
    KernelCapability kernel = KernelCapability::Console;
    std::string service, exported;
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
    std::map<size_t, LimitsSpec> service_limits; // by index into services
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
        }
    }

    Result<void, ManifestError> check() {
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
            if (auto found = service_limits.find(s); found != service_limits.end()) {
                auto limits = out[s].init_limits();
                limits.set_capability_slots(found->second.capability_slots);
                limits.set_outstanding_calls(found->second.outstanding_calls);
                limits.set_queued_bytes(found->second.queued_bytes);
                limits.set_frames(found->second.frames);
            }
        }
        EXPECT_EQ(message.error(), capnp::WireError::None);
        m_reader.emplace(message.words());
        return validate(schema::SystemManifest::Reader(m_reader->root()));
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
    capnp::Word m_buffer[4096];
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
    init_grants.push_back(kernel_grant(std::string(48, 'x'), KernelCapability::Timer));
    EXPECT_EQ(error_of(), ManifestErrorCode::NameTooLong);
    init_grants.pop_back();
    init_grants.push_back(kernel_grant("", KernelCapability::Timer));
    EXPECT_EQ(error_of(), ManifestErrorCode::EmptyName);
    init_grants.pop_back();
    for (int i = 0; i < 64; ++i)
        init_grants.push_back(kernel_grant("g" + std::to_string(i), KernelCapability::Timer));
    EXPECT_EQ(error_of(), ManifestErrorCode::TooManyGrants);
}

TEST_F(ManifestTest, Services) {
    services.push_back({"server", "server", {}, {}});
    services.push_back({"server", "client", {}, {}});
    EXPECT_EQ(error_of(), ManifestErrorCode::DuplicateService);
    services.clear();
    services.push_back({std::string(32, 'n'), "server", {}, {}});
    EXPECT_EQ(error_of(), ManifestErrorCode::NameTooLong);
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
    service_limits[0] = {0, 28, 0, 0};
    EXPECT_TRUE(check().is_ok());
    service_limits[0] = {0, 29, 0, 0};
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

TEST_F(ManifestTest, KernelServesEveryKnownSourceButLogReader) {
    for (uint16_t kind = 0; schema::is_known(static_cast<KernelCapability>(kind)); ++kind) {
        auto which = static_cast<KernelCapability>(kind);
        EXPECT_EQ(kernel_serves(which), which != KernelCapability::LogReader) << kind;
    }
    EXPECT_FALSE(kernel_serves(static_cast<KernelCapability>(77)));
}

TEST_F(ManifestTest, EveryServedSourceMayBeGranted) {
    init_grants.clear();
    for (uint16_t kind = 0; schema::is_known(static_cast<KernelCapability>(kind)); ++kind) {
        auto which = static_cast<KernelCapability>(kind);
        if (kernel_serves(which))
            init_grants.push_back(kernel_grant("k" + std::to_string(kind), which));
    }
    std::vector<GrantSpec> all = init_grants;
    services.push_back({"svc", "server", all, {}});
    EXPECT_TRUE(check().is_ok());
}

TEST_F(ManifestTest, ALogReaderGrantToInitIsRefused) {
    init_grants.push_back(kernel_grant("log", KernelCapability::LogReader));
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::SourceUnavailable, "log"));
}

TEST_F(ManifestTest, ALogReaderGrantToAServiceIsRefused) {
    services.push_back({"svc", "server", {kernel_grant("log", KernelCapability::LogReader)}, {}});
    EXPECT_EQ(error_and_subject(), Refused(ManifestErrorCode::SourceUnavailable, "log"));
}

TEST_F(ManifestTest, EveryCodeHasText) {
    for (int code = 0; code <= int(ManifestErrorCode::GrantsBeyondSlots); ++code)
        EXPECT_STRNE(to_string(static_cast<ManifestErrorCode>(code)), "unknown manifest error");
}

} // namespace
} // namespace capos::manifest
