// A map from 64-bit keys to trivially copyable values, by open addressing
// with linear probing, whose growth can fail (insert returns false and
// changes nothing). Keys are spread by a multiplicative mix, so block
// numbers and small ids do not cluster. For lib code in user programs and
// on the host; pointers into it are valid until the next insert.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace capos {

template <typename V>
class U64Map {
    static_assert(std::is_trivially_copyable_v<V>);

    struct Slot {
        uint64_t key;
        V value;
        uint8_t state; // 0 empty, 1 full, 2 removed
    };

public:
    U64Map() = default;
    U64Map(const U64Map&) = delete;
    U64Map& operator=(const U64Map&) = delete;
    ~U64Map() { delete[] m_slots; }

    size_t size() const { return m_size; }

    V* find(uint64_t key) {
        if (m_capacity == 0)
            return nullptr;
        for (size_t i = index(key), n = 0; n < m_capacity; i = (i + 1) & (m_capacity - 1), ++n) {
            Slot& slot = m_slots[i];
            if (slot.state == 0)
                return nullptr;
            if (slot.state == 1 && slot.key == key)
                return &slot.value;
        }
        return nullptr;
    }
    const V* find(uint64_t key) const { return const_cast<U64Map*>(this)->find(key); }

    // Inserts or replaces.
    [[nodiscard]] bool insert(uint64_t key, const V& value) {
        if (V* existing = find(key)) {
            *existing = value;
            return true;
        }
        if ((m_size + m_removed + 1) * 4 > m_capacity * 3 &&
            !rehash(m_size + 1 > m_capacity / 2 ? (m_capacity < 16 ? 16 : m_capacity * 2)
                                                : m_capacity))
            return false;
        for (size_t i = index(key);; i = (i + 1) & (m_capacity - 1)) {
            Slot& slot = m_slots[i];
            if (slot.state != 1) {
                if (slot.state == 2)
                    --m_removed;
                slot = Slot{key, value, 1};
                ++m_size;
                return true;
            }
        }
    }

    bool erase(uint64_t key) {
        if (m_capacity == 0)
            return false;
        for (size_t i = index(key), n = 0; n < m_capacity; i = (i + 1) & (m_capacity - 1), ++n) {
            Slot& slot = m_slots[i];
            if (slot.state == 0)
                return false;
            if (slot.state == 1 && slot.key == key) {
                slot.state = 2;
                --m_size;
                ++m_removed;
                return true;
            }
        }
        return false;
    }

    void clear() {
        for (size_t i = 0; i < m_capacity; ++i)
            m_slots[i].state = 0;
        m_size = 0;
        m_removed = 0;
    }

    // Calls fn(key, value&) for every entry; fn must not insert or erase.
    template <typename F>
    void for_each(F&& fn) {
        for (size_t i = 0; i < m_capacity; ++i)
            if (m_slots[i].state == 1)
                fn(m_slots[i].key, m_slots[i].value);
    }

private:
    size_t index(uint64_t key) const {
        return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & (m_capacity - 1);
    }

    bool rehash(size_t capacity) {
        auto* slots = new (std::nothrow) Slot[capacity];
        if (slots == nullptr)
            return false;
        for (size_t i = 0; i < capacity; ++i)
            slots[i].state = 0;
        Slot* old = m_slots;
        size_t old_capacity = m_capacity;
        m_slots = slots;
        m_capacity = capacity;
        m_size = 0;
        m_removed = 0;
        for (size_t i = 0; i < old_capacity; ++i)
            if (old[i].state == 1)
                for (size_t j = index(old[i].key);; j = (j + 1) & (m_capacity - 1))
                    if (m_slots[j].state == 0) {
                        m_slots[j] = old[i];
                        ++m_size;
                        break;
                    }
        delete[] old;
        return true;
    }

    Slot* m_slots = nullptr;
    size_t m_capacity = 0; // a power of two, or 0
    size_t m_size = 0;
    size_t m_removed = 0;
};

} // namespace capos
