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
//             when the service lets the Device go or ends,
//   supervisor  a Supervisor init serves for the service alone (the owner
//             side of a servedEndpoint): reconnect hands it an import again.
// Every source is resolved (devices claimed) before the spawn; a service
// that cannot have them all is not started, and the devices already claimed
// for it are released. A device grant marked optional whose function is not
// there skips its service instead (said in a line); grants of a skipped
// service's exports are then left out of later services, or skip them too
// when the grant is marked required.
// Services marked waitForExit are waited for before the next one starts.
// Once every service is started init waits for all of them at once and
// serves their supervisors. A service with restarts left that ends any way
// but by exiting 0 is started again the same way (devices claimed again:
// the old claims ended with the old process), and its exports are the new
// process's: a supervisor's reconnect answers with the new capability once
// there is one newer than the caller's (it waits for the restart), or
// disconnected when the service has ended for good. init keeps its copy of
// an export while a service that imports it may still start (or start
// again), so a server learns it has no clients left once its importers have
// ended. init exits 0 when every service ended with code 0.
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
#include "user/rt/server.h"
#include "user/rt/syscall.h"

namespace {

using namespace capos;
using schema::CapGrant;

constexpr size_t max_manifest_words = manifest::max_manifest_bytes / sizeof(capnp::Word);
constexpr size_t max_services = schema::max_services;
constexpr size_t max_exports = 64;

alignas(capnp::Word) capnp::Word g_manifest[max_manifest_words];
manifest::FramedManifest g_framed;

// An export's client side, as init holds it. `generation` counts the
// processes that have served it (a restart makes a new one); `gone` once its
// service has ended for good.
struct Export {
    std::string_view service;
    std::string_view name;
    abi::CapId client;
    uint32_t generation;
    bool gone;
};
Export g_exports[max_exports];
size_t g_export_count = 0;

// A reconnect that waits for a newer capability than the caller's.
struct Pending {
    uint32_t call_id;
    uint32_t grant; // the index of the import among the service's grants
};

// What the reply to ProcessHandle.wait and a Supervisor call need.
constexpr size_t wait_result_words = 32;
constexpr size_t supervisor_receive_words = 64;

struct Started {
    std::string_view name;
    uint32_t service;      // its index in the manifest's services
    abi::CapId handle;     // 0 once it has ended for good
    abi::CapId supervisor; // the owner side of its Supervisor (0: none)
    uint32_t restarts;     // restarts made
    bool waited;           // waited for (waitForExit, or its end seen)
    bool ended;            // for good: it is not started again
    uint64_t wait_ticket;
    uint64_t recv_ticket;
    std::optional<Pending> pending;
    // The generation of each import (by grant index) it was given.
    uint32_t handed[abi::capset_max_entries];
    alignas(capnp::Word) capnp::Word wait_result[wait_result_words];
    alignas(capnp::Word) capnp::Word receive[supervisor_receive_words];
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

Export* find_export(std::string_view service, std::string_view name) {
    for (size_t i = 0; i < g_export_count; ++i) {
        if (g_exports[i].service == service && g_exports[i].name == name)
            return &g_exports[i];
    }
    return nullptr;
}

// The new client side of `service`'s export `name`: a restart's replaces the
// old process's.
void set_export(std::string_view service, std::string_view name, abi::CapId client) {
    if (Export* found = find_export(service, name)) {
        if (found->client.raw != 0)
            (void)rt::release(found->client);
        found->client = client;
        ++found->generation;
        return;
    }
    if (g_export_count < max_exports)
        g_exports[g_export_count++] = {service, name, client, 1, false};
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

// Whether an optional device grant of `service` names no function, or a
// required import comes from a service that was skipped: then the service
// is skipped too (said in a line).
bool dependency_absent(schema::ServiceConfig::Reader service) {
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
    // A required import whose service was skipped.
    for (CapGrant::Reader grant : service.grants()) {
        auto source = grant.source();
        if (source.which() == CapGrant::Source::Which::Service && grant.required() &&
            skipped(source.service().service())) {
            Line() << "init: service '" << service.name() << "' not started: '"
                   << source.service().service() << "' was not started, for its grant "
                   << grant.name();
            return true;
        }
    }
    return false;
}

// Starts `service` and records it in g_started; Refused (with a line naming
// the service and the reason) when it could not be started, in which case
// nothing was started for it; Skipped when an optional device is absent.
// `again` is the record of a service started before (a restart): it is
// filled anew instead of a new one.
Outcome start_service(rt::Capability<schema::ProcessSpawner>& spawner,
                      schema::ServiceConfig::Reader service, uint32_t index,
                      Started* again = nullptr) {
    auto grants = service.grants();
    // Resolve every grant's source before spawning (decode, then invoke).
    abi::CapId sources[abi::capset_max_entries];
    uint32_t generations[abi::capset_max_entries] = {};
    bool left_out[abi::capset_max_entries] = {};
    if (!manifest::grant_count_valid(grants.size()))
        return refuse(service, manifest::grant_count_rule);
    if (!again && g_started_count == max_services)
        return refuse(service, manifest::service_count_rule);
    if (dependency_absent(service)) {
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
            if (found->gone || found->client.raw == 0)
                return refuse(service, "the service serving it has ended, for grant", grant.name());
            sources[i] = found->client;
            generations[i] = found->generation;
            break;
        }
        case CapGrant::Source::Which::Endpoint:
        case CapGrant::Source::Which::Supervisor:
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
        if (service.has_args())
            params.set_args(service.args());
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
            } else if (which == CapGrant::Source::Which::Supervisor) {
                out.set_served_endpoint();
            } else {
                // The interface the manifest says the receiver expects: a
                // service's export (which speaks any) is narrowed to it.
                out.set_interface_id(grants[i].interface_id());
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

    Started& record = again ? *again : g_started[g_started_count++];
    record.name = service.name();
    record.service = index;
    record.handle = abi::CapId{spawned.value().handle()};
    record.supervisor = abi::CapId{};
    record.waited = false;
    record.ended = false;
    record.pending.reset();
    for (uint32_t i = 0; i < grants.size(); ++i)
        record.handed[i] = generations[i];
    // The client sides of the new endpoints and the owner side of the
    // supervisor's come back in grant order.
    auto endpoints = spawned.value().endpoints();
    uint32_t next = 0;
    for (uint32_t i = 0; i < grants.size(); ++i) {
        auto which = grants[i].source().which();
        if (which != CapGrant::Source::Which::Endpoint &&
            which != CapGrant::Source::Which::Supervisor)
            continue;
        abi::CapId id{next < endpoints.size() ? endpoints[next] : 0};
        ++next;
        if (which == CapGrant::Source::Which::Supervisor) {
            record.supervisor = id;
            continue;
        }
        for (auto name : service.exports()) {
            if (name == grants[i].name())
                set_export(service.name(), name, id);
        }
    }
    return Outcome::Started;
}

// Says how `name` ended; true when it exited with code 0.
bool report_end(std::string_view name, schema::ExitStatus::Reader status) {
    if (status.is_exited()) {
        Line() << "init: " << name << " exited with code " << status.exited();
        return status.exited() == 0;
    }
    if (status.is_killed()) {
        Line() << "init: " << name << " was killed";
        return false;
    }
    Line() << "init: " << name << " ended by exception " << int64_t(status.faulted().vector())
           << " (" << status.faulted().detail() << ")";
    return false;
}

// Waits for a service started with waitForExit; true when it exited with
// code 0. It is not started again.
bool wait_for(Started& started) {
    started.waited = true;
    started.ended = true;
    schema::ProcessHandle::Client<rt::RingTransport> handle(rt::transport(), started.handle.raw);
    auto waited = handle.wait();
    if (waited.is_error()) {
        Line() << "init: cannot wait for " << started.name << ": "
               << rt::call_error_text(waited.error());
        return false;
    }
    return report_end(started.name, waited.value().status());
}

// --- Once every service is started: waits, restarts, supervisors --------------

using schema::Supervisor;

void arm_wait(Started& started) {
    started.wait_ticket = rt::ring().submit(rt::call_sqe(
        started.handle.raw, schema::ProcessHandle::interface_id,
        uint16_t(schema::ProcessHandle::Method::Wait), rt::no_params(), started.wait_result));
}

void arm_receive(Started& started) {
    started.recv_ticket = rt::ring().submit(rt::recv_sqe(started.supervisor, started.receive));
}

// The import `grant` of `started` (a service grant), as init holds it.
Export* import_of(schema::ServiceConfig::Reader service, uint32_t grant) {
    auto source = service.grants()[grant].source();
    return find_export(source.service().service(), source.service().export_());
}

void answer_exception(Started& started, uint32_t call_id, schema::ExceptionType type,
                      std::string_view message) {
    alignas(capnp::Word) capnp::Word buffer[16];
    gen::DispatchResult encoded =
        gen::encode_exception<schema::CapException>(buffer, {type, message});
    (void)rt::ring().run(rt::return_sqe(started.supervisor, call_id, encoded.message(), true));
}

// Answers a reconnect of `started`'s import `grant` when there is an answer:
// a capability newer than the caller's, or none ever (its service ended for
// good). False when the caller must wait for a restart.
bool answer_reconnect(Started& started, schema::ServiceConfig::Reader service, uint32_t call_id,
                      uint32_t grant) {
    Export* found = import_of(service, grant);
    if (!found || found->gone || found->client.raw == 0) {
        answer_exception(started, call_id, schema::ExceptionType::Disconnected,
                         "the service serving it has ended");
        return true;
    }
    if (found->generation <= started.handed[grant])
        return false;
    alignas(capnp::Word) capnp::Word buffer[8];
    capnp::MessageBuilder message(buffer);
    Supervisor::ReconnectResults::Builder results(message.init_root(
        Supervisor::ReconnectResults::data_words, Supervisor::ReconnectResults::pointer_count));
    results.set_cap(found->client.raw);
    abi::TransferDescriptor transfer{found->client.raw, uint8_t(abi::TransferMode::Copy), {}};
    abi::Sqe sqe = rt::return_sqe(started.supervisor, call_id, message.words(), false);
    sqe.transfer_count = 1;
    sqe.transfer_addr = reinterpret_cast<uint64_t>(&transfer);
    if (rt::ring().run(sqe).result < 0)
        answer_exception(started, call_id, schema::ExceptionType::Overloaded,
                         "the capability could not be sent");
    else
        started.handed[grant] = found->generation;
    return true;
}

// A call on `started`'s supervisor came (or its receive ended).
void supervisor_called(Started& started, schema::ServiceConfig::Reader service,
                       const abi::Cqe& cqe) {
    started.recv_ticket = 0;
    if (cqe.result < 0) {
        // Disconnected: the service has ended (its side was the only one).
        (void)rt::release(started.supervisor);
        started.supervisor = abi::CapId{};
        return;
    }
    abi::RecvHeader header;
    __builtin_memcpy(&header, started.receive, sizeof header);
    constexpr size_t header_words = sizeof header / sizeof(capnp::Word);
    // Capabilities sent with a call are none of Supervisor's: let them go.
    for (uint32_t i = 0; i < header.cap_count; ++i) {
        abi::CapRecord record;
        __builtin_memcpy(&record,
                         reinterpret_cast<const uint8_t*>(started.receive) + sizeof header +
                             header.params_len + i * sizeof record,
                         sizeof record);
        (void)rt::release(abi::CapId{record.cap});
    }
    if (header.interface_id != Supervisor::interface_id ||
        header.method != uint16_t(Supervisor::Method::Reconnect)) {
        answer_exception(started, header.call_id, schema::ExceptionType::Unimplemented,
                         "Supervisor has no such method");
        arm_receive(started);
        return;
    }
    // The kernel validated the params as it took them from the caller.
    auto params = capnp::MessageReader::validated(std::span<const capnp::Word>(
        started.receive + header_words, header.params_len / sizeof(capnp::Word)));
    Supervisor::ReconnectParams::Reader reconnect(params.root());
    std::string_view name = reconnect.name();
    auto grants = service.grants();
    for (uint32_t i = 0; i < grants.size(); ++i) {
        if (grants[i].name() != name ||
            grants[i].source().which() != CapGrant::Source::Which::Service)
            continue;
        if (!answer_reconnect(started, service, header.call_id, i)) {
            started.pending = Pending{header.call_id, i};
            return; // the next call waits in the endpoint until this is answered
        }
        arm_receive(started);
        return;
    }
    answer_exception(started, header.call_id, schema::ExceptionType::InvalidArgument,
                     "no import of that name");
    arm_receive(started);
}

// An export changed (a restart, or its service's end): reconnects waiting
// for it are answered.
void answer_waiting(schema::SystemManifest::Reader manifest) {
    auto services = manifest.init().services();
    for (size_t i = 0; i < g_started_count; ++i) {
        Started& started = g_started[i];
        if (!started.pending || started.supervisor.raw == 0)
            continue;
        if (answer_reconnect(started, services[started.service], started.pending->call_id,
                             started.pending->grant)) {
            started.pending.reset();
            arm_receive(started);
        }
    }
}

// Whether a service that may still run (or run again) imports `exported`.
bool still_imported(const Export& exported, schema::SystemManifest::Reader manifest) {
    auto services = manifest.init().services();
    for (size_t i = 0; i < g_started_count; ++i) {
        if (g_started[i].ended)
            continue;
        for (CapGrant::Reader grant : services[g_started[i].service].grants()) {
            auto source = grant.source();
            if (source.which() == CapGrant::Source::Which::Service &&
                source.service().service() == exported.service &&
                source.service().export_() == exported.name)
                return true;
        }
    }
    return false;
}

// init's copies of exports no service may import any more go, so that their
// servers learn they have no clients left.
void release_unimported(schema::SystemManifest::Reader manifest) {
    for (size_t i = 0; i < g_export_count; ++i) {
        Export& exported = g_exports[i];
        if (exported.client.raw != 0 && !still_imported(exported, manifest)) {
            (void)rt::release(exported.client);
            exported.client = abi::CapId{};
        }
    }
}

// `started` has ended: started again when it failed with restarts left,
// else ended for good (its exports gone). False when it did not exit 0 and
// was not started again.
bool service_ended(Started& started, rt::Capability<schema::ProcessSpawner>& spawner,
                   schema::SystemManifest::Reader manifest, const abi::Cqe& cqe) {
    started.wait_ticket = 0;
    started.waited = true;
    auto services = manifest.init().services();
    schema::ServiceConfig::Reader service = services[started.service];
    bool clean = false;
    if (cqe.result == int32_t(abi::CallStatus::Ok)) {
        capnp::MessageReader reader(std::span<const capnp::Word>(
            started.wait_result, cqe.result_len / sizeof(capnp::Word)));
        schema::ProcessHandle::WaitResults::Reader results(reader.root());
        results.traverse();
        if (reader.error() == capnp::WireError::None)
            clean = report_end(started.name, results.status());
        else
            Line() << "init: " << started.name << ": its end came as a malformed message";
    } else {
        Line() << "init: cannot wait for " << started.name;
    }
    (void)rt::release(started.handle);
    started.handle = abi::CapId{};
    if (started.pending) {
        // The caller has ended: its supervisor's receive is not armed.
        (void)rt::release(started.supervisor);
        started.supervisor = abi::CapId{};
        started.pending.reset();
    }
    uint32_t allowed = service.restarts();
    if (!clean && started.restarts < allowed) {
        ++started.restarts;
        Line() << "init: starting " << started.name << " again (restart " << started.restarts
               << " of " << allowed << ")";
        // Its supervisor (if any) was the old process's: its receive has
        // ended (Disconnected) with the process, and a new one comes.
        if (started.recv_ticket != 0)
            (void)rt::ring().wait(std::exchange(started.recv_ticket, 0));
        if (started.supervisor.raw != 0)
            (void)rt::release(std::exchange(started.supervisor, abi::CapId{}));
        if (start_service(spawner, service, started.service, &started) == Outcome::Started) {
            arm_wait(started);
            if (started.supervisor.raw != 0)
                arm_receive(started);
            answer_waiting(manifest);
            return true;
        }
    } else if (!clean && allowed != 0) {
        Line() << "init: " << started.name << " is not started again (" << allowed
               << " restart(s) made)";
    }
    started.ended = true;
    for (size_t i = 0; i < g_export_count; ++i) {
        Export& exported = g_exports[i];
        if (exported.service != started.name)
            continue;
        if (exported.client.raw != 0)
            (void)rt::release(exported.client);
        exported.client = abi::CapId{};
        exported.gone = true;
    }
    answer_waiting(manifest);
    release_unimported(manifest);
    return clean;
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
        Outcome outcome = start_service(spawner.value(), services[i], i);
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
    // Everything is wired: init keeps only the exports a service that may
    // (re)start imports, so a service learns it has no clients left once
    // its importers end.
    release_unimported(manifest);
    for (size_t i = 0; i < g_started_count; ++i) {
        if (g_started[i].ended)
            continue;
        arm_wait(g_started[i]);
        if (g_started[i].supervisor.raw != 0)
            arm_receive(g_started[i]);
    }
    // Every service's end and every supervisor's call, as they come.
    for (;;) {
        uint64_t tickets[2 * max_services];
        size_t count = 0;
        for (size_t i = 0; i < g_started_count; ++i) {
            tickets[count++] = g_started[i].wait_ticket;
            tickets[count++] = g_started[i].recv_ticket;
        }
        bool any = false;
        for (size_t i = 0; i < count; ++i)
            any = any || tickets[i] != 0;
        if (!any)
            break;
        size_t which = 0;
        abi::Cqe cqe = rt::ring().wait_any(std::span<const uint64_t>(tickets, count), which);
        Started& started = g_started[which / 2];
        if (which % 2 == 0)
            all_clean = service_ended(started, spawner.value(), manifest, cqe) && all_clean;
        else
            supervisor_called(started, services[started.service], cqe);
    }
    Line() << "init: every service has ended";
    return all_clean ? 0 : 1;
}
