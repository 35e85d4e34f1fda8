// Parking (the PARK and UNPARK ring operations on the ParkSpace named "park",
// docs/abi.md "Park") and what the runtime builds on it: a mutex and a
// condition variable for the process's threads. Without a "park"
// capability, Mutex spins instead of sleeping (correct, wasteful) and
// CondVar::wait returns at once (callers loop on their condition anyway).
#pragma once

#include <cstdint>

namespace capos::rt {

enum class ParkOutcome : uint8_t {
    Woken,       // an unpark of the word woke it
    NotExpected, // the word did not hold `expected`: it never slept
    TimedOut,
    Failed, // no "park" capability, or the word cannot be read
};
inline constexpr uint64_t park_forever = UINT64_MAX;

// Sleeps while *word == expected, until an unpark of it or `timeout_ns`.
ParkOutcome park(const uint32_t* word, uint32_t expected, uint64_t timeout_ns = park_forever);
// Wakes up to `count` threads parked on *word; how many it woke (-1: failed).
int32_t unpark(const uint32_t* word, uint32_t count);

class Mutex {
public:
    constexpr Mutex() = default;
    Mutex(const Mutex&) = delete;
    Mutex& operator=(const Mutex&) = delete;

    void lock();
    bool try_lock();
    void unlock();

private:
    friend class CondVar;
    // 0 free, 1 held, 2 held and someone may be parked on it.
    uint32_t m_state = 0;
};

class MutexLock {
public:
    explicit MutexLock(Mutex& mutex) : m_mutex(mutex) { m_mutex.lock(); }
    ~MutexLock() { m_mutex.unlock(); }
    MutexLock(const MutexLock&) = delete;
    MutexLock& operator=(const MutexLock&) = delete;

private:
    Mutex& m_mutex;
};

class CondVar {
public:
    constexpr CondVar() = default;
    CondVar(const CondVar&) = delete;
    CondVar& operator=(const CondVar&) = delete;

    // Unlocks `mutex`, sleeps until a notify (or spuriously), locks it again.
    void wait(Mutex& mutex);
    void notify_one();
    void notify_all();

private:
    uint32_t m_sequence = 0; // changed by every notify
};

} // namespace capos::rt
