# user_timer: init is timer_test, holding the console, the timer and the process
# inspector.
@0xe8e7f618d99a31c7;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "timer_test", path = "bin/timer_test")],
  init = (
    program = "timer_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "timer", source = (kernel = timer)),
      (name = "processes", source = (kernel = processInspector)),
    ],
  ),
);
