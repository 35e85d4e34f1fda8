#include "lib/pci/describe.h"
#include "lib/base/span_writer.h"

namespace capos::pci {

namespace {

using Writer = SpanWriter;

struct CapabilityName {
    uint8_t id;
    const char* name;
};
// PCI Code and ID Assignment 1.11, 2.
constexpr CapabilityName capability_names[] = {
    {0x01, "Power Management"},
    {0x02, "AGP"},
    {0x03, "Vital Product Data"},
    {0x04, "Slot Identification"},
    {0x05, "MSI"},
    {0x06, "CompactPCI Hot Swap"},
    {0x07, "PCI-X"},
    {0x08, "HyperTransport"},
    {0x09, "Vendor Specific"},
    {0x0a, "Debug port"},
    {0x0b, "CompactPCI central resource control"},
    {0x0c, "PCI Hot-plug"},
    {0x0d, "Subsystem ID"},
    {0x0e, "AGP 8x"},
    {0x0f, "Secure Device"},
    {0x10, "PCI Express"},
    {0x11, "MSI-X"},
    {0x12, "SATA"},
    {0x13, "Advanced Features"},
    {0x14, "Enhanced Allocation"},
    {0x15, "Flattening Portal Bridge"},
};

// "1 entry", "2 entries".
void count(Writer& line, uint64_t value, const char* one, const char* many) {
    line.decimal(value);
    line.put(' ');
    line.text(value == 1 ? one : many);
}

constexpr size_t detail_line_size = 128;

void describe_header(const Function& function, DetailOutput& out) {
    char text[detail_line_size];
    Writer line(text);
    const FunctionHeader& header = function.header;
    line.text("  prog-if ");
    line.hex(header.prog_if, 2);
    if (header.header_type == 0) {
        line.text(", subsystem ");
        line.hex(header.subsystem_vendor, 4);
        line.put(':');
        line.hex(header.subsystem_device, 4);
    } else if (header.header_type == 1) {
        line.text(", bus ");
        line.hex(header.secondary_bus, 2);
        line.text(", subordinate ");
        line.hex(header.subordinate_bus, 2);
    }
    if (header.interrupt_pin >= 1 && header.interrupt_pin <= 4) {
        line.text(", interrupt pin ");
        line.put(char('A' + header.interrupt_pin - 1));
        line.text(" (line ");
        line.decimal(header.interrupt_line);
        line.put(')');
    } else if (header.interrupt_pin == 0) {
        line.text(", no interrupt pin");
    } else {
        line.text(", interrupt pin ");
        line.decimal(header.interrupt_pin);
        line.text(" (not one of A-D)");
    }
    out.line({text, line.length()});
}

void describe_capabilities(const Function& function, DetailOutput& out) {
    char text[detail_line_size];
    size_t kept = function.capability_count < max_recorded_capabilities ? function.capability_count
                                                                        : max_recorded_capabilities;
    for (size_t i = 0; i < kept; ++i) {
        Writer line(text);
        line.text("  capability [");
        line.hex(function.capabilities[i].offset, 2);
        line.text("]: ");
        line.text(capability_name(function.capabilities[i].id));
        out.line({text, line.length()});
    }
    if (function.capability_total > kept) {
        Writer line(text);
        line.text("  capability list: ");
        line.decimal(function.capability_total - kept);
        line.text(" more not kept");
        out.line({text, line.length()});
    }
    if (function.capability_end != CapabilityListEnd::Complete) {
        Writer line(text);
        line.text("  capability list: ");
        line.text(to_string(function.capability_end));
        line.text(" after ");
        count(line, function.capability_total, "entry", "entries");
        out.line({text, line.length()});
    }
}

void describe_msi(const Function& function, DetailOutput& out) {
    char text[detail_line_size];
    if (function.has_msi) {
        const MsiCapability& msi = function.msi;
        Writer line(text);
        line.text(msi.enabled ? "  MSI: enabled, " : "  MSI: disabled, ");
        count(line, msi.vectors_capable, "vector capable", "vectors capable");
        line.text(", ");
        line.decimal(msi.vectors_enabled);
        line.text(" enabled, ");
        line.text(msi.address_64 ? "64-bit" : "32-bit");
        if (msi.per_vector_masking)
            line.text(", per-vector masking");
        out.line({text, line.length()});
    } else if (function.bad_msi) {
        out.line("  MSI: malformed, not decoded");
    }
    if (function.has_msix) {
        const MsixCapability& msix = function.msix;
        Writer line(text);
        line.text(msix.enabled ? "  MSI-X: enabled, " : "  MSI-X: disabled, ");
        if (msix.function_masked)
            line.text("function masked, ");
        count(line, msix.table_size, "entry", "entries");
        line.text(", table in BAR ");
        line.decimal(msix.table_bar);
        line.text(" at 0x");
        line.hex(msix.table_offset, 1);
        line.text(", PBA in BAR ");
        line.decimal(msix.pba_bar);
        line.text(" at 0x");
        line.hex(msix.pba_offset, 1);
        out.line({text, line.length()});
    } else if (function.bad_msix) {
        out.line("  MSI-X: malformed, not decoded");
    }
}

void put_address(Writer& line, const FunctionAddress& address) {
    if (address.segment != 0) {
        line.hex(address.segment, 4);
        line.put(':');
    }
    line.hex(address.bus, 2);
    line.put(':');
    line.hex(address.device, 2);
    line.put('.');
    line.hex(address.function, 1);
}

} // namespace

size_t format_address(const FunctionAddress& address, std::span<char> out) {
    Writer line(out);
    put_address(line, address);
    return line.length();
}

size_t format_function(const FunctionAddress& address, const FunctionHeader& header,
                       std::span<char> out) {
    Writer line(out);
    put_address(line, address);
    line.put(' ');
    line.text(class_name(header.class_code, header.subclass));
    line.text(" [");
    line.hex(header.class_code, 2);
    line.hex(header.subclass, 2);
    line.text("]: ");
    line.hex(header.vendor, 4);
    line.put(':');
    line.hex(header.device, 4);
    if (header.revision != 0) {
        line.text(" (rev ");
        line.hex(header.revision, 2);
        line.put(')');
    }
    return line.length();
}

size_t format_bar(const Bar& bar, std::span<char> out) {
    Writer line(out);
    switch (bar.kind) {
    case Bar::Kind::Unused:
        line.text("unused");
        return line.length();
    case Bar::Kind::Io:
        line.text("I/O ports at ");
        line.hex(bar.address, 4);
        break;
    case Bar::Kind::Memory32:
    case Bar::Kind::Memory64:
        line.text("Memory at ");
        line.hex(bar.address, 8);
        line.text(bar.kind == Bar::Kind::Memory64 ? " (64-bit, " : " (32-bit, ");
        line.text(bar.prefetchable ? "prefetchable)" : "non-prefetchable)");
        break;
    }
    // The size in the largest unit that divides it.
    line.text(" [size=");
    uint64_t size = bar.size;
    const char* unit = "";
    constexpr const char* units[] = {"K", "M", "G", "T"};
    for (const char* larger : units) {
        if (size == 0 || size % 1024 != 0)
            break;
        size /= 1024;
        unit = larger;
    }
    line.decimal(size);
    line.text(unit);
    line.put(']');
    return line.length();
}

const char* capability_name(uint8_t id) {
    for (const CapabilityName& entry : capability_names) {
        if (entry.id == id)
            return entry.name;
    }
    return "Unknown";
}

void describe(const Function& function, DetailOutput& out) {
    describe_header(function, out);
    char text[detail_line_size];
    for (size_t i = 0; i < max_bars; ++i) {
        if (function.bars[i].kind == Bar::Kind::Unused)
            continue;
        Writer line(text);
        line.text("  BAR ");
        line.decimal(i);
        line.text(": ");
        size_t length = line.length();
        length += format_bar(function.bars[i], std::span<char>(text).subspan(length));
        out.line({text, length});
    }
    describe_capabilities(function, out);
    describe_msi(function, out);
}

} // namespace capos::pci
