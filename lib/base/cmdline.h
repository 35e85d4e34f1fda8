// Reading the kernel command line: space-separated words, each either a flag
// ("shutdown") or key=value ("test=selftest"). Later words win.
#pragma once

#include <optional>
#include <string_view>

namespace capos {

class CommandLine {
public:
    explicit constexpr CommandLine(std::string_view text) : m_text(text) {}

    // The value of the last "key=value" word, if any.
    constexpr std::optional<std::string_view> value(std::string_view key) const {
        std::optional<std::string_view> found;
        for_each_word([&](std::string_view word) {
            if (word.size() > key.size() && word.substr(0, key.size()) == key &&
                word[key.size()] == '=')
                found = word.substr(key.size() + 1);
        });
        return found;
    }

    // True when the bare word `flag` appears.
    constexpr bool has_flag(std::string_view flag) const {
        bool found = false;
        for_each_word([&](std::string_view word) { found = found || word == flag; });
        return found;
    }

    constexpr std::string_view text() const { return m_text; }

private:
    template <typename F>
    constexpr void for_each_word(F&& visit) const {
        size_t i = 0;
        while (i < m_text.size()) {
            while (i < m_text.size() && is_space(m_text[i]))
                ++i;
            size_t start = i;
            while (i < m_text.size() && !is_space(m_text[i]))
                ++i;
            if (i > start)
                visit(m_text.substr(start, i - start));
        }
    }
    static constexpr bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
    }

    std::string_view m_text;
};

} // namespace capos
