// names: a Namespace service. Serves one namespace, held in memory, on the
// endpoint it is granted as "service": names (1 to 64 bytes, no NUL) bound
// to capabilities, which every holder of the endpoint may look up (a copy
// of the bound capability each time), rebind and unbind. At most
// Namespace.maxNames names; each holds one capability in this process's
// table (which the default resource limits leave room for).
//
// Grants: service (an endpoint's owner side); console for its lines, if
// given. It ends when its last client has gone, releasing every capability
// it held. The shell starts one with
//     spawn names with { service: new endpoint -> @names }
#include "schema/capos.capnp.capos.h"
#include "user/rt/line.h"
#include "user/rt/rt.h"
#include "user/rt/server.h"

#include <cstring>

namespace capos::names_service {
namespace {

using schema::FileError;
using schema::Namespace;

constexpr size_t max_name = 64;
// The bytes of names one list puts in its answer, so that it fits a
// caller's 4 KiB result buffer.
constexpr size_t list_name_bytes = 2048;

struct Binding {
    char name[max_name];
    uint8_t length;
    abi::CapId cap;
    std::string_view view() const { return {name, length}; }
};

class Service {
public:
    explicit Service(rt::Server& server) : m_server(server) {}
    // Lets go of every bound capability.
    void release_all() {
        for (uint32_t i = 0; i < m_count; ++i)
            (void)rt::release(m_bound[i].cap);
        m_count = 0;
    }

    using Result_ = Result<void, gen::Exception>;

    // Every call: the capabilities that came with it are this process's
    // now; it lets go of all but the one a bind keeps.
    gen::DispatchResult dispatch(const rt::ReceivedCall& call, capnp::MessageReader& params,
                                 std::span<capnp::Word> results) {
        m_kept = 0;
        gen::DispatchResult result = Namespace::dispatch(*this, call.header.interface_id,
                                                         call.header.method, params, results);
        for (const auto& record : call.capabilities)
            if (record.cap != m_kept)
                (void)rt::release(abi::CapId{record.cap});
        return result;
    }
    void released(uint32_t) {} // nothing is minted

    Result_ bind(Namespace::BindParams::Reader params, Namespace::BindResults::Builder results) {
        uint32_t cap = params.cap();
        if (!params.has_cap() || !came_with_call(cap))
            return refuse(results, FileError::Invalid);
        std::string_view name = params.name();
        if (FileError bad = check(name); bad != FileError::None)
            return refuse(results, bad);
        Binding* bound = find(name);
        if (bound != nullptr) {
            (void)rt::release(bound->cap);
        } else {
            if (m_count == Namespace::max_names)
                return refuse(results, FileError::NoSpace);
            bound = &m_bound[m_count++];
            std::memcpy(bound->name, name.data(), name.size());
            bound->length = static_cast<uint8_t>(name.size());
        }
        bound->cap = abi::CapId{cap};
        m_kept = cap;
        return {};
    }

    Result_ lookup(Namespace::LookupParams::Reader params,
                   Namespace::LookupResults::Builder results) {
        Binding* bound = found(params.name(), results);
        if (bound == nullptr)
            return {};
        results.set_cap(bound->cap.raw);
        // A copy goes with the answer; the binding keeps its own.
        if (!m_server.send_with_reply(bound->cap, abi::TransferMode::Copy))
            return Err{gen::Exception{schema::ExceptionType::Failed, "cannot send the capability"}};
        return {};
    }

    Result_ unbind(Namespace::UnbindParams::Reader params,
                   Namespace::UnbindResults::Builder results) {
        Binding* bound = found(params.name(), results);
        if (bound == nullptr)
            return {};
        (void)rt::release(bound->cap);
        // Later names move up one: the list stays in binding order.
        size_t at = static_cast<size_t>(bound - m_bound);
        std::memmove(&m_bound[at], &m_bound[at + 1], (m_count - at - 1) * sizeof(Binding));
        --m_count;
        return {};
    }

    Result_ list(Namespace::ListParams::Reader params, Namespace::ListResults::Builder results) {
        uint32_t from = params.from() < m_count ? params.from() : m_count;
        uint32_t count = 0;
        size_t bytes = 0;
        while (from + count < m_count && count < 64 &&
               bytes + m_bound[from + count].length <= list_name_bytes)
            bytes += m_bound[from + count++].length;
        auto names = results.init_names(count);
        for (uint32_t i = 0; i < count; ++i)
            names.set(i, m_bound[from + i].view());
        return {};
    }

private:
    static FileError check(std::string_view name) {
        if (name.empty() || name.find('\0') != std::string_view::npos)
            return FileError::BadName;
        if (name.size() > max_name)
            return FileError::NameTooLong;
        return FileError::None;
    }
    // The binding of `name`, or nullptr with the error answered.
    template <typename Results>
    Binding* found(std::string_view name, Results results) {
        FileError bad = check(name);
        Binding* bound = bad == FileError::None ? find(name) : nullptr;
        if (bound == nullptr)
            results.set_error(bad == FileError::None ? FileError::NotFound : bad);
        return bound;
    }
    Binding* find(std::string_view name) {
        for (uint32_t i = 0; i < m_count; ++i)
            if (m_bound[i].view() == name)
                return &m_bound[i];
        return nullptr;
    }
    bool came_with_call(uint32_t cap) const {
        for (const auto& record : m_server.current().capabilities)
            if (record.cap == cap)
                return true;
        return false;
    }
    template <typename Results>
    static Result_ refuse(Results results, FileError error) {
        results.set_error(error);
        return {};
    }

    rt::Server& m_server;
    Binding m_bound[Namespace::max_names];
    uint32_t m_count = 0;
    uint32_t m_kept = 0; // the capability the call being served binds
};

} // namespace
} // namespace capos::names_service

int main() {
    using namespace capos;
    using namespace capos::names_service;
    auto service = rt::find_capability("service");
    if (service.is_error()) {
        rt::Line line("names: needs 'service' (an endpoint)");
        (void)line.print();
        return 1;
    }
    static rt::Server server(service.value().id);
    static Service handler(server);
    int32_t ended = server.serve_calls(handler);
    handler.release_all();
    rt::Line line("names: no clients left (");
    line.add(abi::cqe_result_name(ended)).add(")");
    (void)line.print();
    return 0;
}
