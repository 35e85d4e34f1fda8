// TerminalSession: the terminal a person types at, over the console UART.
//
// The UART's interrupt puts each byte it receives into a bounded input ring
// and wakes the terminal thread. The thread feeds bytes to the line editor
// (lib/term) only while a readLine waits, so what is typed ahead waits in
// the ring unechoed and is echoed (or not, for a hidden read) by the read
// that takes it. When the editor finishes a line, the thread answers the
// waiting readLine (a deferred answer, kernel/ipc/completion.h) and stops
// feeding until the next one. Input beyond the ring's size is dropped and
// counted; so is the rest of a line longer than the editor takes (it rings
// the bell). A Ctrl-C typed while no readLine waits, when a waitInterrupt
// does, is taken by the interrupt itself: the typed input is dropped and the
// thread answers the waitInterrupt.
//
// Tab completion: a readLine asking for it is answered at a Tab as well,
// with the line so far; the editor keeps nothing for it. The caller's next
// readLine hands the line back (`initial`, `cursor`) with what to add, and
// the editor starts from it before taking any more input, so that the line
// goes on as if the Tab had been an ordinary key.
#include "kernel/arch/arch.h"
#include "kernel/cap/kernel_capabilities.h"
#include "kernel/lib/log.h"
#include "kernel/lib/sections.h"
#include "kernel/object/process.h"
#include "kernel/object/thread.h"
#include "kernel/sched/scheduler.h"
#include "lib/term/line_editor.h"

namespace capos::kernel {

namespace {

using schema::TerminalSession;

static_assert(term::LineEditor::max_line_bytes == TerminalSession::max_line,
              "the schema's line limit is the editor's");
constexpr manifest::LimitText start_rule{"initial and insert: printable text of at most ",
                                         TerminalSession::max_line, " bytes together"};

// Bytes from the interrupt to the thread. Both sides run under the kernel
// lock (the console's interrupt takes it too), so plain indices suffice.
constexpr uint32_t input_capacity = 4096;
CAPOS_LARGE_BSS uint8_t g_input[input_capacity];
uint32_t g_input_head = 0; // next byte to read
uint32_t g_input_tail = 0; // next byte to write
uint64_t g_input_dropped = 0;
Thread* g_thread = nullptr;
// What the service waits for, as the interrupt needs to know it.
bool g_reader_waiting = false;
bool g_interrupt_waiting = false;
bool g_interrupt_typed = false; // a Ctrl-C for the waiting waitInterrupt

constexpr uint8_t ctrl_c = 0x03;

void on_receive(uint8_t byte) {
    if (byte == ctrl_c && g_interrupt_waiting && !g_reader_waiting) {
        g_interrupt_typed = true;
        g_input_head = g_input_tail; // what was typed ahead goes with it
        if (g_thread)
            Scheduler::wake(g_thread);
        return;
    }
    if (g_input_tail - g_input_head == input_capacity) {
        if (g_input_dropped++ == 0)
            log_warn("terminal: input ring full, typed bytes dropped (counted, reported once)");
        return;
    }
    g_input[g_input_tail++ % input_capacity] = byte;
    if (g_thread)
        Scheduler::wake(g_thread);
}

class ConsoleOutput final : public term::Output {
public:
    void write(std::string_view bytes) override { console_write_text(bytes, false); }
};

class TerminalService final : public KernelServiceOf<TerminalSession, TerminalService> {
public:
    Result<void, gen::Exception> read_line(TerminalSession::ReadLineParams::Reader params,
                                           TerminalSession::ReadLineResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        drop_waiters_if_gone();
        if (m_reader)
            return Err{failed("another readLine is waiting on this terminal")};
        std::string_view initial = params.initial();
        std::string_view insert = params.insert();
        if (!term::LineEditor::valid_start(initial, params.cursor(), insert)) {
            if (!term::LineEditor::valid_start(initial, initial.size(), insert))
                return Err{invalid_argument(start_rule)};
            return Err{invalid_argument("the cursor is not between characters of initial")};
        }
        auto reply = invocation().defer();
        if (!reply)
            return Err{overloaded("too many answers owed to the caller")};
        m_reader = std::move(*reply);
        g_reader_waiting = true;
        m_editor.set_echo(params.hidden() ? term::Echo::Off : term::Echo::On);
        m_editor.set_completion(params.complete() ? term::Completion::On : term::Completion::Off);
        if (!initial.empty() || !insert.empty())
            m_editor.start(initial, params.cursor(),
                           params.initial_shown() ? term::Shown::Yes : term::Shown::No, insert);
        if (g_thread)
            Scheduler::wake(g_thread);
        return {};
    }

