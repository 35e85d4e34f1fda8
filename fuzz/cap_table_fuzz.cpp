// libFuzzer target for lib/cap/cap_table: the bytes are an operation sequence on
// two small tables (insert, lookup, remove, reserve/commit/cancel, take/restore/
// finish, move_to in both directions, for_each, clear, dropped tokens), each result
// compared with the shadow model in tests/host/cap_table_model.h, which the
// randomized host test uses too. A mismatch, a leaked or lost object, or any
// sanitizer report is a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "tests/host/cap_table_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string failure = capos::cap_model::run_operations(std::span<const uint8_t>(data, size));
    if (!failure.empty()) {
        std::fprintf(stderr, "cap_table model mismatch: %s\n", failure.c_str());
        __builtin_trap();
    }
    return 0;
}
