// A BlockDevice capability as the filesystems' BlockIo (lib/fs/volume.h):
// reads and writes go through one transfer buffer the driver's device reads
// and writes directly, in pieces of what one call moves. Calls are made in
// turn, each waited for (the filesystem service serves one call at a time).
#pragma once

#include "lib/fs/volume.h"
#include "user/rt/rt.h"

namespace capos::fs_service {

class DiskIo final : public fs::BlockIo {
public:
    // Asks the disk for its geometry and a transfer buffer of `pages`
    // pages, and maps it; false (with `why` set) when the disk refuses.
    bool open(abi::CapId disk, uint32_t pages, std::string_view& why);

    uint32_t sector_size() const override { return m_sector_size; }
    uint64_t sectors() const override { return m_sectors; }
    bool read_only() const override { return m_read_only; }
    Result<void, fs::FsError> read(uint64_t sector, uint32_t count, void* out) override;
    Result<void, fs::FsError> write(uint64_t sector, uint32_t count, const void* data) override;
    Result<void, fs::FsError> flush() override;

private:
    using Disk = schema::BlockDevice::Client<rt::ThreadTransport>;
    Disk* m_disk = nullptr;
    alignas(Disk) unsigned char m_disk_storage[sizeof(Disk)];
    uint32_t m_sector_size = 512;
    uint64_t m_sectors = 0;
    bool m_read_only = false;
    uint32_t m_max_sectors = 0; // per call: the driver's and the buffer's bound
    uint32_t m_buffer = 0;
    uint8_t* m_data = nullptr;
};

} // namespace capos::fs_service
