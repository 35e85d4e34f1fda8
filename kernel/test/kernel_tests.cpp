// Self-tests of the frame allocator, the heap and the page permissions, and
// fault tests that prove the protections stop the kernel itself.
#include "kernel/test/kernel_tests.h"
#include "kernel/arch/arch.h"
#include "kernel/boot/boot_archive.h"
#include "kernel/lib/interrupts_off.h"
#include "kernel/lib/kernel_lock.h"
#include "kernel/lib/log.h"
#include "kernel/mm/frame_ledger.h"
#include "kernel/mm/frames.h"
#include "kernel/mm/heap.h"
#include "kernel/mm/kernel_map.h"
#include "kernel/mm/kernel_stack.h"
#include "kernel/mm/layout.h"
#include "kernel/mm/user_copy.h"
#include "kernel/object/device_interrupt.h"
#include "kernel/platform/cpus.h"
#include "kernel/platform/pci.h"

namespace capos::kernel {

namespace {

// Collects the failures of one self-test; each CHECK that fails logs where.
class TestContext {
public:
    void check(bool condition, const char* expression, int line) {
        if (condition)
            return;
        ++m_failures;
        log_error("selftest:   check failed: {} (line {})", expression, line);
    }
    bool passed() const { return m_failures == 0; }

private:
    int m_failures = 0;
};

#define CHECK(condition) t.check((condition), #condition, __LINE__)

bool in_usable_memory(uint64_t phys) {
    const BootInfo& boot = boot_info();
    for (size_t i = 0; i < boot.memory_count; ++i) {
        const MemoryRange& m = boot.memory[i];
        if (m.type == MemoryType::Usable && phys >= m.range.base &&
            phys + page_size <= m.range.end())
            return true;
    }
    return false;
}

void test_frames(TestContext& t) {
    constexpr int count = 256;
    uint64_t frames[count];
    uint64_t free_before = frame_stats().free_frames;
    for (int i = 0; i < count; ++i) {
        auto frame = allocate_frame();
        CHECK(frame.is_ok());
        if (frame.is_error())
            return;
        frames[i] = frame.value();
        CHECK(frames[i] % page_size == 0);
        CHECK(in_usable_memory(frames[i]));
        CHECK(!frame_is_reserved(frames[i]));
        *phys_to_ptr<uint64_t>(frames[i]) = frames[i] ^ 0x5a5a5a5a5a5a5a5aull;
    }
    CHECK(frame_stats().free_frames == free_before - count);
    for (int i = 0; i < count; ++i) {
        CHECK(*phys_to_ptr<uint64_t>(frames[i]) == (frames[i] ^ 0x5a5a5a5a5a5a5a5aull));
        for (int j = i + 1; j < count; ++j)
            CHECK(frames[i] != frames[j]);
    }
    for (int i = 0; i < count; ++i)
        CHECK(free_frame(frames[i]).is_ok());
    CHECK(frame_stats().free_frames == free_before);

    // Misuse is an error value, never corruption.
    auto double_free = free_frame(frames[0]);
    CHECK(double_free.is_error() && double_free.error() == FrameError::NotAllocated);
    uint64_t kernel_frame = kernel_sections().text_start - kernel_image_base;
    CHECK(free_frame(kernel_frame).is_error());
    CHECK(free_frame(frames[0] + 8).is_error());
    CHECK(frame_stats().free_frames == free_before);
}

void test_heap(TestContext& t) {
    HeapStats before = heap_stats();
    constexpr int count = 200;
    uint8_t* blocks[count];
    size_t sizes[count];
    for (int i = 0; i < count; ++i) {
        sizes[i] = 1 + (i * 37) % 3000;
        auto block = heap_allocate(sizes[i]);
        CHECK(block.is_ok());
        if (block.is_error())
            return;
        blocks[i] = static_cast<uint8_t*>(block.value());
        CHECK(reinterpret_cast<uint64_t>(blocks[i]) % 16 == 0);
        __builtin_memset(blocks[i], i & 0xFF, sizes[i]);
    }
    for (int i = 0; i < count; i += 2)
        heap_free(blocks[i]);
    for (int i = 1; i < count; i += 2) {
        bool intact = true;
        for (size_t b = 0; b < sizes[i]; ++b)
            intact = intact && blocks[i][b] == (i & 0xFF);
        CHECK(intact);
        heap_free(blocks[i]);
    }
    CHECK(heap_stats().bytes_in_use == before.bytes_in_use);
    CHECK(heap_stats().allocation_count == before.allocation_count);

    auto aligned = heap_allocate(100, 4096);
    CHECK(aligned.is_ok() && reinterpret_cast<uint64_t>(aligned.value()) % 4096 == 0);
    if (aligned.is_ok())
        heap_free(aligned.value());

    // Growth: a block larger than everything mapped so far.
    auto large = heap_allocate(1024 * 1024);
    CHECK(large.is_ok());
    if (large.is_ok()) {
        __builtin_memset(large.value(), 0xab, 1024 * 1024);
        CHECK(heap_stats().mapped_bytes > before.mapped_bytes);
        heap_free(large.value());
    }

    // Exhaustion and nonsense sizes are errors, not crashes.
    CHECK(heap_allocate(uint64_t(1) << 40).is_error());
    CHECK(heap_allocate(0).is_error());
    CHECK(heap_allocate(16, 3).is_error());
    CHECK(heap_stats().bytes_in_use == before.bytes_in_use);

    auto* object = new (std::nothrow) uint64_t(42);
    CHECK(object != nullptr && *object == 42);
    delete object;
}

int g_writable_data = 1;
const int g_read_only_data = 2;

void test_page_permissions(TestContext& t) {
    PageTables& tables = kernel_page_tables();
    KernelSections s = kernel_sections();

    auto text = tables.translate(s.text_start);
    CHECK(text && !text->writable && text->executable && !text->user);
    auto rodata = tables.translate(reinterpret_cast<uint64_t>(&g_read_only_data));
    CHECK(rodata && !rodata->writable && !rodata->executable);
    auto data = tables.translate(reinterpret_cast<uint64_t>(&g_writable_data));
    CHECK(data && data->writable && !data->executable);

    auto block = heap_allocate(64);
    CHECK(block.is_ok());
    if (block.is_ok()) {
        auto heap = tables.translate(reinterpret_cast<uint64_t>(block.value()));
        CHECK(heap && heap->writable && !heap->executable);
        heap_free(block.value());
    }

    auto direct = tables.translate(direct_map_base + 0x100000);
    CHECK(direct && direct->writable && !direct->executable);
    // The direct-map alias of the kernel text is read-only too.
    auto text_alias = tables.translate(direct_map_base + (s.text_start - kernel_image_base));
    CHECK(text_alias && !text_alias->writable && !text_alias->executable);

    // Nothing in the lower half: null and the old identity map are gone.
    CHECK(!tables.translate(0));
    CHECK(!tables.translate(0x200000));
    // Stack guard pages: below the first stack slot's pages, and past its top.
    CHECK(!tables.translate(kernel_stacks_base));
    auto stack = allocate_kernel_stack(2);
    CHECK(stack.is_ok());
    if (stack.is_ok()) {
        CHECK(!tables.translate(stack.value().base - page_size));
        CHECK(!tables.translate(stack.value().top));
        CHECK(tables.translate(stack.value().top - 1).has_value());
        free_kernel_stack(stack.value());
    }

    // W^X over the whole kernel address space.
    uint64_t writable_executable = 0, user = 0, mappings = 0;
    tables.for_each_mapping([&](uint64_t, const Translation& translation) {
        ++mappings;
        if (translation.writable && translation.executable)
            ++writable_executable;
        if (translation.user)
            ++user;
    });
    CHECK(mappings > 0);
    CHECK(writable_executable == 0);
    CHECK(user == 0);
}

void test_cpu_protection(TestContext& t) {
    arch::ProtectionFeatures on = arch::protection_state();
    arch::ProtectionFeatures supported = arch::protection_supported();
    CHECK(on.nx);
    CHECK(on.smep == supported.smep);
    CHECK(on.smap == supported.smap);
    CHECK(arch::kernel_write_protect_enabled());
}

// The user accesses (arch_inline.h) against real user pages: a writable page,
// a read-only one after it, then nothing. Every length from 0 to 24 bytes,
// ending at each of the page boundaries, so that the word loop and the byte
// tail each meet a missing page (a load fault) and a read-only one (a store
// fault); each fault must be reported, never a panic, and what precedes it
// must have been copied.
void test_user_access(TestContext& t) {
    constexpr uint64_t writable = 0x400000, read_only = 0x401000, missing = 0x402000;
    RefPtr<FrameLedger> ledger = FrameLedger::create();
    CHECK(ledger.get() != nullptr);
    if (ledger.get() == nullptr)
        return;
    auto tables = PageTables::create_address_space(kernel_page_tables(), *ledger.get());
    auto rw_frame = allocate_zeroed_frame();
    auto ro_frame = allocate_zeroed_frame();
    CHECK(tables.is_ok() && rw_frame.is_ok() && ro_frame.is_ok());
    if (!tables.is_ok() || !rw_frame.is_ok() || !ro_frame.is_ok())
        return;
    MapOptions owned{.ownership = FrameOwnership::Owned};
    CHECK(tables.value()
              .map(writable, rw_frame.value(), PageSize::Small, Access::ReadWrite, Privilege::User,
                   owned)
              .is_ok());
    CHECK(
        tables.value()
            .map(read_only, ro_frame.value(), PageSize::Small, Access::Read, Privilege::User, owned)
            .is_ok());
    auto* ro_bytes = phys_to_ptr<uint8_t>(ro_frame.value());
    for (size_t i = 0; i < page_size; ++i)
        ro_bytes[i] = uint8_t(i * 7 + 1);
    tables.value().activate();

    uint8_t in[32], out[32];
    for (size_t i = 0; i < sizeof out; ++i)
        out[i] = uint8_t(0xA0 + i);
    for (size_t length = 0; length <= 24; ++length) {
        // Out to the writable page, ending at its end: all of it lands.
        uint64_t at = read_only - length;
        CHECK(arch::raw_user_copy(reinterpret_cast<void*>(at), out, length));
        CHECK(__builtin_memcmp(phys_to_ptr<uint8_t>(rw_frame.value()) + page_size - length, out,
                               length) == 0);
        // Out across into the read-only page: refused (a store fault).
        if (length >= 2)
            CHECK(
                !arch::raw_user_copy(reinterpret_cast<void*>(read_only - length / 2), out, length));
        // In from the end of the read-only page: all of it comes.
        __builtin_memset(in, 0, sizeof in);
        CHECK(arch::raw_user_copy(in, reinterpret_cast<const void*>(missing - length), length));
        CHECK(__builtin_memcmp(in, ro_bytes + page_size - length, length) == 0);
        // In across into the missing page: refused (a load fault), and what
        // lay before the fault arrived (whole words, or bytes in the tail).
        if (length >= 2) {
            __builtin_memset(in, 0, sizeof in);
            size_t before = length / 2;
            CHECK(
                !arch::raw_user_copy(in, reinterpret_cast<const void*>(missing - before), length));
            size_t copied = length / 8 * 8 <= before ? before : before / 8 * 8;
            CHECK(__builtin_memcmp(in, ro_bytes + page_size - before, copied) == 0);
        }
    }
    // Probes: writable yes, read-only and missing no, a range that runs into
    // either no.
    CHECK(arch::raw_user_writable(writable, page_size));
    CHECK(!arch::raw_user_writable(read_only, 8));
    CHECK(!arch::raw_user_writable(missing, 8));
    CHECK(!arch::raw_user_writable(writable + page_size - 8, 16));
    // The copy and the probe in one window: each outcome on its own.
    bool probed = true;
    CHECK(arch::raw_user_copy_and_probe(in, reinterpret_cast<const void*>(read_only), 16, writable,
                                        64, probed) &&
          probed);
    CHECK(arch::raw_user_copy_and_probe(in, reinterpret_cast<const void*>(read_only), 16, read_only,
                                        64, probed) &&
          !probed);
    CHECK(!arch::raw_user_copy_and_probe(in, reinterpret_cast<const void*>(missing), 16, writable,
                                         64, probed) &&
          !probed);

    kernel_page_tables().activate();
    tables.value().destroy_address_space();
}

void test_boot_archive(TestContext& t) {
    const CpioArchive* archive = boot_archive();
    CHECK(archive != nullptr);
    if (archive) {
        CHECK(archive->entry_count() > 0);
        CHECK(archive->find("etc/motd").has_value());
        CHECK(!archive->find("no/such/file").has_value());
    }
}

uint64_t test_interrupts_of(const CpuRecord& cpu) {
    return __atomic_load_n(&cpu.test_interrupts, __ATOMIC_ACQUIRE);
}

// Waits up to a second for `done`; whether it came.
template <typename Done>
bool wait_up_to_a_second(Done done) {
    uint64_t start = arch::read_cycle_counter();
    while (!done() && arch::read_cycle_counter() - start < 1000000 * cycles_per_microsecond())
        __builtin_ia32_pause();
    return done();
}

// Sends `cpu` a test interrupt that runs call(argument) there (none when
// null) and waits until it is counted (a second at most); false when it was
// not.
bool run_on_cpu(CpuRecord& cpu, void (*call)(void*), void* argument) {
    uint64_t before = test_interrupts_of(cpu);
    cpu.test_argument = argument;
    __atomic_store_n(&cpu.test_call, call, __ATOMIC_RELEASE);
    if (!arch::send_ipi(cpu.interrupt_id, arch::ipi_vector_test))
        return false;
    return wait_up_to_a_second([&] { return test_interrupts_of(cpu) != before; });
}

// Interprocessor interrupts to this CPU, by shorthand and by its id, arrive
// once each; a vector without a handler is acknowledged and counted (were it
// not acknowledged, the next test interrupt, of the same priority class,
// would never arrive); one to each other CPU arrives there; every I/O APIC
// pin is masked until a device asks.
void test_interrupts(TestContext& t) {
    CpuRecord& self = current_cpu();
    CHECK(self.index == 0);
    uint64_t before = test_interrupts_of(self);
    arch::send_ipi_self(arch::ipi_vector_test);
    arch::open_interrupt_window();
    CHECK(test_interrupts_of(self) == before + 1);
    CHECK(arch::send_ipi(self.interrupt_id, arch::ipi_vector_test));
    arch::open_interrupt_window();
    CHECK(test_interrupts_of(self) == before + 2);

    uint64_t unexpected = arch::interrupt_counts().unexpected;
    arch::send_ipi_self(arch::ipi_vector_unhandled);
    arch::open_interrupt_window();
    CHECK(arch::interrupt_counts().unexpected == unexpected + 1);
    arch::send_ipi_self(arch::ipi_vector_test);
    arch::open_interrupt_window();
    CHECK(test_interrupts_of(self) == before + 3);

    size_t reached = 0;
    for (size_t i = 1; i < cpu_count(); ++i) {
        CpuRecord& other = cpu_record(i);
        if (!other.online)
            continue;
        uint64_t other_before = test_interrupts_of(other);
        CHECK(run_on_cpu(other, nullptr, nullptr));
        CHECK(test_interrupts_of(other) == other_before + 1);
        reached += test_interrupts_of(other) == other_before + 1;
    }
    CHECK(test_interrupts_of(self) == before + 3);
    log_info("selftest:   interprocessor interrupts reached this CPU and {} of {} others", reached,
             cpu_count() - 1);

    for (uint8_t irq = 0; irq < 16; ++irq) {
        if (auto route = arch::isa_route_state(irq))
            CHECK(route->masked);
    }
}

// What CPU 1 does for test_tlb_shootdown.
struct RemoteTouch {
    PageTables* tables = nullptr; // loaded there first, if set
    uint64_t address = 0;
    bool read = false; // the read went through
    uint64_t value = 0;
};

void remote_touch(void* argument) {
    auto* touch = static_cast<RemoteTouch*>(argument);
    if (touch->tables)
        touch->tables->activate();
    touch->value = 0;
    touch->read =
        arch::raw_user_copy(&touch->value, reinterpret_cast<const void*>(touch->address), 8);
}

void remote_leave(void*) {
    kernel_page_tables().activate();
}

// TLB shootdown: CPU 1 loads an address space and reads a user page (its
// TLB now holds the translation); this CPU unmaps the page. CPU 1's next
// read must fault: without the shootdown its TLB would still hold the
// translation and the read would see the page. Then the tables are unloaded
// everywhere before they go.
void test_tlb_shootdown(TestContext& t) {
    if (cpu_count() < 2 || !cpu_record(1).online) {
        log_info("selftest:   one CPU: no shootdown to test");
        return;
    }
    CpuRecord& other = cpu_record(1);
    constexpr uint64_t address = 0x400000;
    constexpr uint64_t magic = 0x5EED'CAFE'F00D'0001;
    RefPtr<FrameLedger> ledger = FrameLedger::create();
    CHECK(ledger.get() != nullptr);
    if (!ledger.get())
        return;
    auto tables = PageTables::create_address_space(kernel_page_tables(), *ledger.get());
    auto frame = allocate_zeroed_frame();
    CHECK(tables.is_ok() && frame.is_ok());
    if (!tables.is_ok() || !frame.is_ok())
        return;
    *phys_to_ptr<uint64_t>(frame.value()) = magic;
    CHECK(tables.value()
              .map(address, frame.value(), PageSize::Small, Access::ReadWrite, Privilege::User)
              .is_ok());

    RemoteTouch touch{.tables = &tables.value(), .address = address};
    CHECK(run_on_cpu(other, remote_touch, &touch));
    CHECK(touch.read && touch.value == magic);

    CHECK(tables.value().unmap(address).is_ok());
    touch = RemoteTouch{.address = address};
    CHECK(run_on_cpu(other, remote_touch, &touch));
    CHECK(!touch.read);
    if (touch.read)
        log_error("selftest:   CPU 1 read {} through an unmapped page", Hex{touch.value});

    // The tables go: CPU 1 must not keep them loaded.
    tables.value().unload_elsewhere(kernel_page_tables());
    CHECK(run_on_cpu(other, remote_leave, nullptr));
    tables.value().destroy_address_space();
    CHECK(free_frame(frame.value()).is_ok());
}

// What CPU 1 does for test_lock_waits: takes the kernel lock, which the
// boot CPU holds meanwhile, and gives it back.
void remote_take_lock(void*) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    g_kernel_lock.enter();
    g_kernel_lock.leave();
}

// The kernel lock's counting of waits: taking it free counts none; CPU 1
// reaching for it while this CPU holds it counts a wait, and does not get it
// until this CPU gives it up, then counts the cycles it waited.
void test_lock_waits(TestContext& t) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    uint64_t own = KernelLock::contended(0);
    g_kernel_lock.leave();
    g_kernel_lock.enter();
    CHECK(KernelLock::contended(0) == own);
    if (cpu_count() < 2 || !cpu_record(1).online) {
        log_info("selftest:   one CPU: no wait for the kernel lock to test");
        return;
    }
    CpuRecord& other = cpu_record(1);
    uint64_t waits = KernelLock::contended(1);
    uint64_t cycles = KernelLock::wait_cycles(1);
    uint64_t before = test_interrupts_of(other);
    other.test_argument = nullptr;
    __atomic_store_n(&other.test_call, remote_take_lock, __ATOMIC_RELEASE);
    CHECK(arch::send_ipi(other.interrupt_id, arch::ipi_vector_test));
    CHECK(wait_up_to_a_second([&] { return KernelLock::contended(1) > waits; }));
    // Still waiting: the call cannot have ended.
    CHECK(test_interrupts_of(other) == before);
    g_kernel_lock.leave();
    bool ended = wait_up_to_a_second([&] { return test_interrupts_of(other) != before; });
    g_kernel_lock.enter();
    CHECK(ended);
    CHECK(KernelLock::wait_cycles(1) > cycles);
    log_info("selftest:   CPU 1 waited for the kernel lock: {} waits counted there",
             KernelLock::contended(1) - waits);
}

