// A QEMU TCG plugin that profiles one benchmark figure deterministically: the
// guest program marks a window with two instructions no compiler emits
// (`xchg %rbx,%rbx` opens it, `xchg %rcx,%rcx` closes it; user/bench's
// profile mode), and inside it the plugin counts
//   - instructions, in total and per kernel function (by the symbol table
//     given as syms=FILE, `nm -S` output; user code counts as "user"), and
//     per kernel translation block (the script maps those to the source
//     functions, inlined ones included, and to the stages of a call),
//   - system calls (`syscall` executed) and address-space switches (a write
//     to CR3),
//   - for every stretch between two switches (an epoch: what QEMU's TLB and
//     jump cache start empty for, since a CR3 write flushes both), the
//     distinct code pages, data pages and translation blocks it touched.
// The report goes to out=FILE when the window closes. Counts do not depend
// on the host's load.
//
// Built against qemu-plugin.h of the installed QEMU's Debian source package
// (bench/plugin/build.sh); loaded with
// `-plugin libcapos_profile.so,syms=kernel.syms,out=report.txt`.
extern "C" {
#include <qemu-plugin.h>
}

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

extern "C" {
QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;
}

namespace {

struct Symbol {
    uint64_t start;
    uint64_t size;
    std::string name;
};

std::vector<Symbol> g_symbols;      // functions, sorted by start
std::vector<Symbol> g_data_symbols; // objects (data, bss, rodata), sorted by start
// For each kernel-image data page: the epochs that touched it.
std::map<uint64_t, uint64_t> g_image_page_epochs;
std::map<uint64_t, uint64_t> g_code_page_epochs; // code page -> epochs that ran code in it
std::map<uint64_t, uint64_t> g_data_page_epochs; // data page -> epochs that touched it
// For each data page, the instructions that touched it first in an epoch (the
// one whose access QEMU's TLB refilled), and in how many epochs.
std::map<uint64_t, std::map<uint64_t, uint64_t>> g_data_page_first;

std::vector<uint64_t> g_function_insns;
// Instructions run in each kernel translation block, by its first address:
// the script maps them to source functions, inlined ones too, and to stages.
std::unordered_map<uint64_t, uint64_t> g_block_insns;
// Instructions run in each user translation block (the script names their
// functions from the program's symbols).
std::unordered_map<uint64_t, uint64_t> g_user_block_insns;
// How often each kernel translation block ran: the block at a function's
// first address counts the function's calls.
std::unordered_map<uint64_t, uint64_t> g_block_runs;
std::string g_out = "capos_profile.txt";

bool g_open = false; // inside the window
uint64_t g_insns = 0;
uint64_t g_user_insns = 0;
uint64_t g_syscalls = 0;
uint64_t g_switches = 0;
uint64_t g_windows = 0;

// The current epoch's distinct pages and blocks.
std::unordered_set<uint64_t> g_code_pages, g_data_pages, g_blocks;
uint64_t g_epochs = 0, g_code_page_sum = 0, g_data_page_sum = 0, g_block_sum = 0;

// Where the data pages of the epochs were, summed: by the kernel's layout
// (kernel/mm/layout.h).
enum Region { User, DirectMap, KernelOther, KernelImage, region_count };
const char* const region_names[region_count] = {"user", "direct_map", "kernel_other",
                                                "kernel_image"};
uint64_t g_region_sum[region_count] = {};

// One past the kernel image's last symbol (load_symbols): the heap and the
// stacks follow it (kernel/mm/layout.h).
uint64_t g_image_end = 0xffffffff80000000ull;

Region region_of(uint64_t page) {
    uint64_t address = page << 12;
    if (address < 0xffff800000000000ull)
        return User;
    if (address >= 0xffffff8000000000ull && address < 0xffffffff80000000ull)
        return DirectMap;
    if (address >= 0xffffffff80000000ull && address < g_image_end)
        return KernelImage;
    return KernelOther;
}

struct Block {
    uint64_t vaddr;
    uint64_t last_vaddr; // of its last instruction
    uint32_t insns;
    int function; // index into g_symbols, -1: user, -2: unknown kernel address
    // Its last instruction lets QEMU chain it straight to the next block when
    // that block starts on the same page as this one (a direct jump, call or
    // branch, or no branch at all); otherwise the next block is looked up.
    bool chainable = true;
};

constexpr uint64_t kernel_half = 0xffff800000000000ull;

int function_of(uint64_t address) {
    if (address < kernel_half)
        return -1;
    auto it = std::upper_bound(g_symbols.begin(), g_symbols.end(), address,
                               [](uint64_t a, const Symbol& s) { return a < s.start; });
    if (it == g_symbols.begin())
        return -2;
    --it;
    if (address >= it->start + std::max<uint64_t>(it->size, 1))
        return -2;
    return int(it - g_symbols.begin());
}

// Blocks entered by a lookup rather than a chained jump (after a return, an
// indirect branch, a jump to another page, or an instruction that leaves the
// translated code: system calls and returns, stac/clac, CR3 and MSR writes):
// in all, and the first time in each epoch (after a CR3 write the jump cache
// is empty, so those are the expensive ones), by block address.
uint64_t g_lookups = 0, g_first_lookups = 0;
std::unordered_set<uint64_t> g_looked_up; // this epoch's
std::unordered_map<uint64_t, uint64_t> g_first_lookup_sites;
std::unordered_map<uint64_t, uint64_t> g_lookup_sites; // every lookup, by block
const Block* g_previous = nullptr;

void end_epoch() {
    g_looked_up.clear();
    if (g_code_pages.empty() && g_data_pages.empty())
        return;
    ++g_epochs;
    g_code_page_sum += g_code_pages.size();
    g_data_page_sum += g_data_pages.size();
    for (uint64_t page : g_code_pages)
        ++g_code_page_epochs[page];
    for (uint64_t page : g_data_pages) {
        ++g_data_page_epochs[page];
        ++g_region_sum[region_of(page)];
        if (region_of(page) == KernelImage)
            ++g_image_page_epochs[page];
    }
    g_block_sum += g_blocks.size();
    g_code_pages.clear();
    g_data_pages.clear();
    g_blocks.clear();
}

void on_block(unsigned int, void* data) {
    if (!g_open)
        return;
    auto* block = static_cast<Block*>(data);
    const Block* previous = g_previous;
    g_previous = block;
    if (previous == nullptr || !previous->chainable ||
        (previous->vaddr >> 12) != (block->vaddr >> 12)) {
        ++g_lookups;
        ++g_lookup_sites[block->vaddr];
        if (g_looked_up.insert(block->vaddr).second) {
            ++g_first_lookups;
            ++g_first_lookup_sites[block->vaddr];
        }
    }
    g_insns += block->insns;
    if (block->function == -1) {
        g_user_insns += block->insns;
        g_user_block_insns[block->vaddr] += block->insns;
    } else if (block->function >= 0)
        g_function_insns[block->function] += block->insns;
    if (block->function != -1) {
        g_block_insns[block->vaddr] += block->insns;
        ++g_block_runs[block->vaddr];
    }
    g_code_pages.insert(block->vaddr >> 12);
    g_code_pages.insert(block->last_vaddr >> 12);
    g_blocks.insert(block->vaddr);
}

// The kernel's spin locks: its data objects named "..._lock" (the
// convention of every SpinLock it declares). Any access to one inside the
// window is a lock taken or released on the measured path.
std::vector<Symbol> g_locks;
uint64_t g_lock_accesses = 0;

void on_memory(unsigned int, qemu_plugin_meminfo_t, uint64_t vaddr, void* insn) {
    if (!g_open)
        return;
    if (g_data_pages.insert(vaddr >> 12).second)
        ++g_data_page_first[vaddr >> 12][reinterpret_cast<uintptr_t>(insn)];
    if (vaddr >= kernel_half) {
        for (const Symbol& lock : g_locks) {
            if (vaddr - lock.start < std::max<uint64_t>(lock.size, 1))
                ++g_lock_accesses;
        }
    }
}

void on_cr3(unsigned int, void*) {
    if (!g_open)
        return;
    ++g_switches;
    end_epoch();
}

uint64_t g_user_indirect = 0, g_kernel_indirect = 0;
void on_user_indirect(unsigned int, void*) {
    if (g_open)
        ++g_user_indirect;
}
void on_kernel_indirect(unsigned int, void*) {
    if (g_open)
        ++g_kernel_indirect;
}

void on_syscall(unsigned int, void*) {
    if (g_open)
        ++g_syscalls;
}

void on_open(unsigned int, void*) {
    g_open = true;
    g_previous = nullptr;
    g_looked_up.clear();
    ++g_windows;
    g_code_pages.clear();
    g_data_pages.clear();
    g_blocks.clear();
}

void write_report();

// The report is written when the window closes: QEMU's exit through
// isa-debug-exit skips the plugins' exit callbacks.
void on_close(unsigned int, void*) {
    end_epoch();
    g_open = false;
    write_report();
}

enum class Kind { Other, Cr3Write, Syscall, Open, Close, Indirect };

// A return, or a call or jump through a register or memory: under TCG each
// one leaves the translated code to look its target up (QEMU's jump cache,
// and after a CR3 write its hash table), which costs about as much as a dozen
// plain instructions (docs/performance.md).
bool is_indirect_branch(const uint8_t* bytes, size_t size) {
    size_t i = 0;
    while (i < size && (bytes[i] == 0x66 || bytes[i] == 0xf2 || bytes[i] == 0xf3 ||
                        bytes[i] == 0x2e || bytes[i] == 0x3e || bytes[i] == 0x26 ||
                        bytes[i] == 0x36 || bytes[i] == 0x64 || bytes[i] == 0x65))
        ++i;
    if (i < size && (bytes[i] & 0xf0) == 0x40)
        ++i; // REX
    if (i >= size)
        return false;
    if (bytes[i] == 0xc3 || bytes[i] == 0xc2)
        return true; // ret
    if (bytes[i] == 0xff && i + 1 < size) {
        uint8_t reg = (bytes[i + 1] >> 3) & 7;
        return reg == 2 || reg == 3 || reg == 4 || reg == 5; // call/jmp indirect
    }
    return false;
}

// An instruction after which QEMU cannot chain to the next block: a branch
// through a register, memory or the stack, or one that ends the block and
// returns to QEMU's loop (system call and return, interrupt return, stac,
// clac, swapgs, writes to control registers and MSRs, sti, hlt, int).
bool ends_unchained(const uint8_t* bytes, size_t size) {
    if (is_indirect_branch(bytes, size))
        return true;
    size_t i = 0;
    if (i < size && (bytes[i] & 0xf0) == 0x40)
        ++i; // REX
    if (i >= size)
        return false;
    uint8_t op = bytes[i];
    if (op == 0xcf || op == 0xfb || op == 0xf4 || op == 0xcd || op == 0xcc)
        return true; // iret, sti, hlt, int n, int3
    if (op != 0x0f || i + 1 >= size)
        return false;
    uint8_t op2 = bytes[i + 1];
    if (op2 == 0x05 || op2 == 0x07 || op2 == 0x30 || op2 == 0x22)
        return true; // syscall, sysret, wrmsr, mov to a control register
    if (op2 == 0x01 && i + 2 < size)
        return bytes[i + 2] == 0xca || bytes[i + 2] == 0xcb || bytes[i + 2] == 0xf8;
    return false; // clac, stac, swapgs above
}

Kind kind_of(const uint8_t* bytes, size_t size) {
    size_t i = 0;
    bool rex_b = false;
    if (i < size && (bytes[i] & 0xf0) == 0x40) {
        rex_b = bytes[i] & 1;
        ++i;
    }
    (void)rex_b;
    if (size - i == 3 && bytes[i] == 0x0f && bytes[i + 1] == 0x22 &&
        ((bytes[i + 2] >> 3) & 7) == 3 && (bytes[i + 2] >> 6) == 3)
        return Kind::Cr3Write; // mov %reg, %cr3
    if (size == 2 && bytes[0] == 0x0f && bytes[1] == 0x05)
        return Kind::Syscall;
    // xchg %rbx,%rbx: 48 87 db; xchg %rcx,%rcx: 48 87 c9
    if (size == 3 && bytes[0] == 0x48 && bytes[1] == 0x87 && bytes[2] == 0xdb)
        return Kind::Open;
    if (size == 3 && bytes[0] == 0x48 && bytes[1] == 0x87 && bytes[2] == 0xc9)
        return Kind::Close;
    if (is_indirect_branch(bytes, size))
        return Kind::Indirect;
    return Kind::Other;
}

void on_translate(qemu_plugin_id_t, struct qemu_plugin_tb* tb) {
    size_t n = qemu_plugin_tb_n_insns(tb);
    auto* block = new Block{qemu_plugin_tb_vaddr(tb), qemu_plugin_tb_vaddr(tb), uint32_t(n),
                            function_of(qemu_plugin_tb_vaddr(tb))};
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
        block->last_vaddr = qemu_plugin_insn_vaddr(insn);
        qemu_plugin_register_vcpu_mem_cb(
            insn, on_memory, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW,
            reinterpret_cast<void*>(uintptr_t(qemu_plugin_insn_vaddr(insn))));
        auto* bytes = static_cast<const uint8_t*>(qemu_plugin_insn_data(insn));
        if (i + 1 == n)
            block->chainable = !ends_unchained(bytes, qemu_plugin_insn_size(insn));
        switch (kind_of(bytes, qemu_plugin_insn_size(insn))) {
        case Kind::Cr3Write:
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_cr3, QEMU_PLUGIN_CB_NO_REGS, nullptr);
            break;
        case Kind::Syscall:
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_syscall, QEMU_PLUGIN_CB_NO_REGS,
                                                   nullptr);
            break;
        case Kind::Open:
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_open, QEMU_PLUGIN_CB_NO_REGS, nullptr);
            break;
        case Kind::Close:
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_close, QEMU_PLUGIN_CB_NO_REGS, nullptr);
            break;
        case Kind::Indirect:
            qemu_plugin_register_vcpu_insn_exec_cb(
                insn, block->function == -1 ? on_user_indirect : on_kernel_indirect,
                QEMU_PLUGIN_CB_NO_REGS, nullptr);
            break;
        case Kind::Other:
            break;
        }
    }
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS, block);
}

