// init: the first process. It reads the boot manifest through BootPackage and
// starts every service listed under init.services, in order, through
// ProcessSpawner, with exactly the capabilities each service's grants name:
//   kernel    a copy of init's own capability of that interface (init must
//             hold it: the manifest grants it to init),
//   service   a copy of the client side of another service's export,
//   endpoint  a fresh endpoint the service owns; init keeps the client side
//             and, if the service exports that name, hands it to importers,
//   device    the PCI function the grant's selector names, claimed through
//             init's own DeviceManager (the manifest grants it to init) and
//             moved to the service: init keeps no copy, so the claim ends
//             when the service lets the Device go or ends.
// Every source is resolved (devices claimed) before the spawn; a service
// that cannot have them all is not started, and the devices already claimed
// for it are released. A device grant marked optional whose function is not
// there skips its service instead (said in a line); grants of a skipped
// service's exports are then left out of later services.
// Services marked waitForExit are waited for before the next one starts; at
// the end init waits for all of them and exits 0 when every one exited 0.
// Anything wrong with the manifest stops init with a reason (fail closed).
// A service that cannot be started (the kernel refuses the spawn: a binary
// that is not a program, memory, ...) is reported by name, no later service
// is started, and init still waits for the ones it did start before it exits
// 1: a system that did not come up whole never ends in success.
#include "abi/ring.h"
#include "lib/capnp/wire.h"
#include "lib/manifest/read.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/syscall.h"

namespace {

using namespace capos;
using schema::CapGrant;

constexpr size_t max_manifest_words = manifest::max_manifest_bytes / sizeof(capnp::Word);
constexpr size_t max_services = schema::max_services;
constexpr size_t max_exports = 64;

alignas(capnp::Word) capnp::Word g_manifest[max_manifest_words];
manifest::FramedManifest g_framed;

struct Export {
    std::string_view service;
    std::string_view name;
    abi::CapId client;
};
Export g_exports[max_exports];
size_t g_export_count = 0;

struct Started {
    std::string_view name;
    abi::CapId handle;
    bool waited;
};
Started g_started[max_services];
// Services not started because an optional device of theirs is absent.
std::string_view g_skipped[max_services];
size_t g_skipped_count = 0;

bool skipped(std::string_view service) {
    for (size_t i = 0; i < g_skipped_count; ++i) {
        if (g_skipped[i] == service)
            return true;
    }
    return false;
}
size_t g_started_count = 0;

using Line = rt::PrintLine;

// init's own capability speaking `interface_id`, found in its CapSet.
std::optional<abi::CapId> own_capability(uint64_t interface_id) {
    const abi::CapSetPage& set = rt::capset();
    for (uint32_t i = 0; i < set.header.count && i < abi::capset_max_entries; ++i) {
        if (set.entries[i].interface_id == interface_id)
            return abi::CapId{set.entries[i].cap_id};
    }
    return std::nullopt;
}

const Export* find_export(std::string_view service, std::string_view name) {
    for (size_t i = 0; i < g_export_count; ++i) {
        if (g_exports[i].service == service && g_exports[i].name == name)
            return &g_exports[i];
    }
    return nullptr;
}

[[noreturn]] void fail(std::string_view what, std::string_view detail = {}) {
    Line() << "init: " << what << (detail.empty() ? "" : ": ") << detail;
    rt::exit(1);
}

[[noreturn]] void refuse_manifest(const manifest::ReadError& error) {
    {
        Line line;
        line << "init: the manifest " << manifest::to_string(error.kind);
        if (std::string_view reason = manifest::reason(error); !reason.empty())
            line << ": " << reason;
        if (error.kind == manifest::ReadErrorKind::Invalid && !error.invalid.subject.empty())
            line << ": " << error.invalid.subject;
    }
    rt::exit(1);
}

schema::SystemManifest::Reader read_manifest(rt::Capability<schema::BootPackage>& boot) {
    auto size = boot->manifest_size();
    if (size.is_error())
        fail("cannot read the manifest size", rt::call_error_text(size.error()));
    // The size, the framing, the encoding and the meaning: the same reading
    // and checks the kernel made at boot (lib/manifest/read.h).
    uint64_t bytes = size.value().bytes();
    if (auto checked = manifest::check_size(bytes); checked.is_error())
        refuse_manifest(checked.error());
    for (uint64_t offset = 0; offset < bytes;) {
        auto chunk = boot->read_manifest(offset, schema::BootPackage::max_read);
        if (chunk.is_error())
            fail("cannot read the manifest", rt::call_error_text(chunk.error()));
        std::span<const uint8_t> data = chunk.value().data();
        if (data.empty() || data.size() > bytes - offset)
            fail("the manifest changed while it was read");
        __builtin_memcpy(reinterpret_cast<uint8_t*>(g_manifest) + offset, data.data(), data.size());
        offset += data.size();
    }
    auto read =
        g_framed.read(std::span<const capnp::Word>(g_manifest, bytes / sizeof(capnp::Word)));
    if (read.is_error())
        refuse_manifest(read.error());
    return read.value();
}

// The devices claimed for the service being started: released when this
// goes, unless the spawn took them (moved, they are the service's).
class Claims {
public:
    Claims() = default;
    Claims(const Claims&) = delete;
    Claims& operator=(const Claims&) = delete;
    ~Claims() {
        for (size_t i = 0; i < m_count; ++i)
            (void)rt::release(m_ids[i]);
    }

