// A growable array of trivially copyable values whose growth can fail: for
// lib code that runs in user programs and on the host (not in the kernel's
// hot paths). Memory comes from operator new(std::nothrow); append returns
// false and changes nothing when it cannot grow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>

namespace capos {

template <typename T>
class Vector {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    Vector() = default;
    Vector(const Vector&) = delete;
    Vector& operator=(const Vector&) = delete;
    Vector(Vector&& other) { swap(other); }
    Vector& operator=(Vector&& other) {
        Vector moved(static_cast<Vector&&>(other));
        swap(moved);
        return *this;
    }
    ~Vector() { ::operator delete(m_data, std::nothrow); }

    [[nodiscard]] bool reserve(size_t capacity) {
        if (capacity <= m_capacity)
            return true;
        if (capacity > SIZE_MAX / sizeof(T))
            return false;
        auto* data = static_cast<T*>(::operator new(capacity * sizeof(T), std::nothrow));
        if (data == nullptr)
            return false;
        if (m_size > 0)
            std::memcpy(static_cast<void*>(data), m_data, m_size * sizeof(T));
        ::operator delete(m_data, std::nothrow);
        m_data = data;
        m_capacity = capacity;
        return true;
    }
    [[nodiscard]] bool append(const T& value) {
        if (m_size == m_capacity && !reserve(m_capacity < 8 ? 8 : m_capacity * 2))
            return false;
        m_data[m_size++] = value;
        return true;
    }
    // Grows to `size` elements, new ones value-initialised.
    [[nodiscard]] bool resize(size_t size) {
        if (size > m_capacity && !reserve(size))
            return false;
        for (size_t i = m_size; i < size; ++i)
            m_data[i] = T{};
        m_size = size;
        return true;
    }
    void clear() { m_size = 0; }
    void pop_back() { --m_size; }

    size_t size() const { return m_size; }
    bool empty() const { return m_size == 0; }
    T& operator[](size_t i) { return m_data[i]; }
    const T& operator[](size_t i) const { return m_data[i]; }
    T* begin() { return m_data; }
    T* end() { return m_data + m_size; }
    const T* begin() const { return m_data; }
    const T* end() const { return m_data + m_size; }
    T& back() { return m_data[m_size - 1]; }

private:
    void swap(Vector& other) {
        T* data = m_data;
        m_data = other.m_data;
        other.m_data = data;
        size_t size = m_size;
        m_size = other.m_size;
        other.m_size = size;
        size_t capacity = m_capacity;
        m_capacity = other.m_capacity;
        other.m_capacity = capacity;
    }

    T* m_data = nullptr;
    size_t m_size = 0;
    size_t m_capacity = 0;
};

} // namespace capos