void write_report() {
    std::ofstream out(g_out);
    out << "windows " << g_windows << "\n";
    out << "insns " << g_insns << "\n";
    out << "user_insns " << g_user_insns << "\n";
    out << "syscalls " << g_syscalls << "\n";
    out << "switches " << g_switches << "\n";
    out << "epochs " << g_epochs << "\n";
    out << "epoch_code_pages " << g_code_page_sum << "\n";
    out << "epoch_data_pages " << g_data_page_sum << "\n";
    out << "epoch_blocks " << g_block_sum << "\n";
    out << "lock_accesses " << g_lock_accesses << "\n";
    out << "user_indirect " << g_user_indirect << "\n";
    out << "kernel_indirect " << g_kernel_indirect << "\n";
    out << "lock_objects " << g_locks.size() << "\n";
    out << "lookups " << g_lookups << "\n";
    out << "first_lookups " << g_first_lookups << "\n";
    for (auto& [address, count] : g_first_lookup_sites)
        out << "lookup_site " << count << " " << std::hex << address << std::dec << "\n";
    for (auto& [address, count] : g_lookup_sites)
        out << "lookup_any " << count << " " << std::hex << address << std::dec << "\n";
    for (int r = 0; r < region_count; ++r)
        out << "epoch_data_pages_" << region_names[r] << " " << g_region_sum[r] << "\n";
    // The kernel-image data pages the epochs touched, with the objects in
    // each (the first few, by address).
    for (auto& [page, epochs] : g_image_page_epochs) {
        out << "image_page " << epochs << " " << std::hex << (page << 12) << std::dec;
        uint64_t start = page << 12;
        auto it = std::upper_bound(g_data_symbols.begin(), g_data_symbols.end(), start,
                                   [](uint64_t a, const Symbol& s) { return a < s.start; });
        if (it != g_data_symbols.begin())
            --it;
        int shown = 0;
        for (; it != g_data_symbols.end() && it->start < start + 4096 && shown < 4; ++it) {
            if (it->start + it->size <= start)
                continue;
            out << " " << it->name;
            ++shown;
        }
        out << "\n";
    }
    // Every code page the epochs ran code in, and in how many epochs.
    for (auto& [page, epochs] : g_code_page_epochs)
        out << "code_page " << epochs << " " << std::hex << (page << 12) << std::dec << "\n";
    for (auto& [page, epochs] : g_data_page_epochs)
        out << "data_page " << epochs << " " << std::hex << (page << 12) << std::dec << " "
            << region_names[region_of(page)] << "\n";
    for (auto& [page, sites] : g_data_page_first) {
        for (auto& [vaddr, epochs] : sites)
            out << "data_page_first " << epochs << " " << std::hex << (page << 12) << " " << vaddr
                << std::dec << "\n";
    }
    std::vector<std::pair<uint64_t, int>> ranked;
    for (size_t i = 0; i < g_symbols.size(); ++i) {
        if (g_function_insns[i] != 0)
            ranked.push_back({g_function_insns[i], int(i)});
    }
    std::sort(ranked.rbegin(), ranked.rend());
    for (auto& [count, index] : ranked)
        out << "function " << count << " " << g_symbols[index].name << "\n";
    for (auto& [vaddr, count] : g_block_insns)
        out << "block " << std::hex << vaddr << std::dec << " " << count << " "
            << g_block_runs[vaddr] << "\n";
    for (auto& [vaddr, count] : g_user_block_insns)
        out << "user_block " << std::hex << vaddr << std::dec << " " << count << "\n";
}

