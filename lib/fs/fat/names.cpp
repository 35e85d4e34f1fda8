#include "lib/fs/fat/names.h"

namespace capos::fs::fat {

namespace {

// Where an LFN entry keeps its 13 units.
constexpr uint8_t lfn_offsets[units_per_lfn] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
constexpr uint8_t lfn_last = 0x40;
constexpr uint8_t case_lower_base = 0x08;
constexpr uint8_t case_lower_ext = 0x10;

// Code page 437's upper half, the bytes short names written by DOS hold.
constexpr uint16_t cp437_high[128] = {
    0x00C7, 0x00FC, 0x00E9, 0x00E2, 0x00E4, 0x00E0, 0x00E5, 0x00E7, 0x00EA, 0x00EB, 0x00E8, 0x00EF,
    0x00EE, 0x00EC, 0x00C4, 0x00C5, 0x00C9, 0x00E6, 0x00C6, 0x00F4, 0x00F6, 0x00F2, 0x00FB, 0x00F9,
    0x00FF, 0x00D6, 0x00DC, 0x00A2, 0x00A3, 0x00A5, 0x20A7, 0x0192, 0x00E1, 0x00ED, 0x00F3, 0x00FA,
    0x00F1, 0x00D1, 0x00AA, 0x00BA, 0x00BF, 0x2310, 0x00AC, 0x00BD, 0x00BC, 0x00A1, 0x00AB, 0x00BB,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556, 0x2555, 0x2563, 0x2551, 0x2557,
    0x255D, 0x255C, 0x255B, 0x2510, 0x2514, 0x2534, 0x252C, 0x251C, 0x2500, 0x253C, 0x255E, 0x255F,
    0x255A, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256C, 0x2567, 0x2568, 0x2564, 0x2565, 0x2559,
    0x2558, 0x2552, 0x2553, 0x256B, 0x256A, 0x2518, 0x250C, 0x2588, 0x2584, 0x258C, 0x2590, 0x2580,
    0x03B1, 0x00DF, 0x0393, 0x03C0, 0x03A3, 0x03C3, 0x00B5, 0x03C4, 0x03A6, 0x0398, 0x03A9, 0x03B4,
    0x221E, 0x03C6, 0x03B5, 0x2229, 0x2261, 0x00B1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00F7, 0x2248,
    0x00B0, 0x2219, 0x00B7, 0x221A, 0x207F, 0x00B2, 0x25A0, 0x00A0};

bool forbidden_in_long_name(uint32_t c) {
    if (c < 0x20)
        return true;
    switch (c) {
    case '"':
    case '*':
    case '/':
    case ':':
    case '<':
    case '>':
    case '?':
    case '\\':
    case '|':
        return true;
    default:
        return false;
    }
}

// Characters a short name holds besides A-Z and 0-9.
bool short_special(uint16_t c) {
    switch (c) {
    case '$':
    case '%':
    case '\'':
    case '-':
    case '_':
    case '@':
    case '~':
    case '`':
    case '!':
    case '(':
    case ')':
    case '{':
    case '}':
    case '^':
    case '#':
    case '&':
        return true;
    default:
        return false;
    }
}

bool short_char(uint16_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || short_special(c);
}

uint16_t fold(uint16_t c) {
    return c >= 'a' && c <= 'z' ? static_cast<uint16_t>(c - 'a' + 'A') : c;
}

// Decodes one code point of `utf8` at `at`, strictly (no overlong forms, no
// surrogates, nothing past U+10FFFF); 0xFFFFFFFF when the bytes are bad.
uint32_t decode_utf8(std::string_view utf8, size_t& at) {
    constexpr uint32_t bad = 0xFFFFFFFF;
    auto byte = [&](size_t i) { return static_cast<uint8_t>(utf8[i]); };
    uint8_t lead = byte(at);
    size_t extra;
    uint32_t cp;
    uint32_t min;
    if (lead < 0x80) {
        ++at;
        return lead;
    } else if ((lead & 0xE0) == 0xC0) {
        extra = 1, cp = lead & 0x1F, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        extra = 2, cp = lead & 0x0F, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        extra = 3, cp = lead & 0x07, min = 0x10000;
    } else {
        return bad;
    }
    if (utf8.size() - at - 1 < extra)
        return bad;
    for (size_t i = 1; i <= extra; ++i) {
        uint8_t next = byte(at + i);
        if ((next & 0xC0) != 0x80)
            return bad;
        cp = (cp << 6) | (next & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return bad;
    at += extra + 1;
    return cp;
}

size_t put_utf8(uint32_t cp, char* out) {
    if (cp < 0x80) {
        out[0] = static_cast<char>(cp);
        return 1;
    }
    if (cp < 0x800) {
        out[0] = static_cast<char>(0xC0 | (cp >> 6));
        out[1] = static_cast<char>(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = static_cast<char>(0xE0 | (cp >> 12));
        out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out[2] = static_cast<char>(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = static_cast<char>(0xF0 | (cp >> 18));
    out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[3] = static_cast<char>(0x80 | (cp & 0x3F));
    return 4;
}

size_t base_length(const ShortName& name) {
    size_t length = 8;
    while (length > 0 && name.bytes[length - 1] == ' ')
        --length;
    return length;
}

bool leap(int64_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned days_in_month(int64_t year, unsigned month) {
    constexpr uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && leap(year) ? 29 : days[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

void civil_from_days(int64_t days, int64_t& year, unsigned& month, unsigned& day) {
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t mp = (5 * day_of_year + 2) / 153;
    day = static_cast<unsigned>(day_of_year - (153 * mp + 2) / 5 + 1);
    month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
    year = year_of_era + era * 400 + (month <= 2);
}

} // namespace

Result<void, FsError> to_long_name(std::string_view utf8, LongName& out) {
    TRY(check_name(utf8));
    out.length = 0;
    size_t at = 0;
    while (at < utf8.size()) {
        uint32_t cp = decode_utf8(utf8, at);
        if (cp == 0xFFFFFFFF || forbidden_in_long_name(cp))
            return Err{FsError::BadName};
        size_t units = cp >= 0x10000 ? 2 : 1;
        if (out.length + units > max_long_units)
            return Err{FsError::NameTooLong};
        if (units == 2) {
            cp -= 0x10000;
            out.units[out.length++] = static_cast<uint16_t>(0xD800 | (cp >> 10));
            out.units[out.length++] = static_cast<uint16_t>(0xDC00 | (cp & 0x3FF));
        } else {
            out.units[out.length++] = static_cast<uint16_t>(cp);
        }
    }
    uint16_t last = out.units[out.length - 1];
    if (last == '.' || last == ' ')
        return Err{FsError::BadName};
    return {};
}

size_t to_utf8(std::span<const uint16_t> units, std::span<char> out) {
    size_t written = 0;
    for (size_t i = 0; i < units.size(); ++i) {
        uint32_t cp = units[i];
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < units.size() && units[i + 1] >= 0xDC00 &&
            units[i + 1] <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (units[i + 1] - 0xDC00);
            ++i;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        if (out.size() - written < 4)
            break;
        written += put_utf8(cp, out.data() + written);
    }
    return written;
}

bool same_name(std::span<const uint16_t> a, std::span<const uint16_t> b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (fold(a[i]) != fold(b[i]))
            return false;
    return true;
}

std::optional<ShortName> exact_short_name(const LongName& name) {
    if (name.length == 0 || name.length > 12)
        return std::nullopt;
    ShortName result;
    __builtin_memset(result.bytes, ' ', sizeof result.bytes);
    size_t base = 0;
    size_t ext = 0;
    bool in_ext = false;
    for (size_t i = 0; i < name.length; ++i) {
        uint16_t c = name.units[i];
        if (c == '.') {
            if (in_ext || base == 0)
                return std::nullopt;
            in_ext = true;
            continue;
        }
        if (!short_char(c))
            return std::nullopt;
        if (in_ext) {
            if (ext == 3)
                return std::nullopt;
            result.bytes[8 + ext++] = static_cast<uint8_t>(c);
        } else {
            if (base == 8)
                return std::nullopt;
            result.bytes[base++] = static_cast<uint8_t>(c);
        }
    }
    if (in_ext && ext == 0)
        return std::nullopt;
    return result;
}

ShortName short_basis(const LongName& name) {
    ShortName basis;
    __builtin_memset(basis.bytes, ' ', sizeof basis.bytes);
    // Leading dots and spaces go, and spaces anywhere.
    size_t start = 0;
    while (start < name.length && (name.units[start] == '.' || name.units[start] == ' '))
        ++start;
    size_t last_dot = name.length;
    for (size_t i = start; i < name.length; ++i)
        if (name.units[i] == '.')
            last_dot = i;
    auto convert = [](uint16_t c) -> uint8_t {
        c = fold(c);
        return short_char(c) ? static_cast<uint8_t>(c) : '_';
    };
    size_t base = 0;
    for (size_t i = start; i < name.length && base < 8; ++i) {
        uint16_t c = name.units[i];
        if (c == '.')
            break;
        if (c == ' ')
            continue;
        basis.bytes[base++] = convert(c);
    }
    if (base == 0)
        basis.bytes[0] = '_';
    size_t ext = 0;
    for (size_t i = last_dot + 1; i < name.length && ext < 3; ++i) {
        uint16_t c = name.units[i];
        if (c == ' ')
            continue;
        basis.bytes[8 + ext++] = convert(c);
    }
    return basis;
}

ShortName with_tail(const ShortName& basis, uint32_t n) {
    char digits[8];
    size_t count = 0;
    do {
        digits[count++] = static_cast<char>('0' + n % 10);
        n /= 10;
    } while (n != 0 && count < 6);
    size_t keep = base_length(basis);
    if (keep > 8 - 1 - count)
        keep = 8 - 1 - count;
    ShortName result = basis;
    for (size_t i = keep; i < 8; ++i)
        result.bytes[i] = ' ';
    result.bytes[keep] = '~';
    for (size_t i = 0; i < count; ++i)
        result.bytes[keep + 1 + i] = static_cast<uint8_t>(digits[count - 1 - i]);
    return result;
}

std::optional<uint32_t> tail_of(const ShortName& basis, const ShortName& candidate) {
    size_t length = base_length(candidate);
    size_t tilde = 8;
    for (size_t i = 0; i < length; ++i)
        if (candidate.bytes[i] == '~')
            tilde = i;
    if (tilde == 8 || tilde + 1 >= length || length - tilde - 1 > 6 ||
        candidate.bytes[tilde + 1] == '0')
        return std::nullopt;
    uint32_t n = 0;
    for (size_t i = tilde + 1; i < length; ++i) {
        uint8_t c = candidate.bytes[i];
        if (c < '0' || c > '9')
            return std::nullopt;
        n = n * 10 + (c - '0');
    }
    if (!(with_tail(basis, n) == candidate))
        return std::nullopt;
    return n;
}

uint8_t short_checksum(const ShortName& name) {
    uint8_t sum = 0;
    for (uint8_t byte : name.bytes)
        sum = static_cast<uint8_t>(((sum & 1) << 7) + (sum >> 1) + byte);
    return sum;
}

size_t short_to_units(const uint8_t* entry, uint16_t out[12]) {
    auto unit = [](uint8_t byte, bool lower) -> uint16_t {
        if (byte >= 0x80)
            return cp437_high[byte - 0x80];
        if (lower && byte >= 'A' && byte <= 'Z')
            return static_cast<uint16_t>(byte - 'A' + 'a');
        return byte;
    };
    size_t count = 0;
    size_t base = 8;
    while (base > 0 && entry[base - 1] == ' ')
        --base;
    size_t ext = 3;
    while (ext > 0 && entry[8 + ext - 1] == ' ')
        --ext;
    for (size_t i = 0; i < base; ++i) {
        uint8_t byte = i == 0 && entry[0] == 0x05 ? 0xE5 : entry[i];
        out[count++] = unit(byte, entry[12] & case_lower_base);
    }
    if (ext > 0) {
        out[count++] = '.';
        for (size_t i = 0; i < ext; ++i)
            out[count++] = unit(entry[8 + i], entry[12] & case_lower_ext);
    }
    return count;
}

void put_lfn_entry(uint8_t* entry, const LongName& name, unsigned ordinal, uint8_t checksum) {
    __builtin_memset(entry, 0, entry_size);
    entry[0] = static_cast<uint8_t>(ordinal | (ordinal == lfn_entries(name) ? lfn_last : 0));
    entry[11] = 0x0F;
    entry[13] = checksum;
    for (size_t i = 0; i < units_per_lfn; ++i) {
        size_t at = (ordinal - 1) * units_per_lfn + i;
        uint16_t unit = at < name.length ? name.units[at] : at == name.length ? 0 : 0xFFFF;
        entry[lfn_offsets[i]] = static_cast<uint8_t>(unit);
        entry[lfn_offsets[i] + 1] = static_cast<uint8_t>(unit >> 8);
    }
}

void LfnAssembler::add(const uint8_t* entry, uint32_t index) {
    uint8_t ordinal = entry[0] & 0x3F;
    if (entry[0] & lfn_last) {
        if (ordinal == 0 || ordinal > max_lfn_entries) {
            m_valid = false;
            return;
        }
        m_valid = true;
        m_checksum = entry[13];
        m_first = index;
        m_length = ordinal * units_per_lfn;
    } else if (!m_valid || ordinal != m_expect || entry[13] != m_checksum) {
        m_valid = false;
        return;
    }
    size_t at = (ordinal - 1) * units_per_lfn;
    for (size_t i = 0; i < units_per_lfn; ++i) {
        uint16_t unit =
            static_cast<uint16_t>(entry[lfn_offsets[i]] | entry[lfn_offsets[i] + 1] << 8);
        m_units[at + i] = unit;
        // The name ends at its first NUL (in the last entry only, if the
        // entries are sound; a NUL earlier is caught in complete_for).
        if (unit == 0 && (entry[0] & lfn_last) && at + i < m_length)
            m_length = at + i;
    }
    m_expect = static_cast<uint8_t>(ordinal - 1);
}

bool LfnAssembler::complete_for(const uint8_t* short_entry) const {
    if (!m_valid || m_expect != 0 || m_length == 0 || m_length > max_long_units)
        return false;
    ShortName name;
    __builtin_memcpy(name.bytes, short_entry, sizeof name.bytes);
    if (short_checksum(name) != m_checksum)
        return false;
    for (size_t i = 0; i < m_length; ++i)
        if (m_units[i] == 0)
            return false;
    return true;
}

uint64_t to_ns(Timestamp stamp) {
    int64_t year = 1980 + (stamp.date >> 9);
    unsigned month = (stamp.date >> 5) & 0x0F;
    unsigned day = stamp.date & 0x1F;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return 0;
    unsigned hours = stamp.time >> 11;
    unsigned minutes = (stamp.time >> 5) & 0x3F;
    unsigned seconds = (stamp.time & 0x1F) * 2;
    if (hours > 23 || minutes > 59 || seconds > 59)
        hours = minutes = seconds = 0;
    uint64_t total = static_cast<uint64_t>(days_from_civil(year, month, day)) * 86400 +
                     hours * 3600 + minutes * 60 + seconds;
    uint64_t ns = total * 1'000'000'000ull;
    if (stamp.hundredths < 200)
        ns += stamp.hundredths * 10'000'000ull;
    return ns;
}

Timestamp from_ns(uint64_t ns) {
    constexpr uint64_t first = 315'532'800; // 1980-01-01
    uint64_t seconds = ns / 1'000'000'000ull;
    Timestamp stamp;
    if (seconds < first) {
        stamp.date = (1 << 5) | 1;
        return stamp;
    }
    int64_t year;
    unsigned month, day;
    civil_from_days(static_cast<int64_t>(seconds / 86400), year, month, day);
    if (year > 2107) {
        stamp.date = static_cast<uint16_t>((127 << 9) | (12 << 5) | 31);
        stamp.time = static_cast<uint16_t>((23 << 11) | (59 << 5) | 29);
        stamp.hundredths = 199;
        return stamp;
    }
    uint64_t in_day = seconds % 86400;
    stamp.date = static_cast<uint16_t>(((year - 1980) << 9) | (month << 5) | day);
    stamp.time = static_cast<uint16_t>(((in_day / 3600) << 11) | (((in_day / 60) % 60) << 5) |
                                       ((in_day % 60) / 2));
    stamp.hundredths =
        static_cast<uint8_t>((in_day % 2) * 100 + (ns % 1'000'000'000ull) / 10'000'000ull);
    return stamp;
}

} // namespace capos::fs::fat
