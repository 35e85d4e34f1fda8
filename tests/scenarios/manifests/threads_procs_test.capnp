# user_threads_procs: init is threads_procs_test, which starts
# shootdown_child and threads_child with the thread spawner and control,
# park, memory and the timer.
@0xe1a27c3b5d490f68;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [
    (name = "threads_procs_test", path = "bin/threads_procs_test"),
    (name = "shootdown_child", path = "bin/shootdown_child"),
    (name = "threads_child", path = "bin/threads_child"),
    (name = "echo-server", path = "bin/echo_server"),
  ],
  init = (
    program = "threads_procs_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "spawner", source = (kernel = processSpawner)),
      (name = "timer", source = (kernel = timer)),
      (name = "vm", source = (kernel = virtualMemory)),
      (name = "threads", source = (kernel = threadSpawner)),
      (name = "thread", source = (kernel = threadControl)),
      (name = "park", source = (kernel = parkSpace)),
    ],
  ),
);
