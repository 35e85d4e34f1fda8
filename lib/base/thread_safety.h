// Clang's thread-safety analysis (-Wthread-safety): which lock guards which
// data, and which functions need a lock held. The kernel is built with the
// analysis on and its warnings as errors, so data marked CAPOS_GUARDED_BY is
// touched only where the lock is known to be held.
#pragma once

#if defined(__clang__)
#define CAPOS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define CAPOS_THREAD_ANNOTATION(x)
#endif

#define CAPOS_CAPABILITY(name) CAPOS_THREAD_ANNOTATION(capability(name))
#define CAPOS_GUARDED_BY(lock) CAPOS_THREAD_ANNOTATION(guarded_by(lock))
#define CAPOS_PT_GUARDED_BY(lock) CAPOS_THREAD_ANNOTATION(pt_guarded_by(lock))
#define CAPOS_REQUIRES(...) CAPOS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define CAPOS_ACQUIRE(...) CAPOS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define CAPOS_RELEASE(...) CAPOS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define CAPOS_REQUIRES_SHARED(...) CAPOS_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define CAPOS_ACQUIRE_SHARED(...) CAPOS_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define CAPOS_RELEASE_SHARED(...) CAPOS_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define CAPOS_ASSERT_CAPABILITY(lock) CAPOS_THREAD_ANNOTATION(assert_capability(lock))
#define CAPOS_ASSERT_SHARED_CAPABILITY(lock) CAPOS_THREAD_ANNOTATION(assert_shared_capability(lock))
#define CAPOS_RETURN_CAPABILITY(lock) CAPOS_THREAD_ANNOTATION(lock_returned(lock))
#define CAPOS_SCOPED_CAPABILITY CAPOS_THREAD_ANNOTATION(scoped_lockable)
#define CAPOS_NO_THREAD_SAFETY_ANALYSIS CAPOS_THREAD_ANNOTATION(no_thread_safety_analysis)
