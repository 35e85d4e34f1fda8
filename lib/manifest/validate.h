// Checks a boot manifest (schema/capos.capnp SystemManifest) for everything
// that can be known before boot: the host tool tools/mkmanifest runs it when
// an image is built, and the kernel and init run it again before they start
// anything, so a bad manifest fails closed with a reason instead of
// half-starting a system. What the kernel accepts comes from sources it
// shares: resource limits from abi/limits.h, names and counts from
// lib/manifest/limits.h, kernel sources from lib/manifest/kernel_sources.h.
#pragma once

#include "lib/base/result.h"
#include "lib/manifest/kernel_sources.h"
#include "lib/manifest/limits.h"
#include "schema/capos.capnp.capos.h"
#include <string_view>

namespace capos::manifest {

enum class ManifestErrorCode : uint8_t {
    SchemaVersion,       // not the version this code reads
    EmptyName,           // a binary, service, grant or export without a name
    NameTooLong,         // longer than a process or CapSet name may be
    DuplicateBinary,     // two binaries with one name
    MissingBinary,       // init or a service names a binary that is not listed
    InitGrantNotKernel,  // init can only be granted kernel capabilities
    DuplicateGrant,      // two grants with one name in one grant list
    TooManyGrants,       // more than a CapSet holds (grant_count_rule)
    DuplicateService,    // two services with one name
    KernelSourceNotHeld, // a service is granted a kernel capability init does not hold
    UnknownService,      // a grant imports from a service that is not (yet) started
    UnknownExport,       // ... or that does not export that name
    ExportNotEndpoint,   // an export names no endpoint grant of its service
    InterfaceMismatch,   // a grant's interfaceId is not what its source speaks
    UnknownKernelCapability,
    TooManyServices,      // more than schema::max_services (service_count_rule)
    LimitTooLarge,        // a service's limits exceed the kernel's maximums (abi/limits.h)
    SourceUnavailable,    // a grant names a kernel capability this kernel does not serve
    GrantsBeyondSlots,    // a service has more grants than its capabilitySlots (or the default)
    DeviceManagerNotHeld, // a service is granted a device but init holds no deviceManager
    DuplicateDevice,      // two device grants name the same function the same way
    UnknownInterface,     // a grant's interfaceId is no interface of the schema
    ArgumentsTooLong,     // a service's args do not fit abi/args.h's block
};

const char* to_string(ManifestErrorCode code);

struct ManifestError {
    ManifestErrorCode code;
    std::string_view subject; // the name the error is about (points into the manifest)
};

// `manifest` must come from a validated message (capnp::validate): this
// checks meaning, not encoding.
Result<void, ManifestError> validate(schema::SystemManifest::Reader manifest);

} // namespace capos::manifest
