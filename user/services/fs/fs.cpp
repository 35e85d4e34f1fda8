// fs: the filesystem service. Mounts the volume on the disk it is granted
// ("disk", a BlockDevice): the capOS filesystem (lib/fs/capfs) or FAT32
// (lib/fs/fat), found by what the disk holds, and serves it on the endpoint
// it is granted as "service": the endpoint's plain client facet is the
// volume's root Directory, and every Directory, File and Store it hands out
// is a client facet with a badge of its own, minted by the kernel with the
// answer that carries it (docs/storage.md "The
// filesystem service"). When the last copy of a facet is gone the kernel
// says so (a release notice) and the service lets go of its node: a file
// removed while open is freed then.
//
// One process serves one volume, one call at a time: each call is atomic
// and seen by every later call of every client. Paths are relative, below
// the directory called: no component may be ".", ".." or empty, so a
// Directory reaches nothing above it.
//
// Grants: disk, service (an endpoint's owner side), timer (timestamps: the
// machine has no wall clock yet, times count from boot), vm (the heap:
// caches and directory names); console for its lines. Arguments:
// "read-only" mounts the volume read-only; "cache=<MiB>" bounds the capfs
// block cache (16 by default), which keeps what was read and written, and
// grows with use up to that or until memory runs out. The cache, the 16 MiB
// of dirty blocks a commit may hold and the directories' indexes must fit
// the service's frames limit (64 MiB by default): a larger cache needs a
// larger limit (ServiceConfig.limits), or the service runs out of memory
// for the rest.
#include "lib/base/vector.h"
#include "lib/crypto/sha256.h"
#include "lib/fs/capfs/capfs.h"
#include "lib/fs/fat/fat.h"
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"
#include "user/services/fs/disk_io.h"

#include <cstring>

namespace capos::fs_service {
namespace {

using fs::FsError;
using fs::NodeId;
using schema::FileError;

void say(std::string_view text) {
    rt::Line line("fs: ");
    line.add(text);
    (void)line.print();
}

FileError to_file_error(FsError error) {
    switch (error) {
    case FsError::NotFound:
        return FileError::NotFound;
    case FsError::Exists:
        return FileError::Exists;
    case FsError::NotDirectory:
        return FileError::NotDirectory;
    case FsError::IsDirectory:
        return FileError::IsDirectory;
    case FsError::NotEmpty:
        return FileError::NotEmpty;
    case FsError::BadName:
        return FileError::BadName;
    case FsError::NameTooLong:
        return FileError::NameTooLong;
    case FsError::NoSpace:
        return FileError::NoSpace;
    case FsError::TooLarge:
        return FileError::TooLarge;
    case FsError::ReadOnly:
        return FileError::ReadOnly;
    case FsError::Corrupt:
        return FileError::Corrupt;
    case FsError::Io:
        return FileError::Io;
    case FsError::NoMemory: // answered as an exception before it gets here
    case FsError::Invalid:
        return FileError::Invalid;
    case FsError::NotSupported:
        return FileError::NotSupported;
    }
    return FileError::Invalid;
}

class TimerClock final : public fs::Clock {
public:
    explicit TimerClock(abi::CapId timer) : m_timer(rt::thread_transport(), timer.raw) {}
    uint64_t now_ns() override {
        auto now = m_timer.now();
        return now.is_ok() ? now.value().ns() : 0;
    }

private:
    schema::Timer::Client<rt::ThreadTransport> m_timer;
};

// What a badge names.
enum class Kind : uint8_t { Free, Directory, File, Store };
struct Object {
    Kind kind;
    NodeId node;
    uint32_t next_free; // a free slot: the next free one's index + 1
    uint32_t budget;    // the Budget its writes count against: index + 1, 0 none
};

// What a limited Directory (Directory.limit) and everything reached through
// it may add to files: bytes of file data, counted as they grow and counted
// back (down to nothing) as they are cut or removed. A budget made under
// another counts against both (parent). Held by the objects that count
// against it and by its children; freed with the last.
struct Budget {
    uint64_t limit;
    uint64_t used;      // at most limit
    uint32_t parent;    // index + 1, 0 none
    uint32_t refs;      // 0: a free slot
    uint32_t next_free; // a free slot: the next free one's index + 1
    uint32_t depth;     // 1 for a limit with no parent
};

// How deep limits nest: every write walks its budget's chain, so a client
// making limits of limits cannot make writes walk far.
constexpr uint32_t max_limit_depth = 16;

constexpr size_t max_path = 4096;
// The bytes of names one list puts in its answer, so that it fits a
// caller's 4 KiB result buffer.
constexpr size_t list_name_bytes = 2048;

class Service {
public:
    Service(fs::Volume& volume, rt::Server& server) : m_volume(volume), m_server(server) {}