    void add(abi::CapId id) { m_ids[m_count++] = id; }
    void moved() { m_count = 0; }

private:
    abi::CapId m_ids[abi::capset_max_entries];
    size_t m_count = 0;
};

enum class Outcome : uint8_t { Started, Skipped, Refused };

// Reports that `service` could not be started, and why; returns Refused.
Outcome refuse(schema::ServiceConfig::Reader service, std::string_view reason,
               std::string_view detail = {}) {
    Line() << "init: cannot start service '" << service.name() << "': " << reason
           << (detail.empty() ? "" : " ") << detail;
    return Outcome::Refused;
}

// Whether an optional device grant of `service` names no function: then
// the service is skipped (said in a line).
bool optional_device_absent(schema::ServiceConfig::Reader service) {
    for (CapGrant::Reader grant : service.grants()) {
        auto source = grant.source();
        if (source.which() != CapGrant::Source::Which::Device || !source.device().optional())
            continue;
        auto manager =
            own_capability(manifest::kernel_interface(schema::KernelCapability::DeviceManager));
        if (!manager)
            return false; // the claim below refuses the service
        schema::DeviceManager::Client<rt::RingTransport> devices(rt::transport(), manager->raw);
        auto present = devices.present([&](schema::DeviceManager::PresentParams::Builder params) {
            params.set_selector(source.device());
        });
        if (present.is_ok() && !present.value().present()) {
            Line() << "init: service '" << service.name()
                   << "' not started: no device for its grant " << grant.name();
            return true;
        }
    }
    return false;
}

// Starts `service` and records it in g_started; Refused (with a line naming
// the service and the reason) when it could not be started, in which case
// nothing was started for it; Skipped when an optional device is absent.
Outcome start_service(rt::Capability<schema::ProcessSpawner>& spawner,
                      schema::ServiceConfig::Reader service) {
    auto grants = service.grants();
    // Resolve every grant's source before spawning (decode, then invoke).
    abi::CapId sources[abi::capset_max_entries];
    bool left_out[abi::capset_max_entries] = {};
    if (!manifest::grant_count_valid(grants.size()))
        return refuse(service, manifest::grant_count_rule);
    if (g_started_count == max_services)
        return refuse(service, manifest::service_count_rule);
    if (optional_device_absent(service)) {
        g_skipped[g_skipped_count++] = service.name();
        return Outcome::Skipped;
    }
    Claims claims;
    for (uint32_t i = 0; i < grants.size(); ++i) {
        CapGrant::Reader grant = grants[i];
        auto source = grant.source();
        switch (source.which()) {
        case CapGrant::Source::Which::Kernel: {
            auto own = own_capability(manifest::kernel_interface(source.kernel()));
            if (!own)
                return refuse(service, "init does not hold the kernel capability granted as",
                              grant.name());
            sources[i] = *own;
            break;
        }
        case CapGrant::Source::Which::Service: {
            if (skipped(source.service().service())) {
                Line() << "init: service '" << service.name() << "': grant " << grant.name()
                       << " left out: '" << source.service().service() << "' was not started";
                left_out[i] = true;
                break;
            }
            const Export* found =
                find_export(source.service().service(), source.service().export_());
            if (!found)
                return refuse(service, "no such export (or it is exported later) for grant",
                              grant.name());
            sources[i] = found->client;
            break;
        }
        case CapGrant::Source::Which::Endpoint:
            sources[i] = abi::CapId{};
            break;
        case CapGrant::Source::Which::Device: {
            auto manager =
                own_capability(manifest::kernel_interface(schema::KernelCapability::DeviceManager));
            if (!manager)
                return refuse(service, "init holds no deviceManager to claim the device granted as",
                              grant.name());
            // The selector as the manifest gives it, unisolatedDma included.
            schema::DeviceManager::Client<rt::RingTransport> devices(rt::transport(), manager->raw);
            auto claimed = devices.claim([&](schema::DeviceManager::ClaimParams::Builder params) {
                params.set_selector(source.device());
            });
            if (claimed.is_error()) {
                Line() << "init: cannot start service '" << service.name()
                       << "': cannot claim the device granted as " << grant.name() << ": "
                       << rt::call_error_text(claimed.error());
                return Outcome::Refused;
            }
            sources[i] = abi::CapId{claimed.value().device()};
            claims.add(sources[i]);
            break;
        }
        default:
            return refuse(service, "unknown grant source for", grant.name());
        }
    }

    // Said before the spawn: once the service runs, its own output (the
    // shell's prompt) may come first, and a line of ours after it would land
    // in the middle of what it writes.
    Line() << "init: starting " << service.name();
    auto spawned = spawner->spawn([&](schema::ProcessSpawner::SpawnParams::Builder params) {
        params.set_name(service.name());
        params.set_binary(service.binary());
        if (service.has_limits())
            params.set_limits(service.limits());
        uint32_t given = 0;
        for (uint32_t i = 0; i < grants.size(); ++i)
            given += !left_out[i];
        auto list = params.init_grants(given);
        for (uint32_t i = 0, at = 0; i < grants.size(); ++i) {
            if (left_out[i])
                continue;
            auto out = list[at++];
            out.set_name(grants[i].name());
            auto which = grants[i].source().which();
            if (which == CapGrant::Source::Which::Endpoint) {
                out.set_new_endpoint();
            } else {
                auto capability = out.init_capability();
                capability.set_cap(sources[i].raw);
                capability.set_mode(which == CapGrant::Source::Which::Device
                                        ? schema::TransferMode::Move
                                        : schema::TransferMode::Copy);
            }
        }
    });
    // A refused spawn leaves the moved devices with init (claims releases them).
    if (spawned.is_error())
        return refuse(service, rt::call_error_text(spawned.error()));
    claims.moved();

    // The client sides of the new endpoints come back in grant order.
    auto endpoints = spawned.value().endpoints();
    uint32_t next = 0;
    for (uint32_t i = 0; i < grants.size(); ++i) {
        if (grants[i].source().which() != CapGrant::Source::Which::Endpoint)
            continue;
        abi::CapId client{next < endpoints.size() ? endpoints[next] : 0};
        ++next;
        for (auto exported : service.exports()) {
            if (exported == grants[i].name() && g_export_count < max_exports)
                g_exports[g_export_count++] = {service.name(), exported, client};
        }
    }
    g_started[g_started_count++] = {service.name(), abi::CapId{spawned.value().handle()}, false};
    return Outcome::Started;
}

// Waits for a started service; true when it exited with code 0.
bool wait_for(Started& started) {
    started.waited = true;
    schema::ProcessHandle::Client<rt::RingTransport> handle(rt::transport(), started.handle.raw);
    auto waited = handle.wait();
    if (waited.is_error()) {
        Line() << "init: cannot wait for " << started.name << ": "
               << rt::call_error_text(waited.error());
        return false;
    }
    auto status = waited.value().status();
    if (status.is_exited()) {
        Line() << "init: " << started.name << " exited with code " << status.exited();
        return status.exited() == 0;
    }
    if (status.is_killed()) {
        Line() << "init: " << started.name << " was killed";
        return false;
    }
    Line() << "init: " << started.name << " ended by exception "
           << int64_t(status.faulted().vector()) << " (" << status.faulted().detail() << ")";
    return false;
}

} // namespace