// What another CPU does for test_lock_shared: takes the kernel lock shared
// or exclusively, says it had it, and gives it back.
struct RemoteLock {
    bool shared = false;
    bool had = false;
};

void remote_lock(void* argument) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    auto* remote = static_cast<RemoteLock*>(argument);
    if (remote->shared)
        g_kernel_lock.enter_shared();
    else
        g_kernel_lock.enter();
    __atomic_store_n(&remote->had, true, __ATOMIC_RELEASE);
    if (remote->shared)
        g_kernel_lock.leave_shared();
    else
        g_kernel_lock.leave();
}

bool had(const RemoteLock& remote) {
    return __atomic_load_n(&remote.had, __ATOMIC_ACQUIRE);
}

// Sends `cpu` a test interrupt that runs remote_lock(remote), without
// waiting for it; then waits up to a second until `cpu` counts a wait.
bool start_remote_lock(CpuRecord& cpu, RemoteLock& remote, uint64_t waits_before) {
    cpu.test_argument = &remote;
    __atomic_store_n(&cpu.test_call, remote_lock, __ATOMIC_RELEASE);
    return arch::send_ipi(cpu.interrupt_id, arch::ipi_vector_test) &&
           wait_up_to_a_second([&] { return KernelLock::contended(cpu.index) > waits_before; });
}

