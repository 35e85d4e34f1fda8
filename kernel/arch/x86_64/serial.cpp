// COM1 (16550 UART at I/O port 0x3f8): the kernel console. Polled output, no
// interrupts, no lock: every caller writes whole lines and the log serializes
// ordinary output; exception paths may interleave, which is preferred to a
// deadlock.
#include "kernel/arch/arch.h"
#include "kernel/arch/x86_64/cpu.h"

namespace capos::kernel::arch {

namespace {

constexpr uint16_t com1 = 0x3f8;
enum Register : uint16_t {
    Data = 0,
    InterruptEnable = 1,
    FifoControl = 2,
    LineControl = 3,
    ModemControl = 4,
    LineStatus = 5,
};
constexpr uint8_t line_status_transmit_empty = 0x20;

void put_raw(char c) {
    // Bounded wait: a UART that never drains must not hang the kernel.
    for (int spins = 0; spins < 100000; ++spins) {
        if (x86::inb(com1 + LineStatus) & line_status_transmit_empty)
            break;
    }
    x86::outb(com1 + Data, uint8_t(c));
}

} // namespace

void console_init() {
    x86::outb(com1 + InterruptEnable, 0x00);
    x86::outb(com1 + LineControl, 0x80); // divisor latch
    x86::outb(com1 + Data, 0x01);        // 115200 baud
    x86::outb(com1 + InterruptEnable, 0x00);
    x86::outb(com1 + LineControl, 0x03);  // 8 data bits, no parity, 1 stop bit
    x86::outb(com1 + FifoControl, 0xC7);  // FIFO on, cleared, 14-byte threshold
    x86::outb(com1 + ModemControl, 0x03); // DTR, RTS
}

void console_write(std::string_view text) {
    for (char c : text) {
        if (c == '\n')
            put_raw('\r');
        put_raw(c);
    }
}

} // namespace capos::kernel::arch
