# user_threads: init is threads_test, holding the thread spawner and
# control, the memory its threads' stacks come from, and the timer.
@0xc3d0f2a6b81e4d57;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "threads_test", path = "bin/threads_test"),
  ],
  init = (
    program = "threads_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "timer", source = (kernel = timer)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "frames", source = (kernel = frameAllocator)),
      (name = "threads", source = (kernel = threadSpawner)),
      (name = "thread", source = (kernel = threadControl)),
      (name = "park", source = (kernel = parkSpace)),
    ],
  ),
);
