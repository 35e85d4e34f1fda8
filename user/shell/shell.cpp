// The capability shell: where a person at the terminal meets capOS. It reads
// lines from the TerminalSession it was granted as "terminal" (edited by the
// terminal as they are typed) and runs its commands, answering each on the
// same terminal. It holds nothing else but what its manifest grants, and
// `caps` shows exactly that. It never ends by itself: an interrupted line,
// end of input and every error leave it at the prompt.
#include "lib/capnp/capabilities.h"
#include "lib/capnp/schema_set.h"
#include "lib/capnp/text.h"
#include "lib/log/log_ring.h"
#include "lib/pci/describe.h"
#include "lib/shell/commands.h"
#include "lib/shell/completion.h"
#include "lib/shell/format.h"
#include "lib/shell/history.h"
#include "lib/shell/run_command.h"
#include "lib/term/line_editor.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/pci.h"
#include "user/rt/rt.h"
#include "user/shell/files.h"
#include "user/shell/stdio_service.h"
#include <optional>
#include <span>
#include <string_view>

namespace {

using capos::rt::Line;
using capos::schema::BlockDevice;
using capos::schema::DeviceInventory;
using capos::schema::LineEnd;
using capos::schema::LogLevel;
using capos::schema::LogReader;
using capos::schema::Manual;
using capos::schema::ProcessHandle;
using capos::schema::ProcessInspector;
using capos::schema::ProcessSpawner;
using capos::schema::SystemControl;
using capos::schema::SystemInfo;
using capos::schema::TerminalSession;
using capos::shell::CompletionKind;
using capos::shell::GrantSource;
using capos::shell::GrantSpec;
using capos::shell::RunCommand;
using capos::shell::TabAction;

constexpr std::string_view prompt = "capos> ";

// The words of a command line, split at spaces and tabs (no quoting yet).
class Words {
public:
    explicit Words(std::string_view line) {
        while (m_count < max_words) {
            size_t start = line.find_first_not_of(" \t");
            if (start == std::string_view::npos)
                return;
            line.remove_prefix(start);
            size_t end = line.find_first_of(" \t");
            m_words[m_count++] = line.substr(0, end);
            if (end == std::string_view::npos)
                return;
            line.remove_prefix(end);
        }
        m_truncated = line.find_first_not_of(" \t") != std::string_view::npos;
    }
    size_t count() const { return m_count; }
    std::string_view operator[](size_t i) const { return i < m_count ? m_words[i] : ""; }
    bool truncated() const { return m_truncated; }

private:
    static constexpr size_t max_words = 64;
    std::string_view m_words[max_words];
    size_t m_count = 0;
    bool m_truncated = false;
};

class Shell final : public capos::shell::FileHost {
public:
    // `spawner` may be null: `run` and `spawn` then say so.
    Shell(capos::rt::Capability<TerminalSession>& terminal,
          capos::rt::Capability<ProcessSpawner>* spawner)
        : m_terminal(terminal), m_spawner(spawner) {}

    [[noreturn]] void loop() {
        if (uint32_t id = held<SystemInfo>("info")) {
            ClientOf<SystemInfo> info(capos::rt::transport(), id);
            if (auto motd = info.motd(); motd.is_ok() && !motd.value().text().empty()) {
                std::string_view text = motd.value().text();
                write(text);
                if (text.back() != '\n')
                    write("\n");
            }
        }
        say("capOS shell. Type 'help' for the commands.");
        for (;;) {
            if (!m_edit.resume)
                write(prompt);
            auto read = read_line();
            if (read.is_error()) // nothing left to talk to
                capos::rt::panic("shell: the terminal failed");
            if (read.value().end() != LineEnd::Completion)
                m_edit.tabbed = false;
            switch (read.value().end()) {
            case LineEnd::Completion:
                complete(read.value().line(), read.value().cursor());
                break;
            case LineEnd::Newline: {
                // The reply lives in the runtime's transport buffer, which
                // the command's own calls reuse: work on a copy.
                std::string_view line = read.value().line();
                if (line.size() > sizeof m_line) { // (the terminal promises no such line)
                    say("shell: a line longer than the terminal's longest is not run");
                    break;
                }
                __builtin_memcpy(m_line, line.data(), line.size());
                execute({m_line, line.size()});
                break;
            }
            case LineEnd::Interrupted:
                break;
            case LineEnd::EndOfInput:
                // (The terminal wrote nothing: end the prompt's line first.)
                say("\n(end of input: the shell stays; 'help' lists the commands)");
                break;
            default:
                say("shell: the terminal sent a line end this shell does not know");
                break;
            }
        }
    }

private:
    struct Command {
        std::string_view name;
        std::string_view usage;
        std::string_view summary;
        // Runs the command with the rest of the line after its name.
        void (Shell::*run)(std::string_view rest);
    };
    // The commands, in the order `help` lists them.
    static std::span<const Command> commands();
    // A program started by spawn and not yet waited for.
    struct Job {
        uint64_t number;
        capos::abi::CapId handle;
        char name[32];
        size_t name_length;
        capos::shell::StdioService* stdio; // the job's StdIO (one of m_job_stdio)
    };
    static constexpr size_t max_jobs = 16;

    void write(std::string_view text) override { (void)m_terminal->write(text); }

    // The id of the shell's capability `name` speaking Interface, or 0. The
    // shell keeps what it was given: a lookup that owned the capability would
    // release it when done with it.
    template <typename Interface>
    static uint32_t held(std::string_view name) {
        auto found = capos::rt::find_capability(name);
        if (found.is_error() || found.value().interface_id != Interface::interface_id ||
            dropped(name))
            return 0;
        return found.value().id.raw;
    }
    // The CapSet entries `drop` released, by index: the page still lists
    // them, the shell no longer holds them.
    static inline uint64_t s_dropped = 0;
    static_assert(capos::abi::capset_max_entries <= 64);
    // The index of the CapSet entry called `name`, or capset_max_entries.
    static size_t capset_index(std::string_view name) {
        const capos::abi::CapSetPage& set = capos::rt::capset();
        for (uint32_t i = 0; i < set.header.count && i < capos::abi::capset_max_entries; ++i) {
            if (cap_name(set.entries[i]) == name)
                return i;
        }
        return capos::abi::capset_max_entries;
    }
    static bool dropped(std::string_view name) {
        size_t index = capset_index(name);
        return index < capos::abi::capset_max_entries && (s_dropped >> index & 1) != 0;
    }
    template <typename Interface>
    using ClientOf = typename Interface::template Client<capos::rt::RingTransport>;
    void say(std::string_view text) {
        Line line(text);
        line.add('\n');
        write(line.view());
    }

    // --- Tab completion (lib/shell/completion.h) ------------------------
    //
    // 1. Every readLine asks the terminal to complete: a Tab ends it as
    //    `completion`, with the line so far still on the screen.
    // 2. complete() works out what the Tab does and keeps the line, its
    //    cursor and the characters to add in m_edit (or lists the matches
    //    and writes the prompt again).
    // 3. The next readLine hands them back: the terminal adds the
    //    characters and the line goes on, or writes it again after the
    //    prompt under a listing.

    capos::Result<TerminalSession::ReadLineResults::Reader, capos::gen::CallError> read_line() {
        std::string_view initial;
        std::string_view insert;
        uint32_t cursor = 0;
        bool shown = false;
        if (m_edit.resume) {
            initial = {m_edit.text, m_edit.length};
            insert = {m_edit.insert, m_edit.insert_length};
            cursor = uint32_t(m_edit.cursor);
            shown = m_edit.shown;
        }
        m_edit.resume = false;
        return read_line_serving_jobs(initial, cursor, shown, insert);
    }

    // The prompt's readLine, made as the generated client makes it but
    // submitted beside the jobs' StdIO receives, which are served while the
    // shell waits for the line: a background job's output appears at once.
    // A readLine made for a program and left outstanding when it ended
    // (Ctrl-C typed just before it reached the terminal) is taken as the
    // prompt's instead: a readLine cannot be taken back.
    capos::Result<TerminalSession::ReadLineResults::Reader, capos::gen::CallError>
    read_line_serving_jobs(std::string_view initial, uint32_t cursor, bool shown,
                           std::string_view insert) {
        if (m_line_ticket == 0) {
            if (auto error = submit_read_line(true, initial, cursor, shown, insert))
                return capos::Err{*error};
        }
        capos::abi::Cqe cqe;
        for (;;) {
            uint64_t tickets[2 + max_jobs] = {m_line_ticket, m_interrupt_ticket};
            for (size_t i = 0; i < m_job_count; ++i)
                tickets[2 + i] = m_jobs[i].stdio ? m_jobs[i].stdio->ticket() : 0;
            size_t which = 0;
            cqe = capos::rt::ring().wait_any({tickets, 2 + m_job_count}, which);
            if (which == 0)
                break;
            if (which == 1) {
                // Ctrl-C reached the terminal before this readLine did: what
                // was typed is dropped, as the line would have been.
                m_interrupt_ticket = 0;
                if (cqe.result != int32_t(capos::abi::CallStatus::Ok))
                    m_interrupt_refused = true;
                else
                    write(Line("^C\n").add(prompt).view());
                continue;
            }
            (void)m_jobs[which - 2].stdio->handle(cqe); // a background read ends at once
        }
        m_line_ticket = 0;
        return line_read(cqe);
    }

    // Submits a TerminalSession.readLine (m_line_ticket) whose results come
    // into m_read_result; an error when its params do not fit.
    std::optional<capos::gen::CallError> submit_read_line(bool complete, std::string_view initial,
                                                          uint32_t cursor, bool shown,
                                                          std::string_view insert) {
        using Params = TerminalSession::ReadLineParams;
        capos::capnp::MessageBuilder params(m_read_params);
        Params::Builder builder(params.init_root(Params::data_words, Params::pointer_count));
        builder.set_hidden(false);
        builder.set_complete(complete);
        builder.set_initial(initial);
        builder.set_cursor(cursor);
        builder.set_initial_shown(shown);
        builder.set_insert(insert);
        if (params.error() != capos::capnp::WireError::None)
            return capos::gen::CallError{.kind = capos::gen::CallErrorKind::ParamsTooLarge};
        capos::abi::Sqe sqe{};
        sqe.opcode = uint8_t(capos::abi::Opcode::Call);
        sqe.cap = m_terminal.id().raw;
        sqe.interface_id = TerminalSession::interface_id;
        sqe.method = uint16_t(TerminalSession::Method::ReadLine);
        sqe.params_addr = reinterpret_cast<uint64_t>(params.words().data());
        sqe.params_len = uint32_t(params.words().size_bytes());
        sqe.result_addr = reinterpret_cast<uint64_t>(m_read_result);
        sqe.result_len = sizeof m_read_result;
        m_line_ticket = capos::rt::ring().submit(sqe);
        return std::nullopt;
    }

    // The results of the readLine submit_read_line made, as the generated
    // client would read them.
    capos::Result<TerminalSession::ReadLineResults::Reader, capos::gen::CallError>
    line_read(const capos::abi::Cqe& cqe) {
        using capos::gen::CallError;
        using capos::gen::CallErrorKind;
        if (cqe.result < 0)
            return capos::Err{
                CallError{.kind = CallErrorKind::Transport, .transport_error = cqe.result}};
        const capos::capnp::MessageReader& message = m_read_reply.reset(
            std::span<const capos::capnp::Word>(m_read_result, cqe.result_len / 8));
        if (cqe.result == int32_t(capos::abi::CallStatus::Exception)) {
            capos::schema::CapException::Reader exception(message.root());
            exception.traverse();
            return capos::Err{CallError{.kind = CallErrorKind::Exception,
                                        .exception = {exception.type(), exception.message()}}};
        }
        TerminalSession::ReadLineResults::Reader results(message.root());
        results.traverse();
        if (message.error() != capos::capnp::WireError::None)
            return capos::Err{
                CallError{.kind = CallErrorKind::BadReply, .wire_error = message.error()}};
        return results;
    }

