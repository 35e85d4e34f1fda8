// Holds a lock (SpinLock, ObjectLock: anything with lock() and unlock())
// for the rest of a scope.
#pragma once

#include "lib/base/thread_safety.h"

namespace capos::kernel {

template <typename Lock>
class CAPOS_SCOPED_CAPABILITY LockGuard {
public:
    explicit LockGuard(Lock& lock) CAPOS_ACQUIRE(lock) : m_lock(lock) { m_lock.lock(); }
    ~LockGuard() CAPOS_RELEASE() { m_lock.unlock(); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    Lock& m_lock;
};

} // namespace capos::kernel
