// Errors as values: Result<T, E> holds either a T or an E, and TRY propagates the
// error out of the calling function. No exceptions, no allocation; usable in the
// kernel, in userspace and on the host.
#pragma once

#include <new>
#include <type_traits>
#include <utility>

namespace capos {

// Wraps an error so that Result<T, E> can be built from it unambiguously.
template <typename E>
struct Err {
    E error;
};

template <typename E>
Err(E) -> Err<E>;

template <typename T, typename E>
class [[nodiscard]] Result {
public:
    Result(const T& value) : m_ok(true) { new (&m_value) T(value); }
    Result(T&& value) : m_ok(true) { new (&m_value) T(std::move(value)); }
    template <typename F>
    Result(Err<F> err) : m_ok(false) {
        new (&m_error) E(std::move(err.error));
    }

    Result(const Result& other) : m_ok(other.m_ok) {
        if (m_ok)
            new (&m_value) T(other.m_value);
        else
            new (&m_error) E(other.m_error);
    }
    Result(Result&& other) : m_ok(other.m_ok) {
        if (m_ok)
            new (&m_value) T(std::move(other.m_value));
        else
            new (&m_error) E(std::move(other.m_error));
    }
    Result& operator=(Result other) {
        destroy();
        m_ok = other.m_ok;
        if (m_ok)
            new (&m_value) T(std::move(other.m_value));
        else
            new (&m_error) E(std::move(other.m_error));
        return *this;
    }
    ~Result() { destroy(); }

    bool is_ok() const { return m_ok; }
    bool is_error() const { return !m_ok; }

    T& value() & { return m_value; }
    const T& value() const& { return m_value; }
    T&& value() && { return std::move(m_value); }
    T release_value() { return std::move(m_value); }
    const E& error() const { return m_error; }
    E release_error() { return std::move(m_error); }

private:
    void destroy() {
        if (m_ok)
            m_value.~T();
        else
            m_error.~E();
    }

    bool m_ok;
    union {
        T m_value;
        E m_error;
    };
};

// Result<void, E>: success carries no value.
template <typename E>
class [[nodiscard]] Result<void, E> {
public:
    Result() : m_ok(true), m_error() {}
    template <typename F>
    Result(Err<F> err) : m_ok(false), m_error(std::move(err.error)) {}

    bool is_ok() const { return m_ok; }
    bool is_error() const { return !m_ok; }
    void value() const {}
    void release_value() const {}
    const E& error() const { return m_error; }
    E release_error() { return std::move(m_error); }

private:
    bool m_ok;
    E m_error;
};

} // namespace capos

// Evaluates a Result-returning expression; on error returns the error from the
// enclosing function, otherwise yields the value.
#define TRY(expression)                                                                            \
    ({                                                                                             \
        auto _try_result = (expression);                                                           \
        if (_try_result.is_error())                                                                \
            return ::capos::Err{_try_result.release_error()};                                      \
        _try_result.release_value();                                                               \
    })
