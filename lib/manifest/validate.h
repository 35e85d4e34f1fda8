// Checks a boot manifest (schema/capos.capnp SystemManifest) for everything
// that can be known before boot: the host tool tools/mkmanifest runs it when
// an image is built, and the kernel and init run it again before they start
// anything, so a bad manifest fails closed with a reason instead of
// half-starting a system. What the kernel accepts (limits, kernel sources)
// comes from abi/limits.h and kernel_serves below, which the kernel shares.
#pragma once

#include "lib/base/result.h"
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
    TooManyGrants,       // more than a CapSet holds
    DuplicateService,    // two services with one name
    KernelSourceNotHeld, // a service is granted a kernel capability init does not hold
    UnknownService,      // a grant imports from a service that is not (yet) started
    UnknownExport,       // ... or that does not export that name
    ExportNotEndpoint,   // an export names no endpoint grant of its service
    InterfaceMismatch,   // a grant's interfaceId is not what its source speaks
    UnknownKernelCapability,
    TooManyServices,
    LimitTooLarge,     // a service's limits exceed the kernel's maximums (abi/limits.h)
    SourceUnavailable, // a grant names a kernel capability this kernel does not serve
    GrantsBeyondSlots, // a service has more grants than its capabilitySlots (or the default)
};

const char* to_string(ManifestErrorCode code);

struct ManifestError {
    ManifestErrorCode code;
    std::string_view subject; // the name the error is about (points into the manifest)
};

inline constexpr size_t max_services = 32;

// The interface a kernel capability speaks, or 0 for an unknown kind.
uint64_t kernel_interface(schema::KernelCapability kind);

// Whether this kernel serves `kind`: the one list of available kernel
// sources. A manifest granting any other is refused, and the kernel checks
// at boot that it can create exactly these (kernel/cap/kernel_capabilities.cpp).
bool kernel_serves(schema::KernelCapability kind);

// `manifest` must come from a validated message (capnp::validate): this
// checks meaning, not encoding.
Result<void, ManifestError> validate(schema::SystemManifest::Reader manifest);

} // namespace capos::manifest
