// The only way the kernel touches user memory. A UserSpan<T> names `count`
// objects of trivially copyable type T at a user address; it cannot be
// dereferenced, only copied in or out, and every copy checks that the whole
// range lies in user space (overflow-safe) before the architecture's fault-safe
// copy runs with SMAP opened for exactly that copy.
#pragma once

#include "abi/user_layout.h"
#include "kernel/arch/arch.h"
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace capos::kernel {

inline bool user_range_valid(uint64_t address, uint64_t length) {
    return address < abi::user_limit && length <= abi::user_limit - address;
}

template <typename T>
requires std::is_trivially_copyable_v<T>
class UserSpan {
public:
    UserSpan(uint64_t address, size_t count) : m_address(address), m_count(count) {}

    uint64_t address() const { return m_address; }
    size_t count() const { return m_count; }

    // Copies the whole span into `out` (room for count() objects).
    [[nodiscard]] bool copy_in(T* out) const {
        size_t bytes = 0;
        if (__builtin_mul_overflow(m_count, sizeof(T), &bytes) ||
            !user_range_valid(m_address, bytes))
            return false;
        return arch::raw_user_copy(out, reinterpret_cast<const void*>(m_address), bytes);
    }

    // Copies `count()` objects from `in` to the user's memory.
    [[nodiscard]] bool copy_out(const T* in) const {
        size_t bytes = 0;
        if (__builtin_mul_overflow(m_count, sizeof(T), &bytes) ||
            !user_range_valid(m_address, bytes))
            return false;
        return arch::raw_user_copy(reinterpret_cast<void*>(m_address), in, bytes);
    }

private:
    uint64_t m_address;
    size_t m_count;
};

} // namespace capos::kernel

namespace capos::kernel {

class PageTables;

// Copies into the user half of an address space that need not be the active
// one, through its page tables and the direct map, page by page. Every page
// touched must be a present, writable user page. Used to deliver replies into
// a process that is not running. Returns false, with possibly part of the
// data copied, when a page fails the check.
bool copy_to_address_space(PageTables& tables, uint64_t address, const void* data, size_t length);

// True when every page of [address, address+length) is a present, writable
// user page: checked before a call runs, so a call whose results could not be
// delivered fails before it has any effect.
bool user_range_writable(PageTables& tables, uint64_t address, size_t length);

} // namespace capos::kernel