    void complete(std::string_view line, size_t cursor) {
        // The line lies in the transport's buffer, which the spawner's call
        // below reuses: compare it and copy it first.
        bool again = m_edit.tabbed && left_by_last_tab(line, cursor);
        size_t length = line.size() < sizeof m_edit.text ? line.size() : sizeof m_edit.text;
        __builtin_memcpy(m_edit.text, line.data(), length);
        std::string_view text(m_edit.text, length);
        m_edit.length = length;
        m_edit.cursor = cursor;
        m_edit.insert_length = 0;
        m_edit.shown = true;
        m_edit.resume = capos::term::LineEditor::valid_start(text, cursor, {});
        m_edit.tabbed = m_edit.resume;
        if (!m_edit.resume) { // not a line the terminal would take back: start afresh
            write("\n");
            return;
        }

        capos::shell::CompletionTarget target = capos::shell::completion_target(text, cursor);
        capos::shell::Matches matches(target.prefix);
        for_each_candidate(target.kind, target.capability,
                           [&](std::string_view name) { matches.add(name); });
        capos::shell::TabStep step =
            capos::shell::tab_step(target.kind, matches, cursor == length, again);
        switch (step.action) {
        case TabAction::Insert:
            if (step.insert.size() + step.space <= sizeof m_edit.insert) {
                __builtin_memcpy(m_edit.insert, step.insert.data(), step.insert.size());
                m_edit.insert_length = step.insert.size();
                if (step.space)
                    m_edit.insert[m_edit.insert_length++] = ' ';
            }
            if (!capos::term::LineEditor::valid_start(text, cursor,
                                                      {m_edit.insert, m_edit.insert_length}))
                m_edit.insert_length = 0;
            if (m_edit.insert_length == 0)
                write("\a");
            break;
        case TabAction::List:
            list_matches(target.kind, target.capability, target.prefix);
            m_edit.shown = false;
            break;
        case TabAction::Bell:
            write("\a");
            break;
        }
    }

    // Whether `line` and `cursor` are what the last Tab left (m_edit, with
    // its insertion made): a second Tab in a row.
    bool left_by_last_tab(std::string_view line, size_t cursor) const {
        std::string_view before(m_edit.text, m_edit.cursor);
        std::string_view added(m_edit.insert, m_edit.insert_length);
        std::string_view after(m_edit.text + m_edit.cursor, m_edit.length - m_edit.cursor);
        return cursor == before.size() + added.size() && line.size() == cursor + after.size() &&
               line.substr(0, before.size()) == before &&
               line.substr(before.size(), added.size()) == added && line.substr(cursor) == after;
    }

    // Calls `f` with each name a Tab may complete to: the commands, the
    // programs the spawner starts, the jobs' numbers, the capabilities held
    // (also those named with `-> @name`), the methods of the interface
    // `capability` speaks (from the schema, its superclasses' too), the
    // disks among the CapSet's capabilities.
    template <typename F>
    void for_each_candidate(CompletionKind kind, std::string_view capability, F&& f) {
        switch (kind) {
        case CompletionKind::Command:
            for (const Command& command : commands())
                f(command.name);
            break;
        case CompletionKind::Program:
            for (std::string_view name : programs())
                f(name);
            break;
        case CompletionKind::Job:
            // (Written out where they stay put while the names are in use.)
            for (size_t i = 0; i < m_job_count; ++i) {
                Line number;
                number.udec(m_jobs[i].number);
                size_t length = number.view().size();
                __builtin_memcpy(m_job_numbers[i], number.view().data(), length);
                f(std::string_view(m_job_numbers[i], length));
            }
            break;
        case CompletionKind::Capability: {
            const capos::abi::CapSetPage& set = capos::rt::capset();
            for (uint32_t i = 0; i < set.header.count && i < capos::abi::capset_max_entries; ++i) {
                if ((s_dropped >> i & 1) == 0)
                    f(cap_name(set.entries[i]));
            }
            for (size_t i = 0; i < m_named_count; ++i)
                f(std::string_view(m_named[i].name, m_named[i].name_length));
            break;
        }
        case CompletionKind::Disk: {
            const capos::abi::CapSetPage& set = capos::rt::capset();
            for (uint32_t i = 0; i < set.header.count && i < capos::abi::capset_max_entries; ++i) {
                if ((s_dropped >> i & 1) == 0 && is_disk(i))
                    f(cap_name(set.entries[i]));
            }
            break;
        }
        case CompletionKind::Method: {
            capos::abi::CapId id;
            uint64_t interface_id = 0;
            // (Quietly: schema() would say what it lacks in the middle of the line.)
            if (!find_cap(capability, id, interface_id) || interface_id == 0 ||
                (!m_schema && held<capos::schema::SchemaRegistry>("schema") == 0))
                break;
            if (const capos::capnp::SchemaSet* set = schema()) {
                if (auto interface = set->find_interface(interface_id); interface.is_ok())
                    for_each_method(*set, interface.value(), f, 0);
            }
            break;
        }
        case CompletionKind::None:
            break;
        }
    }
    // Calls `f` with the name of each method of `interface` and of its
    // superclasses (as far down as SchemaSet::find_method looks).
    template <typename F>
    static void for_each_method(const capos::capnp::SchemaSet& set,
                                const capos::capnp::InterfaceSchema& interface, F& f,
                                uint32_t depth) {
        for (uint32_t i = 0; i < interface.method_count(); ++i)
            f(interface.method(i).name);
        if (depth == capos::capnp::SchemaSet::max_superclass_depth)
            return;
        for (uint32_t i = 0; i < interface.superclass_count(); ++i) {
            if (auto super = set.find_interface(interface.superclass_id(i)); super.is_ok())
                for_each_method(set, super.value(), f, depth + 1);
        }
    }

    // The programs ProcessSpawner starts, asked for once (again at the next
    // Tab after a failure); none without a spawner, also once it is dropped.
    std::span<const std::string_view> programs() {
        if (!m_spawner)
            return {};
        if (m_programs_read)
            return {m_programs, m_program_count};
        m_program_count = 0;
        size_t used = 0;
        for (uint32_t from = 0; m_program_count < max_programs;) {
            auto listed = (*m_spawner)->binaries(from);
            if (listed.is_error())
                return {m_programs, m_program_count};
            auto names = listed.value().names();
            for (std::string_view name : names) {
                if (m_program_count == max_programs || name.size() > sizeof m_program_text - used)
                    break;
                __builtin_memcpy(m_program_text + used, name.data(), name.size());
                m_programs[m_program_count++] = {m_program_text + used, name.size()};
                used += name.size();
            }
            if (names.size() < ProcessSpawner::max_binary_list)
                break;
            from += names.size();
        }
        m_programs_read = true;
        return {m_programs, m_program_count};
    }

    // Lists the names starting with `prefix` under the line, sorted, in
    // columns, then writes the prompt again.
    void list_matches(CompletionKind kind, std::string_view capability, std::string_view prefix) {
        static constexpr size_t max_listed = 128;
        static constexpr size_t width = 78;
        std::string_view names[max_listed];
        size_t count = 0;
        size_t widest = 0;
        for_each_candidate(kind, capability, [&](std::string_view name) {
            if (name.substr(0, prefix.size()) != prefix || count == max_listed)
                return;
            for (size_t i = 0; i < count; ++i) {
                if (names[i] == name)
                    return;
            }
            names[count++] = name;
            widest = name.size() > widest ? name.size() : widest;
        });
        capos::shell::sort_names({names, count});
        write("\n");
        size_t column = widest + 2;
        size_t per_row = column < width ? width / column : 1;
        Line row;
        for (size_t i = 0; i < count; ++i) {
            row.add(names[i]);
            if ((i + 1) % per_row == 0 || i + 1 == count) {
                say(row.view());
                row = Line();
                continue;
            }
            for (size_t at = names[i].size(); at < column; ++at)
                row.add(' ');
        }
        write(prompt);
    }

    // A CapSet entry's name (NUL-padded in the page).
    static std::string_view cap_name(const capos::abi::CapSetEntry& entry) {
        std::string_view name(entry.name, sizeof entry.name);
        return name.substr(0, name.find('\0'));
    }

    void execute(std::string_view line) {
        Words words(line);
        if (words.count() == 0)
            return;
        // (The line is at most the terminal's longest, which the history
        // keeps whole.)
        (void)m_history.push(line);
        for (const Command& command : commands()) {
            if (command.name == words[0]) {
                std::string_view rest = line.substr(line.find(words[0]) + words[0].size());
                // A command whose usage is its name alone takes nothing
                // more: a stray word is a mistake to say, not to ignore.
                if (command.usage == command.name && Words(rest).count() != 0) {
                    say(Line("shell: ")
                            .add(command.name)
                            .add(": takes no arguments (see 'man ")
                            .add(command.name)
                            .add("')")
                            .view());
                    return;
                }
                (this->*command.run)(rest);
                return;
            }
        }
        Line error("shell: unknown command '");
        error.add(words[0].substr(0, 64)).add("' (type 'help')");
        say(error.view());
    }

    void help(std::string_view) {
        say("Commands:");
        // Usage, then the summary at a column of its own (on the next line
        // after a long usage).
        constexpr size_t column = 20;
        for (const Command& command : commands()) {
            Line line("  ");
            line.add(command.usage);
            if (command.usage.size() + 2 >= column) {
                say(line.view());
                line = Line();
            }
            for (size_t at = line.view().size(); at < column; ++at)
                line.add(' ');
            line.add(command.summary);
            say(line.view());
        }
    }

    void echo(std::string_view rest) {
        Words words(rest);
        if (words.truncated()) {
            say("shell: echo: too many words");
            return;
        }
        // `echo words > file` (or `>>`, to append): into a file instead.
        size_t count = words.count();
        bool append = false;
        if (count >= 1 && (words[count - 1] == ">" || words[count - 1] == ">>")) {
            say("shell: echo: '>' needs a file after it");
            return;
        }
        if (count >= 2 && (words[count - 2] == ">" || words[count - 2] == ">>")) {
            append = words[count - 2] == ">>";
            std::string_view path = words[count - 1];
            // The text: the words before the '>', as typed.
            std::string_view text =
                count == 2 ? std::string_view{}
                           : std::string_view(words[0].data(), words[count - 3].data() +
                                                                   words[count - 3].size() -
                                                                   words[0].data());
            m_files.write_text("echo", path, text, append);
            return;
        }
        // As long as the line (a Line would cut it).
        char text[sizeof m_line + 1];
        size_t length = 0;
        for (size_t i = 0; i < words.count(); ++i) {
            if (i > 0)
                text[length++] = ' ';
            __builtin_memcpy(text + length, words[i].data(), words[i].size());
            length += words[i].size();
        }
        text[length++] = '\n';
        write({text, length});
    }

    // The file commands (user/shell/files.h).
    void ls(std::string_view rest) { m_files.ls(rest); }
    void cat(std::string_view rest) { m_files.cat(rest); }
    void write_file(std::string_view rest) { m_files.write(rest); }
    void cp(std::string_view rest) { m_files.cp(rest); }
    void mv(std::string_view rest) { m_files.mv(rest); }
    void rm(std::string_view rest) { m_files.rm(rest); }
    void mkdir(std::string_view rest) { m_files.mkdir(rest); }
    void stat(std::string_view rest) { m_files.stat(rest); }
    void df(std::string_view rest) { m_files.df(rest); }
    void sync(std::string_view rest) { m_files.sync(rest); }

