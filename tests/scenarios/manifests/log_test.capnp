# user_log: init is log_test, holding the console, the kernel log's reader and
# a LogSink to write entries of its own.
@0x8c7fa1ab61290166;

using Capos = import "/schema/capos.capnp";

const manifest :Capos.SystemManifest = (
  schemaVersion = 1,
  binaries = [(name = "log_test", path = "bin/log_test")],
  init = (
    program = "log_test",
    grants = [
      (name = "console", source = (kernel = console)),
      (name = "log", source = (kernel = logReader)),
      (name = "sink", source = (kernel = logSink)),
    ],
  ),
);