    gen::DispatchResult dispatch(const rt::ReceivedCall& call, capnp::MessageReader& params,
                                 std::span<capnp::Word> results) {
        uint32_t badge = call.header.badge;
        Object root{Kind::Directory, m_volume.root(), 0, 0};
        m_current = badge == 0 ? &root : object(badge);
        if (m_current == nullptr)
            return gen::encode_exception<schema::CapException>(
                results, {schema::ExceptionType::Disconnected, "no such object"});
        uint64_t interface = call.header.interface_id;
        uint16_t method = call.header.method;
        gen::DispatchResult result;
        switch (m_current->kind) {
        case Kind::Directory:
            result = schema::Directory::dispatch(*this, interface, method, params, results);
            break;
        case Kind::File:
            result = schema::File::dispatch(*this, interface, method, params, results);
            break;
        case Kind::Store:
            result = schema::Store::dispatch(*this, interface, method, params, results);
            break;
        case Kind::Free:
            break;
        }
        m_current = nullptr;
        return result;
    }

    // The last copy of a badge's facet is gone.
    void released(uint32_t badge) {
        Object* gone = object(badge);
        if (gone == nullptr)
            return;
        m_volume.release(gone->node);
        drop_budget(gone->budget);
        *gone = {Kind::Free, 0, m_free_head, 0};
        m_free_head = badge;
    }

    using Result_ = Result<void, gen::Exception>;

    // --- Directory

    Result_ list(schema::Directory::ListParams::Reader params,
                 schema::Directory::ListResults::Builder results) {
        struct Collect final : fs::ListVisitor {
            struct Entry {
                uint32_t at; // in names
                uint16_t length;
                fs::NodeKind kind;
            };
            Entry entries[schema::Directory::max_list];
            char names[list_name_bytes];
            uint32_t count = 0, used = 0;
            bool entry(const fs::DirEntry& entry) override {
                if (count == schema::Directory::max_list ||
                    entry.name.size() > list_name_bytes - used)
                    return false;
                std::memcpy(names + used, entry.name.data(), entry.name.size());
                entries[count++] = {used, static_cast<uint16_t>(entry.name.size()), entry.kind};
                used += static_cast<uint32_t>(entry.name.size());
                return true;
            }
        };
        auto* collect = new (std::nothrow) Collect;
        if (collect == nullptr)
            return out_of_memory();
        auto listed = m_volume.list(m_current->node, params.cursor(), *collect);
        if (listed.is_error()) {
            delete collect;
            return fail(results, listed.error());
        }
        auto entries = results.init_entries(collect->count);
        for (uint32_t i = 0; i < collect->count; ++i) {
            auto entry = entries[i];
            entry.set_name({collect->names + collect->entries[i].at, collect->entries[i].length});
            entry.set_kind(collect->entries[i].kind == fs::NodeKind::Directory
                               ? schema::FileKind::Directory
                               : schema::FileKind::File);
        }
        results.set_next(listed.value() == fs::Volume::end_of_listing ? 0 : listed.value());
        delete collect;
        return {};
    }

    Result_ open(schema::Directory::OpenParams::Reader params,
                 schema::Directory::OpenResults::Builder results) {
        auto parent = resolve_parent(params.path());
        if (parent.is_error())
            return fail(results, parent.error());
        auto [dir, name] = parent.value();
        auto found = m_volume.lookup(dir, name);
        schema::OpenMode mode = params.mode();
        NodeId file;
        if (found.is_ok()) {
            if (mode == schema::OpenMode::CreateNew)
                return fail(results, FsError::Exists);
            file = found.value();
            auto stat = m_volume.stat(file);
            if (stat.is_error())
                return fail(results, stat.error());
            if (stat.value().kind != fs::NodeKind::File)
                return fail(results, FsError::IsDirectory);
            if (mode == schema::OpenMode::Truncate) {
                auto cut = m_volume.truncate(file, 0);
                if (cut.is_error())
                    return fail(results, cut.error());
                credit(m_current->budget, stat.value().size);
            }
        } else {
            if (found.error() != FsError::NotFound || mode == schema::OpenMode::Existing)
                return fail(results, found.error());
            auto created = m_volume.create(dir, name, fs::NodeKind::File);
            if (created.is_error())
                return fail(results, created.error());
            file = created.value();
        }
        return hand_out(results, Kind::File, file, m_current->budget, schema::File::interface_id,
                        [&](uint32_t cap) { results.set_file(cap); });
    }

