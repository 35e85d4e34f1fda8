# user_preempt: init is preempt_test, holding the spawner, the console and the
# timer; it starts two spinners.
@0xbe274176407b385c;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "preempt_test", path = "bin/preempt_test"),
    (name = "spinner", path = "bin/spinner"),
  ],
  init = (
    program = "preempt_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "timer", source = (kernel = timer)),
    ],
  ),
);
