# torture.threads: init is threads_torture (threads_test with every loop 200
# times longer), holding the thread spawner and control, park, the memory
# its threads' stacks come from, the frame allocator and the timer.
@0xd7a1c4e92b3f5a06;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "threads_torture", path = "bin/threads_torture"),
  ],
  init = (
    program = "threads_torture",
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