    Result_ open_directory(schema::Directory::OpenDirectoryParams::Reader params,
                           schema::Directory::OpenDirectoryResults::Builder results) {
        auto dir = resolve(params.path());
        if (dir.is_error())
            return fail(results, dir.error());
        auto stat = m_volume.stat(dir.value());
        if (stat.is_error())
            return fail(results, stat.error());
        if (stat.value().kind != fs::NodeKind::Directory)
            return fail(results, FsError::NotDirectory);
        return hand_out(results, Kind::Directory, dir.value(), m_current->budget,
                        schema::Directory::interface_id,
                        [&](uint32_t cap) { results.set_directory(cap); });
    }

    Result_ make_directory(schema::Directory::MakeDirectoryParams::Reader params,
                           schema::Directory::MakeDirectoryResults::Builder results) {
        auto parent = resolve_parent(params.path());
        if (parent.is_error())
            return fail(results, parent.error());
        auto created =
            m_volume.create(parent.value().dir, parent.value().name, fs::NodeKind::Directory);
        if (created.is_error())
            return fail(results, created.error());
        return hand_out(results, Kind::Directory, created.value(), m_current->budget,
                        schema::Directory::interface_id,
                        [&](uint32_t cap) { results.set_directory(cap); });
    }

    Result_ remove(schema::Directory::RemoveParams::Reader params,
                   schema::Directory::RemoveResults::Builder results) {
        auto parent = resolve_parent(params.path());
        if (parent.is_error())
            return fail(results, parent.error());
        uint64_t freed = file_bytes(parent.value().dir, parent.value().name);
        TRY(done(results, m_volume.remove(parent.value().dir, parent.value().name)));
        credit(m_current->budget, freed);
        return {};
    }

    Result_ rename(schema::Directory::RenameParams::Reader params,
                   schema::Directory::RenameResults::Builder results) {
        auto from = resolve_parent(params.from());
        if (from.is_error())
            return fail(results, from.error());
        auto to = resolve_parent(params.to());
        if (to.is_error())
            return fail(results, to.error());
        // A file the move replaces is removed.
        uint64_t freed = file_bytes(to.value().dir, to.value().name);
        TRY(done(results, m_volume.rename(from.value().dir, from.value().name, to.value().dir,
                                          to.value().name)));
        credit(m_current->budget, freed);
        return {};
    }

    Result_ stat(schema::Directory::StatParams::Reader params,
                 schema::Directory::StatResults::Builder results) {
        auto node = resolve(params.path());
        if (node.is_error())
            return fail(results, node.error());
        return stat_of(results, node.value());
    }

    Result_ sync(schema::Directory::SyncParams::Reader,
                 schema::Directory::SyncResults::Builder results) {
        return done(results, m_volume.sync());
    }

    Result_ info(schema::Directory::InfoParams::Reader,
                 schema::Directory::InfoResults::Builder results) {
        fs::VolumeInfo volume = m_volume.info();
        auto info = results.init_info();
        info.set_format(volume.format);
        info.set_block_size(volume.block_size);
        info.set_blocks(volume.blocks);
        info.set_free_blocks(volume.free_blocks);
        info.set_read_only(volume.read_only);
        if (m_current->budget != 0) {
            const Budget& budget = m_budgets[m_current->budget - 1];
            info.set_quota(budget.limit);
            info.set_quota_used(budget.used);
        }
        return {};
    }

    Result_ store(schema::Directory::StoreParams::Reader,
                  schema::Directory::StoreResults::Builder results) {
        return hand_out(results, Kind::Store, m_current->node, m_current->budget,
                        schema::Store::interface_id, [&](uint32_t cap) { results.set_store(cap); });
    }

