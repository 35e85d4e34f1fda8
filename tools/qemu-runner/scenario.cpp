#include "tools/qemu-runner/scenario.h"

#include "abi/exit_code.h"
#include "tools/qemu-runner/ports.h"

#include <algorithm>
#include <charconv>

namespace capos::qemu {
namespace {

// A netdev value whose back end connects to a listening peer (QEMU's
// `socket,connect=` or `stream,server=off`): its port is the peer's.
bool connects_to_peer(std::string_view value) {
    return value.find("connect=") != std::string_view::npos ||
           value.find("server=off") != std::string_view::npos;
}

using ParseResult = Result<Scenario, ScenarioError>;

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_blank(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back()))
        text.remove_suffix(1);
    return text;
}

// Unquoted value: everything up to a '#' that starts the value or follows whitespace.
std::string_view strip_comment(std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '#' && (i == 0 || is_blank(text[i - 1])))
            return trim(text.substr(0, i));
    }
    return trim(text);
}

struct ValueError {
    std::string message;
};

std::optional<int> hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return std::nullopt;
}

// The escape that starts at `text[0]` (the character after the backslash): the byte
// it stands for and how many characters it took.
Result<std::pair<char, size_t>, ValueError> parse_escape(std::string_view text) {
    switch (text.front()) {
    case '"':
    case '\\':
        return std::pair{text.front(), size_t(1)};
    case 'r':
        return std::pair{'\r', size_t(1)};
    case 'n':
        return std::pair{'\n', size_t(1)};
    case 't':
        return std::pair{'\t', size_t(1)};
    case 'e':
        return std::pair{'\x1b', size_t(1)};
    case 'x': {
        auto high = text.size() > 1 ? hex_digit(text[1]) : std::nullopt;
        auto low = text.size() > 2 ? hex_digit(text[2]) : std::nullopt;
        if (!high || !low) {
            return Err{ValueError{"bad escape '\\" + std::string(text.substr(0, high ? 2 : 1)) +
                                  "' (\\x takes two hex digits)"}};
        }
        return std::pair{static_cast<char>(*high << 4 | *low), size_t(3)};
    }
    }
    return Err{ValueError{"bad escape '\\" + std::string(text.substr(0, 1)) +
                          "' (a quoted value knows \\\" \\\\ \\r \\n \\t \\e \\xHH \\{N})"}};
}

// The count of a repeat `\{N}` (`text` starts after the brace): how many times in
// all the byte before it is written, from 1 to max_repeat.
Result<size_t, ValueError> parse_repeat(std::string_view text, bool nothing_before) {
    constexpr size_t max_repeat = 100000;
    size_t close = text.find('}');
    std::string_view digits = text.substr(0, close);
    size_t count = 0;
    bool valid = close != std::string_view::npos && !digits.empty() && digits.size() <= 6 &&
                 digits.front() != '0';
    for (char c : digits) {
        valid = valid && c >= '0' && c <= '9';
        count = count * 10 + size_t(c - '0');
    }
    if (!valid || count > max_repeat) {
        return Err{ValueError{"bad repeat '\\{" + std::string(digits.substr(0, 8)) +
                              "' (\\{N}: the byte before it N times in all, N from 1 to 100000)"}};
    }
    if (nothing_before)
        return Err{ValueError{"a repeat '\\{N}' needs a byte before it"}};
    return count;
}

// `raw` is everything after the key's colon.
Result<std::string, ValueError> parse_value(std::string_view raw) {
    raw = trim(raw);
    if (raw.empty() || raw.front() != '"')
        return std::string(strip_comment(raw));

    std::string value;
    size_t i = 1;
    for (;; ++i) {
        if (i == raw.size())
            return Err{ValueError{"unterminated quoted value"}};
        char c = raw[i];
        if (c == '"')
            break;
        if (c == '\\') {
            if (i + 1 == raw.size())
                return Err{ValueError{"unterminated quoted value"}};
            if (raw[i + 1] == '{') {
                size_t count = TRY(parse_repeat(raw.substr(i + 2), value.empty()));
                value.append(count - 1, value.back());
                i = raw.find('}', i);
                continue;
            }
            auto [byte, length] = TRY(parse_escape(raw.substr(i + 1)));
            c = byte;
            i += length;
        }
        value.push_back(c);
    }
    std::string_view rest = trim(raw.substr(i + 1));
    if (!rest.empty() && rest.front() != '#')
        return Err{ValueError{"unexpected text after quoted value"}};
    return value;
}

