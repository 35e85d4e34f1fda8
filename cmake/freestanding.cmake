# The one place that says how freestanding code (the kernel, and later userspace)
# is compiled. Everything that runs on capOS and every lib/ variant built for it
# takes its flags from here.

# Common to all freestanding code: no hosted runtime, no exceptions or RTTI. No
# jump tables: capOS runs under QEMU's TCG, where an indirect jump leaves the
# translated code to look its target up (as much as a dozen instructions),
# while a switch compiled as a tree of compares stays in it
# (docs/performance.md).
set(CAPOS_FREESTANDING_FLAGS
    -fno-jump-tables
    -ffreestanding
    -fno-exceptions
    -fno-rtti
    -fno-pic
    -fno-stack-protector
    -fno-omit-frame-pointer
    -fno-threadsafe-statics
    -fno-use-cxa-atexit
    -fno-c++-static-destructors
    -fno-asynchronous-unwind-tables
    -Wall
    -Wextra
    -Werror)

# The kernel in addition: ThinLTO (a call's path crosses many files, and every
# call and return it keeps costs TCG a jump-cache lookup), a section per
# function (so that the linker can place the hot ones together:
# kernel/CMakeLists.txt), higher-half code model, no red zone (interrupts use
# the stack), and no SSE state: those registers hold user state only, which
# interrupt and system-call entry leave alone and the scheduler moves whole
# (kernel/arch/x86_64/user_state.cpp). x87 cannot be switched off with
# -mno-80387 (libstdc++'s headers declare long double functions); the test
# kernel.image_checks checks the image instead.
set(CAPOS_KERNEL_FLAGS
    ${CAPOS_FREESTANDING_FLAGS}
    -flto=thin
    -ffunction-sections
    -mcmodel=kernel
    -mno-red-zone
    -Wthread-safety
    -mno-mmx
    -mno-sse
    -mno-sse2
    -mno-avx)

set(CAPOS_KERNEL_LINK_FLAGS -flto=thin -nostdlib -static -Wl,--build-id=none
                            -Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack)

# capos_kernel_target(<target>): compile a target with the kernel flags. C++
# takes them all; assembly only what applies to it. Source paths in the binary
# (__FILE__ in assertions) are relative to the repository.
function(capos_kernel_target target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${CAPOS_KERNEL_FLAGS} -ffile-prefix-map=${PROJECT_SOURCE_DIR}/=>
    $<$<COMPILE_LANGUAGE:ASM>:-Wall -Werror>)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR})
endfunction()

# User programs: freestanding C++ at ordinary user addresses (small code model),
# built with ThinLTO like the kernel (the runtime's ring client and the
# generated code inline into the program) and a section per function (the hot
# ones placed together: user/CMakeLists.txt),
# statically linked with the runtime (user/rt) at the addresses user/rt/linker.ld
# gives. Floating point in x87 and SSE2 registers as the x86-64 ABI has them
# (the kernel keeps each thread's); wider vectors only where a program asks for
# them (the CPU may lack AVX). No vector registers for integer work
# (-mno-implicit-float: copies, zeroing, vectorised loops): a thread that never
# touches them costs no save and load when it is switched
# (kernel/sched/scheduler.cpp).
set(CAPOS_USER_FLAGS
    ${CAPOS_FREESTANDING_FLAGS}
    -flto=thin
    -ffunction-sections
    -mcmodel=small
    -mno-implicit-float)

# C sources in user programs (lwIP: lib/net/lwip) take the same flags less the
# ones only C++ has.
set(CAPOS_USER_C_FLAGS ${CAPOS_USER_FLAGS})
list(REMOVE_ITEM CAPOS_USER_C_FLAGS -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit
     -fno-c++-static-destructors)

# capos_user_target(<target>): compile a target with the user flags.
function(capos_user_target target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${CAPOS_USER_FLAGS} -ffile-prefix-map=${PROJECT_SOURCE_DIR}/=>
    $<$<COMPILE_LANGUAGE:C>:${CAPOS_USER_C_FLAGS} -ffile-prefix-map=${PROJECT_SOURCE_DIR}/=>
    $<$<COMPILE_LANGUAGE:ASM>:-Wall -Werror>)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR})
endfunction()