// The kernel lock held shared: CPU 1 takes it shared beside this CPU; taking
// it exclusively, CPU 1 waits until this CPU leaves, and a CPU 2 asking for
// it shared meanwhile waits behind that claim; a context switch's conversion
// between the modes.
void test_lock_shared(TestContext& t) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    g_kernel_lock.convert_here(true);
    CHECK(g_kernel_lock.shared_here() && !g_kernel_lock.held_here());
    g_kernel_lock.convert_here(false);
    CHECK(g_kernel_lock.held_here() && !g_kernel_lock.shared_here());
    if (cpu_count() < 2 || !cpu_record(1).online) {
        log_info("selftest:   one CPU: nobody to share the kernel lock with");
        return;
    }
    CpuRecord& one = cpu_record(1);
    g_kernel_lock.convert_here(true);
    RemoteLock beside{.shared = true};
    CHECK(run_on_cpu(one, remote_lock, &beside));
    CHECK(had(beside));

    RemoteLock exclusive{.shared = false};
    uint64_t before_one = test_interrupts_of(one);
    CHECK(start_remote_lock(one, exclusive, KernelLock::contended(1)));
    CHECK(!had(exclusive));
    bool three = cpu_count() >= 3 && cpu_record(2).online;
    RemoteLock behind{.shared = true};
    uint64_t before_two = three ? test_interrupts_of(cpu_record(2)) : 0;
    if (three) {
        CHECK(start_remote_lock(cpu_record(2), behind, KernelLock::contended(2)));
        CHECK(!had(behind));
    }
    CHECK(!had(exclusive));
    g_kernel_lock.leave_shared();
    bool ended = wait_up_to_a_second([&] { return test_interrupts_of(one) != before_one; }) &&
                 (!three || wait_up_to_a_second(
                                [&] { return test_interrupts_of(cpu_record(2)) != before_two; }));
    g_kernel_lock.enter();
    CHECK(ended && had(exclusive));
    CHECK(!three || had(behind));
    log_info("selftest:   the kernel lock shared by 2 CPUs; exclusively, waited for{}",
             three ? ", and held up a third" : "");
}

