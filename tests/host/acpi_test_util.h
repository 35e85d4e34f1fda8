// What lib/acpi's host test files share beside the table builders
// (acpi_tables.h): errors printed by name, tables in storage of exactly their
// size, a result's error as an optional.
#pragma once

#include "lib/acpi/acpi.h"
#include "tests/host/acpi_tables.h"

#include <optional>
#include <ostream>

namespace capos::acpi {

// gtest prints errors by name.
inline void PrintTo(AcpiError error, std::ostream* out) {
    *out << to_string(error);
}

namespace testing {

// `bytes` in storage of exactly their size, so that the sanitizers see a read
// one past the end.
inline Bytes exact(const Bytes& bytes) {
    return Bytes(bytes.begin(), bytes.end());
}

template <typename T>
std::optional<AcpiError> error_of(const Result<T, AcpiError>& result) {
    if (result.is_ok())
        return std::nullopt;
    return result.error();
}

} // namespace testing

} // namespace capos::acpi
