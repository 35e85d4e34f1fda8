# user_leak: init is leak_test, holding the spawner, the console and the
# timer; it starts trivial_child a thousand times and echo_server once.
@0xfda1b0a42891bb5f;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "leak_test", path = "bin/leak_test"),
    (name = "trivial-child", path = "bin/trivial_child"),
    (name = "echo-server", path = "bin/echo_server"),
  ],
  init = (
    program = "leak_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "timer", source = (kernel = timer)),
    ],
  ),
);