std::optional<int> parse_positive_int(std::string_view text) {
    if (text.empty() || text.front() == '0')
        return std::nullopt;
    int value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value <= 0)
        return std::nullopt;
    return value;
}

// ",key=N" pairs after -smp's count: only the topology keys QEMU knows, each
// with a whole number up to max_cpus, each at most once.
bool valid_topology(std::string_view text) {
    constexpr std::string_view keys[] = {"sockets", "dies", "cores", "threads", "maxcpus"};
    bool seen[std::size(keys)] = {};
    while (!text.empty()) {
        if (text.front() != ',')
            return false;
        text.remove_prefix(1);
        std::string_view pair = text.substr(0, text.find(','));
        text.remove_prefix(pair.size());
        size_t equals = pair.find('=');
        if (equals == std::string_view::npos)
            return false;
        auto it = std::find(std::begin(keys), std::end(keys), pair.substr(0, equals));
        auto number = parse_positive_int(pair.substr(equals + 1));
        if (it == std::end(keys) || seen[it - std::begin(keys)] || !number || *number > max_cpus)
            return false;
        seen[it - std::begin(keys)] = true;
    }
    return true;
}

// "+feature" or "-feature" items, comma-separated: QEMU's names are lower-case
// letters, digits, '_', '-' and '.' (nothing that could add another option).
bool valid_cpu_features(std::string_view text) {
    if (text.empty())
        return false;
    for (;;) {
        std::string_view item = text.substr(0, text.find(','));
        if (item.size() < 2 || (item[0] != '+' && item[0] != '-'))
            return false;
        for (char c : item.substr(1)) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                      c == '.';
            if (!ok)
                return false;
        }
        if (item.size() == text.size())
            return true;
        text.remove_prefix(item.size() + 1);
    }
}

std::string single_quoted(std::string_view text) {
    return "'" + std::string(text) + "'";
}

// The words of a value, split at blanks.
std::vector<std::string_view> split_words(std::string_view text) {
    std::vector<std::string_view> words;
    for (;;) {
        text = trim(text);
        if (text.empty())
            return words;
        size_t end = 0;
        while (end < text.size() && !is_blank(text[end]))
            ++end;
        words.push_back(text.substr(0, end));
        text.remove_prefix(end);
    }
}

// A drive id QEMU takes and that cannot add another option: a letter, then
// letters, digits, '-' and '_'.
bool valid_drive_id(std::string_view id) {
    if (id.empty() || id.size() > max_drive_id)
        return false;
    for (size_t i = 0; i < id.size(); ++i) {
        char c = id[i];
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool other = (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!letter && (i == 0 || !other))
            return false;
    }
    return true;
}

// Keys that may appear at most once; the rest (expect, send, host, allow, forbid,
// device, netdev, drive...) repeat.
constexpr std::string_view single_keys[] = {
    "boot", "kernel", "initrd",     "iso",    "append", "memory",  "machine", "cpu-features",
    "cpus", "mttcg",  "debug-exit", "icount", "irqoff", "timeout", "exit",    "reboot"};

struct KeyLines {
    // Line of each single-valued key, in single_keys order; 0 = absent.
    int line[std::size(single_keys)] = {};

    int& of(std::string_view key) {
        auto it = std::find(std::begin(single_keys), std::end(single_keys), key);
        return line[it - std::begin(single_keys)];
    }
};

