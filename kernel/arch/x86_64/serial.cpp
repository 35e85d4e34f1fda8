// COM1 (16550 UART at I/O port 0x3f8): the kernel console. Polled output, no
// lock: every caller writes whole lines and the log serializes ordinary
// output; exception paths may interleave, which is preferred to a deadlock.
// Input, once console_receive_start is called, comes by interrupt (ISA IRQ
// 4, through the I/O APIC or the 8259 PIC), a byte at a time, to the handler
// given.
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
constexpr uint8_t line_status_data_ready = 0x01;
constexpr uint8_t line_status_transmit_empty = 0x20;
constexpr uint8_t com1_irq = 4;
constexpr uint8_t interrupt_received_data = 0x01;
constexpr uint8_t modem_dtr_rts_out2 = 0x0B; // OUT2 gates the UART's IRQ line on PCs

ConsoleReceiveHandler g_receive = nullptr;

void on_receive(uint8_t) {
    // Everything the FIFO holds; bounded, so that a device that never
    // empties cannot hold the CPU.
    for (int i = 0; i < 64; ++i) {
        if (!(x86::inb(com1 + LineStatus) & line_status_data_ready))
            return;
        g_receive(x86::inb(com1 + Data));
    }
    // Still more: the interrupt line stays raised, and the controller (edge
    // triggered) would see no new edge. Lower and raise it to get one.
    x86::outb(com1 + InterruptEnable, 0);
    x86::outb(com1 + InterruptEnable, interrupt_received_data);
}

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
    x86::outb(com1 + FifoControl, 0x07);  // FIFO on, cleared, interrupt at every byte
    x86::outb(com1 + ModemControl, 0x03); // DTR, RTS
}

void console_write(std::string_view text) {
    for (char c : text) {
        if (c == '\n')
            put_raw('\r');
        put_raw(c);
    }
}

void console_receive_start(ConsoleReceiveHandler handler) {
    g_receive = handler;
    enable_isa_irq(com1_irq, on_receive);
    x86::outb(com1 + ModemControl, modem_dtr_rts_out2);
    x86::outb(com1 + InterruptEnable, interrupt_received_data);
    // Bytes that came before the interrupt was on raise none of their own.
    on_receive(0);
}

} // namespace capos::kernel::arch