void load_symbols(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        // nm -S -C: "<start> <size> <type> <name...>"
        std::istringstream fields(line);
        std::string start, size, type;
        if (!(fields >> start >> size >> type))
            continue;
        bool function = type == "t" || type == "T" || type == "W" || type == "w";
        bool object = type == "b" || type == "B" || type == "d" || type == "D" || type == "r" ||
                      type == "R" || type == "V" || type == "v" || type == "u";
        if (!function && !object)
            continue;
        std::string name;
        std::getline(fields, name);
        if (!name.empty() && name[0] == ' ')
            name.erase(0, 1);
        (function ? g_symbols : g_data_symbols)
            .push_back({std::stoull(start, nullptr, 16), std::stoull(size, nullptr, 16), name});
    }
    for (const auto* list : {&g_symbols, &g_data_symbols}) {
        for (const Symbol& symbol : *list) {
            if (symbol.start >= 0xffffffff80000000ull)
                g_image_end = std::max(g_image_end, symbol.start + symbol.size);
        }
    }
    auto by_start = [](const Symbol& a, const Symbol& b) { return a.start < b.start; };
    std::sort(g_symbols.begin(), g_symbols.end(), by_start);
    std::sort(g_data_symbols.begin(), g_data_symbols.end(), by_start);
    g_function_insns.assign(g_symbols.size(), 0);
    // Names are as nm prints them: "g_heap_lock", or mangled, "..._lockE".
    auto ends_with = [](const std::string& name, const std::string& suffix) {
        return name.size() > suffix.size() &&
               name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    for (const Symbol& object : g_data_symbols) {
        if (ends_with(object.name, "_lock") || ends_with(object.name, "_lockE"))
            g_locks.push_back(object);
    }
}

} // namespace

extern "C" QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t*,
                                                      int argc, char** argv) {
    for (int i = 0; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("syms=", 0) == 0)
            load_symbols(arg.substr(5));
        else if (arg.rfind("out=", 0) == 0)
            g_out = arg.substr(4);
        else {
            std::fprintf(stderr, "capos_profile: unknown argument '%s'\n", arg.c_str());
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    return 0;
}