const pci::Function* find_function(uint16_t vendor, uint16_t device) {
    for (const pci::Function& function : pci_inventory().functions) {
        if (function.header.vendor == vendor && function.header.device == device)
            return &function;
    }
    return nullptr;
}

// Lets interrupts in, 50 µs at a time with the kernel lock given up (so that
// the CPU the interrupt is routed to, waiting for the lock, gets it), until
// `interrupt` has counted past `seen` (a second at most: the scheduler is not
// running, nothing can block).
void let_interrupts_in(uint64_t us) CAPOS_NO_THREAD_SAFETY_ANALYSIS {
    interrupts_off::end();
    g_kernel_lock.leave();
    arch::interrupts_restore(1);
    uint64_t start = arch::read_cycle_counter();
    while (arch::read_cycle_counter() - start < us * cycles_per_microsecond()) {
    }
    (void)arch::interrupts_save_disable();
    g_kernel_lock.enter();
    interrupts_off::begin();
}

uint64_t wait_for_count(const DeviceInterrupt& interrupt, uint64_t seen) {
    uint64_t start = arch::read_cycle_counter();
    while (interrupt.count() <= seen &&
           arch::read_cycle_counter() - start < 1000000 * cycles_per_microsecond())
        let_interrupts_in(50);
    return interrupt.count();
}

