// The local APIC, for the x86 code that starts and signals CPUs (smp.cpp).
#pragma once

#include "lib/apic/apic.h"
#include <cstdint>

namespace capos::kernel::x86 {

// Enables the local APIC of the CPU running this, in the mode the boot CPU
// chose (interrupt_controllers_init first).
void local_apic_enable_this_cpu();
uint32_t local_apic_id();
// Sends an interprocessor interrupt (an xAPIC waits until it has gone out);
// false when the destination cannot be named in this mode.
bool apic_send(const apic::Ipi& ipi);

// The local APIC timer's vector (arch::timer_init), and the acknowledgement
// of the interrupt this CPU is serving (idt.cpp: the tick of user code, which
// does not go through the handler table).
inline constexpr uint8_t timer_vector = 0x20;
void local_apic_end_of_interrupt();

} // namespace capos::kernel::x86
