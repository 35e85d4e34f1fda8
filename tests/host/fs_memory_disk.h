// A disk in memory for the filesystem tests (capfs, FAT32): sectors in a
// vector, writes that can be made to fail, and a log of every write and
// flush so that a test can replay a prefix of them: the disk as a power cut
// at that moment would leave it.
#pragma once

#include "lib/fs/volume.h"

#include <cstring>
#include <vector>

namespace capos::fs::testing {

class MemoryDisk final : public BlockIo {
public:
    MemoryDisk(uint64_t sectors, uint32_t sector_size = 512)
        : m_sector_size(sector_size), m_bytes(sectors * sector_size) {}
    explicit MemoryDisk(std::vector<uint8_t> bytes, uint32_t sector_size = 512)
        : m_sector_size(sector_size), m_bytes(std::move(bytes)) {}

    uint32_t sector_size() const override { return m_sector_size; }
    uint64_t sectors() const override { return m_bytes.size() / m_sector_size; }
    bool read_only() const override { return m_read_only; }

    Result<void, FsError> read(uint64_t sector, uint32_t count, void* out) override {
        if (!in_range(sector, count))
            return Err{FsError::Invalid};
        if (m_fail_reads)
            return Err{FsError::Io};
        std::memcpy(out, m_bytes.data() + sector * m_sector_size, size_t{count} * m_sector_size);
        ++m_reads;
        return {};
    }
    Result<void, FsError> write(uint64_t sector, uint32_t count, const void* data) override {
        if (!in_range(sector, count))
            return Err{FsError::Invalid};
        if (m_read_only)
            return Err{FsError::ReadOnly};
        if (m_fail_writes_after == 0)
            return Err{FsError::Io};
        if (m_fail_writes_after > 0)
            --m_fail_writes_after;
        const auto* bytes = static_cast<const uint8_t*>(data);
        size_t length = size_t{count} * m_sector_size;
        std::memcpy(m_bytes.data() + sector * m_sector_size, bytes, length);
        if (m_logging)
            m_log.push_back({sector, std::vector<uint8_t>(bytes, bytes + length)});
        ++m_writes;
        return {};
    }
    Result<void, FsError> flush() override {
        if (m_logging)
            m_log.push_back({flush_mark, {}});
        ++m_flushes;
        return {};
    }

    // What follows is for the tests.
    struct LoggedWrite {
        uint64_t sector; // flush_mark for a flush
        std::vector<uint8_t> data;
    };
    static constexpr uint64_t flush_mark = ~uint64_t{0};

    // Starts logging writes from the disk as it is now.
    void start_log() {
        m_base = m_bytes;
        m_log.clear();
        m_logging = true;
    }
    const std::vector<LoggedWrite>& log() const { return m_log; }
    // The disk as it was at start_log with the first `writes` logged entries
    // applied (a power cut after them).
    std::vector<uint8_t> image_after(size_t writes) const {
        std::vector<uint8_t> image = m_base;
        for (size_t i = 0; i < writes && i < m_log.size(); ++i)
            if (m_log[i].sector != flush_mark)
                std::memcpy(image.data() + m_log[i].sector * m_sector_size, m_log[i].data.data(),
                            m_log[i].data.size());
        return image;
    }

    std::vector<uint8_t>& bytes() { return m_bytes; }
    void set_read_only(bool read_only) { m_read_only = read_only; }
    void fail_reads(bool fail) { m_fail_reads = fail; }
    // Writes after the next `writes` fail with Io (-1: none fails).
    void fail_writes_after(long writes) { m_fail_writes_after = writes; }
    uint64_t reads() const { return m_reads; }
    uint64_t writes() const { return m_writes; }
    uint64_t flushes() const { return m_flushes; }

private:
    bool in_range(uint64_t sector, uint32_t count) const {
        return count > 0 && sector <= sectors() && count <= sectors() - sector;
    }

    uint32_t m_sector_size;
    std::vector<uint8_t> m_bytes;
    std::vector<uint8_t> m_base;
    std::vector<LoggedWrite> m_log;
    bool m_logging = false;
    bool m_read_only = false;
    bool m_fail_reads = false;
    long m_fail_writes_after = -1;
    uint64_t m_reads = 0, m_writes = 0, m_flushes = 0;
};

class FixedClock final : public Clock {
public:
    uint64_t now_ns() override { return m_now += 1'000'000'000; }
    uint64_t m_now = 1'767'225'600ull * 1'000'000'000ull; // 2026-01-01
};

} // namespace capos::fs::testing
