#include "lib/manifest/validate.h"
#include "abi/args.h"
#include "abi/capset.h"
#include "abi/limits.h"
#include "lib/args/args_block.h"
#include <span>

namespace capos::manifest {

namespace {

using schema::CapGrant;
using GrantList = gen::StructList<CapGrant>::Reader;

Err<ManifestError> error(ManifestErrorCode code, std::string_view subject) {
    return Err{ManifestError{code, subject}};
}

bool has_binary(schema::SystemManifest::Reader manifest, std::string_view name) {
    for (auto binary : manifest.binaries()) {
        if (binary.name() == name)
            return true;
    }
    return false;
}

// A grant's interfaceId: none (0), or an interface of the schema.
bool interface_known(uint64_t id) {
    if (id == 0)
        return true;
    for (const auto& known : schema::interfaces)
        if (known.id == id)
            return true;
    return false;
}

// Names in one grant list: present, short enough for the CapSet, unique;
// interfaces the schema has.
Result<void, ManifestError> check_grant_names(GrantList grants) {
    if (!grant_count_valid(grants.size()))
        return error(ManifestErrorCode::TooManyGrants, {});
    for (uint32_t i = 0; i < grants.size(); ++i) {
        std::string_view name = grants[i].name();
        if (name.empty())
            return error(ManifestErrorCode::EmptyName, {});
        if (!grant_name_valid(name))
            return error(ManifestErrorCode::NameTooLong, name);
        for (uint32_t j = 0; j < i; ++j) {
            if (grants[j].name() == name)
                return error(ManifestErrorCode::DuplicateGrant, name);
        }
        if (!interface_known(grants[i].interface_id()))
            return error(ManifestErrorCode::UnknownInterface, name);
    }
    return {};
}

Result<void, ManifestError> check_interface(CapGrant::Reader grant, uint64_t speaks) {
    if (grant.interface_id() != 0 && speaks != 0 && grant.interface_id() != speaks)
        return error(ManifestErrorCode::InterfaceMismatch, grant.name());
    return {};
}

// A kernel source must be one the schema knows and this kernel serves, and
// the grant must name the interface it speaks (or none).
Result<void, ManifestError> check_kernel_source(CapGrant::Reader grant) {
    schema::KernelCapability kind = grant.source().kernel();
    uint64_t speaks = kernel_interface(kind);
    if (speaks == 0)
        return error(ManifestErrorCode::UnknownKernelCapability, grant.name());
    if (!kernel_serves(kind))
        return error(ManifestErrorCode::SourceUnavailable, grant.name());
    return check_interface(grant, speaks);
}

// Whether two device grants name the same function in the same way: the
// same ids and index, or the same address (unisolatedDma aside). One named
// by identity and again by address is only known to be the same at boot,
// where the second claim is refused.
bool same_device(schema::DeviceSelector::Reader a, schema::DeviceSelector::Reader b) {
    if (a.which() != b.which())
        return false;
    if (a.is_identity()) {
        auto x = a.identity();
        auto y = b.identity();
        return x.vendor_id() == y.vendor_id() && x.device_id() == y.device_id() &&
               x.index() == y.index();
    }
    if (a.is_address()) {
        auto x = a.address();
        auto y = b.address();
        return x.segment() == y.segment() && x.bus() == y.bus() && x.device() == y.device() &&
               x.function() == y.function();
    }
    return false;
}

// A device grant: init claims it through its own DeviceManager, so init must
// hold one; the receiver gets a Device; and a function is claimed once, so
// no earlier grant in the manifest may name it the same way. `lists` holds
// the grant lists of the services so far, the last one the grant's own, of
// which the grants before `index` come before it.
Result<void, ManifestError> check_device_source(std::span<const GrantList> lists, uint32_t index,
                                                bool init_holds_manager) {
    CapGrant::Reader grant = lists.back()[index];
    if (!init_holds_manager)
        return error(ManifestErrorCode::DeviceManagerNotHeld, grant.name());
    TRY(check_interface(grant, schema::Device::interface_id));
    auto selector = grant.source().device();
    for (size_t t = 0; t < lists.size(); ++t) {
        uint32_t end = t + 1 == lists.size() ? index : lists[t].size();
        for (uint32_t j = 0; j < end; ++j) {
            auto source = lists[t][j].source();
            if (source.which() == CapGrant::Source::Which::Device &&
                same_device(source.device(), selector))
                return error(ManifestErrorCode::DuplicateDevice, grant.name());
        }
    }
    return {};
}

// The service's arguments must fit the block spawn writes them to.
Result<void, ManifestError> check_args(schema::ServiceConfig::Reader service) {
    auto args = service.args();
    if (args.size() > abi::args_max_count)
        return error(ManifestErrorCode::ArgumentsTooLong, service.name());
    std::string_view views[abi::args_max_count];
    for (uint32_t i = 0; i < args.size(); ++i)
        views[i] = args[i];
    if (!args::fits({views, args.size()}))
        return error(ManifestErrorCode::ArgumentsTooLong, service.name());
    return {};
}

// The limits the kernel will give the service (0 is the default, as spawn
// reads it) must be within its maximums.
Result<void, ManifestError> check_limits(schema::ServiceConfig::Reader service) {
    if (!service.has_limits())
        return {};
    auto limits = service.limits();
    auto or_default = [](auto value, auto fallback) -> decltype(fallback) {
        return value != 0 ? value : fallback;
    };
    if (!abi::limits_within_maximums(
            or_default(limits.capability_slots(), abi::default_capability_slots),
            or_default(limits.outstanding_calls(), abi::default_outstanding_calls),
            or_default(limits.queued_bytes(), abi::default_queued_bytes),
            or_default(limits.frames(), abi::default_frames),
            or_default(limits.cpu_weight(), abi::default_cpu_weight)))
        return error(ManifestErrorCode::LimitTooLarge, service.name());
    return {};
}

// Every grant takes a slot of the service's capability table: a grant list
// longer than its capabilitySlots (0: the default) is one spawn refuses.
Result<void, ManifestError> check_slots(schema::ServiceConfig::Reader service) {
    uint32_t slots = abi::default_capability_slots;
    if (service.has_limits() && service.limits().capability_slots() != 0)
        slots = service.limits().capability_slots();
    if (service.grants().size() > slots)
        return error(ManifestErrorCode::GrantsBeyondSlots, service.name());
    return {};
}

} // namespace

const char* to_string(ManifestErrorCode code) {
    switch (code) {
    case ManifestErrorCode::SchemaVersion:
        return "unsupported schema version";
    case ManifestErrorCode::EmptyName:
        return "empty name";
    case ManifestErrorCode::NameTooLong:
        return "name too long";
    case ManifestErrorCode::DuplicateBinary:
        return "duplicate binary name";
    case ManifestErrorCode::MissingBinary:
        return "no such binary";
    case ManifestErrorCode::InitGrantNotKernel:
        return "init can only be granted kernel capabilities";
    case ManifestErrorCode::DuplicateGrant:
        return "duplicate grant name";
    case ManifestErrorCode::TooManyGrants:
        return grant_count_rule.c_str();
    case ManifestErrorCode::DuplicateService:
        return "duplicate service name";
    case ManifestErrorCode::KernelSourceNotHeld:
        return "kernel capability granted to a service but not to init";
    case ManifestErrorCode::UnknownService:
        return "imports from a service that is not started before it";
    case ManifestErrorCode::UnknownExport:
        return "imports an export the service does not have";
    case ManifestErrorCode::ExportNotEndpoint:
        return "export is not one of the service's endpoint grants";
    case ManifestErrorCode::InterfaceMismatch:
        return "grant's interfaceId differs from what its source speaks";
    case ManifestErrorCode::UnknownKernelCapability:
        return "unknown kernel capability";
    case ManifestErrorCode::ArgumentsTooLong:
        return "the service's arguments are too many or too long (abi/args.h)";
    case ManifestErrorCode::UnknownInterface:
        return "grant's interfaceId is no interface of the schema";
    case ManifestErrorCode::TooManyServices:
        return service_count_rule.c_str();
    case ManifestErrorCode::LimitTooLarge:
        return "resource limits beyond the kernel's maximums";
    case ManifestErrorCode::SourceUnavailable:
        return "kernel capability not served by this kernel";
    case ManifestErrorCode::GrantsBeyondSlots:
        return "more grants than the service's capability slots";
    case ManifestErrorCode::DeviceManagerNotHeld:
        return "device granted to a service but init holds no deviceManager";
    case ManifestErrorCode::DuplicateDevice:
        return "device granted twice";
    }
    return "unknown manifest error";
}

Result<void, ManifestError> validate(schema::SystemManifest::Reader manifest) {
    if (manifest.schema_version() != schema::current_schema_version)
        return error(ManifestErrorCode::SchemaVersion, {});

    auto binaries = manifest.binaries();
    for (uint32_t i = 0; i < binaries.size(); ++i) {
        std::string_view name = binaries[i].name();
        if (name.empty() || binaries[i].path().empty())
            return error(ManifestErrorCode::EmptyName, name);
        for (uint32_t j = 0; j < i; ++j) {
            if (binaries[j].name() == name)
                return error(ManifestErrorCode::DuplicateBinary, name);
        }
    }

    auto init = manifest.init();
    if (!has_binary(manifest, init.program()))
        return error(ManifestErrorCode::MissingBinary, init.program());
    TRY(check_grant_names(init.grants()));
    bool init_holds[kernel_source_count] = {};
    for (auto grant : init.grants()) {
        auto source = grant.source();
        if (source.which() != CapGrant::Source::Which::Kernel)
            return error(ManifestErrorCode::InitGrantNotKernel, grant.name());
        TRY(check_kernel_source(grant));
        init_holds[static_cast<uint16_t>(source.kernel())] = true;
    }

    auto services = init.services();
    if (!service_count_valid(services.size()))
        return error(ManifestErrorCode::TooManyServices, {});
    size_t supervisors = 0;
    // Each service's grant list, read once: a device grant is compared with
    // every grant before it, and each read of a list is charged to the
    // reader's traversal budget.
    GrantList grant_lists[schema::max_services];
    for (uint32_t s = 0; s < services.size(); ++s) {
        auto service = services[s];
        std::string_view name = service.name();
        if (name.empty())
            return error(ManifestErrorCode::EmptyName, {});
        if (!process_name_valid(name))
            return error(ManifestErrorCode::NameTooLong, name);
        for (uint32_t t = 0; t < s; ++t) {
            if (services[t].name() == name)
                return error(ManifestErrorCode::DuplicateService, name);
        }
        if (!has_binary(manifest, service.binary()))
            return error(ManifestErrorCode::MissingBinary, service.binary());
        TRY(check_limits(service));
        TRY(check_args(service));
        TRY(check_grant_names(service.grants()));
        TRY(check_slots(service));

        auto grants = service.grants();
        grant_lists[s] = grants;
        for (uint32_t i = 0; i < grants.size(); ++i) {
            auto grant = grants[i];
            auto source = grant.source();
            switch (source.which()) {
            case CapGrant::Source::Which::Kernel: {
                TRY(check_kernel_source(grant));
                if (!init_holds[static_cast<uint16_t>(source.kernel())])
                    return error(ManifestErrorCode::KernelSourceNotHeld, grant.name());
                break;
            }
            case CapGrant::Source::Which::Service: {
                std::string_view from = source.service().service();
                std::string_view exported = source.service().export_();
                bool found_service = false;
                bool found_export = false;
                for (uint32_t t = 0; t < s; ++t) {
                    if (services[t].name() != from)
                        continue;
                    found_service = true;
                    for (auto e : services[t].exports())
                        found_export = found_export || e == exported;
                }
                if (!found_service)
                    return error(ManifestErrorCode::UnknownService, from);
                if (!found_export)
                    return error(ManifestErrorCode::UnknownExport, exported);
                break;
            }
            case CapGrant::Source::Which::Endpoint:
                break;
            case CapGrant::Source::Which::Supervisor:
                if (grant.interface_id() != 0 &&
                    grant.interface_id() != schema::Supervisor::interface_id)
                    return error(ManifestErrorCode::InterfaceMismatch, grant.name());
                if (!service_count_valid(services.size() + ++supervisors))
                    return error(ManifestErrorCode::TooManyServices, {});
                break;
            case CapGrant::Source::Which::Device:
                TRY(check_device_source(
                    std::span<const GrantList>(grant_lists, s + 1), i,
                    init_holds[static_cast<uint16_t>(schema::KernelCapability::DeviceManager)]));
                break;
            default:
                return error(ManifestErrorCode::UnknownKernelCapability, grant.name());
            }
        }
        for (auto exported : service.exports()) {
            bool is_endpoint = false;
            for (auto grant : service.grants()) {
                is_endpoint =
                    is_endpoint || (grant.name() == exported &&
                                    grant.source().which() == CapGrant::Source::Which::Endpoint);
            }
            if (!is_endpoint)
                return error(ManifestErrorCode::ExportNotEndpoint, exported);
        }
    }
    return {};
}

} // namespace capos::manifest
