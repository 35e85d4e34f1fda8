// What memory_object_test and its child wx_child agree on: W^X across two
// processes sharing one MemoryObject. The parent grants the object (a copy)
// under a name that says what the parent holds; the child reports through
// its check lines and its exit code (the number of failed checks).
#pragma once

#include <cstdint>

namespace capos::test::wx {

// The parent has the object mapped read-write: the child maps it read-only,
// and read-execute must be permissionDenied.
inline constexpr const char* while_writable = "while-writable";
// The parent has it mapped read-execute: read-write must be permissionDenied.
inline constexpr const char* while_executable = "while-executable";
// Mapped nowhere: the child maps it read-write, writes `written` at its start
// and exits with the mapping in place.
inline constexpr const char* to_write = "to-write";

inline constexpr uint64_t written = 0x77785f6368696c64; // "wx_child"

} // namespace capos::test::wx