int main() {
    auto boot = rt::lookup<schema::BootPackage>("boot");
    auto spawner = rt::lookup<schema::ProcessSpawner>("spawner");
    if (boot.is_error() || spawner.is_error())
        fail("init needs the 'boot' and 'spawner' capabilities");
    schema::SystemManifest::Reader manifest = read_manifest(boot.value());

    bool all_clean = true;
    auto services = manifest.init().services();
    for (uint32_t i = 0; i < services.size(); ++i) {
        Outcome outcome = start_service(spawner.value(), services[i]);
        if (outcome == Outcome::Skipped)
            continue;
        if (outcome == Outcome::Refused) {
            // Fail closed: later services may need this one. Those already
            // started are waited for below, so the run still ends.
            all_clean = false;
            if (uint32_t left = services.size() - i - 1; left != 0)
                Line() << "init: " << left << " later service(s) not started";
            break;
        }
        if (services[i].wait_for_exit())
            all_clean = wait_for(g_started[g_started_count - 1]) && all_clean;
    }
    // Everything is wired: init's own copies of the exports go, so a service
    // learns it has no clients left once its importers end.
    for (size_t i = 0; i < g_export_count; ++i)
        (void)rt::release(g_exports[i].client);
    g_export_count = 0;
    for (size_t i = 0; i < g_started_count; ++i) {
        if (!g_started[i].waited)
            all_clean = wait_for(g_started[i]) && all_clean;
    }
    Line() << "init: every service has ended";
    return all_clean ? 0 : 1;
}
