// Wire compatibility of the code generated from schema/capos.capnp with libcapnp,
// both directions: the boot manifest with its grants and unions, CapException,
// Grant's union of a group and a Void, ExitStatus, log entries. libcapnp's code
// for capos.capnp lives in the global namespace (the schema names none).
#include "schema/capos.capnp.capos.h"
#include "schema/capos.capnp.h"
#include "tests/capnp/message_util.h"
#include <capnp/schema.h>

namespace capnp_test {
namespace {

namespace ours = ::capos::schema;
namespace gen = ::capos::gen;

void init_manifest_theirs(::SystemManifest::Builder manifest) {
    manifest.setSchemaVersion(1);
    auto binaries = manifest.initBinaries(2);
    binaries[0].setName("init");
    binaries[0].setPath("bin/init");
    binaries[1].setName("shell");
    binaries[1].setPath("bin/shell");
    auto init = manifest.initInit();
    init.setProgram("init");
    auto grants = init.initGrants(2);
    grants[0].setName("console");
    grants[0].getSource().setKernel(::KernelCapability::CONSOLE);
    grants[1].setName("spawner");
    grants[1].setInterfaceId(0x1234567890abcdefull);
    grants[1].getSource().setKernel(::KernelCapability::PROCESS_SPAWNER);
    auto services = init.initServices(1);
    services[0].setName("shell");
    services[0].setBinary("shell");
    auto service_grants = services[0].initGrants(2);
    service_grants[0].setName("log");
    auto from_service = service_grants[0].getSource().initService();
    from_service.setService("logger");
    from_service.setExport("sink");
    service_grants[1].setName("inbox");
    service_grants[1].getSource().setEndpoint();
    auto exports = services[0].initExports(1);
    exports.set(0, "shell");
    services[0].setWaitForExit(true);
    services[0].initLimits().setFrames(4096);
    manifest.initKernel().setMessageOfTheDay("hello");
}

void check_manifest_ours(ours::SystemManifest::Reader manifest) {
    EXPECT_EQ(manifest.schema_version(), ours::current_schema_version);
    ASSERT_EQ(manifest.binaries().size(), 2u);
    EXPECT_EQ(manifest.binaries()[0].name(), "init");
    EXPECT_EQ(manifest.binaries()[1].path(), "bin/shell");
    auto init = manifest.init();
    EXPECT_EQ(init.program(), "init");
    ASSERT_EQ(init.grants().size(), 2u);
    EXPECT_EQ(init.grants()[0].name(), "console");
    EXPECT_EQ(init.grants()[0].interface_id(), 0u);
    ASSERT_TRUE(init.grants()[0].source().is_kernel());
    EXPECT_EQ(init.grants()[0].source().kernel(), ours::KernelCapability::Console);
    EXPECT_EQ(init.grants()[1].interface_id(), 0x1234567890abcdefull);
    EXPECT_EQ(init.grants()[1].source().kernel(), ours::KernelCapability::ProcessSpawner);
    ASSERT_EQ(init.services().size(), 1u);
    auto shell = init.services()[0];
    EXPECT_EQ(shell.name(), "shell");
    EXPECT_EQ(shell.binary(), "shell");
    ASSERT_EQ(shell.grants().size(), 2u);
    auto log = shell.grants()[0].source();
    ASSERT_EQ(log.which(), ours::CapGrant::Source::Which::Service);
    EXPECT_EQ(log.service().service(), "logger");
    EXPECT_EQ(log.service().export_(), "sink");
    EXPECT_TRUE(shell.grants()[1].source().is_endpoint());
    ASSERT_EQ(shell.exports().size(), 1u);
    EXPECT_EQ(shell.exports()[0], "shell");
    EXPECT_TRUE(shell.wait_for_exit());
    EXPECT_EQ(shell.limits().frames(), 4096u);
    EXPECT_EQ(shell.limits().capability_slots(), 0u);
    // KernelParameters.logLevel defaults to info.
    EXPECT_EQ(manifest.kernel().log_level(), ours::LogLevel::Info);
    EXPECT_EQ(manifest.kernel().message_of_the_day(), "hello");
}

void init_manifest_ours(ours::SystemManifest::Builder manifest) {
    manifest.set_schema_version(ours::current_schema_version);
    auto binaries = manifest.init_binaries(2);
    binaries[0].set_name("init");
    binaries[0].set_path("bin/init");
    binaries[1].set_name("shell");
    binaries[1].set_path("bin/shell");
    auto init = manifest.init_init();
    init.set_program("init");
    auto grants = init.init_grants(2);
    grants[0].set_name("console");
    grants[0].source().set_kernel(ours::KernelCapability::Console);
    grants[1].set_name("spawner");
    grants[1].set_interface_id(0x1234567890abcdefull);
    grants[1].source().set_kernel(ours::KernelCapability::ProcessSpawner);
    auto shell = init.init_services(1)[0];
    shell.set_name("shell");
    shell.set_binary("shell");
    auto service_grants = shell.init_grants(2);
    service_grants[0].set_name("log");
    auto from_service = service_grants[0].source().init_service();
    from_service.set_service("logger");
    from_service.set_export("sink");
    service_grants[1].set_name("inbox");
    service_grants[1].source().set_endpoint();
    shell.init_exports(1).set(0, "shell");
    shell.set_wait_for_exit(true);
    shell.init_limits().set_frames(4096);
    auto kernel = manifest.init_kernel();
    kernel.set_message_of_the_day("hello");
    EXPECT_EQ(kernel.log_level(), ours::LogLevel::Info);
}

TEST(CaposSchema, ManifestFromLibcapnp) {
    capnp::MallocMessageBuilder message;
    init_manifest_theirs(message.initRoot<::SystemManifest>());
    FramedMessage framed_message(framed(message));
    ASSERT_TRUE(framed_message.ok());
    EXPECT_EQ(gen::validate<ours::SystemManifest>(framed_message.reader()), wire::WireError::None);
    check_manifest_ours(gen::read_root<ours::SystemManifest>(framed_message.reader()));
    EXPECT_EQ(framed_message.reader().error(), wire::WireError::None);
}

TEST(CaposSchema, ManifestToLibcapnp) {
    std::vector<wire::Word> buffer(1024);
    wire::MessageBuilder builder(buffer);
    init_manifest_ours(gen::init_root<ours::SystemManifest>(builder));
    ASSERT_EQ(builder.error(), wire::WireError::None);
    LibcapnpReader libcapnp(builder.words());
    auto manifest = libcapnp.root<::SystemManifest>();
    EXPECT_EQ(manifest.getSchemaVersion(), 1u);
    ASSERT_EQ(manifest.getBinaries().size(), 2u);
    EXPECT_EQ(manifest.getBinaries()[1].getPath(), "bin/shell");
    auto init = manifest.getInit();
    EXPECT_EQ(init.getGrants()[0].getSource().getKernel(), ::KernelCapability::CONSOLE);
    EXPECT_EQ(init.getGrants()[1].getInterfaceId(), 0x1234567890abcdefull);
    auto shell = init.getServices()[0];
    ASSERT_EQ(shell.getGrants()[0].getSource().which(), ::CapGrant::Source::SERVICE);
    EXPECT_EQ(shell.getGrants()[0].getSource().getService().getExport(), "sink");
    EXPECT_EQ(shell.getGrants()[1].getSource().which(), ::CapGrant::Source::ENDPOINT);
    EXPECT_EQ(shell.getExports()[0], "shell");
    EXPECT_TRUE(shell.getWaitForExit());
    EXPECT_EQ(shell.getLimits().getFrames(), 4096u);
    EXPECT_EQ(manifest.getKernel().getLogLevel(), ::LogLevel::INFO);
    EXPECT_EQ(manifest.getKernel().getMessageOfTheDay(), "hello");

    // Canonical forms agree, and a manifest built by both sides is the same bytes.
    wire::MessageReader reader(builder.words());
    std::vector<wire::Word> ours_canonical = our_canonical(reader.root());
    EXPECT_EQ(ours_canonical, their_canonical(manifest));
    capnp::MallocMessageBuilder message;
    init_manifest_theirs(message.initRoot<::SystemManifest>());
    EXPECT_EQ(ours_canonical, their_canonical(message.getRoot<::SystemManifest>().asReader()));
}

TEST(CaposSchema, CapExceptionBothWays) {
    capnp::MallocMessageBuilder message;
    auto their = message.initRoot<::CapException>();
    their.setType(::ExceptionType::PERMISSION_DENIED);
    their.setMessage("no such right");
    their.setTruncated(true);
    FramedMessage framed_message(framed(message));
    ASSERT_TRUE(framed_message.ok());
    auto exception = gen::read_root<ours::CapException>(framed_message.reader());
    EXPECT_EQ(exception.type(), ours::ExceptionType::PermissionDenied);
    EXPECT_EQ(exception.message(), "no such right");
    EXPECT_TRUE(exception.truncated());

    std::vector<wire::Word> buffer(64);
    wire::MessageBuilder builder(buffer);
    auto ours_exception = gen::init_root<ours::CapException>(builder);
    ours_exception.set_type(ours::ExceptionType::InvalidArgument);
    ours_exception.set_message("bad length");
    LibcapnpReader libcapnp(builder.words());
    EXPECT_EQ(libcapnp.root<::CapException>().getType(), ::ExceptionType::INVALID_ARGUMENT);
    EXPECT_EQ(libcapnp.root<::CapException>().getMessage(), "bad length");
    EXPECT_FALSE(libcapnp.root<::CapException>().getTruncated());
}

TEST(CaposSchema, GrantAndExitStatusUnions) {
    std::vector<wire::Word> buffer(256);
    wire::MessageBuilder builder(buffer);
    auto params = gen::init_root<ours::ProcessSpawner::SpawnParams>(builder);
    params.set_name("worker");
    params.set_binary("bin/worker");
    auto grants = params.init_grants(2);
    grants[0].set_name("console");
    auto capability = grants[0].init_capability();
    capability.set_cap(3);
    capability.set_mode(ours::TransferMode::Move);
    grants[1].set_name("inbox");
    grants[1].set_new_endpoint();
    ASSERT_EQ(builder.error(), wire::WireError::None);

    LibcapnpReader libcapnp(builder.words());
    auto their = libcapnp.root<::ProcessSpawner::SpawnParams>();
    EXPECT_EQ(their.getName(), "worker");
    ASSERT_EQ(their.getGrants()[0].which(), ::Grant::CAPABILITY);
    EXPECT_EQ(their.getGrants()[0].getCapability().getMode(), ::TransferMode::MOVE);
    EXPECT_EQ(their.getGrants()[1].which(), ::Grant::NEW_ENDPOINT);
    // The capability pointer itself (libcapnp's capability table is empty here,
    // so only its presence can be checked on that side).
    EXPECT_TRUE(their.getGrants()[0].getCapability().hasCap());

    wire::MessageReader reader(builder.words());
    auto ours_params = gen::read_root<ours::ProcessSpawner::SpawnParams>(reader);
    EXPECT_TRUE(ours_params.grants()[0].is_capability());
    EXPECT_TRUE(ours_params.grants()[0].capability().has_cap());
    EXPECT_EQ(ours_params.grants()[0].capability().cap(), 3u);
    EXPECT_TRUE(ours_params.grants()[1].is_new_endpoint());
    EXPECT_EQ(gen::validate<ours::ProcessSpawner::SpawnParams>(reader), wire::WireError::None);

    capnp::MallocMessageBuilder message;
    auto status = message.initRoot<::ExitStatus>();
    auto faulted = status.initFaulted();
    faulted.setVector(14);
    faulted.setAddress(0xdeadbeef);
    faulted.setDetail("page fault");
    FramedMessage framed_message(framed(message));
    ASSERT_TRUE(framed_message.ok());
    auto ours_status = gen::read_root<ours::ExitStatus>(framed_message.reader());
    ASSERT_EQ(ours_status.which(), ours::ExitStatus::Which::Faulted);
    EXPECT_EQ(ours_status.faulted().vector(), 14);
    EXPECT_EQ(ours_status.faulted().address(), 0xdeadbeefu);
    EXPECT_EQ(ours_status.faulted().detail(), "page fault");
}

TEST(CaposSchema, LogEntriesToLibcapnp) {
    std::vector<wire::Word> buffer(256);
    wire::MessageBuilder builder(buffer);
    auto results = gen::init_root<ours::LogReader::ReadResults>(builder);
    auto entries = results.init_entries(2);
    entries[0].set_sequence(10);
    entries[0].set_level(ours::LogLevel::Warn);
    entries[0].set_source("kernel");
    entries[0].set_message("low memory");
    entries[1].set_sequence(11);
    entries[1].set_level(ours::LogLevel::Error);
    results.set_next_cursor(12);
    results.set_dropped(3);
    LibcapnpReader libcapnp(builder.words());
    auto their = libcapnp.root<::LogReader::ReadResults>();
    ASSERT_EQ(their.getEntries().size(), 2u);
    EXPECT_EQ(their.getEntries()[0].getLevel(), ::LogLevel::WARN);
    EXPECT_EQ(their.getEntries()[0].getMessage(), "low memory");
    EXPECT_EQ(their.getEntries()[1].getLevel(), ::LogLevel::ERROR);
    EXPECT_EQ(their.getNextCursor(), 12u);
    EXPECT_EQ(their.getDropped(), 3u);
}

TEST(CaposSchema, InterfaceIdsMatchLibcapnp) {
    EXPECT_EQ(ours::Console::interface_id, capnp::typeId<::Console>());
    EXPECT_EQ(ours::ProcessSpawner::interface_id, capnp::typeId<::ProcessSpawner>());
    EXPECT_EQ(ours::SystemManifest::type_id, capnp::typeId<::SystemManifest>());
    EXPECT_EQ(ours::CapException::type_id, capnp::typeId<::CapException>());
    EXPECT_EQ(static_cast<uint16_t>(ours::Console::Method::WriteLine), 1u);
}

// Every enum's count and names (enumerant_count, enumerant_name: what the
// kernel's log levels, its capability table and the test library's error
// names are built from) as libcapnp's reflection of the same schema has them.
template <typename Ours, typename Theirs>
void expect_enum_matches_libcapnp() {
    auto enumerants = capnp::Schema::from<Theirs>().getEnumerants();
    ASSERT_EQ(ours::enumerant_count(Ours{}), enumerants.size());
    for (uint16_t i = 0; i < enumerants.size(); ++i) {
        EXPECT_TRUE(is_known(static_cast<Ours>(i)));
        EXPECT_EQ(ours::enumerant_name(static_cast<Ours>(i)),
                  std::string_view(enumerants[i].getProto().getName().cStr()));
    }
    EXPECT_FALSE(is_known(static_cast<Ours>(enumerants.size())));
    EXPECT_EQ(ours::enumerant_name(static_cast<Ours>(enumerants.size())), "");
}

TEST(CaposSchema, EnumerantsMatchLibcapnp) {
    expect_enum_matches_libcapnp<ours::ExceptionType, ::ExceptionType>();
    expect_enum_matches_libcapnp<ours::Access, ::Access>();
    expect_enum_matches_libcapnp<ours::TransferMode, ::TransferMode>();
    expect_enum_matches_libcapnp<ours::LogLevel, ::LogLevel>();
    expect_enum_matches_libcapnp<ours::KernelCapability, ::KernelCapability>();
}

// The limits declared as schema constants, as libcapnp reads them.
TEST(CaposSchema, ConstantsMatchLibcapnp) {
    EXPECT_EQ(ours::max_process_name, ::MAX_PROCESS_NAME);
    EXPECT_EQ(ours::max_services, ::MAX_SERVICES);
    EXPECT_EQ(ours::EntropySource::max_fill, ::EntropySource::MAX_FILL);
    EXPECT_EQ(ours::BootPackage::max_read, ::BootPackage::MAX_READ);
    EXPECT_EQ(ours::LogSink::max_message, ::LogSink::MAX_MESSAGE);
    EXPECT_EQ(ours::current_schema_version, ::CURRENT_SCHEMA_VERSION);
}

} // namespace
} // namespace capnp_test