    // mount <disk> as <name>: the filesystem service (the boot archive's
    // `fs`) started as a job on the disk, its root kept as @name. It gets
    // the disk, the timer, the shell's vm (each process's own address
    // space) and the console for its lines (not the shell's StdIO: the
    // shell waits on it below, and would not serve the job meanwhile).
    void mount(std::string_view rest) {
        Words words(rest);
        if (words.count() != 3 || words[1] != "as" || words.truncated()) {
            say("shell: mount: usage: mount <disk> as <name> (see disks)");
            return;
        }
        std::string_view disk = words[0].substr(words[0].starts_with('@') ? 1 : 0);
        std::string_view name = words[2].substr(words[2].starts_with('@') ? 1 : 0);
        capos::abi::CapId id;
        uint64_t interface_id = 0;
        if (!capos::shell::valid_cap_name(disk) || !find_cap(disk, id, interface_id)) {
            say(Line("shell: mount: no disk '").add(disk).add("' (see disks)").view());
            return;
        }
        if (interface_id != BlockDevice::interface_id && interface_id != 0) {
            say(Line("shell: mount: '").add(disk).add("' is not a disk (see disks)").view());
            return;
        }
        if (!capos::shell::valid_cap_name(name)) {
            say("shell: mount: a name is letters, digits, '-' or '_'");
            return;
        }
        if (find_cap(name, id, interface_id)) {
            say(Line("shell: mount: '@").add(name).add("' is taken (see caps)").view());
            return;
        }
        for (std::string_view needed : {"timer", "vm", "console"}) {
            if (!find_cap(needed, id, interface_id)) {
                say(Line("shell: mount: this shell holds no '")
                        .add(needed)
                        .add("' (the filesystem service needs it)")
                        .view());
                return;
            }
        }
        Line line("fs with { disk: @");
        line.add(disk).add(
            ", timer: @timer, vm: @vm, console: @console, service: new endpoint speaking "
            "Directory -> @");
        line.add(name).add(" }");
        // (A Line is short; the names are bounded by valid_cap_name.)
        char command[sizeof m_line];
        __builtin_memcpy(command, line.view().data(), line.view().size());
        if (!start({command, line.view().size()}, "mount", false, false))
            return;
        if (!m_files.directory_info("mount", name))
            forget_named(name);
    }

    void caps(std::string_view) {
        const capos::abi::CapSetPage& set = capos::rt::capset();
        for (uint32_t i = 0; i < set.header.count && i < capos::abi::capset_max_entries; ++i) {
            if ((s_dropped >> i & 1) != 0)
                continue;
            const capos::abi::CapSetEntry& entry = set.entries[i];
            Line line("  ");
            std::string_view name = cap_name(entry);
            line.add(name);
            for (size_t column = name.size(); column < 16; ++column)
                line.add(' ');
            if (entry.interface_id == 0) // (a service's export, init's supervisor)
                line.add("an endpoint's client side");
            else
                line.add(interface_name(entry.interface_id));
            say(line.view());
        }
        for (size_t i = 0; i < m_named_count; ++i) {
            Line line("  ");
            std::string_view name(m_named[i].name, m_named[i].name_length);
            line.add(name);
            for (size_t column = name.size(); column < 16; ++column)
                line.add(' ');
            if (m_named[i].interface_id == 0)
                line.add("an endpoint's client side");
            else
                line.add(interface_name(m_named[i].interface_id))
                    .add(m_named[i].endpoint ? " (an endpoint's client side)" : " (from a call)");
            say(line.view());
        }
    }

    // drop @name: releases a capability the shell holds, one its manifest
    // gave it or one a call or a `new endpoint` grant named. `caps` stops
    // listing it; whatever needed it says it is missing, as if it had never
    // been given. The terminal stays: the shell talks through it.
    void drop(std::string_view rest) {
        Words words(rest);
        std::string_view name = words[0].substr(words[0].empty() ? 0 : 1);
        if (words.count() != 1 || words[0][0] != '@' || !capos::shell::valid_cap_name(name)) {
            say("shell: drop: usage: drop @name (see caps)");
            return;
        }
        capos::abi::CapId id;
        for (size_t i = 0; i < m_named_count; ++i) {
            if (std::string_view(m_named[i].name, m_named[i].name_length) != name)
                continue;
            id = m_named[i].id;
            for (size_t next = i + 1; next < m_named_count; ++next)
                m_named[next - 1] = m_named[next];
            --m_named_count;
            released(name, id);
            return;
        }
        size_t index = capset_index(name);
        if (index == capos::abi::capset_max_entries || (s_dropped >> index & 1) != 0) {
            say(Line("shell: drop: no capability '@").add(name).add("' (see caps)").view());
            return;
        }
        id = capos::abi::CapId{capos::rt::capset().entries[index].cap_id};
        if (id == m_terminal.id()) {
            say(Line("shell: drop: the shell talks through '@")
                    .add(name)
                    .add("': it keeps it")
                    .view());
            return;
        }
        s_dropped |= uint64_t(1) << index;
        if (m_spawner && id == m_spawner->id()) {
            (void)m_spawner->leak(); // released below, and never again
            m_spawner = nullptr;
        }
        released(name, id);
    }
    // Releases a named capability quietly (one the shell got for a command
    // that then failed).
    void forget_named(std::string_view name) {
        for (size_t i = 0; i < m_named_count; ++i) {
            if (std::string_view(m_named[i].name, m_named[i].name_length) != name)
                continue;
            (void)capos::rt::release(m_named[i].id);
            for (size_t next = i + 1; next < m_named_count; ++next)
                m_named[next - 1] = m_named[next];
            --m_named_count;
            return;
        }
    }
    void released(std::string_view name, capos::abi::CapId id) {
        if (int32_t result = capos::rt::release(id); result < 0) {
            say(Line("shell: drop: '@")
                    .add(name)
                    .add("' was already gone: ")
                    .add(capos::abi::cqe_result_name(result))
                    .view());
            return;
        }
        say(Line("dropped @").add(name).view());
    }

    void clear(std::string_view) { write("\x1b[2J\x1b[H"); }

    // man [section] <topic>: the page from Manual ("manual"), read in pieces
    // of at most Manual.maxRead bytes until its size.
    void man(std::string_view rest) {
        Words words(rest);
        uint8_t section = 0;
        std::string_view topic;
        if (words.count() == 1) {
            topic = words[0];
        } else if (words.count() == 2 && words[0].size() == 1 && words[0][0] >= '1' &&
                   words[0][0] <= '9') {
            section = static_cast<uint8_t>(words[0][0] - '0');
            topic = words[1];
        } else {
            say("shell: man: usage: man [section] <topic> (try 'man man', 'apropos <word>')");
            return;
        }
        uint32_t id = held<Manual>("manual");
        if (id == 0) {
            say("shell: man: this shell holds no 'manual' (see caps)");
            return;
        }
        ClientOf<Manual> manual(capos::rt::transport(), id);
        uint32_t offset = 0;
        for (;;) {
            auto page = manual.page(topic, section, offset);
            if (page.is_error()) {
                if (offset == 0 && page.error().kind == capos::gen::CallErrorKind::Exception) {
                    Line line("shell: man: no page '");
                    line.add(topic.substr(0, 64)).add('\'');
                    if (section != 0)
                        line.add(" in section ").udec(section);
                    say(line.add(" (try 'apropos <word>')").view());
                } else {
                    say(Line("shell: man: ").add(capos::rt::call_error_text(page.error())).view());
                }
                return;
            }
            std::string_view text = page.value().text();
            write(text);
            offset += static_cast<uint32_t>(text.size());
            if (text.empty() || offset >= page.value().size()) {
                if (!text.empty() && text.back() != '\n')
                    write("\n");
                return;
            }
        }
    }

    // apropos <word>: every page whose title or summary holds the word, as
    // "title(section) - summary", in pieces of at most Manual.maxEntries.
    void apropos(std::string_view rest) {
        Words words(rest);
        if (words.count() != 1) {
            say("shell: apropos: usage: apropos <word>");
            return;
        }
        uint32_t id = held<Manual>("manual");
        if (id == 0) {
            say("shell: apropos: this shell holds no 'manual' (see caps)");
            return;
        }
        ClientOf<Manual> manual(capos::rt::transport(), id);
        uint32_t from = 0;
        for (;;) {
            auto found = manual.search(words[0], from);
            if (found.is_error()) {
                say(Line("shell: apropos: ").add(capos::rt::call_error_text(found.error())).view());
                return;
            }
            auto entries = found.value().entries();
            if (from == 0 && entries.size() == 0) {
                Line line("shell: apropos: nothing about '");
                say(line.add(words[0].substr(0, 64)).add('\'').view());
                return;
            }
            for (auto entry : entries) {
                Line line;
                line.add(entry.title().substr(0, 64)).add('(').udec(entry.section()).add(") - ");
                line.add(entry.summary().substr(0, 160));
                say(line.view());
            }
            from += entries.size();
            if (!found.value().more() || entries.size() == 0)
                return;
        }
    }

    // history: the lines held, each whole (a Line would cut a long one),
    // numbered from the first line run.
    void history(std::string_view) {
        for (size_t i = 0; i < m_history.count(); ++i) {
            capos::shell::History::Text text = m_history.oldest(i);
            CAPOS_ASSERT(text.size() <= sizeof m_line); // only lines run are pushed
            Line number;
            number.udec(m_history.evicted() + i + 1).add("  ");
            char out[32 + sizeof m_line + 1];
            size_t length = 0;
            for (std::string_view piece : {number.view(), text.first, text.second}) {
                __builtin_memcpy(out + length, piece.data(), piece.size());
                length += piece.size();
            }
            out[length++] = '\n';
            write({out, length});
        }
    }

    void run(std::string_view rest) { (void)start(rest, "run", true); }
    void spawn(std::string_view rest) { (void)start(rest, "spawn", false); }

