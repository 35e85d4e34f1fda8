# user_spawn_errors: init is spawn_errors_test, holding the spawner, the
# console, the timer and Null. "not-a-program" names a file of the archive that
# is not an ELF program.
@0xc18782f895c157f9;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "spawn_errors_test", path = "bin/spawn_errors_test"),
    (name = "trivial-child", path = "bin/trivial_child"),
    (name = "grant-child", path = "bin/grant_child"),
    (name = "exit-code-child", path = "bin/exit_code_child"),
    (name = "trap-child", path = "bin/trap_child"),
    (name = "sleep-child", path = "bin/sleep_child"),
    (name = "slot-child", path = "bin/slot_child"),
    (name = "args-child", path = "bin/args_child"),
    (name = "spin-child", path = "bin/spin_child"),
    (name = "not-a-program", path = "etc/motd"),
    (name = "low-child", path = "bin/low_child"),
  ],
  init = (
    program = "spawn_errors_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "timer", source = (kernel = timer)),
      (name = "null", source = (kernel = null)),
    ],
  ),
);