    Result_ limit(schema::Directory::LimitParams::Reader params,
                  schema::Directory::LimitResults::Builder results) {
        uint32_t parent = m_current->budget;
        uint32_t depth = parent == 0 ? 1 : m_budgets[parent - 1].depth + 1;
        if (depth > max_limit_depth)
            return Err{
                gen::Exception{schema::ExceptionType::Overloaded, "limits nest at most 16 deep"}};
        uint32_t budget = m_budget_free_head;
        if (budget != 0) {
            m_budget_free_head = m_budgets[budget - 1].next_free;
        } else {
            if (!m_budgets.append(Budget{}))
                return out_of_memory();
            budget = static_cast<uint32_t>(m_budgets.size());
        }
        m_budgets[budget - 1] = {params.bytes(), 0, parent, 1, 0, depth};
        if (parent != 0)
            ++m_budgets[parent - 1].refs;
        // The new facet holds the budget; without one it goes again.
        auto handed = hand_out(results, Kind::Directory, m_current->node, budget,
                               schema::Directory::interface_id,
                               [&](uint32_t cap) { results.set_directory(cap); });
        drop_budget(budget);
        return handed;
    }

    // --- File

    Result_ read(schema::File::ReadParams::Reader params,
                 schema::File::ReadResults::Builder results) {
        if (params.length() > schema::File::max_transfer)
            return fail(results, FsError::TooLarge);
        uint64_t size = 0;
        return read_into(results, m_current->node, params.offset(), params.length(), size);
    }

    Result_ write(schema::File::WriteParams::Reader params,
                  schema::File::WriteResults::Builder results) {
        if (params.data().size() > schema::File::max_transfer)
            return fail(results, FsError::TooLarge);
        uint64_t growth = 0;
        if (m_current->budget != 0 && !params.data().empty()) {
            auto stat = m_volume.stat(m_current->node);
            if (stat.is_error())
                return fail(results, stat.error());
            uint64_t end = params.offset() + params.data().size();
            if (end < params.offset())
                return fail(results, FsError::TooLarge);
            growth = end > stat.value().size ? end - stat.value().size : 0;
            if (!fits(m_current->budget, growth))
                return quota_exceeded(results);
        }
        TRY(done(results, m_volume.write(m_current->node, params.offset(), params.data())));
        charge(m_current->budget, growth);
        return {};
    }

    Result_ truncate(schema::File::TruncateParams::Reader params,
                     schema::File::TruncateResults::Builder results) {
        auto stat = m_volume.stat(m_current->node);
        if (stat.is_error())
            return fail(results, stat.error());
        uint64_t size = stat.value().size;
        uint64_t growth = params.size() > size ? params.size() - size : 0;
        if (!fits(m_current->budget, growth))
            return quota_exceeded(results);
        TRY(done(results, m_volume.truncate(m_current->node, params.size())));
        charge(m_current->budget, growth);
        credit(m_current->budget, size > params.size() ? size - params.size() : 0);
        return {};
    }

    Result_ stat(schema::File::StatParams::Reader, schema::File::StatResults::Builder results) {
        return stat_of(results, m_current->node);
    }

    Result_ sync(schema::File::SyncParams::Reader, schema::File::SyncResults::Builder results) {
        return done(results, m_volume.sync());
    }

    // --- Store: blobs in files named by their key in hexadecimal.

    Result_ put(schema::Store::PutParams::Reader params,
                schema::Store::PutResults::Builder results) {
        std::span<const uint8_t> data = params.data();
        if (data.size() > schema::Store::max_blob)
            return fail(results, FsError::TooLarge);
        crypto::Sha256Digest key = crypto::Sha256::of(data.data(), data.size());
        char name[64];
        hex_name(key.data(), name);
        NodeId dir = m_current->node;
        if (m_volume.lookup(dir, {name, 64}).is_error()) {
            if (!fits(m_current->budget, data.size()))
                return quota_exceeded(results);
            // Written under a name of its own, then renamed: a key never
            // names half a blob.
            constexpr std::string_view partial = "partial-blob";
            (void)m_volume.remove(dir, partial);
            auto created = m_volume.create(dir, partial, fs::NodeKind::File);
            if (created.is_error())
                return fail(results, created.error());
            auto wrote = m_volume.write(created.value(), 0, data);
            if (wrote.is_error()) {
                (void)m_volume.remove(dir, partial);
                return fail(results, wrote.error());
            }
            auto renamed = m_volume.rename(dir, partial, dir, {name, 64});
            if (renamed.is_error())
                return fail(results, renamed.error());
            charge(m_current->budget, data.size());
        }
        results.set_key({key.data(), key.size()});
        return {};
    }

