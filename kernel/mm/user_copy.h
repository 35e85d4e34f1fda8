// How the kernel reads and writes user memory through user addresses (pages
// it owns itself, the ring, the CapSet page and loaded program segments, it
// writes through the direct map instead). A UserSpan<T> names `count`
// objects of trivially copyable type T at a user address; it cannot be
// dereferenced, only copied in or out, and every copy checks that the whole
// range lies in user space (overflow-safe) before the architecture's fault-safe
// copy runs with SMAP opened for exactly that copy.
#pragma once

#include "abi/user_layout.h"
#include "kernel/arch/arch.h"
#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/log.h"
#include "kernel/mm/layout.h"
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
class UserAddressSpace;

// A user range of any address space to be written, checked once: open()
// makes sure every page of it is a present, writable user page (probing the
// pages when the address space is the active one, walking its tables once per
// page otherwise (UserAddressSpace::translate, which remembers the last page),
// noting where each page is), then write() puts bytes at
// successive offsets without checking again. Nothing is written by open().
// For answers: everything that can fail is known before anything is written.
class UserDestination {
public:
    // The largest range: a message of ring::max_message_bytes with its
    // header and capability records fits.
    static constexpr size_t max_pages = 18;

    // False when a page is missing, read-only or not a user page, or the range
    // spans more than max_pages pages.
    [[nodiscard]] bool open(UserAddressSpace& space, uint64_t address, size_t length)
        CAPOS_REQUIRES_SHARED(g_kernel_lock);
    // Appends `length` bytes of `data` (within the opened length). Inline for
    // what almost every answer is: a few bytes within one page of another
    // address space.
    [[gnu::always_inline]] void write(const void* data, size_t length) {
        VERIFY(length <= m_end - m_address);
        if (length == 0)
            return;
        uint64_t offset = m_address % page_size;
        if (!m_active && length <= page_size - offset) {
            auto* out = phys_to_ptr<uint8_t>(m_phys[m_address / page_size - m_first_page] + offset);
            m_address += length;
            if (length % 8 == 0 && length <= 64) {
                // Whole words, a few of them (a header, a small message):
                // copied here, not by a call to memcpy (under TCG a call
                // and its return are each a lookup of translated code, a
                // miss after an address-space switch).
                for (size_t at = 0; at < length; at += 8) {
                    uint64_t word;
                    __builtin_memcpy(&word, static_cast<const uint8_t*>(data) + at, 8);
                    __builtin_memcpy(out + at, &word, 8);
                }
                return;
            }
            __builtin_memcpy(out, data, length);
            return;
        }
        write_pages(data, length);
    }

private:
    void write_pages(const void* data, size_t length); // write()'s general case

    uint64_t m_address = 0;     // the next byte to write
    uint64_t m_end = 0;         // one past the opened range
    bool m_active = false;      // the active address space: user copies
    uint64_t m_first_page = 0;  // the page of the opened address
    uint64_t m_phys[max_pages]; // set by open() for the pages it opened
};

// True when every page of [address, address+length) of the running process
// is a present, writable user page, probed as the MMU checks a write: checked
// before a call runs, so a call whose results could not be delivered fails
// before it has any effect. (Another address space: UserDestination.)
inline bool user_range_writable(uint64_t address, size_t length) {
    return user_range_valid(address, length) && arch::raw_user_writable(address, length);
}

} // namespace capos::kernel