// Device interrupts by message. MSI: QEMU's edu device (1234:11e8, `-device
// edu`) raises an interrupt when its register 0x60 is written (the value
// goes into its status, 0x24) and lowers it when 0x64 is: each raise must
// arrive once on the vector given it, and the status say why. MSI-X: entry 0
// of the e1000e's table (q35's NIC, 8086:10d3) takes an interrupt the NIC is
// made to send; masked, the next one waits until the entry is unmasked. A vector whose object is
// gone takes a stale interrupt as unexpected, and nothing else happens.
void test_device_interrupts(TestContext& t) {
    const pci::Function* edu = find_function(0x1234, 0x11e8);
    if (!edu) {
        log_info("selftest:   no edu device: message-signalled interrupts not tested");
        return;
    }
    CHECK(edu->has_msi && edu->bars[0].kind == pci::Bar::Kind::Memory32);
    if (!edu->has_msi || edu->bars[0].kind != pci::Bar::Kind::Memory32)
        return;
    auto mapped = map_mmio(edu->bars[0].address, 0x100);
    CHECK(mapped.is_ok());
    if (mapped.is_error())
        return;
    auto* regs = reinterpret_cast<volatile uint32_t*>(mapped.value());
    constexpr size_t ident = 0x00 / 4, liveness = 0x04 / 4, status = 0x24 / 4, raise = 0x60 / 4,
                     acknowledge = 0x64 / 4;
    CHECK((regs[ident] & 0xff) == 0xed);
    regs[liveness] = 0x12345678;
    CHECK(regs[liveness] == ~0x12345678u);

    auto created = DeviceInterrupt::create_msi(*edu);
    CHECK(created.is_ok());
    if (created.is_error())
        return;
    RefPtr<DeviceInterrupt> msi = created.release_value();
    uint8_t vector = msi->vector();
    regs[raise] = 0x1;
    CHECK(wait_for_count(*msi, 0) == 1);
    CHECK(regs[status] == 0x1);
    regs[acknowledge] = 0x1;
    CHECK(regs[status] == 0);
    regs[raise] = 0x4;
    CHECK(wait_for_count(*msi, 1) == 2);
    CHECK(regs[status] == 0x4);
    regs[acknowledge] = 0x4;
    // Nothing more arrives on its own.
    for (int i = 0; i < 20; ++i)
        let_interrupts_in(50);
    CHECK(msi->count() == 2);
    // Spread over the CPUs: with several, not the boot CPU's (it has the
    // console and the most kernel work); taken where it was sent.
    CHECK(msi->cpu() == cpu_count() - 1);
    CHECK(msi->handled_on() == msi->cpu());
    log_info("selftest:   edu: MSI on vector {}, {} interrupts taken", Hex{vector}, msi->count());
    log_info("selftest:   edu: routed to CPU {}, taken there", msi->cpu());

    // Gone: a late interrupt on the vector is unexpected, not a crash.
    msi = RefPtr<DeviceInterrupt>();
    uint64_t unexpected = arch::interrupt_counts().unexpected;
    arch::send_ipi_self(vector);
    arch::open_interrupt_window();
    CHECK(arch::interrupt_counts().unexpected == unexpected + 1);

    const pci::Function* nic = find_function(0x8086, 0x10d3);
    if (!nic || !nic->has_msix) {
        log_info("selftest:   no e1000e with MSI-X: its table not tested");
        return;
    }
    auto entry = DeviceInterrupt::create_msix(*nic, 0);
    CHECK(entry.is_ok());
    if (entry.is_error())
        return;
    RefPtr<DeviceInterrupt> msix = entry.release_value();
    CHECK(!msix->masked());
    CHECK(DeviceInterrupt::create_msix(*nic, nic->msix.table_size).is_error());
    // The NIC's "other" cause (ICR bit 24) set by hand through its Interrupt
    // Cause Set register, sent on MSI-X entry 0 by its IVAR (82574
    // datasheet: ICR 0xC0, ICS 0xC8, IMS 0xD0, IVAR 0xE4, "other" in bits
    // 19:16 with bit 19 valid).
    const pci::Bar& bar = nic->bars[0];
    auto nic_mapped = map_mmio(bar.address, 0x100);
    CHECK(nic_mapped.is_ok() && bar.kind != pci::Bar::Kind::Io);
    if (nic_mapped.is_error() || bar.kind == pci::Bar::Kind::Io)
        return;
    auto* nic_regs = reinterpret_cast<volatile uint32_t*>(nic_mapped.value());
    constexpr size_t icr = 0xC0 / 4, ics = 0xC8 / 4, ims = 0xD0 / 4, ivar = 0xE4 / 4;
    constexpr uint32_t other = 1u << 24;
    nic_regs[ivar] = 0x8u << 16;
    nic_regs[ims] = other;
    nic_regs[ics] = other;
    CHECK(wait_for_count(*msix, 0) == 1);
    nic_regs[icr] = other; // written ones clear (a read does not, in MSI-X mode)
    // Masked, the message waits (pending) and arrives when unmasked.
    msix->set_masked(true);
    CHECK(msix->masked());
    nic_regs[ics] = other;
    for (int i = 0; i < 20; ++i)
        let_interrupts_in(50);
    CHECK(msix->count() == 1);
    msix->set_masked(false);
    CHECK(!msix->masked());
    CHECK(wait_for_count(*msix, 1) == 2);
    CHECK(msix->cpu() == cpu_count() - 1 && msix->handled_on() == msix->cpu());
    nic_regs[icr] = other;
    log_info("selftest:   e1000e: MSI-X entry 0 on vector {} of {} entries, {} interrupts taken",
             Hex{msix->vector()}, nic->msix.table_size, msix->count());
}