    Result_ get(schema::Store::GetParams::Reader params,
                schema::Store::GetResults::Builder results) {
        if (params.length() > schema::Store::max_blob)
            return fail(results, FsError::TooLarge);
        auto blob = blob_of(params.key());
        if (blob.is_error())
            return fail(results, blob.error());
        uint64_t size = 0;
        TRY(read_into(results, blob.value(), params.offset(), params.length(), size));
        results.set_size(size);
        return {};
    }

    Result_ has(schema::Store::HasParams::Reader params,
                schema::Store::HasResults::Builder results) {
        auto blob = blob_of(params.key());
        if (blob.is_error() && blob.error() != FsError::NotFound)
            return fail(results, blob.error());
        results.set_present(blob.is_ok());
        return {};
    }

    Result_ delete_(schema::Store::DeleteParams::Reader params,
                    schema::Store::DeleteResults::Builder results) {
        if (params.key().size() != 32)
            return fail(results, FsError::BadName);
        char name[64];
        hex_name(params.key().data(), name);
        uint64_t freed = file_bytes(m_current->node, {name, 64});
        TRY(done(results, m_volume.remove(m_current->node, {name, 64})));
        credit(m_current->budget, freed);
        return {};
    }

private:
    struct Parent {
        NodeId dir;
        std::string_view name;
    };

    Object* object(uint32_t badge) {
        if (badge == 0 || badge > m_objects.size() || m_objects[badge - 1].kind == Kind::Free)
            return nullptr;
        return &m_objects[badge - 1];
    }

    // The path's components below the current directory: every one a
    // name (no ".", "..", empty ones or NUL), so none climbs out.
    Result<NodeId, FsError> walk(std::string_view path, size_t end) {
        NodeId at = m_current->node;
        if (end == 0)
            return at;
        for (size_t start = 0;;) {
            size_t slash = path.find('/', start);
            if (slash == std::string_view::npos || slash > end)
                slash = end;
            std::string_view name = path.substr(start, slash - start);
            TRY(fs::check_name(name)); // an empty part (a doubled '/') too
            at = TRY(m_volume.lookup(at, name));
            if (slash >= end)
                return at;
            start = slash + 1;
        }
    }
    Result<NodeId, FsError> resolve(std::string_view path) {
        if (path.size() > max_path)
            return Err{FsError::NameTooLong};
        if (!path.empty() && (path.front() == '/' || path.back() == '/'))
            return Err{FsError::BadName};
        return walk(path, path.size());
    }
    Result<Parent, FsError> resolve_parent(std::string_view path) {
        if (path.size() > max_path)
            return Err{FsError::NameTooLong};
        if (path.empty() || path.front() == '/' || path.back() == '/')
            return Err{FsError::BadName};
        size_t slash = path.rfind('/');
        std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
        TRY(fs::check_name(name));
        NodeId dir = TRY(walk(path, slash == std::string_view::npos ? 0 : slash));
        return Parent{dir, name};
    }

    // Up to `length` bytes of `node` from `offset` (fewer at its end) into
    // the results' data, read straight into the answer; the node's size.
    template <typename Results>
    Result_ read_into(Results results, NodeId node, uint64_t offset, uint32_t length,
                      uint64_t& size) {
        auto stat = m_volume.stat(node);
        if (stat.is_error())
            return fail(results, stat.error());
        size = stat.value().size;
        if (offset >= size)
            length = 0;
        else if (size - offset < length)
            length = static_cast<uint32_t>(size - offset);
        std::span<uint8_t> data = results.init_data(length);
        if (data.size() != length)
            return Err{gen::Exception{schema::ExceptionType::Failed, "results too large"}};
        auto read = m_volume.read(node, offset, data);
        if (read.is_error())
            return fail(results, read.error());
        return {};
    }

