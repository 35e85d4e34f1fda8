#include "lib/cap/cap_table.h"

namespace capos {

const char* to_string(CapError error) {
    switch (error) {
    case CapError::InvalidId:
        return "invalid capability id";
    case CapError::Stale:
        return "stale capability id";
    case CapError::WrongInterface:
        return "capability speaks another interface";
    case CapError::Pending:
        return "capability is being moved";
    case CapError::NotTransferable:
        return "capability is not transferable";
    case CapError::TableFull:
        return "capability table full";
    }
    return "unknown capability error";
}

namespace {

// The table is a template; instantiating every member here with a minimal
// move-only handle makes each build of lib/ (the kernel's included) compile all of
// it, not only the parts some caller happens to use.
class MoveOnlyHandle {
public:
    MoveOnlyHandle() = default;
    MoveOnlyHandle(MoveOnlyHandle&& other) noexcept : m_value(other.m_value) {
        other.m_value = nullptr;
    }
    MoveOnlyHandle& operator=(MoveOnlyHandle&& other) noexcept {
        m_value = other.m_value;
        other.m_value = nullptr;
        return *this;
    }
    MoveOnlyHandle(const MoveOnlyHandle&) = delete;
    MoveOnlyHandle& operator=(const MoveOnlyHandle&) = delete;

private:
    void* m_value = nullptr;
};

} // namespace

template class CapTable<MoveOnlyHandle>;

} // namespace capos