struct SelfTest {
    const char* name;
    void (*run)(TestContext&);
};

constexpr SelfTest self_tests[] = {
    {"frames", test_frames},
    {"heap", test_heap},
    {"page_permissions", test_page_permissions},
    {"cpu_protection", test_cpu_protection},
    {"user_access", test_user_access},
    {"interrupts", test_interrupts},
    {"tlb_shootdown", test_tlb_shootdown},
    {"lock_waits", test_lock_waits},
    {"lock_shared", test_lock_shared},
    {"device_interrupts", test_device_interrupts},
    {"boot_archive", test_boot_archive},
};

[[noreturn]] void run_self_tests() {
    int passed = 0, failed = 0;
    for (const SelfTest& test : self_tests) {
        TestContext context;
        test.run(context);
        if (context.passed()) {
            ++passed;
            log_info("selftest: {} ... ok", test.name);
        } else {
            ++failed;
            log_error("selftest: {} ... FAILED", test.name);
        }
    }
    log_info("selftest: {} passed, {} failed", passed, failed);
    arch::exit_machine(failed == 0 ? abi::ExitCode::Success : abi::ExitCode::Failure);
}

// Fault tests. Each must fault; returning means the protection is missing.

[[gnu::noinline]] void fault_write_text() {
    auto* text = reinterpret_cast<volatile uint8_t*>(kernel_sections().text_start);
    log_info("fault test: writing to kernel text at {}", Hex{kernel_sections().text_start});
    *text = 0xCC;
}

