// Threads of the process (ThreadSpawner, ThreadHandle, ThreadControl; the
// CapSet entries "threads" and "thread"): each runs on a stack of its own,
// mapped through the "vm" capability, with its own ring, ring client and
// transport (rt::ring() and rt::transport() are the calling thread's), and
// thread-local variables (`thread_local`, the kernel lays out each thread's
// TLS block).
//
//     auto thread = capos::rt::Thread::start(work, &state);
//     if (thread.is_error()) ...
//     int64_t code = thread.value().join();
//
// A Thread that is destroyed without join detaches: the thread runs on and
// gives its stack back when it ends (or, when it was ending already, the
// destructor waits for its end and gives the stack back itself).
#pragma once

#include "lib/base/result.h"
#include <cstddef>
#include <cstdint>
#include <utility>

namespace capos::rt {

enum class ThreadError : uint8_t {
    NoCapability, // the process holds no "threads" or "vm" capability
    NoMemory,     // its stack could not be mapped
    Refused,      // ThreadSpawner.spawn failed (too many threads, ending)
};
const char* to_string(ThreadError error);

class Thread {
public:
    static constexpr size_t default_stack_size = 64 * 1024;

    // Starts function(argument) on a new thread; when the function returns,
    // the thread ends with code 0.
    static Result<Thread, ThreadError> start(void (*function)(void*), void* argument,
                                             size_t stack_size = default_stack_size);

    Thread(Thread&& other)
        : m_handle(std::exchange(other.m_handle, 0)), m_stack(other.m_stack),
          m_stack_size(other.m_stack_size) {}
    Thread& operator=(Thread&&) = delete;
    Thread(const Thread&) = delete;
    ~Thread(); // detaches if not joined (see the file comment)

    // The ThreadHandle capability (0 once joined).
    uint32_t handle() const { return m_handle; }
    // Waits for the thread's end and returns its code (exit_thread's);
    // gives its stack back. Once only; panics on a second join.
    int64_t join();

private:
    Thread(uint32_t handle, uint64_t stack, size_t stack_size)
        : m_handle(handle), m_stack(stack), m_stack_size(stack_size) {}
    uint32_t m_handle; // ThreadHandle CapId, 0 once joined or moved from
    uint64_t m_stack;
    size_t m_stack_size;
};

// Ends the calling thread with `code` (a join returns it); the last thread's
// end ends the process with it. The main thread may call it too.
[[noreturn]] void exit_thread(int64_t code);

} // namespace capos::rt