// A drive's id and image (words 0 and 1, the id checked) and its options,
// each at most once; nullopt for an unknown or repeated option.
std::optional<Drive> parse_drive_options(const std::vector<std::string_view>& words) {
    Drive drive{std::string(words[0]), std::string(words[1]), false, {}, {}, {}, {}};
    auto sector = [](std::string_view text) -> std::optional<uint64_t> {
        uint64_t value = 0;
        if (text.empty() || (text.size() > 1 && text.front() == '0'))
            return std::nullopt;
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc() || end != text.data() + text.size())
            return std::nullopt;
        return value;
    };
    for (size_t i = 2; i < words.size(); ++i) {
        std::string_view option = words[i];
        std::optional<uint64_t>* error_sector = nullptr;
        if (option == "read-only" && !drive.read_only) {
            drive.read_only = true;
            continue;
        }
        if (option.substr(0, 11) == "read-error=")
            error_sector = &drive.read_error_sector;
        else if (option.substr(0, 12) == "write-error=")
            error_sector = &drive.write_error_sector;
        if (!error_sector || error_sector->has_value())
            return std::nullopt;
        *error_sector = sector(option.substr(option.find('=') + 1));
        if (!error_sector->has_value())
            return std::nullopt;
    }
    return drive;
}

} // namespace

bool is_valid_memory_size(std::string_view text) {
    if (text.size() < 2 || (text.back() != 'M' && text.back() != 'G'))
        return false;
    return parse_positive_int(text.substr(0, text.size() - 1)).has_value();
}

