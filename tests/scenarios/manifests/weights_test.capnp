# user_weights: init is weights_test, holding the spawner, the console and the
# timer; it starts two spin_childs of different CPU weights.
@0x92d72b76e6a80193;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "weights_test", path = "bin/weights_test"),
    (name = "spin_child", path = "bin/spin_child"),
  ],
  init = (
    program = "weights_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "timer", source = (kernel = timer)),
    ],
  ),
);
