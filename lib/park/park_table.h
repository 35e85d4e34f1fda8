// The threads parked on words (PARK and UNPARK, docs/abi.md "Park"), keyed by
// the word's physical address, so that threads of different processes
// sharing memory park on the same word whatever its virtual address. A fixed
// number of buckets, each a list of waiters in the order they parked; the
// waiters' list nodes and keys are their own (intrusive: parking allocates
// nothing).
//
// A Waiter derives from IntrusiveListNode<Link> and has a public
// `uint64_t park_key`. Not thread-safe: the caller serialises (the kernel
// lock).
#pragma once

#include "lib/base/intrusive_list.h"
#include <cstddef>
#include <cstdint>

namespace capos::park {

template <typename Waiter, typename Link, size_t BucketBits = 8>
class ParkTable {
public:
    static constexpr size_t bucket_count = size_t{1} << BucketBits;

    // Parks `waiter` on `key` (behind those already parked on it).
    void park(Waiter& waiter, uint64_t key) {
        waiter.park_key = key;
        bucket(key).push_back(waiter);
        ++m_parked;
    }

    // Takes up to `count` waiters parked on `key` off the table, first
    // parked first, calling woken(waiter) for each; returns how many.
    template <typename F>
    uint32_t wake(uint64_t key, uint32_t count, F&& woken) {
        List& list = bucket(key);
        uint32_t done = 0;
        while (done < count) {
            Waiter* waiter = list.find_if([&](const Waiter& w) { return w.park_key == key; });
            if (!waiter)
                break;
            list.remove(*waiter);
            --m_parked;
            ++done;
            woken(*waiter);
        }
        return done;
    }

    // Takes `waiter` off the table if it is parked (a timeout, its end).
    bool remove(Waiter& waiter) {
        List& list = bucket(waiter.park_key);
        if (!list.contains(waiter))
            return false;
        list.remove(waiter);
        --m_parked;
        return true;
    }

    bool is_parked(const Waiter& waiter) const {
        return bucket_of(waiter.park_key).contains(waiter);
    }
    size_t parked() const { return m_parked; }

private:
    using List = IntrusiveList<Waiter, Link>;
    static size_t index(uint64_t key) {
        // Words are 4-byte aligned; Fibonacci hashing spreads the rest.
        return size_t(((key >> 2) * 0x9e3779b97f4a7c15ull) >> (64 - BucketBits));
    }
    List& bucket(uint64_t key) { return m_buckets[index(key)]; }
    const List& bucket_of(uint64_t key) const { return m_buckets[index(key)]; }

    List m_buckets[bucket_count];
    size_t m_parked = 0;
};

} // namespace capos::park