ParseResult parse_scenario(std::string_view text) {
    Scenario scenario;
    scenario.forbidden.assign(std::begin(default_forbidden), std::end(default_forbidden));
    KeyLines key_lines;
    std::vector<int> expect_lines;
    int drive_expect_line = 0; // the first drive-expect's
    int drive_keep_line = 0;   // the first drive-keep's

    auto error = [](int line, std::string message) {
        return ParseResult(Err{ScenarioError{line, std::move(message)}});
    };

    int line_number = 0;
    while (!text.empty()) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        ++line_number;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);

        std::string_view content = trim(line);
        if (content.empty() || content.front() == '#')
            continue;

        size_t colon = content.find(':');
        if (colon == std::string_view::npos)
            return error(line_number, "expected 'key: value'");
        std::string_view key = trim(content.substr(0, colon));
        auto parsed = parse_value(content.substr(colon + 1));
        if (parsed.is_error())
            return error(line_number, parsed.error().message);
        std::string value = parsed.release_value();

        bool single =
            std::find(std::begin(single_keys), std::end(single_keys), key) != std::end(single_keys);
        bool repeated = key == "expect" || key == "send" || key == "host" || key == "allow" ||
                        key == "forbid" || key == "device" || key == "netdev" || key == "drive" ||
                        key == "drive-expect" || key == "drive-keep";
        if (!single && !repeated)
            return error(line_number, "unknown key " + single_quoted(key));
        if (single) {
            int& first = key_lines.of(key);
            if (first != 0) {
                return error(line_number, "duplicate key " + single_quoted(key) +
                                              " (first on line " + std::to_string(first) + ")");
            }
            first = line_number;
        }
        if (value.empty())
            return error(line_number, "empty value for " + single_quoted(key));
        if (key != "send" &&
            value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            return error(line_number,
                         single_quoted(key) + " cannot hold \\r, \\n or \\x00 (only a send can)");
        }

        auto placeholders = port_placeholders(value);
        if (placeholders.is_error())
            return error(line_number, placeholders.error());
        if (!placeholders.value().empty() && key != "netdev" && key != "host" && key != "send") {
            return error(line_number, single_quoted("{port:" + placeholders.value().front() + "}") +
                                          " in " + single_quoted(key) +
                                          " (ports apply only to netdev, host and send values)");
        }
        for (const std::string& name : placeholders.value()) {
            auto same = std::find_if(
                scenario.ports.begin(), scenario.ports.end(), [&](const PortName& port) {
                    return port_env_name("TCP", port.name) == port_env_name("TCP", name);
                });
            if (same == scenario.ports.end()) {
                same = scenario.ports.insert(same, PortName{name, false});
            } else if (same->name != name) {
                return error(line_number, "port names " + single_quoted(same->name) + " and " +
                                              single_quoted(name) +
                                              " differ only in case or '-' against '_'");
            }
            // QEMU binds a netdev's ports (a hostfwd rule, a socket's listen=),
            // except where it connects to a peer: that port is the peer's.
            same->for_qemu = same->for_qemu || (key == "netdev" && !connects_to_peer(value));
        }

        if (key == "boot") {
            if (value == "pvh")
                scenario.boot = BootMode::Pvh;
            else if (value == "iso-bios")
                scenario.boot = BootMode::IsoBios;
            else if (value == "iso-uefi")
                scenario.boot = BootMode::IsoUefi;
            else
                return error(line_number, "bad boot " + single_quoted(value) +
                                              " (want pvh, iso-bios or iso-uefi)");
        } else if (key == "kernel") {
            scenario.kernel = value;
        } else if (key == "initrd") {
            if (value == "none")
                scenario.initrd.reset();
            else
                scenario.initrd = value;
        } else if (key == "iso") {
            scenario.iso = value;
        } else if (key == "append") {
            scenario.append = value;
        } else if (key == "memory") {
            if (!is_valid_memory_size(value))
                return error(line_number,
                             "bad memory " + single_quoted(value) + " (want e.g. 128M or 1G)");
            scenario.memory = value;
        } else if (key == "machine") {
            if (value != "q35" && value != "pc")
                return error(line_number,
                             "bad machine " + single_quoted(value) + " (want q35 or pc)");
            scenario.machine_type = value;
        } else if (key == "cpu-features") {
            if (!valid_cpu_features(value))
                return error(line_number, "bad cpu-features " + single_quoted(value) +
                                              " (want e.g. -xsave or +pdpe1gb,-avx)");
            scenario.cpu_features = "," + value;
        } else if (key == "cpus") {
            std::string_view count = std::string_view(value).substr(0, value.find(','));
            std::string_view topology = std::string_view(value).substr(count.size());
            auto cpus = parse_positive_int(count);
            if (!cpus || *cpus > max_cpus || !valid_topology(topology)) {
                return error(line_number, "bad cpus " + single_quoted(value) +
                                              " (want whole CPUs, 1 to " +
                                              std::to_string(max_cpus) +
                                              ", then optionally ,sockets=N ,dies=N ,cores=N "
                                              ",threads=N ,maxcpus=N)");
            }
            scenario.cpus = *cpus;
            scenario.cpus_given = true;
            scenario.topology = std::string(topology);
        } else if (key == "mttcg") {
            if (value != "on" && value != "off")
                return error(line_number,
                             "bad mttcg " + single_quoted(value) + " (want on or off)");
            scenario.multi_threaded = value == "on";
        } else if (key == "debug-exit") {
            if (value != "on" && value != "off")
                return error(line_number,
                             "bad debug-exit " + single_quoted(value) + " (want on or off)");
            scenario.debug_exit = value == "on";
        } else if (key == "device") {
            scenario.devices.push_back(value);
        } else if (key == "netdev") {
            scenario.netdevs.push_back(value);
        } else if (key == "drive") {
            std::vector<std::string_view> words = split_words(value);
            std::optional<Drive> drive;
            if (words.size() >= 2 && valid_drive_id(words[0]))
                drive = parse_drive_options(words);
            if (!drive)
                return error(line_number, "bad drive " + single_quoted(value) +
                                              " (want '<id> <image> [read-only] "
                                              "[read-error=<sector>] [write-error=<sector>]', "
                                              "the id a letter then letters, digits, '-' or '_')");
            for (const Drive& other : scenario.drives) {
                if (other.id == drive->id)
                    return error(line_number,
                                 "drive " + single_quoted(drive->id) + " is attached already");
            }
            scenario.drives.push_back(std::move(*drive));
        } else if (key == "drive-expect") {
            std::vector<std::string_view> words = split_words(value);
            if (words.size() != 2)
                return error(line_number,
                             "bad drive-expect " + single_quoted(value) + " (want '<id> <file>')");
            auto drive = std::find_if(scenario.drives.begin(), scenario.drives.end(),
                                      [&](const Drive& d) { return d.id == words[0]; });
            if (drive == scenario.drives.end())
                return error(line_number, "drive-expect names no drive attached above: " +
                                              single_quoted(words[0]));
            if (drive->expected)
                return error(line_number,
                             "drive " + single_quoted(words[0]) + " has a drive-expect already");
            drive->expected = std::string(words[1]);
            drive_expect_line = drive_expect_line == 0 ? line_number : drive_expect_line;
        } else if (key == "drive-keep") {
            std::vector<std::string_view> words = split_words(value);
            if (words.size() != 2)
                return error(line_number,
                             "bad drive-keep " + single_quoted(value) + " (want '<id> <file>')");
            auto drive = std::find_if(scenario.drives.begin(), scenario.drives.end(),
                                      [&](const Drive& d) { return d.id == words[0]; });
            if (drive == scenario.drives.end())
                return error(line_number, "drive-keep names no drive attached above: " +
                                              single_quoted(words[0]));
            if (drive->kept)
                return error(line_number,
                             "drive " + single_quoted(words[0]) + " has a drive-keep already");
            drive->kept = std::string(words[1]);
            drive_keep_line = drive_keep_line == 0 ? line_number : drive_keep_line;
        } else if (key == "reboot") {
            if (value != "allow")
                return error(line_number, "bad reboot " + single_quoted(value) + " (want allow)");
            scenario.reboots = true;
        } else if (key == "icount") {
            auto shift = value == "0" ? std::optional<int>(0) : parse_positive_int(value);
            if (!shift || *shift > 10)
                return error(line_number,
                             "bad icount " + single_quoted(value) + " (want a shift, 0 to 10)");
            scenario.icount_shift = *shift;
        } else if (key == "irqoff") {
            auto bound = parse_positive_int(value);
            if (!bound || *bound > max_irqoff_us)
                return error(line_number, "bad irqoff " + single_quoted(value) +
                                              " (want microseconds, 1 to " +
                                              std::to_string(max_irqoff_us) + ")");
            scenario.irqoff_us = *bound;
        } else if (key == "timeout") {
            auto seconds = parse_positive_int(value);
            if (!seconds || *seconds > max_timeout_seconds) {
                return error(line_number, "bad timeout " + single_quoted(value) +
                                              " (want whole seconds, 1 to " +
                                              std::to_string(max_timeout_seconds) + ")");
            }
            scenario.timeout_seconds = *seconds;
        } else if (key == "expect") {
            scenario.expects.push_back(value);
            expect_lines.push_back(line_number);
        } else if (key == "send") {
            scenario.sends.push_back(Send{value, scenario.expects.size()});
        } else if (key == "host") {
            scenario.hosts.push_back(HostCommand{value, scenario.expects.size()});
        } else if (key == "allow") {
            auto it = std::find(scenario.forbidden.begin(), scenario.forbidden.end(), value);
            if (it == scenario.forbidden.end())
                return error(line_number, single_quoted(value) + " is not a forbidden pattern");
            scenario.forbidden.erase(it);
        } else if (key == "forbid") {
            if (std::find(scenario.forbidden.begin(), scenario.forbidden.end(), value) !=
                scenario.forbidden.end())
                return error(line_number, single_quoted(value) + " is already forbidden");
            scenario.forbidden.push_back(value);
        } else if (key == "exit") {
            static constexpr std::pair<std::string_view, ExpectedExit> exits[] = {
                {"success", ExpectedExit::Success}, {"failure", ExpectedExit::Failure},
                {"panic", ExpectedExit::Panic},     {"fault", ExpectedExit::Fault},
                {"reset", ExpectedExit::Reset},     {"poweroff", ExpectedExit::PowerOff},
                {"running", ExpectedExit::Running},
            };
            auto it = std::find_if(std::begin(exits), std::end(exits),
                                   [&](const auto& entry) { return entry.first == value; });
            if (it == std::end(exits)) {
                return error(
                    line_number,
                    "bad exit " + single_quoted(value) +
                        " (want success, failure, panic, fault, reset, poweroff or running)");
            }
            scenario.exit = it->second;
        }
    }

    // Checks that need the whole file: keys that do not fit the boot mode, and
    // expectations that can never be met.
    bool iso_boot = scenario.boot != BootMode::Pvh;
    for (std::string_view key : {"kernel", "initrd", "append"}) {
        if (iso_boot && key_lines.of(key) != 0) {
            return error(key_lines.of(key), single_quoted(key) +
                                                " applies only to boot: pvh (an ISO boots the "
                                                "kernel and archive named in its grub.cfg)");
        }
    }
    if (!iso_boot && key_lines.of("iso") != 0)
        return error(key_lines.of("iso"), "'iso' applies only to boot: iso-bios or iso-uefi");
    if (scenario.exit == ExpectedExit::Running && scenario.expects.empty())
        return error(key_lines.of("exit"), "exit: running needs at least one expect line");
    if (scenario.reboots && scenario.exit == ExpectedExit::Reset)
        return error(key_lines.of("reboot"), "reboot: allow and exit: reset exclude each other");
    // A machine that is stopped may be in the middle of a write.
    if (scenario.exit == ExpectedExit::Running && drive_expect_line != 0)
        return error(drive_expect_line, "drive-expect needs a run QEMU ends by itself, not exit: "
                                        "running");
    if (scenario.exit == ExpectedExit::Running && drive_keep_line != 0)
        return error(drive_keep_line,
                     "drive-keep needs a run QEMU ends by itself, not exit: running");
    bool coded_exit = scenario.exit != ExpectedExit::Reset &&
                      scenario.exit != ExpectedExit::PowerOff &&
                      scenario.exit != ExpectedExit::Running;
    if (!scenario.debug_exit && coded_exit)
        return error(
            key_lines.of("debug-exit"),
            "debug-exit: off cannot end with exit: " + std::string(to_string(scenario.exit)) +
                " (only the debug-exit device gives that status; want poweroff, reset "
                "or running)");
    for (size_t i = 0; i < scenario.expects.size(); ++i) {
        for (const std::string& pattern : scenario.forbidden) {
            if (scenario.expects[i].find(pattern) != std::string::npos) {
                return error(expect_lines[i], "expected line contains the forbidden pattern " +
                                                  single_quoted(pattern) +
                                                  "; add 'allow: " + pattern + "'");
            }
        }
    }
    if (scenario.boot == BootMode::IsoUefi && key_lines.of("timeout") == 0)
        scenario.timeout_seconds = default_uefi_timeout_seconds;
    return scenario;
}