    static void hex_name(const uint8_t* key, char* name) {
        constexpr char digits[] = "0123456789abcdef";
        for (int i = 0; i < 32; ++i) {
            name[2 * i] = digits[key[i] >> 4];
            name[2 * i + 1] = digits[key[i] & 15];
        }
    }
    Result<NodeId, FsError> blob_of(std::span<const uint8_t> key) {
        if (key.size() != 32)
            return Err{FsError::BadName};
        char name[64];
        hex_name(key.data(), name);
        return m_volume.lookup(m_current->node, {name, 64});
    }

    // The bytes of the file `name` in `dir` names (0: none, or not a file).
    uint64_t file_bytes(NodeId dir, std::string_view name) {
        auto found = m_volume.lookup(dir, name);
        if (found.is_error())
            return 0;
        auto stat = m_volume.stat(found.value());
        return stat.is_ok() && stat.value().kind == fs::NodeKind::File ? stat.value().size : 0;
    }

    // Whether `budget` and those it was made under have room for `growth`.
    bool fits(uint32_t budget, uint64_t growth) const {
        for (; budget != 0; budget = m_budgets[budget - 1].parent) {
            const Budget& b = m_budgets[budget - 1];
            if (growth > b.limit - b.used)
                return false;
        }
        return true;
    }
    void charge(uint32_t budget, uint64_t growth) {
        for (; budget != 0; budget = m_budgets[budget - 1].parent)
            m_budgets[budget - 1].used += growth;
    }
    void credit(uint32_t budget, uint64_t freed) {
        for (; budget != 0; budget = m_budgets[budget - 1].parent) {
            Budget& b = m_budgets[budget - 1];
            b.used -= freed < b.used ? freed : b.used;
        }
    }
    // One holder of `budget` fewer; the last frees it, and lets go of its parent.
    void drop_budget(uint32_t budget) {
        while (budget != 0 && --m_budgets[budget - 1].refs == 0) {
            uint32_t parent = m_budgets[budget - 1].parent;
            m_budgets[budget - 1] = {0, 0, 0, 0, m_budget_free_head, 0};
            m_budget_free_head = budget;
            budget = parent;
        }
    }
    template <typename Results>
    static Result_ quota_exceeded(Results results) {
        results.set_error(FileError::QuotaExceeded);
        return {};
    }

    static Err<gen::Exception> out_of_memory() {
        return Err{gen::Exception{schema::ExceptionType::Overloaded,
                                  "the filesystem service is out of memory"}};
    }
    template <typename Results>
    Result_ fail(Results results, FsError error) {
        if (error == FsError::NoMemory)
            return out_of_memory();
        results.set_error(to_file_error(error));
        return {};
    }
    template <typename Results>
    Result_ done(Results results, Result<void, FsError> outcome) {
        if (outcome.is_error())
            return fail(results, outcome.error());
        return {};
    }
    template <typename Results>
    Result_ stat_of(Results results, NodeId node) {
        auto stat = m_volume.stat(node);
        if (stat.is_error())
            return fail(results, stat.error());
        auto out = results.init_stat();
        out.set_kind(stat.value().kind == fs::NodeKind::Directory ? schema::FileKind::Directory
                                                                  : schema::FileKind::File);
        out.set_size(stat.value().size);
        out.set_created_ns(stat.value().created_ns);
        out.set_modified_ns(stat.value().modified_ns);
        out.set_links(stat.value().links);
        return {};
    }

    // A new facet naming `node` as `kind`, moved to the caller with the
    // answer (set(cap) puts it in the results).
    // It counts its writes against `budget` (which it holds).
    template <typename Results, typename Set>
    Result_ hand_out(Results results, Kind kind, NodeId node, uint32_t budget,
                     uint64_t interface_id, Set&& set) {
        uint32_t badge = m_free_head;
        if (badge != 0) {
            m_free_head = m_objects[badge - 1].next_free;
        } else {
            if (!m_objects.append(Object{Kind::Free, 0, 0, 0}))
                return out_of_memory();
            badge = static_cast<uint32_t>(m_objects.size());
        }
        auto give_back = [&] {
            m_objects[badge - 1] = {Kind::Free, 0, m_free_head, 0};
            m_free_head = badge;
        };
        auto held = m_volume.hold(node);
        if (held.is_error()) {
            give_back();
            return fail(results, held.error());
        }
        // The kernel mints the facet as it delivers the answer: this
        // process never holds it, so the notice comes when the caller's
        // copies are gone (and none comes, but released() is called, when
        // the answer fails).
        if (!m_server.mint_with_reply(badge, interface_id)) {
            m_volume.release(node);
            give_back();
            return Err{gen::Exception{schema::ExceptionType::Overloaded, "no more objects"}};
        }
        m_objects[badge - 1] = {kind, node, 0, budget};
        if (budget != 0)
            ++m_budgets[budget - 1].refs;
        set(badge);
        return {};
    }

