# user_fpu: init is fpu_test, holding the spawner, the console and the
# timer; it starts fpu_childs.
@0x9a09d9f7283a4971;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "fpu_test", path = "bin/fpu_test"),
    (name = "fpu_child", path = "bin/fpu_child"),
  ],
  init = (
    program = "fpu_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "timer", source = (kernel = timer)),
    ],
  ),
);
