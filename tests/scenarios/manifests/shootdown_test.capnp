# user_shootdown: init is shootdown_test, which starts shootdown_child with
# the thread spawner and control, memory and the timer.
@0xe1a27c3b5d490f68;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "shootdown_test", path = "bin/shootdown_test"),
    (name = "shootdown_child", path = "bin/shootdown_child"),
  ],
  init = (
    program = "shootdown_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "timer", source = (kernel = timer)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "threads", source = (kernel = threadSpawner)),
      (name = "thread", source = (kernel = threadControl)),
    ],
  ),
);
