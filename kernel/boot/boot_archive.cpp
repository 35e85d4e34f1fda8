#include "kernel/boot/boot_archive.h"
#include "kernel/lib/log.h"
#include "kernel/mm/layout.h"

namespace capos::kernel {

namespace {

std::optional<CpioArchive> g_archive;

} // namespace

void boot_archive_init(const BootInfo& boot) {
    if (boot.module_count == 0) {
        log_error("archive: no boot archive was loaded (no boot module)");
        return;
    }
    if (boot.module_count > 1)
        log_warn("archive: {} boot modules; using the first", boot.module_count);
    const BootModule& module = boot.modules[0];
    std::span<const uint8_t> bytes(phys_to_ptr<const uint8_t>(module.range.base),
                                   module.range.length);
    auto opened = CpioArchive::open(bytes);
    if (opened.is_error()) {
        log_error("archive: boot archive is malformed: {} at offset {}",
                  to_string(opened.error().code), opened.error().offset);
        return;
    }
    g_archive.emplace(opened.release_value());
    log_info("archive: {} entries, {}", g_archive->entry_count(), Size{module.range.length});
    for (const ArchiveEntry& entry : *g_archive)
        log_info("archive:   {} ({} bytes)", entry.name, entry.data.size());
}

const CpioArchive* boot_archive() {
    return g_archive ? &*g_archive : nullptr;
}

} // namespace capos::kernel
