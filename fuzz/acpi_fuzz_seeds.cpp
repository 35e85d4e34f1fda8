// Writes acpi_fuzz's seeds into the directory given as the only argument: one
// small, valid example of each structure lib/acpi reads (an RSDP, an RSDT, an
// XSDT, a MADT with every entry type, a full-length FADT, an MCFG, an HPET
// table, a DSDT whose AML holds \_S5, and a DMAR with every structure type and
// a path through bridges), with right lengths and checksums.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "tests/host/acpi_tables.h"

namespace {

using namespace capos::acpi::testing;

Bytes table(std::string_view signature, const Bytes& body, uint8_t revision = 1) {
    return make_table(signature, body, revision);
}

Bytes rsdp() {
    Bytes bytes = chars("RSD PTR ") + Bytes{0} + chars("CAPOS ") + Bytes{2} + le(0x7fe10000, 4) +
                  le(36, 4) + le(0x7fe10100, 8) + Bytes{0, 0, 0, 0};
    fix_checksum(bytes, 8, 20);
    fix_checksum(bytes, 32, 36);
    return bytes;
}

Bytes madt() {
    Bytes entries = Bytes{0, 8, 0, 0} + le(1, 4) +                        // local APIC
                    Bytes{1, 12, 1, 0} + le(0xfec00000, 4) + le(0, 4) +   // I/O APIC
                    Bytes{2, 10, 0, 0} + le(2, 4) + le(0, 2) +            // override
                    Bytes{3, 8} + le(5, 2) + le(23, 4) +                  // NMI source
                    Bytes{4, 6, 0xff} + le(5, 2) + Bytes{1} +             // local APIC NMI
                    Bytes{5, 12, 0, 0} + le(0xfee00000, 8) +              // address override
                    Bytes{9, 16, 0, 0} + le(1, 4) + le(1, 4) + le(1, 4) + // local x2APIC
                    Bytes{10, 12} + le(5, 2) + le(0xffffffff, 4) + Bytes{1, 0, 0, 0} + // x2 NMI
                    Bytes{11, 4, 0, 0}; // another type
    return table("APIC", le(0xfee00000, 4) + le(1, 4) + entries, 5);
}

Bytes fadt() {
    Bytes bytes = table("FACP", Bytes(276 - 36), 6);
    put(bytes, 40, 0x7fe20000, 4);
    put(bytes, 46, 9, 2);
    put(bytes, 64, 0x604, 4);
    put(bytes, 89, 2, 1);
    put(bytes, 109, 3, 2);
    put(bytes, 112, 1u << 10, 4);
    put(bytes, 116, 0x0100'0801, 4); // RESET_REG: I/O, 8 bits, byte access
    put(bytes, 120, 0xcf9, 8);
    put(bytes, 128, 6, 1);
    put(bytes, 140, 0x7fe20000, 8);
    put(bytes, 172, 0x0200'1001, 4); // X_PM1a_CNT_BLK: I/O, 16 bits, word access
    put(bytes, 176, 0x604, 8);
    fix_checksum(bytes, 9, bytes.size());
    return bytes;
}

Bytes dsdt() {
    Bytes aml = Bytes{0x10, 0x0d} + chars("\\_SB_") + Bytes{0x5b, 0x82, 0x07} + chars("PCI0") +
                Bytes{0xa3, 0x08} + chars("_S5_") +
                Bytes{0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
    return table("DSDT", aml, 2);
}

Bytes dmar() {
    Bytes structures =
        drhd(0, 0, 0xfed90000, device_scope(1, 0, 0, Bytes{2, 0})) +
        drhd(1, 0, 0xfed91000,
             device_scope(3, 2, 0xf0, Bytes{31, 0}) + device_scope(4, 0, 0, Bytes{31, 7}), 1) +
        rmrr(0, 0x7c000000, 0x7c3fffff, device_scope(1, 0, 0, Bytes{0x1c, 0, 0, 0, 3, 1})) +
        atsr(0, 0, device_scope(2, 0, 0, Bytes{0x1c, 0})) + rhsa(0xfed90000, 1) +
        andd(1, "\\_SB.UAR0") + satc(1, 0, device_scope(1, 0, 0, Bytes{8, 0})) +
        dmar_structure(6, Bytes{0, 0, 0, 0});
    return make_dmar(38, 1, structures);
}

bool write(const std::string& directory, const char* name, const Bytes& bytes) {
    std::string path = directory + "/" + name;
    FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr)
        return false;
    bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
    return std::fclose(file) == 0 && ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
        return 2;
    }
    std::string directory = argv[1];
    bool ok =
        write(directory, "rsdp", rsdp()) &&
        write(directory, "rsdt", table("RSDT", le(0x7fe20000, 4) + le(0x7fe30000, 4))) &&
        write(directory, "xsdt", table("XSDT", le(0x7fe20000, 8) + le(0x7fe30000, 8))) &&
        write(directory, "madt", madt()) && write(directory, "fadt", fadt()) &&
        write(directory, "mcfg",
              table("MCFG", le(0, 8) + le(0xb0000000, 8) + le(0, 2) + Bytes{0, 0xff} + le(0, 4))) &&
        write(directory, "hpet",
              table("HPET", le(0x8086a201, 4) + Bytes{0, 64, 0, 0} + le(0xfed00000, 8) + Bytes{0} +
                                le(0x37ee, 2) + Bytes{0})) &&
        write(directory, "dsdt", dsdt()) && write(directory, "dmar", dmar());
    if (!ok) {
        std::perror(argv[1]);
        return 1;
    }
    return 0;
}