[[gnu::noinline]] void fault_write_rodata() {
    auto* rodata = const_cast<volatile int*>(&g_read_only_data);
    log_info("fault test: writing to kernel rodata at {}",
             static_cast<const void*>(&g_read_only_data));
    *rodata = 3;
}

[[gnu::noinline]] void fault_exec_heap() {
    auto block = heap_allocate(16);
    VERIFY(block.is_ok());
    *static_cast<uint8_t*>(block.value()) = 0xC3; // ret
    log_info("fault test: calling heap memory at {}", block.value());
    reinterpret_cast<void (*)()>(block.value())();
}

[[gnu::noinline]] void fault_exec_data() {
    static uint8_t code[16] = {0xC3};
    log_info("fault test: calling kernel data at {}", static_cast<void*>(code));
    reinterpret_cast<void (*)()>(static_cast<void*>(code))();
}

[[gnu::noinline]] void fault_null() {
    log_info("fault test: reading address 0");
    volatile uint64_t* null = nullptr;
    asm volatile("" : "+r"(null)); // keep the compiler from treating this as UB
    uint64_t value = *null;
    log_info("read {}", value);
}

volatile bool g_keep_recursing = true;

[[gnu::noinline]] uint64_t overflow_stack(uint64_t depth) {
    volatile uint8_t frame[512];
    frame[0] = uint8_t(depth);
    if (!g_keep_recursing)
        return frame[0];
    return overflow_stack(depth + 1) + frame[0];
}