std::string quoted_value(std::string_view bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (unsigned char c : bytes) {
        switch (c) {
        case '"':
        case '\\':
            out += '\\';
            out += static_cast<char>(c);
            break;
        case '\r':
            out += "\\r";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        case 0x1b:
            out += "\\e";
            break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                out += static_cast<char>(c);
            } else {
                out += "\\x";
                out += hex[c >> 4];
                out += hex[c & 0xf];
            }
        }
    }
    return out + "\"";
}

std::optional<int> expected_qemu_status(ExpectedExit exit) {
    switch (exit) {
    case ExpectedExit::Success:
        return abi::qemu_status(abi::ExitCode::Success);
    case ExpectedExit::Failure:
        return abi::qemu_status(abi::ExitCode::Failure);
    case ExpectedExit::Panic:
        return abi::qemu_status(abi::ExitCode::Panic);
    case ExpectedExit::Fault:
        return abi::qemu_status(abi::ExitCode::Fault);
    case ExpectedExit::Reset:
    case ExpectedExit::PowerOff:
        return 0;
    case ExpectedExit::Running:
        return std::nullopt;
    }
    return std::nullopt;
}

std::string_view to_string(BootMode boot) {
    switch (boot) {
    case BootMode::Pvh:
        return "pvh";
    case BootMode::IsoBios:
        return "iso-bios";
    case BootMode::IsoUefi:
        return "iso-uefi";
    }
    return "?";
}

std::string_view to_string(ExpectedExit exit) {
    switch (exit) {
    case ExpectedExit::Success:
        return "success";
    case ExpectedExit::Failure:
        return "failure";
    case ExpectedExit::Panic:
        return "panic";
    case ExpectedExit::Fault:
        return "fault";
    case ExpectedExit::Reset:
        return "reset";
    case ExpectedExit::PowerOff:
        return "poweroff";
    case ExpectedExit::Running:
        return "running";
    }
    return "?";
}

} // namespace capos::qemu