    Result<void, gen::Exception> write(TerminalSession::WriteParams::Reader params,
                                       TerminalSession::WriteResults::Builder) {
        console_write_in_pieces(params.text(), false);
        return {};
    }

    Result<void, gen::Exception> wait_interrupt(TerminalSession::WaitInterruptParams::Reader,
                                                TerminalSession::WaitInterruptResults::Builder) {
        g_kernel_lock.assert_held(); // a service method: inside cap_enter
        drop_waiters_if_gone();
        if (m_interrupt)
            return Err{failed("another waitInterrupt is waiting on this terminal")};
        auto reply = invocation().defer();
        if (!reply)
            return Err{overloaded("too many answers owed to the caller")};
        m_interrupt = std::move(*reply);
        g_interrupt_waiting = true;
        g_interrupt_typed = false;
        return {};
    }

    // The terminal thread's body: feeds waiting input to the editor while a
    // readLine waits.
    [[noreturn]] void run() {
        g_kernel_lock.assert_held(); // a kernel thread: it has the CPU's lock whenever it runs
        for (;;) {
            drop_waiters_if_gone();
            if (g_interrupt_typed && m_interrupt) {
                g_interrupt_typed = false;
                g_interrupt_waiting = false;
                capnp::MessageBuilder message(m_message);
                message.init_root(TerminalSession::WaitInterruptResults::data_words,
                                  TerminalSession::WaitInterruptResults::pointer_count);
                m_interrupt.complete_with_message(abi::CallStatus::Ok, message.words());
            }
            while (m_reader && g_input_head != g_input_tail) {
                uint8_t byte = g_input[g_input_head++ % input_capacity];
                term::LineEvent event = m_editor.feed(byte);
                if (event != term::LineEvent::None)
                    answer(event);
                Scheduler::preemption_point();
            }
            Scheduler::block(no_deadline);
        }
    }

private:
    // A waiter whose thread or process ended is owed nothing: forget it, so that the
    // next holder can read.
    void drop_waiters_if_gone() CAPOS_REQUIRES(g_kernel_lock) {
        if (m_reader && m_reader.caller_gone()) {
            m_reader.reset();
            g_reader_waiting = false;
        }
        if (m_interrupt && m_interrupt.caller_gone()) {
            m_interrupt.reset();
            g_interrupt_waiting = false;
        }
    }

    void answer(term::LineEvent event) CAPOS_REQUIRES(g_kernel_lock) {
        capnp::MessageBuilder message(m_message);
        TerminalSession::ReadLineResults::Builder results(
            message.init_root(TerminalSession::ReadLineResults::data_words,
                              TerminalSession::ReadLineResults::pointer_count));
        switch (event) {
        case term::LineEvent::Line:
            results.set_line(m_editor.line());
            results.set_end(schema::LineEnd::Newline);
            break;
        case term::LineEvent::Interrupt:
            results.set_end(schema::LineEnd::Interrupted);
            break;
        case term::LineEvent::Completion:
            results.set_line(m_editor.line());
            results.set_cursor(uint32_t(m_editor.cursor()));
            results.set_end(schema::LineEnd::Completion);
            break;
        case term::LineEvent::EndOfInput:
        case term::LineEvent::None:
            results.set_end(schema::LineEnd::EndOfInput);
            break;
        }
        VERIFY(message.error() == capnp::WireError::None);
        m_reader.complete_with_message(abi::CallStatus::Ok, message.words());
        g_reader_waiting = false;
    }

    // The longest answer: a root, its data word, and the longest line.
    static constexpr size_t message_words = 4 + (term::LineEditor::max_line_bytes + 1 + 7) / 8;

    ConsoleOutput m_output;
    term::LineEditor m_editor{m_output};
    PendingReply m_reader;    // the readLine waiting, if any
    PendingReply m_interrupt; // the waitInterrupt waiting, if any
    capnp::Word m_message[message_words] = {};
};

} // namespace

RefPtr<KernelService> create_terminal_service() {
    auto created = heap_create<TerminalService>();
    if (created.is_error())
        return {};
    TerminalService* service = created.value();
    RefPtr<KernelService> result = RefPtr<KernelService>::adopt(service);
    // The thread uses the service for ever: the kernel's table of shared
    // services (kernel_capabilities.cpp) keeps it (it is the one terminal).
    auto thread = Thread::create(
        nullptr, [](void* terminal) { static_cast<TerminalService*>(terminal)->run(); }, service);
    if (thread.is_error())
        return {};
    g_thread = thread.value().get();
    Scheduler::make_ready(thread.release_value());
    arch::console_receive_start(on_receive);
    return result;
}

} // namespace capos::kernel