    fs::Volume& m_volume;
    rt::Server& m_server;
    Object* m_current = nullptr;
    Vector<Object> m_objects;
    uint32_t m_free_head = 0;
    Vector<Budget> m_budgets;
    uint32_t m_budget_free_head = 0;
};

// A whole number of MiB from 1 to 4096.
bool parse_mib(std::string_view text, uint64_t& mib) {
    if (text.empty() || text.size() > 4)
        return false;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value == 0 || value > 4096)
        return false;
    mib = value;
    return true;
}

// A transfer buffer of 64 pages: what one disk call moves at most.
constexpr uint32_t transfer_pages = 64;

// The receive buffer: a call of a File.write of maxTransfer bytes, and the
// answer to a read of as many after it.
alignas(8) capnp::Word g_buffer[2 * (schema::File::max_transfer / 8 + 256)];

} // namespace
} // namespace capos::fs_service

int main() {
    using namespace capos;
    using namespace capos::fs_service;
    auto disk = rt::find_capability("disk");
    auto service = rt::find_capability("service");
    auto timer = rt::find_capability("timer");
    if (disk.is_error() || service.is_error() || timer.is_error()) {
        say("needs 'disk' (BlockDevice), 'service' (an endpoint) and 'timer'");
        return 1;
    }
    bool read_only = false;
    uint64_t cache_mib = 16;
    auto args = rt::arguments();
    for (size_t i = 0; i < args.count(); ++i) {
        std::string_view arg = args[i];
        if (arg == "read-only") {
            read_only = true;
        } else if (arg.starts_with("cache=") && parse_mib(arg.substr(6), cache_mib)) {
        } else {
            rt::Line line("fs: unknown argument '");
            line.add(arg).add("' (read-only, cache=<MiB>)");
            (void)line.print();
            return 1;
        }
    }
    static DiskIo io;
    std::string_view why;
    if (!io.open(disk.value().id, transfer_pages, why)) {
        say(why);
        return 1;
    }
    static TimerClock clock(timer.value().id);
    fs::MountMode mode = read_only ? fs::MountMode::ReadOnly : fs::MountMode::ReadWrite;
    uint8_t first[4096];
    if (io.read(0, 4096 / io.sector_size(), first).is_error()) {
        say("cannot read the disk");
        return 1;
    }
    Result<fs::Volume*, fs::FsError> mounted = Err{fs::FsError::NotSupported};
    if (fs::capfs::probe(first, sizeof first)) {
        fs::capfs::Options options;
        options.mode = mode;
        options.cache_blocks = static_cast<uint32_t>(cache_mib * (1024 * 1024 / 4096));
        mounted = fs::capfs::mount(io, clock, options);
    } else if (fs::fat::probe(first, sizeof first)) {
        mounted = fs::fat::mount(io, clock, mode);
    }
    if (mounted.is_error()) {
        rt::Line line("fs: cannot mount the disk: ");
        line.add(mounted.error() == fs::FsError::NotSupported ? "no capfs or FAT32 volume on it"
                                                              : fs::to_string(mounted.error()));
        (void)line.print();
        return 1;
    }
    fs::Volume& volume = *mounted.value();
    fs::VolumeInfo info = volume.info();
    rt::Line line("fs: mounted ");
    line.add(info.format).add(" (").udec(info.blocks).add(" blocks of ").udec(info.block_size);
    line.add(", ").udec(info.free_blocks).add(" free").add(info.read_only ? ", read-only)" : ")");
    (void)line.print();
    rt::Server server(service.value().id, g_buffer);
    Service handler(volume, server);
    int32_t ended = server.serve_calls(handler);
    // No client is left: whatever they wrote goes to the disk.
    auto synced = volume.sync();
    rt::Line last("fs: no clients left (");
    last.add(abi::cqe_result_name(ended)).add(synced.is_ok() ? "), synced" : "), sync failed");
    (void)last.print();
    delete &volume;
    return synced.is_ok() ? 0 : 1;
}