void fault_stack_overflow() {
    log_info("fault test: overflowing the kernel stack");
    overflow_stack(0);
}

// An address space with one user page at `address` (readable and writable,
// or executable, holding a `ret`), made the active one: what a process's
// memory looks like to the kernel during a system call.
uint64_t map_user_page(Access access) {
    constexpr uint64_t address = 0x400000;
    RefPtr<FrameLedger> ledger = FrameLedger::create();
    VERIFY(ledger);
    auto tables = PageTables::create_address_space(kernel_page_tables(), *ledger.leak());
    VERIFY(tables.is_ok());
    auto frame = allocate_zeroed_frame();
    VERIFY(frame.is_ok());
    *phys_to_ptr<uint8_t>(frame.value()) = 0xC3; // ret
    VERIFY(tables.value()
               .map(address, frame.value(), PageSize::Small, access, Privilege::User)
               .is_ok());
    tables.value().activate();
    return address;
}

// SMAP: the kernel reads a user page outside the user-copy layer. A copy
// through the layer first, so a SMAP window it left open (a missing clac)
// would let the stray read through.
[[gnu::noinline]] void fault_smap_read() {
    uint64_t page = map_user_page(Access::ReadWrite);
    uint64_t copied = 0;
    VERIFY(UserSpan<uint64_t>(page, 1).copy_in(&copied));
    log_info("fault test: a user copy worked; now reading user memory at {} directly", Hex{page});
    uint64_t value = *reinterpret_cast<volatile uint64_t*>(page);
    log_info("read {}", value);
}

// SMEP: the kernel jumps into a user page.
[[gnu::noinline]] void fault_smep_exec() {
    uint64_t page = map_user_page(Access::ReadExecute);
    log_info("fault test: calling user memory at {}", Hex{page});
    reinterpret_cast<void (*)()>(page)();
}

struct FaultTest {
    const char* name;
    void (*run)();
};

constexpr FaultTest fault_tests[] = {
    {"fault-write-text", fault_write_text},
    {"fault-write-rodata", fault_write_rodata},
    {"fault-exec-heap", fault_exec_heap},
    {"fault-exec-data", fault_exec_data},
    {"fault-null", fault_null},
    {"fault-stack-overflow", fault_stack_overflow},
    {"fault-smap-read", fault_smap_read},
    {"fault-smep-exec", fault_smep_exec},
};

} // namespace

void run_kernel_test(std::string_view name) {
    if (name == "selftest")
        run_self_tests();
    if (name == "panic")
        panic("test requested a panic");
    for (const FaultTest& test : fault_tests) {
        if (name == test.name) {
            test.run();
            log_error("fault test: {} did not fault", test.name);
            arch::exit_machine(abi::ExitCode::Failure);
        }
    }
    log_error("test: unknown test '{}'", name);
    arch::exit_machine(abi::ExitCode::Failure);
}

} // namespace capos::kernel
