// The shell's Tab completion (see completion.h).
#include "lib/shell/completion.h"

#include "lib/shell/run_command.h"

namespace capos::shell {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t';
}

// Letters and digits only (a schema's method names; empty too).
bool is_identifier(std::string_view text) {
    for (char c : text) {
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!letter && !(c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

bool is_continuation(char c) {
    return (uint8_t(c) & 0xc0) == 0x80;
}

// The first word of `text`, and how many words it holds.
std::string_view first_word(std::string_view text) {
    size_t start = 0;
    while (start < text.size() && is_space(text[start]))
        ++start;
    size_t end = start;
    while (end < text.size() && !is_space(text[end]))
        ++end;
    return text.substr(start, end - start);
}

size_t word_count(std::string_view text) {
    size_t count = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (!is_space(text[i]) && (i == 0 || is_space(text[i - 1])))
            ++count;
    }
    return count;
}

} // namespace

CompletionTarget completion_target(std::string_view line, size_t cursor) {
    std::string_view before = line.substr(0, cursor);
    size_t word_start = before.size();
    while (word_start > 0 && !is_space(before[word_start - 1]))
        --word_start;
    std::string_view word = before.substr(word_start);

    if (size_t at = word.rfind('@'); at != std::string_view::npos) {
        std::string_view name = word.substr(at + 1);
        if (size_t dot = name.find('.'); dot != std::string_view::npos) {
            std::string_view capability = name.substr(0, dot);
            std::string_view method = name.substr(dot + 1);
            if (!valid_cap_name(capability) || !is_identifier(method))
                return {};
            return {CompletionKind::Method, word_start + at + 2 + dot, method, capability};
        }
        if (!name.empty() && !valid_cap_name(name))
            return {};
        return {CompletionKind::Capability, word_start + at + 1, name, {}};
    }
    std::string_view earlier = before.substr(0, word_start);
    size_t words_before = word_count(earlier);
    if (words_before == 0)
        return {CompletionKind::Command, word_start, word, {}};
    std::string_view command = first_word(earlier);
    if (words_before == 1 && (command == "run" || command == "spawn"))
        return {CompletionKind::Program, word_start, word, {}};
    if (words_before == 1 && (command == "wait" || command == "kill"))
        return {CompletionKind::Job, word_start, word, {}};
    if (words_before == 2 && command == "blk" &&
        first_word(earlier.substr(earlier.find(command) + command.size())) == "read")
        return {CompletionKind::Disk, word_start, word, {}};
    return {};
}

void Matches::add(std::string_view candidate) {
    if (candidate.substr(0, m_prefix.size()) != m_prefix)
        return;
    if (m_count++ == 0) {
        m_first = candidate;
        m_common = candidate.size();
        m_longest = candidate.size();
        return;
    }
    if (candidate.size() > m_longest)
        m_longest = candidate.size();
    size_t common = m_prefix.size();
    while (common < m_common && common < candidate.size() && candidate[common] == m_first[common])
        ++common;
    // Not into the middle of a character: the text added must be whole.
    while (common > m_prefix.size() && common < m_first.size() && is_continuation(m_first[common]))
        --common;
    m_common = common;
}

TabStep tab_step(CompletionKind kind, const Matches& matches, bool at_end, bool again) {
    if (kind == CompletionKind::None || matches.count() == 0)
        return {};
    std::string_view rest = matches.common().substr(matches.prefix().size());
    if (matches.unique()) {
        bool space = at_end && kind != CompletionKind::Capability && kind != CompletionKind::Method;
        if (rest.empty() && !space)
            return {};
        return {TabAction::Insert, rest, space};
    }
    if (!rest.empty())
        return {TabAction::Insert, rest, false};
    if (again)
        return {TabAction::List, {}, false};
    return {};
}

void sort_names(std::span<std::string_view> names) {
    for (size_t i = 1; i < names.size(); ++i) {
        std::string_view name = names[i];
        size_t j = i;
        for (; j > 0 && names[j - 1] > name; --j)
            names[j] = names[j - 1];
        names[j] = name;
    }
}

} // namespace capos::shell
