#include "user/services/fs/disk_io.h"

#include <cstring>
#include <new>

namespace capos::fs_service {

bool DiskIo::open(abi::CapId disk, uint32_t pages, std::string_view& why) {
    m_disk = new (m_disk_storage) Disk(rt::thread_transport(), disk.raw);
    auto info = m_disk->info();
    if (info.is_error()) {
        why = "BlockDevice.info failed";
        return false;
    }
    m_sector_size = info.value().block_size();
    m_sectors = info.value().blocks();
    m_read_only = info.value().read_only();
    if (m_sector_size == 0 || 4096 % m_sector_size != 0) {
        why = "the disk's block size does not divide 4096";
        return false;
    }
    auto made = m_disk->transfer_buffer(pages);
    if (made.is_error()) {
        why = "BlockDevice.transferBuffer failed";
        return false;
    }
    m_buffer = made.value().buffer();
    rt::Capability<schema::MemoryObject> memory(abi::CapId{made.value().memory()});
    auto mapped = memory->map(0, 0, pages, schema::Access::ReadWrite);
    if (mapped.is_error()) {
        why = "the transfer buffer does not map";
        return false;
    }
    m_data = reinterpret_cast<uint8_t*>(mapped.value().address());
    uint32_t per_call = info.value().max_blocks();
    uint32_t per_buffer = pages * 4096 / m_sector_size;
    m_max_sectors = per_call < per_buffer ? per_call : per_buffer;
    if (m_max_sectors == 0) {
        why = "the disk moves no blocks per call";
        return false;
    }
    return true;
}

Result<void, fs::FsError> DiskIo::read(uint64_t sector, uint32_t count, void* out) {
    auto* bytes = static_cast<uint8_t*>(out);
    while (count > 0) {
        uint32_t piece = count < m_max_sectors ? count : m_max_sectors;
        auto read = m_disk->read_blocks(sector, piece, m_buffer, 0);
        if (read.is_error())
            return Err{fs::FsError::Io};
        size_t length = size_t{piece} * m_sector_size;
        std::memcpy(bytes, m_data, length);
        bytes += length;
        sector += piece;
        count -= piece;
    }
    return {};
}

Result<void, fs::FsError> DiskIo::write(uint64_t sector, uint32_t count, const void* data) {
    if (m_read_only)
        return Err{fs::FsError::ReadOnly};
    const auto* bytes = static_cast<const uint8_t*>(data);
    while (count > 0) {
        uint32_t piece = count < m_max_sectors ? count : m_max_sectors;
        size_t length = size_t{piece} * m_sector_size;
        std::memcpy(m_data, bytes, length);
        auto wrote = m_disk->write_blocks(sector, piece, m_buffer, 0, {});
        if (wrote.is_error())
            return Err{fs::FsError::Io};
        bytes += length;
        sector += piece;
        count -= piece;
    }
    return {};
}

Result<void, fs::FsError> DiskIo::flush() {
    if (m_disk->flush().is_error())
        return Err{fs::FsError::Io};
    return {};
}

} // namespace capos::fs_service