    // Starts a program with exactly the grants listed; waits for it when
    // `foreground`, else keeps it as a job (true: it started). Without
    // `stdio`, the program gets no StdIO of the shell's.
    bool start(std::string_view rest, std::string_view verb, bool foreground,
               bool stdio_given = true) {
        auto parsed = capos::shell::parse_run(rest);
        if (parsed.is_error()) {
            Line line("shell: ");
            line.add(verb).add(": ").add(parsed.error().message);
            say(line.view());
            return false;
        }
        const RunCommand& command = parsed.value();
        if (!m_spawner) {
            say(Line("shell: ").add(verb).add(": this shell holds no 'spawner'").view());
            return false;
        }
        if (!foreground && m_job_count == max_jobs) {
            say("shell: spawn: too many jobs (wait for one first)");
            return false;
        }
        // A grant's source: one of the shell's capabilities (its CapSet's or
        // one named `-> @name`), or a new endpoint whose client side the
        // shell keeps under a name not yet taken.
        capos::abi::CapId sources[RunCommand::max_grants];
        size_t new_endpoints = 0;
        for (size_t i = 0; i < command.grant_count; ++i) {
            const GrantSpec& grant = command.grants[i];
            uint64_t interface_id = 0;
            bool held = find_cap(grant.cap, sources[i], interface_id);
            if (grant.source == GrantSource::NewEndpoint) {
                if (held) {
                    Line line("shell: ");
                    line.add(verb).add(": '@").add(grant.cap).add("' is taken (see caps)");
                    say(line.view());
                    return false;
                }
                if (!grant.interface.empty() && interface_id_of(grant.interface) == 0) {
                    Line line("shell: ");
                    line.add(verb).add(": no interface '").add(grant.interface);
                    line.add("' (see man 2)");
                    say(line.view());
                    return false;
                }
                ++new_endpoints;
                continue;
            }
            if (!held) {
                Line line("shell: ");
                line.add(verb).add(": no capability '@").add(grant.cap);
                line.add("' (see caps)");
                say(line.view());
                return false;
            }
        }
        if (m_named_count + new_endpoints > max_named) {
            say(Line("shell: ").add(verb).add(": too many named capabilities").view());
            return false;
        }
        // Every program gets the shell's StdIO as "stdio" (an endpoint made
        // for it, served by the shell) unless the grants name one.
        bool own_stdio = stdio_given;
        for (size_t i = 0; i < command.grant_count; ++i)
            own_stdio = own_stdio && command.grants[i].name != "stdio";
        // A program in the foreground can be stopped with Ctrl-C from the
        // moment it runs: the terminal hears of the wait before the spawn.
        if (foreground)
            (void)arm_interrupt();
        auto spawned = (*m_spawner)->spawn([&](ProcessSpawner::SpawnParams::Builder params) {
            params.set_name(command.program);
            params.set_binary(command.program);
            auto args = params.init_args(uint32_t(command.arg_count));
            for (uint32_t i = 0; i < command.arg_count; ++i)
                args.set(i, command.args[i]);
            auto list = params.init_grants(uint32_t(command.grant_count + (own_stdio ? 1 : 0)));
            if (own_stdio) {
                // Last: the new endpoints' sides come back in grant order.
                list[uint32_t(command.grant_count)].set_name("stdio");
                list[uint32_t(command.grant_count)].set_served_endpoint();
            }
            for (uint32_t i = 0; i < command.grant_count; ++i) {
                list[i].set_name(command.grants[i].name);
                if (command.grants[i].source == GrantSource::NewEndpoint) {
                    list[i].set_new_endpoint();
                    list[i].set_interface_id(interface_id_of(command.grants[i].interface));
                    continue;
                }
                auto capability = list[i].init_capability();
                capability.set_cap(sources[i].raw);
                capability.set_mode(capos::schema::TransferMode::Copy);
            }
        });
        if (spawned.is_error()) {
            Line line("shell: ");
            line.add(verb).add(": ").add(command.program).add(": ");
            line.add(capos::rt::call_error_text(spawned.error()));
            say(line.view());
            return false;
        }
        capos::abi::CapId handle{spawned.value().handle()};
        // The new endpoints' client sides, in grant order, kept by name.
        auto clients = spawned.value().endpoints();
        for (size_t i = 0, next = 0; i < command.grant_count; ++i) {
            const GrantSpec& grant = command.grants[i];
            if (grant.source != GrantSource::NewEndpoint || next >= clients.size())
                continue;
            Named& named = m_named[m_named_count++];
            named.id = capos::abi::CapId{clients[uint32_t(next++)]};
            // An endpoint speaks whatever its server serves, unless narrowed.
            named.interface_id = interface_id_of(grant.interface);
            named.disk = false;
            named.endpoint = true;
            named.name_length = grant.cap.size();
            __builtin_memcpy(named.name, grant.cap.data(), grant.cap.size());
            say(Line("@").add(grant.cap).add(" is the client side of ").add(grant.name).view());
        }
        // The StdIO's owner side came last; a job's is served from a free
        // slot (there is one for every job).
        capos::shell::StdioService* stdio = nullptr;
        if (own_stdio && clients.size() > 0) {
            stdio = foreground ? &m_foreground_stdio : free_job_stdio();
            stdio->start(m_terminal, capos::abi::CapId{clients[clients.size() - 1]},
                         foreground ? capos::shell::StdioMode::Foreground
                                    : capos::shell::StdioMode::Background);
        }
        if (foreground) {
            finish(command.program, handle, true, stdio);
            return true;
        }
        Job& job = m_jobs[m_job_count++];
        job.number = ++m_last_job;
        job.handle = handle;
        job.stdio = stdio;
        job.name_length = command.program.size();
        __builtin_memcpy(job.name, command.program.data(), job.name_length);
        say(Line("[").udec(job.number).add("] ").add(command.program).view());
        return true;
    }

    // A CALL with empty params (a root struct with nothing in it) whose
    // results go to `result`.
    static capos::abi::Sqe call_sqe(uint32_t cap, uint64_t interface_id, uint16_t method,
                                    std::span<capos::capnp::Word> result) {
        alignas(8) static capos::capnp::Word empty[1];
        static std::span<const capos::capnp::Word> params = [] {
            capos::capnp::MessageBuilder builder(empty);
            (void)builder.init_root(0, 0);
            return builder.words();
        }();
        capos::abi::Sqe sqe{};
        sqe.params_addr = reinterpret_cast<uint64_t>(params.data());
        sqe.params_len = uint32_t(params.size_bytes());
        sqe.opcode = uint8_t(capos::abi::Opcode::Call);
        sqe.cap = cap;
        sqe.interface_id = interface_id;
        sqe.method = method;
        sqe.result_addr = reinterpret_cast<uint64_t>(result.data());
        sqe.result_len = uint32_t(result.size_bytes());
        return sqe;
    }

    // Keeps a TerminalSession.waitInterrupt outstanding (submitted once,
    // answered when Ctrl-C is typed while no line is being read); false when
    // the terminal refused one.
    bool arm_interrupt() {
        if (m_interrupt_ticket != 0)
            return true;
        if (m_interrupt_refused)
            return false;
        m_interrupt_ticket = capos::rt::ring().submit(
            call_sqe(m_terminal.id().raw, TerminalSession::interface_id,
                     uint16_t(TerminalSession::Method::WaitInterrupt), m_interrupt_result));
        return true;
    }

    // Answers the read `stdio` waits for with the line `read` brought;
    // Ctrl-C there stops the program (`stop`), as it does at any time.
    template <typename Stop>
    void answer_read(
        capos::shell::StdioService& stdio,
        const capos::Result<TerminalSession::ReadLineResults::Reader, capos::gen::CallError>& read,
        Stop& stop) {
        using capos::schema::StdInputEnd;
        if (read.is_error()) {
            stdio.answer_read({}, StdInputEnd::EndOfInput);
            return;
        }
        switch (read.value().end()) {
        case LineEnd::Newline:
            stdio.answer_read(read.value().line(), StdInputEnd::Line);
            break;
        case LineEnd::Interrupted:
            stdio.answer_read({}, StdInputEnd::Interrupted);
            stop();
            break;
        default:
            stdio.answer_read({}, StdInputEnd::EndOfInput);
            break;
        }
    }

    // A slot for a new job's StdIO: one no job holds.
    capos::shell::StdioService* free_job_stdio() {
        for (auto& slot : m_job_stdio) {
            bool held = false;
            for (size_t i = 0; i < m_job_count; ++i)
                held = held || m_jobs[i].stdio == &slot;
            if (!held && !slot.active())
                return &slot;
        }
        return nullptr; // not reached: a slot for every job
    }

    // Waits for a started program, says how it ended, and drops its handle
    // and its StdIO (`stdio`, null when the grants named their own). With
    // `interruptible` (a program in the foreground), Ctrl-C at the terminal
    // kills it first, as does Ctrl-C typed at a line it reads. Meanwhile the
    // program's StdIO and the jobs' are served.
    void finish(std::string_view name, capos::abi::CapId handle, bool interruptible,
                capos::shell::StdioService* stdio) {
        capos::rt::RingClient& ring = capos::rt::ring();
        uint64_t waited =
            ring.submit(call_sqe(handle.raw, ProcessHandle::interface_id,
                                 uint16_t(ProcessHandle::Method::Wait), m_wait_result));
        auto stop = [&] {
            ProcessHandle::Client<capos::rt::RingTransport> client(capos::rt::transport(),
                                                                   handle.raw);
            (void)client.kill();
        };
        capos::abi::Cqe cqe;
        for (;;) {
            uint64_t tickets[4 + max_jobs] = {waited};
            tickets[1] = interruptible && arm_interrupt() ? m_interrupt_ticket : 0;
            tickets[2] = stdio ? stdio->ticket() : 0;
            tickets[3] = m_line_ticket; // a line the program reads
            for (size_t i = 0; i < m_job_count; ++i)
                tickets[4 + i] = m_jobs[i].stdio ? m_jobs[i].stdio->ticket() : 0;
            size_t which = 0;
            cqe = ring.wait_any({tickets, 4 + m_job_count}, which);
            if (which == 0)
                break;
            if (which == 1) {
                m_interrupt_ticket = 0;
                if (cqe.result == int32_t(capos::abi::CallStatus::Ok)) {
                    write("^C\n");
                    stop();
                } else {
                    m_interrupt_refused = true; // and the program runs on
                }
            } else if (which == 2) {
                if (stdio->handle(cqe) == capos::shell::StdioEvent::ReadWanted &&
                    submit_read_line(false, {}, 0, false, {}))
                    stdio->answer_read({}, capos::schema::StdInputEnd::EndOfInput);
            } else if (which == 3) {
                m_line_ticket = 0;
                auto read = line_read(cqe);
                if (stdio && stdio->read_pending())
                    answer_read(*stdio, read, stop);
            } else {
                (void)m_jobs[which - 4].stdio->handle(cqe);
            }
        }
        Line line;
        line.add(name).add(": ");
        if (cqe.result != int32_t(capos::abi::CallStatus::Ok)) {
            line.add("cannot wait: ").add(capos::abi::cqe_result_name(cqe.result));
        } else {
            capos::capnp::MessageReader reader(
                std::span<const capos::capnp::Word>(m_wait_result, cqe.result_len / 8));
            auto status = ProcessHandle::WaitResults::Reader(reader.root()).status();
            if (status.is_exited()) {
                line.add("exited with code ").dec(status.exited());
            } else if (status.is_killed()) {
                line.add("killed");
            } else {
                auto fault = status.faulted();
                line.add("faulted: vector ").udec(fault.vector()).add(" at ").hex(fault.address());
                line.add(" (").add(fault.detail()).add(")");
            }
        }
        say(line.view());
        (void)capos::rt::release(handle);
        if (stdio)
            stdio->finish();
    }

    void jobs(std::string_view) {
        if (m_job_count == 0)
            say("no jobs");
        for (size_t i = 0; i < m_job_count; ++i) {
            const Job& job = m_jobs[i];
            say(Line("[").udec(job.number).add("] ").add({job.name, job.name_length}).view());
        }
    }

    // The job `rest` names, or null (with the error said).
    Job* find_job(std::string_view rest, std::string_view verb) {
        Words words(rest);
        uint64_t number = 0;
        bool valid = words.count() == 1 && !words[0].empty() && words[0].size() <= 9;
        for (char c : words[0]) {
            valid = valid && c >= '0' && c <= '9';
            number = number * 10 + uint64_t(c - '0');
        }
        if (!valid) {
            say(Line("shell: ")
                    .add(verb)
                    .add(": which job? (")
                    .add(verb)
                    .add(" <number>, see jobs)")
                    .view());
            return nullptr;
        }
        for (size_t i = 0; i < m_job_count; ++i) {
            if (m_jobs[i].number == number)
                return &m_jobs[i];
        }
        say(Line("shell: ").add(verb).add(": no job ").udec(number).add(" (see jobs)").view());
        return nullptr;
    }

    void wait(std::string_view rest) {
        Job* found = find_job(rest, "wait");
        if (!found)
            return;
        Job job = *found;
        *found = m_jobs[--m_job_count];
        finish({job.name, job.name_length}, job.handle, false, job.stdio);
    }

    void kill(std::string_view rest) {
        Job* job = find_job(rest, "kill");
        if (!job)
            return;
        ProcessHandle::Client<capos::rt::RingTransport> client(capos::rt::transport(),
                                                               job->handle.raw);
        if (auto killed = client.kill(); killed.is_error()) {
            say(Line("shell: kill: ").add(capos::rt::call_error_text(killed.error())).view());
            return;
        }
        // Its end is collected like any job's: at once here.
        wait(rest);
    }

    // A capability by name: one the shell received (`-> @name`), else one
    // of its CapSet; its id and interface.
    bool find_cap(std::string_view name, capos::abi::CapId& id, uint64_t& interface_id) override {
        for (size_t i = 0; i < m_named_count; ++i) {
            if (std::string_view(m_named[i].name, m_named[i].name_length) == name) {
                id = m_named[i].id;
                interface_id = m_named[i].interface_id;
                return true;
            }
        }
        auto found = capos::rt::find_capability(name);
        if (found.is_error() || dropped(name))
            return false;
        id = found.value().id;
        interface_id = found.value().interface_id;
        return true;
    }

