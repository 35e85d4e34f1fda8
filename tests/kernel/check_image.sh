#!/usr/bin/env bash
# Static checks of the kernel ELF that no boot can show:
#  - no x87, MMX or SSE instruction: those registers hold user state only,
#    which the kernel moves whole with the save and load instructions
#    (kernel/arch/x86_64/user_state.cpp) and nothing else;
#  - no program header that is both writable and executable;
#  - a PVH note, and no Multiboot v1 header (QEMU would take that path first);
#  - a Multiboot2 header within the first 32 KiB, as GRUB requires;
#  - no global constructors (.init_array empty): kernel globals are constant-
#    initialized, so none can be re-initialized after boot code used it.
set -euo pipefail
kernel=$1
fail() { echo "FAIL: $*"; exit 1; }

instructions=$(objdump -d --no-show-raw-insn "$kernel" | awk -F'\t' 'NF >= 2 { print $2 }')
state_moves='^(fxsave64|fxrstor64|xsave64|xsaveopt64|xrstor64) '
fpu=$(grep -vE "$state_moves" <<<"$instructions" |
      grep -E '%(xmm|ymm|zmm|mm)[0-9]|%st|^(f[a-z0-9]+|xsave[a-z0-9]*|xrstor[a-z0-9]*|ldmxcsr|stmxcsr|emms)\b' || true)
[ -z "$fpu" ] || fail "FPU/SIMD instructions in the kernel:"$'\n'"$fpu"
grep -qE '^xrstor64 ' <<<"$instructions" || fail "the kernel never loads user FPU state (xrstor64)"

wx=$(readelf -lW "$kernel" | grep -E '^\s+LOAD' | grep -E 'RWE|RW E' || true)
[ -z "$wx" ] || fail "writable and executable segment:"$'\n'"$wx"

readelf -nW "$kernel" | grep -q 'Xen.*0x00000012' || fail "no PVH (XEN_ELFNOTE_PHYS32_ENTRY) note"

# Both headers are 4-byte aligned words; list the words of the file's start.
words() { head -c "$1" "$kernel" | od -An -tx4 -v | tr -s ' ' '\n'; }
words_8k=$(words 8192)
words_32k=$(words 32768)
! grep -qx '1badb002' <<<"$words_8k" || fail "Multiboot v1 header present"
grep -qx 'e85250d6' <<<"$words_32k" || fail "no Multiboot2 header in the first 32 KiB"

init_array=$(readelf -SW "$kernel" | awk '$2 == ".init_array" { print $6 }')
[ -z "$init_array" ] || [ "$((16#$init_array))" -eq 0 ] ||
    fail "the kernel has global constructors (.init_array is $((16#$init_array)) bytes)"

echo "kernel image checks passed"
