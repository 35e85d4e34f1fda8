// Compile check: the generated headers (schema/capos.capnp's, the checked-in golden
// and Cap'n Proto's test schema) built with the kernel's flags (freestanding, no
// exceptions, no RTTI, no SSE). Never linked: building this object is the test.
// The functions below instantiate the templates a kernel server and a userspace
// client use, so that their code is generated under those flags too; nothing here
// touches floating point, which the kernel must not.
#include "capnp/test.capnp.capos.h"
#include "schema/capos.capnp.capos.h"
#include "tools/capnpc-capos/testdata/golden.capnp.capos.h"

namespace {

namespace wire = capos::capnp;
namespace gen = capos::gen;
namespace schema = capos::schema;

struct KernelConsole {
    capos::Result<void, gen::Exception> write(schema::Console::WriteParams::Reader params,
                                              schema::Console::WriteResults::Builder) {
        length += params.text().size();
        return {};
    }
    capos::Result<void, gen::Exception> write_line(schema::Console::WriteLineParams::Reader,
                                                   schema::Console::WriteLineResults::Builder) {
        return capos::Err{
            gen::Exception{schema::ExceptionType::Unimplemented, "write_line refused"}};
    }
    size_t length = 0;
};

struct RingTransport {
    std::span<wire::Word> params_buffer() { return params; }
    gen::Reply call(uint32_t, uint64_t, uint16_t, std::span<const wire::Word>) {
        return {gen::ReplyKind::TransportError, -1, {}};
    }
    wire::Word params[64];
};

} // namespace

gen::DispatchResult capnp_kernel_check_dispatch(const wire::MessageReader& params,
                                                std::span<wire::Word> results, uint16_t method) {
    static KernelConsole console;
    return schema::Console::dispatch(console, method, params, results);
}

bool capnp_kernel_check_client() {
    static RingTransport transport;
    schema::Console::Client<RingTransport> console(transport, 1);
    return console.write_line("hello").is_ok();
}

// Trusted default messages are constant expressions, generated or hand-written.
static_assert(golden::schema::detail::const_f952ce48555c1296_message.is_trusted());
static_assert(gen::trusted_message<golden::schema::detail::const_f952ce48555c1296>().is_trusted());

wire::WireError capnp_kernel_check_validate(const wire::MessageReader& manifest) {
    auto init = gen::read_root<schema::SystemManifest>(manifest).init();
    (void)init.grants().size();
    (void)golden::schema::Outer::origin().mode();
    (void)golden::schema::Lists::Reader().texts_default()[1];
    (void)test::schema::TestDefaults::Reader().struct_list()[0].text_field();
    return gen::validate<schema::SystemManifest>(manifest);
}