    // The schema (SchemaRegistry, granted as "schema"), read once.
    const capos::capnp::SchemaSet* schema() {
        if (m_schema)
            return &*m_schema;
        uint32_t id = held<capos::schema::SchemaRegistry>("schema");
        if (id == 0) {
            say("shell: call: this shell holds no 'schema' (see caps)");
            return nullptr;
        }
        ClientOf<capos::schema::SchemaRegistry> registry(capos::rt::transport(), id);
        auto size = registry.size();
        if (size.is_error() || size.value().bytes() == 0 ||
            size.value().bytes() > sizeof m_schema_words || size.value().bytes() % 8 != 0) {
            say("shell: call: the schema registry holds no usable schema");
            return nullptr;
        }
        uint64_t bytes = size.value().bytes();
        auto* out = reinterpret_cast<uint8_t*>(m_schema_words);
        for (uint64_t offset = 0; offset < bytes;) {
            auto chunk = registry.read(offset, capos::schema::BootPackage::max_read);
            if (chunk.is_error() || chunk.value().data().empty() ||
                chunk.value().data().size() > bytes - offset) {
                say("shell: call: cannot read the schema");
                return nullptr;
            }
            __builtin_memcpy(out + offset, chunk.value().data().data(),
                             chunk.value().data().size());
            offset += chunk.value().data().size();
        }
        auto segments = capos::capnp::parse_framed(
            std::span<const capos::capnp::Word>(m_schema_words, bytes / 8), m_schema_segments);
        if (segments.is_error()) {
            say("shell: call: the schema is not a framed message");
            return nullptr;
        }
        auto set = capos::capnp::SchemaSet::create(segments.value());
        if (set.is_error()) {
            say(Line("shell: call: bad schema: ").add(capos::capnp::to_string(set.error())).view());
            return nullptr;
        }
        m_schema = set.value();
        return &*m_schema;
    }

    // call @cap.method(field = value, ...) [-> @name]: any method of any
    // capability held, params and results in Cap'n Proto text syntax, read
    // and written through the schema at run time.
    void call(std::string_view rest) {
        size_t at = rest.find_first_not_of(" \t");
        rest = at == std::string_view::npos ? std::string_view() : rest.substr(at);
        size_t open = rest.find('(');
        size_t dot = rest.substr(0, open).find('.');
        if (rest.empty() || rest[0] != '@' || dot == std::string_view::npos ||
            open == std::string_view::npos) {
            say("shell: call: call @cap.method(field = value, ...) [-> @name]");
            return;
        }
        std::string_view cap_name = rest.substr(1, dot - 1);
        std::string_view method_name = rest.substr(dot + 1, open - dot - 1);
        // The params run to the last ')'; `-> @name` may follow.
        size_t close = rest.rfind(')');
        if (close == std::string_view::npos || close < open) {
            say("shell: call: no ')' ends the params");
            return;
        }
        std::string_view params_text = rest.substr(open, close + 1 - open);
        std::string_view after = rest.substr(close + 1);
        std::string_view bind;
        if (size_t start = after.find_first_not_of(" \t"); start != std::string_view::npos) {
            after.remove_prefix(start);
            size_t end = after.find_last_not_of(" \t");
            after = after.substr(0, end + 1);
            if (after.substr(0, 3) != "-> " && after.substr(0, 3) != "->@") {
                say("shell: call: only '-> @name' may follow the params");
                return;
            }
            after.remove_prefix(2);
            after.remove_prefix(after.find_first_not_of(" \t"));
            bind = after.substr(1);
            if (after[0] != '@' || !capos::shell::valid_cap_name(bind)) {
                say("shell: call: '-> @name' names the capability the results hold");
                return;
            }
            // A second capability under one name would hide the first.
            capos::abi::CapId taken;
            uint64_t taken_interface;
            if (find_cap(bind, taken, taken_interface)) {
                say(Line("shell: call: '@").add(bind).add("' is taken (see caps, drop)").view());
                return;
            }
        }

        capos::abi::CapId id;
        uint64_t interface_id = 0;
        if (!find_cap(cap_name, id, interface_id)) {
            say(Line("shell: call: no capability '@")
                    .add(cap_name.substr(0, 64))
                    .add("' (see caps)")
                    .view());
            return;
        }
        const capos::capnp::SchemaSet* set = schema();
        if (!set)
            return;
        auto interface = set->find_interface(interface_id);
        if (interface.is_error()) {
            say(Line("shell: call: '@")
                    .add(cap_name)
                    .add("' speaks an interface the schema lacks")
                    .view());
            return;
        }
        auto method = set->find_method(interface.value(), method_name);
        if (method.is_error()) {
            say(Line("shell: call: ")
                    .add(interface.value().name())
                    .add(" has no method '")
                    .add(method_name.substr(0, 64))
                    .add("'")
                    .view());
            return;
        }
        auto params_type = set->find_struct(method.value().params_id);
        auto results_type = set->find_struct(method.value().results_id);
        if (params_type.is_error() || results_type.is_error()) {
            say("shell: call: the schema lacks the method's params or results");
            return;
        }

        // Params: capabilities named in them are passed as the shell's own
        // ids (what kernel services expect), and listed as copies to send
        // (what an endpoint's server receives them by).
        capos::abi::TransferDescriptor transfers[capos::abi::max_transfers];
        uint32_t transfer_count = 0;
        bool too_many = false;
        auto resolve = [&](std::string_view name, uint64_t) {
            capos::abi::CapId found;
            uint64_t found_interface;
            if (!find_cap(name, found, found_interface))
                return capos::capnp::ResolvedCapability{};
            bool listed = false;
            for (uint32_t i = 0; i < transfer_count; ++i)
                listed = listed || transfers[i].cap == found.raw;
            if (!listed && transfer_count == capos::abi::max_transfers)
                too_many = true;
            else if (!listed)
                transfers[transfer_count++] = {
                    found.raw, uint8_t(capos::abi::TransferMode::Copy), {0, 0, 0}};
            return capos::capnp::ResolvedCapability{capos::capnp::CapabilityLookup::Found,
                                                    found.raw};
        };
        capos::capnp::MessageBuilder params(m_call_params);
        capos::capnp::ParseOptions options;
        options.capabilities = capos::capnp::capability_resolver(resolve);
        auto parsed =
            capos::capnp::parse_text(*set, params_type.value(), params_text, params, options);
        if (parsed.is_error()) {
            char text[200];
            size_t length = capos::capnp::format_error(parsed.error(), text);
            say(Line("shell: call: ").add({text, length}).view());
            return;
        }
        if (too_many) {
            say("shell: call: at most 8 capabilities go with one call");
            return;
        }

        capos::abi::Sqe sqe{};
        sqe.opcode = uint8_t(capos::abi::Opcode::Call);
        sqe.cap = id.raw;
        sqe.interface_id = method.value().interface_id;
        sqe.method = method.value().ordinal;
        sqe.params_addr = reinterpret_cast<uint64_t>(params.words().data());
        sqe.params_len = uint32_t(params.words().size_bytes());
        sqe.result_addr = reinterpret_cast<uint64_t>(m_call_results);
        sqe.result_len = sizeof m_call_results;
        if (transfer_count != 0) {
            sqe.transfer_count = transfer_count;
            sqe.transfer_addr = reinterpret_cast<uint64_t>(transfers);
        }
        capos::abi::Cqe cqe = capos::rt::ring().run(sqe);
        if (cqe.result == int32_t(capos::abi::TransportError::BadTransfer) && transfer_count != 0) {
            // A kernel service takes the ids alone and refuses descriptors
            // before doing anything (docs/abi.md): the same call without them.
            sqe.transfer_count = 0;
            sqe.transfer_addr = 0;
            cqe = capos::rt::ring().run(sqe);
        }
        if (cqe.result < 0) {
            say(Line("shell: call: ").add(capos::abi::cqe_result_name(cqe.result)).view());
            return;
        }
        std::span<const capos::capnp::Word> reply(m_call_results, cqe.result_len / 8);
        // Every capability the answer holds is a new id of the shell's table
        // (a kernel service's as much as one a server sent, which the answer
        // also lists after the message): each is kept under a name or
        // released below, whatever else happens.
        std::span<const capos::abi::CapRecord> records;
        if (cqe.cap_count <= capos::abi::max_transfers &&
            cqe.result_len + cqe.cap_count * sizeof(capos::abi::CapRecord) <= sizeof m_call_results)
            records = {reinterpret_cast<const capos::abi::CapRecord*>(
                           reinterpret_cast<const uint8_t*>(m_call_results) + cqe.result_len),
                       cqe.cap_count};
        ResultCaps caps;
        capos::capnp::MessageReader walk(reply,
                                         capos::capnp::ReaderLimits::for_message(reply.size()));
        capos::capnp::MessageReader reader(reply,
                                           capos::capnp::ReaderLimits::for_message(reply.size()));
        if (cqe.result == int32_t(capos::abi::CallStatus::Exception)) {
            capos::schema::CapException::Reader exception(reader.root());
            say(Line("exception: ").add(exception.message()).view());
            gather_result_caps(walk, records, caps);
            keep_result_caps(caps, {});
            return;
        }
        // Results: in the order they print (what the names follow), then
        // any the printing did not reach.
        auto print = [&](capos::capnp::TextSink& sink, uint32_t index, uint64_t field_interface) {
            if (index == capos::capnp::PointerReader::no_capability) {
                sink.write("null");
                return;
            }
            if (!holds_already(index) && !caps.add(index, field_interface))
                caps.overflow += capos::rt::release(capos::abi::CapId{index}) >= 0 ? 1 : 0;
            sink.write("<capability ");
            sink.write_unsigned(index);
            sink.write(">");
        };
        capos::capnp::PrintOptions print_options;
        print_options.capabilities = capos::capnp::capability_printer(print);
        char text[1024];
        capos::capnp::TextSink sink(text);
        auto printed =
            capos::capnp::print_text(*set, results_type.value(), reader, sink, print_options);
        if (printed.is_error()) {
            say(Line("shell: call: the results do not read: ")
                    .add(capos::capnp::to_string(printed.error()))
                    .view());
        } else {
            write(sink.text());
            say(sink.truncated() ? " ..." : "");
        }
        gather_result_caps(walk, records, caps);
        if (!bind.empty() && caps.count == 0)
            say("shell: call: the results hold no capability to name");
        keep_result_caps(caps, bind);
    }

    // The capabilities of one call's answer, each once, in the order found.
    struct ResultCaps {
        static constexpr size_t max = 32;
        uint32_t ids[max];
        uint64_t interfaces[max];
        size_t count = 0;
        size_t overflow = 0; // found beyond `max` (released as found)

        bool has(uint32_t id) const {
            for (size_t i = 0; i < count; ++i) {
                if (ids[i] == id)
                    return true;
            }
            return false;
        }
        // False when full (the caller releases it). An interface learnt
        // later fills in one not known before.
        bool add(uint32_t id, uint64_t interface_id) {
            for (size_t i = 0; i < count; ++i) {
                if (ids[i] != id)
                    continue;
                if (interfaces[i] == 0)
                    interfaces[i] = interface_id;
                return true;
            }
            if (count == max)
                return false;
            ids[count] = id;
            interfaces[count++] = interface_id;
            return true;
        }
    };

    // Adds to `caps` every capability pointer of `message` (a walk of the
    // wire, whatever the schema says) and every capability `records` lists.
    // One the shell held before the call is not the call's to give (it is
    // left as it is); one past what `caps` holds is released at once.
    void gather_result_caps(const capos::capnp::MessageReader& message,
                            std::span<const capos::abi::CapRecord> records, ResultCaps& caps) {
        auto found = [&](uint32_t id, uint64_t interface_id) {
            if (id == capos::capnp::PointerReader::no_capability || holds_already(id))
                return;
            if (!caps.add(id, interface_id))
                caps.overflow += capos::rt::release(capos::abi::CapId{id}) >= 0 ? 1 : 0;
        };
        (void)capos::capnp::for_each_capability(
            message, [&](const capos::capnp::CapabilityPointer& pointer) {
                found(pointer.index, 0);
                return true;
            });
        for (const capos::abi::CapRecord& record : records)
            found(record.cap, record.interface_id);
    }

    // Whether `id` is one the shell held before: a CapSet entry or a name.
    bool holds_already(uint32_t id) const {
        const capos::abi::CapSetPage& set = capos::rt::capset();
        for (uint32_t i = 0; i < set.header.count && i < capos::abi::capset_max_entries; ++i) {
            if (set.entries[i].cap_id == id && (s_dropped >> i & 1) == 0)
                return true;
        }
        for (size_t i = 0; i < m_named_count; ++i) {
            if (m_named[i].id.raw == id)
                return true;
        }
        return false;
    }

    // Keeps a call's result capabilities under `-> @name`: the first as
    // @name, the next as @name2, @name3, ...; any that cannot have its name
    // (taken, too long, the shell's names all used) and all of them without
    // `-> @name` are released. Each is said, kept or released.
    void keep_result_caps(const ResultCaps& caps, std::string_view bind) {
        for (size_t i = 0; i < caps.count; ++i) {
            capos::abi::CapId id{caps.ids[i]};
            Line line("shell: call: released <capability ");
            line.udec(id.raw).add('>');
            if (bind.empty()) {
                (void)capos::rt::release(id);
                say(line.add(" (keep it with '-> @name')").view());
                continue;
            }
            char name[capos::abi::capset_name_max + 8];
            size_t length = 0;
            Line suffix;
            if (i > 0)
                suffix.udec(i + 1);
            std::string_view number = suffix.view();
            bool fits = bind.size() + number.size() <= capos::abi::capset_name_max;
            if (fits) {
                __builtin_memcpy(name, bind.data(), bind.size());
                __builtin_memcpy(name + bind.size(), number.data(), number.size());
                length = bind.size() + number.size();
            }
            std::string_view chosen(name, length);
            capos::abi::CapId taken;
            uint64_t taken_interface;
            if (!fits) {
                (void)capos::rt::release(id);
                say(line.add(": '@").add(bind).add(number).add("' is too long a name").view());
            } else if (find_cap(chosen, taken, taken_interface)) {
                (void)capos::rt::release(id);
                say(line.add(": '@").add(chosen).add("' is taken").view());
            } else if (m_named_count == max_named) {
                (void)capos::rt::release(id);
                say(line.add(": too many named capabilities").view());
            } else {
                Named& named = m_named[m_named_count++];
                named.id = id;
                named.interface_id = caps.interfaces[i];
                named.disk = false;
                named.endpoint = false;
                named.name_length = length;
                __builtin_memcpy(named.name, name, length);
                say(Line("@").add(chosen).add(" is <capability ").udec(id.raw).add(">").view());
            }
        }
        if (caps.overflow > 0)
            say(Line("shell: call: released ")
                    .udec(caps.overflow)
                    .add(" more capabilities")
                    .view());
    }

    // ps: every process, through ProcessInspector ("processes").
    void ps(std::string_view) {
        uint32_t id = held<ProcessInspector>("processes");
        if (id == 0) {
            say("shell: ps: this shell holds no 'processes' (see caps)");
            return;
        }
        ClientOf<ProcessInspector> inspector(capos::rt::transport(), id);
        say("   id  state    caps  frames     time  thr  name");
        uint32_t after = 0;
        for (;;) {
            auto listed = inspector.list(after);
            if (listed.is_error()) {
                say(Line("shell: ps: ").add(capos::rt::call_error_text(listed.error())).view());
                return;
            }
            auto processes = listed.value().processes();
            for (auto process : processes) {
                Line line;
                pad(line, 5, Line().udec(process.id()).view());
                line.add("  ");
                std::string_view state = state_name(process.state());
                line.add(state);
                for (size_t column = state.size(); column < 7; ++column)
                    line.add(' ');
                pad(line, 6, Line().udec(process.capabilities()).view());
                pad(line, 8, Line().udec(process.frames()).view());
                pad(line, 9, seconds(process.cpu_time_ns()).view());
                pad(line, 5, Line().udec(process.threads()).view());
                line.add("  ").add(process.name());
                say(line.view());
                after = process.id();
            }
            if (processes.size() < ProcessInspector::max_list)
                return;
        }
    }
    // CPU time as seconds with two decimals ("12.34").
    static Line seconds(uint64_t ns) {
        uint64_t centiseconds = ns / 10000000;
        Line text;
        text.udec(centiseconds / 100).add('.');
        if (centiseconds % 100 < 10)
            text.add('0');
        text.udec(centiseconds % 100);
        return text;
    }
    // Right-aligned in `width` columns.
    static void pad(Line& line, size_t width, std::string_view text) {
        for (size_t column = text.size(); column < width; ++column)
            line.add(' ');
        line.add(text);
    }
    static std::string_view state_name(capos::schema::ProcessState state) {
        switch (state) {
        case capos::schema::ProcessState::Running:
            return "running";
        case capos::schema::ProcessState::Ready:
            return "ready";
        case capos::schema::ProcessState::Waiting:
            return "waiting";
        case capos::schema::ProcessState::Ended:
            return "ended";
        default:
            return "?";
        }
    }

    // devices [-v]: the PCI functions the kernel found at boot, through
    // DeviceInventory ("devices"), one lspci line each; -v adds their details
    // (lib/pci/describe.h). Each page of the list is copied out of the reply
    // before anything is written: the writes reuse the transport's buffer.
    void devices(std::string_view rest) {
        bool verbose = false;
        Words words(rest);
        for (size_t i = 0; i < words.count(); ++i) {
            if (words[i] == "-v" && !verbose) {
                verbose = true;
                continue;
            }
            say(Line("shell: devices: unknown option '")
                    .add(words[i].substr(0, 32))
                    .add("' (devices [-v])")
                    .view());
            return;
        }
        uint32_t id = held<DeviceInventory>("devices");
        if (id == 0) {
            say("shell: devices: this shell holds no 'devices' (see caps)");
            return;
        }
        ClientOf<DeviceInventory> inventory(capos::rt::transport(), id);
        uint32_t from = 0;
        for (;;) {
            auto listed = inventory.list(from);
            if (listed.is_error()) {
                say(Line("shell: devices: ")
                        .add(capos::rt::call_error_text(listed.error()))
                        .view());
                return;
            }
            uint32_t total = listed.value().total();
            size_t count = 0;
            for (auto function : listed.value().functions()) {
                if (count == std::size(m_devices))
                    break;
                m_devices[count++] = capos::rt::pci_function_of(function);
            }
            if (count == 0 && from == 0)
                say("(no PCI functions)");
            DetailLines details(*this);
            for (size_t i = 0; i < count; ++i) {
                char text[96];
                say({text,
                     capos::pci::format_function(m_devices[i].address, m_devices[i].header, text)});
                if (verbose)
                    capos::pci::describe(m_devices[i], details);
            }
            from += uint32_t(count);
            if (count == 0 || from >= total)
                return;
        }
    }
    // describe()'s lines, said on the terminal.
    class DetailLines final : public capos::pci::DetailOutput {
    public:
        explicit DetailLines(Shell& shell) : m_shell(shell) {}
        void line(std::string_view text) override { m_shell.say(text); }

    private:
        Shell& m_shell;
    };

    // --- Disks -----------------------------------------------------------
    //
    // A disk is a capability speaking BlockDevice: recorded so in the
    // CapSet, or an endpoint's client (recorded with no interface: its
    // server decides) whose server answers BlockDevice.info. `disks` asks
    // each such entry; Tab after `blk read` asks each once (remembered per
    // CapSet entry).

    struct DiskInfo {
        uint32_t block_size = 0;
        uint64_t blocks = 0;
        bool read_only = false;
        char model[64];
        size_t model_length = 0;
    };
    enum class DiskProbe : uint8_t { Disk, NotDisk, Failed };

    // Asks the capability `cap` (of interface `interface_id`) for
    // BlockDevice.info: Disk with `info`, NotDisk when it speaks another
    // interface or its server does not implement BlockDevice, Failed (the
    // call's error in `error`) otherwise.
    DiskProbe probe_disk(uint32_t cap, uint64_t interface_id, DiskInfo& info,
                         capos::gen::CallError& error) {
        if (interface_id != 0 && interface_id != BlockDevice::interface_id)
            return DiskProbe::NotDisk;
        ClientOf<BlockDevice> disk(capos::rt::transport(), cap);
        auto answered = disk.info();
        if (answered.is_error()) {
            error = answered.error();
            bool other_interface =
                (error.kind == capos::gen::CallErrorKind::Exception &&
                 error.exception.type == capos::schema::ExceptionType::Unimplemented) ||
                (error.kind == capos::gen::CallErrorKind::Transport &&
                 error.transport_error == int32_t(capos::abi::TransportError::WrongInterface));
            return other_interface ? DiskProbe::NotDisk : DiskProbe::Failed;
        }
        auto results = answered.value();
        info.block_size = results.block_size();
        info.blocks = results.blocks();
        info.read_only = results.read_only();
        std::string_view model = results.model().substr(0, sizeof info.model);
        __builtin_memcpy(info.model, model.data(), model.size());
        info.model_length = model.size();
        return DiskProbe::Disk;
    }

    // Whether CapSet entry `index` is a disk (asked once, for completion).
    bool is_disk(uint32_t index) {
        uint64_t bit = uint64_t(1) << index;
        if ((m_disks_probed & bit) == 0) {
            const capos::abi::CapSetEntry& entry = capos::rt::capset().entries[index];
            DiskInfo info;
            capos::gen::CallError error{};
            DiskProbe probe = probe_disk(entry.cap_id, entry.interface_id, info, error);
            // A failure is not remembered: the next Tab asks again.
            if (probe != DiskProbe::Failed)
                m_disks_probed |= bit;
            if (probe == DiskProbe::Disk)
                m_disks_found |= bit;
        }
        return (m_disks_found & bit) != 0;
    }

    // disks: every disk the shell holds, one line each: its name, its size
    // in blocks and in binary units, the block size, the model and whether
    // it is read-only.
    void disks(std::string_view) {
        const capos::abi::CapSetPage& set = capos::rt::capset();
        size_t found = 0;
        // One capability's line; `bit` its CapSet entry's (0: a named one).
        auto list = [&](std::string_view name, uint32_t cap, uint64_t interface_id, uint64_t bit) {
            DiskInfo info;
            capos::gen::CallError error{};
            DiskProbe probe = probe_disk(cap, interface_id, info, error);
            if (probe != DiskProbe::Failed)
                m_disks_probed |= bit;
            if (probe == DiskProbe::NotDisk)
                return;
            if (found++ == 0)
                say("  name                blocks        size  block  model");
            Line line("  ");
            line.add(name);
            for (size_t column = name.size(); column < 16; ++column)
                line.add(' ');
            if (probe == DiskProbe::Failed) {
                say(line.add("(cannot tell: ")
                        .add(capos::rt::call_error_text(error))
                        .add(')')
                        .view());
                return;
            }
            m_disks_found |= bit;
            pad(line, 10, Line().udec(info.blocks).view());
            char size[capos::shell::size_text_max];
            uint64_t bytes = info.blocks * info.block_size;
            if (info.block_size != 0 && bytes / info.block_size != info.blocks)
                bytes = UINT64_MAX; // (a size past 2^64 bytes: shown as the largest)
            pad(line, 12, {size, capos::shell::format_size(bytes, size)});
            pad(line, 7, Line().udec(info.block_size).view());
            line.add("  ").add({info.model, info.model_length});
            if (info.read_only)
                line.add("  (read-only)");
            say(line.view());
        };
        for (uint32_t i = 0; i < set.header.count && i < capos::abi::capset_max_entries; ++i) {
            if ((s_dropped >> i & 1) != 0)
                continue;
            const capos::abi::CapSetEntry& entry = set.entries[i];
            list(cap_name(entry), entry.cap_id, entry.interface_id, uint64_t(1) << i);
        }
        // Disks asked for again after their driver was started again
        // (reconnect_disk); other named capabilities are not asked (a
        // program's endpoint may never answer).
        for (size_t i = 0; i < m_named_count; ++i) {
            if (m_named[i].disk)
                list({m_named[i].name, m_named[i].name_length}, m_named[i].id.raw,
                     m_named[i].interface_id, 0);
        }
        if (found == 0)
            say("(no disks)");
    }

    static bool disconnected(const capos::gen::CallError& error) {
        if (error.kind == capos::gen::CallErrorKind::Exception)
            return error.exception.type == capos::schema::ExceptionType::Disconnected;
        return error.kind == capos::gen::CallErrorKind::Transport &&
               error.transport_error == int32_t(capos::abi::TransportError::Disconnected);
    }

    // A disk whose driver has gone (its calls answered Disconnected): when
    // the shell holds init's Supervisor (granted as "supervisor"), asks it
    // for the disk `name` again, which init hands over once it has started
    // the driver again, and keeps the new capability under the same name.
    // True when `id` is the new one.
    bool reconnect_disk(std::string_view name, capos::abi::CapId& id) {
        // (Served through an endpoint: recorded with no interface.)
        auto found = capos::rt::find_capability("supervisor");
        if (found.is_error() || dropped("supervisor") ||
            (found.value().interface_id != 0 &&
             found.value().interface_id != capos::schema::Supervisor::interface_id))
            return false;
        uint32_t supervisor = found.value().id.raw;
        ClientOf<capos::schema::Supervisor> client(capos::rt::transport(), supervisor);
        auto again = client.reconnect(name);
        if (again.is_error()) {
            say(Line("shell: blk: ")
                    .add(name)
                    .add("'s driver has gone and is not coming back: ")
                    .add(capos::rt::call_error_text(again.error()))
                    .view());
            return false;
        }
        capos::abi::CapId fresh{again.value().cap()};
        for (size_t i = 0; i < m_named_count; ++i) {
            if (std::string_view(m_named[i].name, m_named[i].name_length) != name)
                continue;
            (void)capos::rt::release(m_named[i].id);
            m_named[i].id = fresh;
            id = fresh;
            say(Line("shell: blk: ").add(name).add("'s driver was started again").view());
            return true;
        }
        size_t index = capset_index(name);
        if (index == capos::abi::capset_max_entries || m_named_count == max_named) {
            (void)capos::rt::release(fresh);
            return false;
        }
        (void)capos::rt::release(
            capos::abi::CapId{capos::rt::capset().entries[index].cap_id}); // the dead one
        s_dropped |= uint64_t(1) << index;
        Named& named = m_named[m_named_count++];
        named.id = fresh;
        named.interface_id = 0; // an endpoint's client, as the manifest gave it
        named.disk = true;
        named.endpoint = true;
        named.name_length = name.size();
        __builtin_memcpy(named.name, name.data(), name.size());
        id = fresh;
        say(Line("shell: blk: ").add(name).add("'s driver was started again").view());
        return true;
    }

    // blk read <disk> <lba>: one block of a disk, as `hexdump -C` shows it,
    // the offsets those of the disk's bytes. A disk whose driver has gone is
    // asked for again (reconnect_disk) and the read made once more.
    void blk(std::string_view rest) {
        Words words(rest);
        if (words.count() != 3 || words[0] != "read") {
            say("shell: blk: usage: blk read <disk> <lba> (see disks)");
            return;
        }
        std::string_view name = words[1];
        capos::abi::CapId id;
        uint64_t interface_id = 0;
        if (!capos::shell::valid_cap_name(name) || !find_cap(name, id, interface_id)) {
            say(Line("shell: blk: no disk '").add(name.substr(0, 64)).add("' (see disks)").view());
            return;
        }
        std::optional<uint64_t> lba = capos::shell::parse_number(words[2]);
        if (!lba) {
            say(Line("shell: blk: bad block number '")
                    .add(words[2].substr(0, 32))
                    .add("' (decimal, or hexadecimal after 0x)")
                    .view());
            return;
        }
        DiskInfo info;
        capos::gen::CallError error{};
        DiskProbe probe = probe_disk(id.raw, interface_id, info, error);
        if (probe == DiskProbe::Failed && disconnected(error) && reconnect_disk(name, id))
            probe = probe_disk(id.raw, interface_id, info, error);
        switch (probe) {
        case DiskProbe::NotDisk:
            say(Line("shell: blk: '").add(name).add("' is not a disk (see disks)").view());
            return;
        case DiskProbe::Failed:
            say(Line("shell: blk: ")
                    .add(name)
                    .add(": ")
                    .add(capos::rt::call_error_text(error))
                    .view());
            return;
        case DiskProbe::Disk:
            break;
        }
        if (*lba >= info.blocks) {
            Line line("shell: blk: block ");
            line.udec(*lba).add(" is past the end of ").add(name);
            if (info.blocks == 0)
                line.add(" (it has no blocks)");
            else
                line.add(" (blocks 0 to ").udec(info.blocks - 1).add(')');
            say(line.view());
            return;
        }
        if (info.block_size == 0 || info.block_size > sizeof m_block) {
            say(Line("shell: blk: ")
                    .add(name)
                    .add("'s blocks of ")
                    .udec(info.block_size)
                    .add(" bytes are more than one read carries")
                    .view());
            return;
        }
        auto read =
            ClientOf<BlockDevice>(capos::rt::transport(), id.raw).read_blocks(*lba, 1, 0, 0);
        if (read.is_error() && disconnected(read.error()) && reconnect_disk(name, id))
            read = ClientOf<BlockDevice>(capos::rt::transport(), id.raw).read_blocks(*lba, 1, 0, 0);
        if (read.is_error()) {
            say(Line("shell: blk: reading block ")
                    .udec(*lba)
                    .add(" of ")
                    .add(name)
                    .add(": ")
                    .add(capos::rt::call_error_text(read.error()))
                    .view());
            return;
        }
        // Copied out of the reply before anything is written (the writes
        // reuse the transport's buffer).
        std::span<const uint8_t> data = read.value().data();
        if (data.size() != info.block_size) {
            say(Line("shell: blk: the disk answered with ")
                    .udec(data.size())
                    .add(" bytes for a block of ")
                    .udec(info.block_size)
                    .view());
            return;
        }
        __builtin_memcpy(m_block, data.data(), data.size());
        HexdumpLines lines(*this);
        uint64_t base = *lba <= UINT64_MAX / info.block_size ? *lba * info.block_size : 0;
        capos::shell::hexdump({m_block, info.block_size}, base, lines);
    }
    // hexdump()'s lines, said on the terminal.
    class HexdumpLines final : public capos::shell::HexdumpOutput {
    public:
        explicit HexdumpLines(Shell& shell) : m_shell(shell) {}
        void line(std::string_view text) override { m_shell.say(text); }

    private:
        Shell& m_shell;
    };

    // mem: the machine's memory, through SystemInfo ("info").
    void mem(std::string_view) {
        uint32_t id = held<SystemInfo>("info");
        if (id == 0) {
            say("shell: mem: this shell holds no 'info' (see caps)");
            return;
        }
        ClientOf<SystemInfo> info(capos::rt::transport(), id);
        auto memory = info.memory();
        if (memory.is_error()) {
            say(Line("shell: mem: ").add(capos::rt::call_error_text(memory.error())).view());
            return;
        }
        auto m = memory.value();
        uint64_t used = m.total_frames() - m.free_frames();
        say(Line("frames: ")
                .udec(m.total_frames())
                .add(" (")
                .udec(m.total_frames() * 4 / 1024)
                .add(" MiB), ")
                .udec(used)
                .add(" used, ")
                .udec(m.free_frames())
                .add(" free")
                .view());
        say(Line("kernel heap: ")
                .udec(m.heap_in_use_bytes() / 1024)
                .add(" KiB in use, ")
                .udec(m.heap_footprint_frames())
                .add(" frames held")
                .view());
    }

    // cpus: every CPU the kernel knows, through SystemInfo ("info"): its APIC
    // id, whether it is online, the threads it ran, its idle share and the
    // share it spent waiting for the kernel lock.
    void cpus(std::string_view) {
        uint32_t id = held<SystemInfo>("info");
        if (id == 0) {
            say("shell: cpus: this shell holds no 'info' (see caps)");
            return;
        }
        ClientOf<SystemInfo> info(capos::rt::transport(), id);
        auto listed = info.cpus();
        if (listed.is_error()) {
            say(Line("shell: cpus: ").add(capos::rt::call_error_text(listed.error())).view());
            return;
        }
        say("  cpu  apic  state      threads   idle   lock  running");
        for (auto cpu : listed.value().cpus()) {
            Line line;
            pad(line, 5, Line().udec(cpu.index()).view());
            pad(line, 6, Line().udec(cpu.apic_id()).view());
            line.add(cpu.online() ? "  online " : "  offline");
            pad(line, 11, Line().udec(cpu.threads_run()).view());
            pad(line, 7, Line().tenths(cpu.idle_per_mille()).view());
            line.add('%');
            pad(line, 6, Line().tenths(cpu.lock_wait_per_mille()).view());
            line.add('%');
            if (cpu.running_process() != 0)
                pad(line, 9, Line().udec(cpu.running_process()).view());
            else
                pad(line, 9, "-");
            say(line.view());
        }
    }

    // log [-n N] [level]: the last N entries of the kernel log (20 unless
    // told) at the level or more severe (every level unless told), through
    // LogReader ("log"), each as the console shows it. The log is read twice
    // up to where it ended when the command began: once to find where the
    // last N start, once to print them.
    void log(std::string_view rest) {
        uint32_t count = 20;
        LogLevel min_level = LogLevel::Debug;
        bool level_given = false;
        Words words(rest);
        for (size_t i = 0; i < words.count(); ++i) {
            if (words[i] == "-n") {
                std::string_view number = words[++i];
                uint64_t value = 0;
                bool valid = !number.empty() && number.size() <= 4;
                for (char c : number) {
                    valid = valid && c >= '0' && c <= '9';
                    value = value * 10 + uint64_t(c - '0');
                }
                if (!valid || value == 0 || value > max_log_lines) {
                    say(Line("shell: log: -n takes a count from 1 to ").udec(max_log_lines).view());
                    return;
                }
                count = uint32_t(value);
                continue;
            }
            std::optional<LogLevel> level = level_named(words[i]);
            if (!level) {
                say(Line("shell: log: unknown level '")
                        .add(words[i].substr(0, 32))
                        .add("' (error, warn, info or debug)")
                        .view());
                return;
            }
            if (level_given) {
                say("shell: log: one level at most (log [-n N] [error|warn|info|debug])");
                return;
            }
            min_level = *level;
            level_given = true;
        }
        uint32_t id = held<LogReader>("log");
        if (id == 0) {
            say("shell: log: this shell holds no 'log' (see caps)");
            return;
        }
        ClientOf<LogReader> reader(capos::rt::transport(), id);
        auto failed = [&](const capos::gen::CallError& error) {
            say(Line("shell: log: ").add(capos::rt::call_error_text(error)).view());
        };
        // Where the log ends now (a cursor past the end moves there).
        auto ends = reader.read(UINT64_MAX, 0, min_level);
        if (ends.is_error()) {
            failed(ends.error());
            return;
        }
        const uint64_t end = ends.value().next_cursor();

        // 1. The sequences of the last `count` entries at the level.
        uint64_t found = 0;
        for (uint64_t cursor = 0; cursor < end;) {
            auto read = reader.read(cursor, UINT32_MAX, min_level);
            if (read.is_error()) {
                failed(read.error());
                return;
            }
            for (auto entry : read.value().entries()) {
                if (entry.sequence() < end)
                    m_log_sequences[found++ % count] = entry.sequence();
            }
            if (read.value().next_cursor() <= cursor)
                break;
            cursor = read.value().next_cursor();
        }
        if (found == 0) {
            say("(no entries)");
            return;
        }

        // 2. Those entries, as many lines at a time as the text buffer holds
        // (written only once the reply is done with: the write reuses the
        // transport's buffer).
        uint64_t cursor = m_log_sequences[found > count ? found % count : 0];
        uint64_t left = found < count ? found : count;
        while (left > 0 && cursor < end) {
            auto read = reader.read(cursor, uint32_t(left), min_level);
            if (read.is_error()) {
                failed(read.error());
                return;
            }
            uint64_t dropped = read.value().dropped();
            uint64_t next = read.value().next_cursor();
            size_t length = 0;
            for (auto entry : read.value().entries()) {
                if (entry.sequence() >= end) {
                    next = end;
                    break;
                }
                char line[capos::log::LogRing::max_message_bytes + 96];
                size_t line_length =
                    capos::log::format_line(entry.time_ns(), entry.level(), entry.source(),
                                            entry.message(), {line, sizeof line - 1});
                line[line_length++] = '\n';
                if (line_length > sizeof m_log_text - length) {
                    next = entry.sequence(); // the next round prints it
                    break;
                }
                __builtin_memcpy(m_log_text + length, line, line_length);
                length += line_length;
                --left;
            }
            if (dropped != 0)
                say(Line("(")
                        .udec(dropped)
                        .add(" entries were overwritten before they could be shown)")
                        .view());
            if (length != 0)
                write({m_log_text, length});
            if (next <= cursor)
                break;
            cursor = next;
        }
    }
    static std::optional<LogLevel> level_named(std::string_view name) {
        for (uint16_t value = 0; value < capos::schema::enumerant_count(LogLevel{}); ++value) {
            auto level = static_cast<LogLevel>(value);
            if (capos::schema::enumerant_name(level) == name)
                return level;
        }
        return std::nullopt;
    }

    // halt and reboot: only with the capability that permits them.
    void halt(std::string_view) { control("halt", true); }
    void reboot(std::string_view) { control("reboot", false); }
    void control(std::string_view verb, bool halt) {
        uint32_t id = held<SystemControl>("system");
        if (id == 0) {
            say(Line("shell: ").add(verb).add(": this shell holds no 'system' (see caps)").view());
            return;
        }
        // Only an error comes back: the machine is gone otherwise.
        Line line("shell: ");
        line.add(verb).add(": ");
        ClientOf<SystemControl> system(capos::rt::transport(), id);
        if (halt) {
            if (auto done = system.halt(); done.is_error())
                line.add(capos::rt::call_error_text(done.error()));
        } else {
            if (auto done = system.reboot(); done.is_error())
                line.add(capos::rt::call_error_text(done.error()));
        }
        say(line.view());
    }

    // The id of the interface named `name` ("" or unknown: 0).
    static uint64_t interface_id_of(std::string_view name) {
        for (const auto& known : capos::schema::interfaces) {
            if (!name.empty() && known.name == name)
                return known.id;
        }
        return 0;
    }
    static std::string_view interface_name(uint64_t id) {
        for (const auto& known : capos::schema::interfaces) {
            if (known.id == id)
                return known.name;
        }
        return "(an interface this shell does not know)";
    }

    capos::rt::Capability<TerminalSession>& m_terminal;
    capos::rt::Capability<ProcessSpawner>* m_spawner;
    char m_line[TerminalSession::max_line]; // the line being run (the terminal's longest)
    capos::shell::History m_history;
    capos::shell::FileCommands m_files{*this};
    Job m_jobs[max_jobs] = {};
    char m_job_numbers[max_jobs][20]; // the jobs' numbers as Tab offers them
    // Capabilities the shell received from calls, by the name given them.
    struct Named {
        char name[capos::abi::capset_name_max + 1];
        size_t name_length;
        capos::abi::CapId id;
        uint64_t interface_id;
        bool disk;     // a disk asked for again (reconnect_disk)
        bool endpoint; // a new endpoint's client side (spawn's)
    };
    static constexpr size_t max_named = 16;
    Named m_named[max_named] = {};
    size_t m_named_count = 0;
    // The line a Tab ended, to carry on with the next readLine.
    struct Edit {
        char text[TerminalSession::max_line];
        size_t length = 0;
        size_t cursor = 0;
        char insert[64]; // the characters to add at the cursor
        size_t insert_length = 0;
        bool shown = true;   // the terminal shows the line (else it writes it after the prompt)
        bool resume = false; // the next readLine carries the line on
        bool tabbed = false; // the line ended with a Tab (the next Tab may be a second one)
    };
    Edit m_edit;
    // The programs the spawner starts (programs()).
    static constexpr size_t max_programs = 128;
    std::string_view m_programs[max_programs];
    char m_program_text[4096];
    size_t m_program_count = 0;
    bool m_programs_read = false;
    // The schema, read once; call's buffers.
    std::optional<capos::capnp::SchemaSet> m_schema;
    std::span<const capos::capnp::Word> m_schema_segments[16];
    alignas(8) capos::capnp::Word m_schema_words[256 * 1024 / 8];
    alignas(8) capos::capnp::Word m_call_params[512];
    alignas(8) capos::capnp::Word m_call_results[512];
    // The prompt's readLine (read_line_serving_jobs).
    alignas(8) capos::capnp::Word m_read_params[(TerminalSession::max_line * 2 + 256) / 8];
    alignas(8) capos::capnp::Word m_read_result[(TerminalSession::max_line + 256) / 8];
    capos::gen::ReplyStorage m_read_reply;
    uint64_t m_line_ticket = 0; // a readLine outstanding (the prompt's or a program's)
    // The StdIO served to the program `run` waits for, and to each job.
    capos::shell::StdioService m_foreground_stdio;
    capos::shell::StdioService m_job_stdio[max_jobs];
    uint64_t m_interrupt_ticket = 0; // the outstanding waitInterrupt, if any
    bool m_interrupt_refused = false;
    alignas(8) capos::capnp::Word m_interrupt_result[8];
    alignas(8) capos::capnp::Word m_wait_result[64]; // an ExitStatus with its detail
    // log's: the sequences of the last entries found, and the text of a
    // reply's entries (less than the terminal write the transport carries).
    // devices': a page of the list, copied out of the reply.
    capos::pci::Function m_devices[DeviceInventory::max_list];
    // blk's block, copied out of the reply; the CapSet entries asked whether
    // they are disks, and those that are (bits by index).
    uint8_t m_block[BlockDevice::max_inline];
    uint64_t m_disks_probed = 0;
    uint64_t m_disks_found = 0;
    static constexpr uint32_t max_log_lines = 1000;
    uint64_t m_log_sequences[max_log_lines];
    char m_log_text[3072];
    size_t m_job_count = 0;
    uint64_t m_last_job = 0;
};

std::span<const Shell::Command> Shell::commands() {
    static constexpr Command table[] = {
        {"help", "help", "list the commands", &Shell::help},
        {"caps", "caps", "the capabilities this shell holds", &Shell::caps},
        {"drop", "drop @name", "release a capability this shell holds (it stops holding it)",
         &Shell::drop},
        {"run", "run <program> [args...] [with { name: @cap, ... }]",
         "start a program holding exactly the listed capabilities (and its stdio), and wait for it",
         &Shell::run},
        {"spawn", "spawn <program> [args...] [with { ... }]",
         "the same in the background: a job (a grant 'name: new endpoint -> @client' makes an "
         "endpoint: the program serves it, the shell keeps @client)",
         &Shell::spawn},
        {"jobs", "jobs", "the programs spawned and not yet waited for", &Shell::jobs},
        {"wait", "wait <job>", "wait for a job and say how it ended", &Shell::wait},
        {"kill", "kill <job>", "end a job, and say so", &Shell::kill},
        {"call", "call @cap.method(field = value, ...) [-> @name]",
         "call any method of a capability held; params and results in Cap'n Proto text",
         &Shell::call},
        {"ps", "ps", "every process: id, state, capabilities, frames, CPU time, name", &Shell::ps},
        {"devices", "devices [-v]",
         "the PCI functions found at boot, as lspci lists them (-v: BARs, capabilities, MSI)",
         &Shell::devices},
        {"disks", "disks", "the disks this shell holds: size, block size, model, read-only",
         &Shell::disks},
        {"blk", "blk read <disk> <lba>", "one block of a disk, as hexdump -C shows it",
         &Shell::blk},
        {"mem", "mem", "physical frames used and free, the kernel heap", &Shell::mem},
        {"cpus", "cpus", "every CPU: APIC id, online, threads run, idle and lock shares",
         &Shell::cpus},
        {"log", "log [-n N] [error|warn|info|debug]",
         "the kernel log's last N entries (20) at the level or more severe", &Shell::log},
        {"echo", "echo [words...] [> file]", "print the words (or write them into a file)",
         &Shell::echo},
        {"ls", "ls [path]", "the entries of a directory (a path: @dir/a/b, or a/b below @home)",
         &Shell::ls},
        {"cat", "cat <file>...", "a file's bytes onto the terminal", &Shell::cat},
        {"write", "write <file> [text...]", "replace a file with the text and a newline",
         &Shell::write_file},
        {"cp", "cp <from> <to>", "copy a file", &Shell::cp},
        {"mv", "mv <from> <to>", "move or rename a file or directory", &Shell::mv},
        {"rm", "rm <path>...", "remove files and empty directories", &Shell::rm},
        {"mkdir", "mkdir <path>...", "make directories", &Shell::mkdir},
        {"stat", "stat <path>", "a file's or directory's kind, size, links and times",
         &Shell::stat},
        {"df", "df [@dir]", "a volume's size and free space", &Shell::df},
        {"sync", "sync [@dir]", "put everything written to a volume on its disk", &Shell::sync},
        {"mount", "mount <disk> as <name>",
         "serve a disk's capfs or FAT32 volume (a job) and keep its root as @name", &Shell::mount},
        {"history", "history", "the lines run so far", &Shell::history},
        {"clear", "clear", "clear the screen", &Shell::clear},
        {"man", "man [section] <topic>",
         "the manual's page on a command (1), an interface (2) or a concept (7)", &Shell::man},
        {"apropos", "apropos <word>", "the manual's pages whose title or summary holds the word",
         &Shell::apropos},
        {"halt", "halt", "power the machine off (with the 'system' capability)", &Shell::halt},
        {"reboot", "reboot", "reset the machine (with the 'system' capability)", &Shell::reboot},
    };
    // lib/shell/commands.h lists them for the host checks (man pages, the
    // bad-input sweep): the two lists must agree.
    static_assert(std::size(table) == std::size(capos::shell::command_names));
    static_assert([] {
        for (size_t i = 0; i < std::size(table); ++i) {
            if (table[i].name != capos::shell::command_names[i])
                return false;
        }
        return true;
    }());
    return table;
}

} // namespace

int main() {
    auto terminal = capos::rt::lookup<TerminalSession>("terminal");
    if (terminal.is_error()) {
        capos::rt::debug_write_line("shell: no terminal granted (a capability 'terminal')");
        return 1;
    }
    auto spawner = capos::rt::lookup<ProcessSpawner>("spawner");
    // In static storage: with the schema's buffer it is larger than the stack.
    static std::optional<Shell> shell;
    shell.emplace(terminal.value(), spawner.is_error() ? nullptr : &spawner.value());
    shell->loop();
}
