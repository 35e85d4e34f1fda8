# capOS: every interface the kernel and services speak, the boot manifest and the
# error type. This file is the single source of truth: the kernel's dispatch
# code, userspace clients and server skeletons are generated from it by
# tools/capnpc-capos (see docs/schema.md).
#
# Conventions:
# - Transport errors (bad ring entry, stale capability, wrong interface, peer
#   gone) are not here: they are negative CQE results (docs/abi.md).
# - Application errors travel as a serialized CapException.
# - Outcomes a caller is expected to handle (not found, denied, ...) are unions
#   in the results.
# - Capabilities in params and results are interface-typed fields: capability
#   pointers whose index names a capability moved or copied alongside the call.

@0xedb51761dd8268cf;

# ---------------------------------------------------------------------------
# Errors

enum ExceptionType {
  # Why a call failed, as a caller should react to it.

  failed @0;
  # The call could not complete; retrying the same call will not help.

  overloaded @1;
  # A resource was temporarily exhausted (queue full, quota reached); a later
  # retry may succeed.

  disconnected @2;
  # The object behind the capability is gone (its server exited).

  unimplemented @3;
  # The server does not implement this method.

  invalidArgument @4;
  # The params were well-formed Cap'n Proto but made no sense (a length too
  # large, an unaligned address, an unknown enum value).

  permissionDenied @5;
  # The capability does not carry the authority the call needs.
}

struct CapException {
  # An application error, returned instead of the method's results.

  type @0 :ExceptionType;
  # The kind of failure.

  message @1 :Text;
  # A human-readable explanation, for logs and people; not for matching.

  truncated @2 :Bool;
  # The server's exception did not fit the caller's result buffer and was cut.
}

# ---------------------------------------------------------------------------
# Console and time

interface Console {
  # Text output on the system console (the serial port in QEMU).

  write @0 (text :Text) -> ();
  # Writes `text` as it is.

  writeLine @1 (text :Text) -> ();
  # Writes `text` followed by a newline; the line is never interleaved with
  # other writers' output.
}

interface TerminalSession {
  # The terminal a person types at (the serial port COM1 in QEMU): lines read
  # with editing, text written. Only a holder reads what is typed; bytes
  # typed while nobody reads wait (a bounded amount) and are echoed when the
  # next readLine takes them.

  const maxLine :UInt32 = 1024;
  # The longest line, in bytes of UTF-8 (typing more rings the bell).

  readLine @0 (hidden :Bool, complete :Bool, initial :Text, cursor :UInt32,
               initialShown :Bool, insert :Text)
      -> (line :Text, end :LineEnd, cursor :UInt32);
  # Waits for the next line. The person edits it as they type (backspace,
  # Ctrl-U, Ctrl-W, arrows, Home/End, history with up/down); `hidden` shows
  # nothing of it (for a password) and keeps it out of the history. `end`
  # tells how it ended; `line` is empty unless it ended with a newline or a
  # completion. One readLine waits at a time: a second fails while the
  # first waits.
  #
  # Tab completion, for a caller that knows what the words may be (the
  # shell). With `complete`, Tab ends the line as `completion`: `line` is
  # the text typed so far and `cursor` the cursor's byte offset in it, and
  # the terminal still shows them. (Without `complete`, and always when
  # `hidden`, Tab is ignored.) The caller carries the line on with its next
  # readLine: `initial` is the line to start from (empty: an empty line, as
  # usual) and `cursor` the cursor's byte offset in it. With `initialShown`
  # the terminal shows them already, as the completion left them, and
  # nothing is redrawn; without it the line is written after whatever the
  # caller wrote last (its prompt again, under a list of candidates) and the
  # cursor put back. `insert` is then added at the cursor and shown as typed
  # text is (the rest of a completed name). `initial` and `insert` are text
  # that typing could have made (no control characters, well-formed UTF-8),
  # at most maxLine bytes together, and `cursor` falls between characters
  # of `initial`; otherwise invalidArgument.

  write @1 (text :Text) -> ();
  # Writes `text` as it is.

  waitInterrupt @2 () -> ();
  # Returns when Ctrl-C is typed while no readLine waits: how a shell learns
  # that the person wants the program in the foreground stopped. What was
  # typed before the Ctrl-C and not yet read is dropped with it. (While a
  # readLine waits, Ctrl-C ends that line instead, as `interrupted`.) One
  # waits at a time: a second fails while the first waits.
}

enum LineEnd {
  # How a TerminalSession line ended.

  newline @0;
  # Enter: `line` holds what was typed.

  interrupted @1;
  # Ctrl-C: the line was discarded.

  endOfInput @2;
  # Ctrl-D on an empty line.

  completion @3;
  # Tab, when readLine was asked to complete: `line` holds what was typed so
  # far, `cursor` where the cursor is in it.
}

interface SystemInfo {
  # What the machine runs and how much memory it has left. It grants nothing.

  motd @0 () -> (text :Text);
  # The message of the day (the boot archive's etc/motd; empty without one).

  build @1 () -> (text :Text);
  # What was built: the system, its version and the compiler.

  memory @2 () -> (totalFrames :UInt64, freeFrames :UInt64, usableBytes :UInt64,
                   heapInUseBytes :UInt64, heapFootprintFrames :UInt64);
  # Physical frames (4 KiB) the kernel manages and how many are free, the RAM
  # the firmware called usable, and the kernel heap: bytes allocated and the
  # frames it holds (it never shrinks).

  cpus @3 () -> (cpus :List(CpuInfo));
  # Every CPU the kernel knows: the boot CPU first, then the others in the
  # order they were started (one that did not start is listed offline).
}

struct CpuInfo {
  # One CPU, as SystemInfo.cpus shows it.

  index @0 :UInt32;
  # 0 for the boot CPU.

  apicId @1 :UInt32;
  # Its interrupt controller's id (the MADT's).

  online @2 :Bool;

  threadsRun @3 :UInt64;
  # Switches to a thread other than its idle one since it came online.

  idlePerMille @4 :UInt32;
  # The share of its time online spent halted with nothing to run, in
  # thousandths.

  runningProcess @5 :UInt32;
  # The id of the process whose thread it runs now (the caller's, on the
  # CPU that answers); 0 when it is idle or runs a kernel thread.

  lockWaitPerMille @6 :UInt32;
  # The share of its time online spent waiting for the kernel lock (which
  # another CPU held), in thousandths.

  lockWaits @7 :UInt64;
  # How many times it found the kernel lock taken.
}

enum ProcessState {
  # Where a process's busiest thread is (running before ready before
  # waiting).

  running @0;
  # On the CPU (the caller itself, when it lists).

  ready @1;
  # Waiting for the CPU.

  waiting @2;
  # Blocked in cap_enter, for completions or a deadline.

  ended @3;
  # It exited, faulted or was killed; a handle still refers to it.
}

struct ProcessInfo {
  # One process, as ProcessInspector shows it.

  id @0 :UInt32;
  name @1 :Text;
  state @2 :ProcessState;
  capabilities @3 :UInt32;
  # Capabilities it holds now.

  frames @4 :UInt64;
  # Physical frames charged to it (its memory and page tables).

  cpuTimeNs @5 :UInt64;
  # The CPU time its threads have used, in nanoseconds (up to each one's
  # last switch or timer tick).

  threads @6 :UInt32;
  # Its threads that have not ended (0 once it has ended).

  wakes @7 :UInt64;
  # Times one of its threads waiting in cap_enter was woken: by the
  # completions it waited for (once they have all come, not at each), a
  # deadline or a kill. Each is a switch to it; calls kept in flight together
  # cost one where one at a time cost one each.
}

interface ProcessInspector {
  # Every process there is, read only: it names processes and grants nothing.

  const maxList :UInt32 = 256;
  # The most processes one list returns (in id order, from `after`).

  list @0 (after :UInt32) -> (processes :List(ProcessInfo));
  # The processes with ids above `after` (0: from the first), at most maxList.
}

interface SystemControl {
  # The machine itself: whoever holds this can stop everything. The default
  # system gives it to the shell only.

  halt @0 () -> ();
  # Powers the machine off (QEMU exits with the status of a clean shutdown,
  # docs/abi.md "Exit codes"). Never answers.

  reboot @1 () -> ();
  # Resets the machine (the chipset's reset control, then the keyboard
  # controller's, then a triple fault). Never answers.
}

interface Timer {
  # A monotonic clock and sleeping.

  now @0 () -> (ns :UInt64);
  # Nanoseconds since boot; never decreases.

  sleep @1 (ns :UInt64) -> ();
  # Returns after at least `ns` nanoseconds.
}

interface EntropySource {
  # Random bytes from the kernel's CSPRNG, seeded from RDSEED/RDRAND.

  const maxFill :UInt32 = 4096;
  # The most bytes one fill returns.

  fill @0 (length :UInt32) -> (bytes :Data);
  # Returns `length` random bytes (at most maxFill per call; more is
  # invalidArgument).
}

# ---------------------------------------------------------------------------
# Memory

enum Access {
  # What a mapping permits. There is no writable-and-executable access: W^X
  # holds by construction, and for a MemoryObject across all its mappings in
  # every process (mapped readWrite anywhere, it cannot be mapped readExecute
  # anywhere, and the other way round: permissionDenied).

  read @0;
  readWrite @1;
  readExecute @2;
}

interface FrameAllocator {
  # Physical memory, handed out only as MemoryObjects: no physical address ever
  # reaches userspace.

  allocate @0 (pages :UInt32, contiguous :Bool) -> (memory :MemoryObject);
  # A new zeroed memory object of `pages` 4 KiB pages; `contiguous` asks for
  # physically contiguous frames (for devices). Charged to the caller's frame
  # quota; overloaded when the quota or memory is exhausted.
}

interface MemoryObject {
  # A set of pages that can be mapped into address spaces, possibly into
  # several processes at once. Released when the last capability goes.

  info @0 () -> (pages :UInt32, contiguous :Bool);
  # The object's size in pages and whether its frames are contiguous.

  map @1 (address :UInt64, offsetPages :UInt32, pages :UInt32, access :Access)
      -> (address :UInt64);
  # Maps `pages` pages starting at `offsetPages` at `address` in the caller's
  # address space (0: the kernel picks an address). Returns where it went.

  unmap @2 (address :UInt64) -> ();
  # Removes a mapping made by map at `address`.
}

interface VirtualMemory {
  # The caller's own address space: anonymous memory and reservations.

  map @0 (address :UInt64, length :UInt64, access :Access) -> (address :UInt64);
  # Maps `length` bytes of fresh zeroed memory at `address` (0: anywhere);
  # lengths and addresses are page multiples.

  unmap @1 (address :UInt64, length :UInt64) -> ();
  # Unmaps and frees a range mapped by map or commit.

  protect @2 (address :UInt64, length :UInt64, access :Access) -> ();
  # Changes the access of a mapped range.

  reserve @3 (address :UInt64, length :UInt64) -> (address :UInt64);
  # Reserves address space without memory behind it (0: anywhere).

  commit @4 (address :UInt64, length :UInt64, access :Access) -> ();
  # Backs part of a reservation with zeroed memory.

  decommit @5 (address :UInt64, length :UInt64) -> ();
  # Returns the memory behind part of a reservation; the range stays reserved.
}

# ---------------------------------------------------------------------------
# Processes

enum TransferMode {
  # How a capability travels with a call.

  copy @0;
  # The sender keeps its capability; the receiver gets another to the same object.

  move @1;
  # The sender's capability goes to the receiver; on any failure it stays with
  # the sender.
}

struct Grant {
  # One capability given to a new process, under a name in its CapSet.

  name @0 :Text;
  # The name the child looks the capability up by.

  union {
    capability :group {
      # One of the caller's capabilities.
      cap @1 :Capability;
      mode @2 :TransferMode;
    }
    newEndpoint @3 :Void;
    # A fresh endpoint: the child holds the owner side; the caller receives the
    # client side in the results (`endpoints`).

    servedEndpoint @4 :Void;
    # A fresh endpoint the caller serves: the child holds the client side,
    # which it cannot pass on (not transferable); the caller receives the
    # owner side in the results (`endpoints`). How the shell gives a program
    # its StdIO.
  }

  interfaceId @5 :UInt64;
  # 0, or the one interface the granted capability is to speak: a
  # `capability` that speaks any (an endpoint's plain client side) is given
  # to the child speaking only this one, and one that speaks another is
  # invalidArgument; a newEndpoint's client side (the caller's) or a
  # servedEndpoint's (the child's) speaks only this one. A call through it
  # naming another interface is WrongInterface, and the holder's CapSet
  # (and every copy it passes on) says what it speaks.
}

const maxProcessName :UInt32 = 31;
# The longest name of a process, in bytes (spawn's `name`, a manifest service's
# `name`); a name is 1 to maxProcessName bytes. Grant names and the number of
# grants are bounded by the CapSet page that lists them (abi/capset.h).

interface ProcessSpawner {
  # Starts programs from the boot package.

  spawn @0 (name :Text, binary :Text, grants :List(Grant), limits :ResourceLimits,
             args :List(Text))
      -> (handle :ProcessHandle, endpoints :List(Capability));
  # Starts boot binary `binary` as a process called `name` holding exactly
  # `grants`, bounded by `limits` (0 or absent: the kernel's defaults), with
  # `args` as its arguments (abi/args.h). `endpoints` holds the client side
  # of each newEndpoint grant and the owner side of each servedEndpoint
  # grant, in grant order. Errors: invalidArgument
  # (unknown binary, malformed ELF, bad or duplicate grant names, names too
  # long (maxProcessName; grant names and counts: abi/capset.h), more
  # arguments or argument bytes than abi/args.h allows, limits beyond the
  # kernel's maximums), permissionDenied (a granted capability the caller
  # does not hold, or one that cannot be transferred), overloaded (quota
  # exceeded).

  const maxBinaryList :UInt32 = 64;
  # The most names one `binaries` returns.

  binaries @1 (from :UInt32) -> (names :List(Text));
  # The names `spawn` takes as `binary` (the boot package's programs), in
  # the manifest's order: at most maxBinaryList of them, from the `from`-th
  # on (0 is the first; none past the last). It grants nothing: spawn would
  # tell the same, one name at a time.
}

struct ExitStatus {
  # How a process ended.
  union {
    exited @0 :Int64;
    # It called exit with this code.

    faulted :group {
      # The CPU stopped it.
      vector @1 :UInt8;
      # The exception vector (14 = page fault, 13 = general protection, ...).
      address @2 :UInt64;
      # The faulting instruction's address.
      detail @3 :Text;
      # What the kernel logged about it.
    }

    killed @4 :Void;
    # A holder of its ProcessHandle ended it (ProcessHandle.kill).
  }

  cpuTimeNs @5 :UInt64;
  # The CPU time its threads used, in nanoseconds.
}

interface ProcessHandle {
  # A process the caller started. Not transferable.

  wait @0 () -> (status :ExitStatus);
  # Returns once the process has ended (at once if it already has).

  kill @1 () -> ();
  # Ends the process (its status: killed) the next time it would run or
  # return to user mode, waking it if it waits; its calls are cancelled and
  # its capabilities and memory released as at any end. Returns at once;
  # `wait` tells when it has ended. Nothing happens to a process that has
  # already ended.

  setCpuWeight @2 (weight :UInt32) -> ();
  # Gives each of its threads CPU weight `weight` from now on (as
  # ResourceLimits.cpuWeight at spawn; docs/scheduling.md). Errors:
  # invalidArgument (0, or beyond the maximum, 10,000). Nothing happens to a
  # process that has ended.
}

# ---------------------------------------------------------------------------
# Threads

interface ThreadSpawner {
  # Starts threads in the caller's own process (docs/abi.md "Threads").

  spawn @0 (entry :UInt64, stackBottom :UInt64, stackTop :UInt64, argument :UInt64)
      -> (thread :ThreadHandle);
  # A new thread of the caller's process, with a ring of its own, that
  # starts at `entry` with rdi = its ring's address, rsi = `argument`, rdx =
  # the CapSet's, on the stack [stackBottom, stackTop) (the caller's memory,
  # writable): its TLS block (the program's PT_TLS template) and thread
  # control block go at the top, the FS base points at the control block and
  # rsp starts 16-byte aligned below the block. Errors: invalidArgument (an
  # entry or stack outside user space, or a stack not writable or too small
  # for the TLS block and 4 KiB), overloaded (64 threads already, out of
  # memory), failed (the process is ending).
}

interface ThreadHandle {
  # A thread its holder started. Not transferable. Releasing it detaches
  # the thread: it runs on, and nobody learns of its end.

  join @0 () -> (code :Int64);
  # Returns once the thread has ended, with the code it gave
  # ThreadControl.exitThread (at once if it has ended; 0 for a thread ended
  # by its process's end). Errors: failed (another join of it waits already).
}

interface ParkSpace {
  # Where threads park on 32-bit words of their memory: the PARK and UNPARK
  # ring operations name it (docs/abi.md "Park"). Words are told apart by
  # physical address, so threads of processes sharing memory park on the
  # same word wherever each maps it.
}

interface ThreadControl {
  # The calling thread's own settings: each thread that calls it acts on
  # itself.

  setFsBase @0 (base :UInt64) -> ();
  # The FS base (thread pointer) the calling thread runs with from now on.
  # Errors: invalidArgument (not below the end of user space).

  exitThread @1 (code :Int64, unmapAddress :UInt64, unmapLength :UInt64) -> ();
  # Ends the calling thread and is never answered; `code` goes to a join.
  # When it is the process's last thread, the process exits with `code`.
  # A nonzero `unmapLength` first unmaps that much anonymous memory at
  # `unmapAddress` (as VirtualMemory.unmap, once the thread runs no more
  # user code): a detached thread gives its own stack back. Nothing is
  # unmapped when that range is not wholly mapped memory; the thread ends
  # all the same.
}

# ---------------------------------------------------------------------------
# Boot package

interface BootPackage {
  # The boot archive's manifest, as handed to init.

  const maxRead :UInt32 = 4096;
  # The most bytes one readManifest returns.

  manifestSize @0 () -> (bytes :UInt64);
  # Size of the compiled SystemManifest message.

  readManifest @1 (offset :UInt64, length :UInt32) -> (data :Data);
  # Up to `length` bytes (at most maxRead; more is invalidArgument) of the
  # manifest from `offset`; fewer at its end, none past it.
}

interface SchemaRegistry {
  # Every capOS interface's schema at run time, for programs that call or
  # show capabilities they have no generated code for (the shell's `call`):
  # Cap'n Proto's CodeGeneratorRequest for schema/capos.capnp, as the build
  # compiled it (a framed message, the boot archive's etc/schema.bin). Read
  # in pieces like the manifest.

  size @0 () -> (bytes :UInt64);
  # Size of the compiled schema; 0 when the boot archive holds none.

  read @1 (offset :UInt64, length :UInt32) -> (data :Data);
  # Up to `length` bytes (at most BootPackage.maxRead; more is
  # invalidArgument) from `offset`; fewer at its end, none past it.
}

interface BootFiles {
  # The boot archive's files, read-only: what `cat` reads. Files are named by
  # their path in the archive ("etc/motd", "bin/hello"). Nothing can be
  # written, created or removed through it.

  const maxList :UInt32 = 64;
  # The most names one `list` returns.

  const maxRead :UInt32 = 4096;
  # The most bytes one `read` returns.

  list @0 (from :UInt32) -> (names :List(Text));
  # The archive's file names in archive order: at most maxList of them, from
  # the `from`-th on (0 is the first; none past the last).

  read @1 (name :Text, offset :UInt64, length :UInt32) -> (data :Data, size :UInt64);
  # Up to `length` bytes (at most maxRead; more is invalidArgument) of the
  # file `name` from `offset`: fewer at its end, none past it; `size` is the
  # whole file's size. Errors: failed ("no such file") for a name the
  # archive does not hold; a result buffer too small for `data` fails the call
  # (ResultTooSmall), so a reader asks for no more than its buffer holds.
}

interface Manual {
  # The manual: pages built into the boot archive (etc/man.bin). Section 1
  # has the shell's commands, section 2 every interface of this schema (made
  # from these doc comments), section 7 the concepts (capabilities, the
  # ring, grants, endpoints). What the shell's `man` and `apropos` read.

  const maxRead :UInt32 = 2048;
  # The most bytes of a page one `page` returns.

  const maxEntries :UInt32 = 16;
  # The most entries one `search` returns.

  page @0 (topic :Text, section :UInt8, offset :UInt32)
      -> (section :UInt8, title :Text, text :Text, size :UInt32);
  # The page `topic` (a command, an interface or a concept; case is ignored)
  # in `section`, or with section 0 in the first section that has one (1,
  # then 2, then 7). `text` is at most maxRead bytes of the page from
  # `offset` (none past its end) and `size` the whole page's bytes: a reader
  # asks again from offset + text's length until it has `size`. Errors:
  # failed ("no such page") for a topic no section (or not that section)
  # has; a result buffer too small for `text` fails the call
  # (ResultTooSmall).

  search @1 (word :Text, from :UInt32) -> (entries :List(ManualEntry), more :Bool);
  # The pages whose title or one-line summary holds `word` (case is
  # ignored), in section order: at most maxEntries of them, skipping the
  # first `from` matches; `more` when there are further matches. An empty
  # `word` is invalidArgument.
}

struct ManualEntry {
  # One page, as `search` lists it.

  section @0 :UInt8;
  title @1 :Text;
  summary @2 :Text;
  # The page's first line after its title: what it is about, in one line.
}

# ---------------------------------------------------------------------------
# Logging

enum LogLevel {
  # Severity, most severe first; a filter at one level passes it and all above.
  error @0;
  warn @1;
  info @2;
  debug @3;
}

struct LogEntry {
  # One line of the kernel log.
  sequence @0 :UInt64;
  # Position in the log; consecutive entries differ by one.
  timeNs @1 :UInt64;
  # Nanoseconds since boot.
  level @2 :LogLevel;
  source @3 :Text;
  # Who wrote it: "kernel", or a LogSink caller's name and process id
  # ("shell[3]").
  message @4 :Text;
}

interface LogSink {
  # Writes to the kernel log under the caller's name.

  const maxMessage :UInt32 = 512;
  # The longest message kept, in bytes.

  write @0 (level :LogLevel, message :Text) -> ();
  # Appends one entry; messages over maxMessage bytes are cut, a level the
  # schema does not name is invalidArgument.
}

interface LogReader {
  # Reads the kernel log's bounded ring: every entry logged, at every level,
  # whether or not the console showed it.

  read @0 (cursor :UInt64, maxEntries :UInt32, minLevel :LogLevel)
      -> (entries :List(LogEntry), nextCursor :UInt64, dropped :UInt64);
  # Entries from sequence `cursor` on, at `minLevel` or more severe: at most
  # `maxEntries`, and no more than the result buffer holds (one that holds
  # not even the first is ResultTooSmall). `nextCursor` is the sequence after
  # the last entry examined (a cursor past the newest moves to the end).
  # `dropped` counts entries that were overwritten before they could be read.
  # A level the schema does not name is invalidArgument.
}

# ---------------------------------------------------------------------------
# IPC

interface Endpoint {
  # A rendezvous for calls to a userspace server. The process that owns the
  # endpoint receives calls (RECV) and answers them (RETURN) on its ring;
  # holders of a client facet can only CALL, in whatever interface the facet
  # speaks. Endpoint is the owner's capability: the right to receive, not
  # transferable (client facets are), and the kernel serves its one method.
  # Each call arrives with the badge of the facet it came through (the
  # RecvHeader's `badge`): 0 for the plain facet a newEndpoint or
  # servedEndpoint grant or a manifest's endpoint grant hands out, the one
  # given to `mint` for the others, so one server on one endpoint can tell
  # its clients apart (an open file or socket each). When the last capability
  # naming a minted facet has gone (released, or its holders ended; copies
  # count as the same facet), the owner's RECV receives a release notice
  # (docs/abi.md, abi::endpoint_release_notice) carrying its badge, once,
  # after every call through that facet queued before it.

  mint @0 (badge :UInt32, interfaceId :UInt64) -> (client :Capability);
  # A new client facet of this endpoint: calls through it arrive with
  # `badge`, and it speaks `interfaceId` (recorded in the capability as any
  # capability's interface is: calls naming another interface are
  # WrongInterface, and a receiver's CapRecord or CapSet shows it; 0: any
  # interface, as the plain facet). Transferable; copies are the same facet.
  # At most abi::endpoint_max_minted facets of one endpoint exist at once,
  # each counting until its release notice is received; they are charged to
  # the caller's frames (docs/abi.md). Errors: invalidArgument (badge 0, the
  # plain facet's), overloaded (that bound, the frame quota, a full
  # capability table, no memory).
}

enum StdStream {
  # Which of a program's output streams a StdIO.write goes to.

  output @0;
  # Standard output: what the program makes.

  error @1;
  # Standard error: what went wrong.
}

enum StdInputEnd {
  # How a StdIO.readLine ended.

  line @0;
  # A line was typed (Enter): `text` holds it, without the newline.

  endOfInput @1;
  # No more input: Ctrl-D on an empty line, or a reader that may not read
  # (a background job).

  interrupted @2;
  # Ctrl-C: the line was dropped (the shell also stops the program).
}

interface StdIO {
  # A program's standard input, output and error: served through an endpoint
  # by whoever started it (the shell, for every program it runs or spawns),
  # never the terminal itself. The shell grants it as `stdio` without being
  # asked; it carries no authority but the shell's own service: output goes
  # where the shell puts it (its terminal), input is what the shell reads for
  # the program (a line typed while `run` waits for it).

  const maxWrite :UInt32 = 2048;
  # The most bytes one write takes.

  write @0 (stream :StdStream, data :Data) -> ();
  # Writes `data` as it is on `stream` (the shell: its terminal, for both).
  # More than maxWrite bytes, or a stream this schema does not name, is
  # invalidArgument and nothing is written.

  const maxLine :UInt32 = 1024;
  # The longest line readLine returns, in bytes.

  readLine @1 () -> (text :Text, end :StdInputEnd);
  # Waits for the next line of input, edited as it is typed; `end` tells how
  # it ended (`text` is empty unless a line was typed). A program in the
  # shell's background reads endOfInput at once.
}

interface Echo {
  # A demonstration service: answers every call with what it was sent. Served
  # by a userspace process through an endpoint.

  echo @0 (text :Text) -> (text :Text);
  # Returns `text` unchanged.
}

interface CapabilityBox {
  # A demonstration service that holds capabilities handed to it: shows
  # capabilities travelling between processes through an endpoint (copied or
  # moved, as the caller's transfer descriptors say).

  put @0 (cap :Capability) -> ();
  # Keeps `cap` (replacing what it held).

  take @1 () -> (cap :Capability);
  # Hands the held capability back, moving it out of the box; a null
  # capability when the box is empty.

  fill @2 () -> (held :UInt32);
  # Fills the server's own capability table (for testing transfers into a
  # full table); returns how many slots it now uses.
}

interface Null {
  # A capability that does nothing, for measuring the cost of a call.

  ping @0 () -> ();
  # Returns at once.
}

# ---------------------------------------------------------------------------
# Devices

interface DeviceInventory {
  # The PCI functions the kernel found at boot, read only: what the shell's
  # `devices` shows. It names devices and grants nothing: no register, memory
  # or interrupt of a device is reached through it. The kernel scans the
  # buses once, at boot (docs/devices.md), so every list sees the same
  # functions.

  const maxList :UInt32 = 64;
  # The most functions one list returns.

  list @0 (from :UInt32) -> (functions :List(PciFunction), total :UInt32);
  # The functions in address order (segment, bus, device, function) from the
  # `from`-th on (0 is the first; none past the last): at most maxList, and
  # no more than the result buffer holds (one that holds not even the first
  # is ResultTooSmall). `total` is how many the kernel recorded.
}

struct PciFunction {
  # One PCI function as the kernel read its configuration space at boot (PCI
  # Local Bus 3.0, 6.1; PCI-to-PCI Bridge 1.2, 3.2). What the device answered
  # was checked, not trusted: a malformed capability is listed but not
  # decoded, a BAR whose sizing read-back makes no window is left out.

  segment @0 :UInt16;
  bus @1 :UInt8;
  device @2 :UInt8;
  function @3 :UInt8;
  # Where it is: lspci's [segment:]bus:device.function.

  vendorId @4 :UInt16;
  deviceId @5 :UInt16;
  revision @6 :UInt8;

  classCode @7 :UInt8;
  subclass @8 :UInt8;
  progIf @9 :UInt8;
  # What it is: class 0x01, subclass 0x06, programming interface 0x01 is a
  # SATA controller speaking AHCI.

  subsystemVendorId @10 :UInt16;
  subsystemId @11 :UInt16;
  # The board it is built into (a device's header; 0 for a bridge).

  headerType @12 :UInt8;
  # 0 a device, 1 a PCI-to-PCI bridge, 2 a CardBus bridge.

  multiFunction @13 :Bool;
  # The header's multi-function bit: function 0's says whether the device
  # has others.

  interruptPin @14 :UInt8;
  # 0 none, 1 to 4 INTA# to INTD#.

  interruptLine @15 :UInt8;
  # What the firmware wrote there (a legacy interrupt line); the kernel
  # routes nothing by it.

  secondaryBus @16 :UInt8;
  subordinateBus @17 :UInt8;
  # A bridge's: the bus right behind it and the last bus below it (0 for a
  # device).

  bars @18 :List(Bar);
  # The base address registers that decode a window, by register index
  # (a 64-bit one takes its index and the next).

  capabilities @19 :List(CapabilityEntry);
  # The capability list in list order: its first 16 entries.

  capabilityCount @20 :UInt8;
  # Every entry of the list (more than `capabilities` holds for a long one).

  capabilityListEnd @21 :CapabilityListEnd;

  msi @22 :Msi;
  # The first MSI capability; null when there is none or it is malformed.

  msix @23 :Msix;
  # The first MSI-X capability; null when there is none or it is malformed.

  struct Bar {
    # One base address register, sized at boot (all ones written with the
    # function's decoding off, read back, the value put back).

    index @0 :UInt8;
    # The register, 0 to 5 (0 or 1 for a bridge).

    kind @1 :BarKind;
    prefetchable @2 :Bool;
    address @3 :UInt64;
    # Where the firmware placed the window (a bus address).

    size @4 :UInt64;
    # Bytes, a power of two.
  }

  enum BarKind {
    memory32 @0;
    memory64 @1;
    io @2;
  }

  struct CapabilityEntry {
    id @0 :UInt8;
    # PCI Code and ID Assignment: 0x01 power management, 0x05 MSI, 0x09
    # vendor specific, 0x10 PCI Express, 0x11 MSI-X, ...

    offset @1 :UInt8;
    # Where it lies in configuration space.
  }

  enum CapabilityListEnd {
    # How the walk of the capability list ended.

    complete @0;
    # At a next pointer of 0, or there is no list.

    badPointer @1;
    # At a pointer into the header, past the space, or without room for its
    # entry.

    loop @2;
    # After more entries than the space can hold: the list loops.
  }

  struct Msi {
    # Message Signalled Interrupts as the device offers them (PCI 3.0, 6.8.1).
    # Read only: nothing programs them yet.

    offset @0 :UInt8;
    enabled @1 :Bool;
    address64 @2 :Bool;
    perVectorMasking @3 :Bool;
    vectorsCapable @4 :UInt8;
    # 1, 2, 4, 8, 16 or 32.

    vectorsEnabled @5 :UInt8;
  }

  struct Msix {
    # MSI-X as the device offers it (PCI 3.0, 6.8.2): its vector table and
    # pending-bit array, each in one of its BARs at an offset.

    offset @0 :UInt8;
    enabled @1 :Bool;
    functionMasked @2 :Bool;
    tableSize @3 :UInt16;
    # Entries, 1 to 2048.

    tableBar @4 :UInt8;
    tableOffset @5 :UInt32;
    pbaBar @6 :UInt8;
    pbaOffset @7 :UInt32;
  }
}

struct DeviceSelector {
  # A PCI function as a manifest names it for a driver: by what it is, or
  # by where it is.

  union {
    identity :group {
      vendorId @0 :UInt16;
      deviceId @1 :UInt16;
      index @2 :UInt16;
      # Of the functions with these ids, the index-th in address order (0:
      # the first).
    }
    address :group {
      segment @3 :UInt16;
      bus @4 :UInt8;
      device @5 :UInt8;
      function @6 :UInt8;
    }
  }

  unisolatedDma @7 :Bool;
  # Whether its driver is trusted with DMA that nothing isolates: on a
  # machine without an IOMMU a device reaches all of memory, so Device gives
  # DMA memory there only to a claim that says so (docs/devices.md).

  optional @8 :Bool;
  # In a service's grant: when no function matches, init does not start the
  # service (and says so) instead of refusing it, and leaves grants of the
  # service's exports out of later services (a disk's driver where no such
  # disk is attached).
}

interface DeviceManager {
  # The ledger of claimed PCI functions (docs/devices.md): each function is
  # held by one claim at a time. Granted to init, which claims the functions
  # the manifest's grants name and hands each Device to its driver.

  claim @0 (selector :DeviceSelector) -> (device :Device);
  # The function `selector` names, claimed: failed when no function matches,
  # when it is a bridge or a host bridge, or when it is claimed already (or
  # a mapping of its registers from an earlier claim is still in place).

  present @1 (selector :DeviceSelector) -> (present :Bool);
  # Whether a function matches `selector` (claimed or not).
}

interface Device {
  # One claimed PCI function: its registers, its interrupts and memory it
  # may reach by DMA. Bus mastering is on while the claim lasts. The claim
  # ends when the last capability to this Device goes (its holder releases
  # it or ends): bus mastering and message-signalled interrupts go off, and
  # every DeviceMmio, Interrupt, DMAPool and DMABuffer of the claim then
  # fails as disconnected.

  info @0 () -> (function :PciFunction, dmaIsolated :Bool);
  # The function as the kernel read it at boot; `dmaIsolated`: an IOMMU
  # confines its DMA to the claim's own buffers.

  mmio @1 (bar :UInt8) -> (region :DeviceMmio);
  # The memory window of base address register `bar` (invalidArgument for
  # an I/O or absent BAR, or one not page aligned).

  interrupt @2 (entry :UInt16) -> (interrupt :Interrupt);
  # Entry `entry` of the function's MSI-X table, routed to a vector of its
  # own (or its MSI, entry 0, when it has no MSI-X); one Interrupt per entry.

  dmaPool @3 (pages :UInt32) -> (pool :DMAPool);
  # A budget of `pages` 4 KiB pages of DMA memory, charged to the caller's
  # frame quota as its buffers are made. permissionDenied without an IOMMU
  # unless the manifest trusts the claim with unisolated DMA.

  config @4 (offset :UInt16, length :UInt16) -> (data :Data);
  # Reads `length` bytes of the function's configuration space from
  # `offset` (a driver finds its device's own capabilities there, such as
  # virtio's): inside its first 256 bytes (invalidArgument past them).
  # Read only: the kernel programs the function's command register and
  # interrupts.

  reset @5 () -> ();
  # Quiesces the function as the claim's end does (bus mastering and
  # interrupts off, DMA memory gone: unreachable by the device before this
  # answers) and starts afresh: every DeviceMmio, DevicePorts, Interrupt,
  # DMAPool and DMABuffer made before fails as disconnected; this Device
  # goes on. The device's own state is the driver's to reset through its
  # registers.

  ports @6 (bar :UInt8) -> (ports :DevicePorts);
  # The I/O port range of base address register `bar` (invalidArgument for
  # a memory or absent BAR): the registers of a device that has them in I/O
  # space, such as a legacy virtio device's.
}

interface DeviceMmio {
  # One BAR's memory window: the device's registers.

  info @0 () -> (bar :UInt8, bytes :UInt64);
  # Which BAR, and the window's size in bytes.

  map @1 (address :UInt64) -> (address :UInt64);
  # Maps the whole window at `address` (0: the kernel picks), uncached,
  # readable and writable. The kernel reads and writes none of it for the
  # caller: a buffer passed to any call must not lie there. The pages of
  # the function's MSI-X table and pending bits are left out (the kernel
  # programs those): touching them faults.

  unmap @2 (address :UInt64) -> ();
  # Removes a mapping made by map at `address`.
}

interface DevicePorts {
  # One BAR's I/O port range. Each access is a call: the kernel does the
  # port read or write, inside the range only. For registers a driver
  # touches rarely or once per batch (a legacy virtio device's setup and
  # queue notifications); a device's hot registers belong in memory BARs.

  info @0 () -> (bar :UInt8, count :UInt32);
  # Which BAR, and how many ports it has.

  read @1 (offset :UInt32, width :UInt8) -> (value :UInt32);
  # Reads the `width`-byte register (1, 2 or 4) at `offset` from the
  # range's first port: invalidArgument for another width, an offset that
  # is not a multiple of the width, or a register past the range.

  write @2 (offset :UInt32, width :UInt8, value :UInt32) -> ();
  # Writes the low `width` bytes of `value` there, with read's checks.
}

interface Interrupt {
  # A message-signalled interrupt of a claimed function. Interrupts are
  # counted as they arrive; those past the count last acknowledged are
  # pending.

  wait @0 () -> (count :UInt64);
  # Answered when an interrupt is pending (at once if one is): the count so
  # far. One wait at a time (overloaded for a second).

  acknowledge @1 (count :UInt64) -> ();
  # The interrupts up to `count` are handled (acknowledge before looking at
  # the device: one that arrives meanwhile stays pending). invalidArgument
  # past the count.

  mask @2 () -> ();
  # Sets the MSI-X entry's mask bit: the device holds its messages back
  # (unimplemented for an MSI).

  unmask @3 () -> ();
  # Clears it: a message held back arrives now.
}

interface DMAPool {
  # DMA memory of one claim, up to its budget.

  info @0 () -> (pages :UInt32, used :UInt32);
  # The budget and how much of it buffers take.

  allocate @1 (pages :UInt32) -> (buffer :DMABuffer);
  # A zeroed buffer of `pages` pages, contiguous at its device address.
  # Without an IOMMU its frames are returned when the claim ends (the device
  # may still write to a buffer its driver let go), and count against the
  # budget until then.
}

interface DMABuffer {
  # Memory the claim's device reaches by DMA.

  info @0 () -> (pages :UInt32, deviceAddress :UInt64);
  # Where the device sees it: its physical address without an IOMMU.

  map @1 (address :UInt64) -> (address :UInt64);
  # Maps the whole buffer into the caller, readable and writable (0: the
  # kernel picks the address).

  unmap @2 (address :UInt64) -> ();
  # Removes a mapping made by map at `address`.

  memory @3 () -> (memory :MemoryObject);
  # A MemoryObject of the same pages, to hand to a client that reads and
  # writes them itself (a transfer buffer the device fills directly).
}

# ---------------------------------------------------------------------------
# Storage

interface BlockDevice {
  # One disk, served by its driver: one capability per disk. Blocks are
  # numbered from 0; every transfer is of whole blocks.

  const maxInline :UInt32 = 4096;
  # The most bytes a readBlocks or writeBlocks carries in its message; more
  # goes through a transfer buffer.

  info @0 () -> (blockSize :UInt32, blocks :UInt64, maxBlocks :UInt32,
                 readOnly :Bool, model :Text);
  # The block size in bytes, the disk's size in blocks, the most blocks one
  # call moves, whether writes are refused, and what the device calls itself.

  readBlocks @1 (lba :UInt64, count :UInt32, buffer :UInt32, offset :UInt64)
      -> (data :Data);
  # Reads `count` blocks from block `lba`: into transfer buffer `buffer`
  # at byte `offset`, or, with buffer 0, into `data` (at most maxInline
  # bytes). invalidArgument for a count of 0 or past maxBlocks, blocks past
  # the disk's end, a range past the buffer's end, or an offset in the
  # buffer the device cannot start a transfer at (an NVMe controller's data
  # starts on a multiple of 4 bytes); failed when the device reports an
  # error.

  writeBlocks @2 (lba :UInt64, count :UInt32, buffer :UInt32, offset :UInt64,
                  data :Data) -> ();
  # Writes `count` blocks at block `lba` from transfer buffer `buffer` at
  # byte `offset`, or, with buffer 0, from `data` (exactly count blocks).
  # Refused as readBlocks is, and permissionDenied on a read-only disk. The
  # blocks may sit in the device's cache until a flush.

  flush @3 () -> ();
  # Answered once every write answered before it is on stable storage.

  transferBuffer @4 (pages :UInt32) -> (memory :MemoryObject, buffer :UInt32);
  # A buffer of `pages` 4 KiB pages that the device reads and writes
  # directly: map `memory`, and name `buffer` in readBlocks and writeBlocks.
  # overloaded when the driver has none left to give.
}

# ---------------------------------------------------------------------------
# Networking

struct NicFrame {
  # One Ethernet frame in a buffer of a Nic's frame memory: destination and
  # source addresses, type and payload, without the frame check sequence.

  buffer @0 :UInt16;
  # Which buffer of the frame memory holds it (Nic.buffers).

  length @1 :UInt16;
  # Its bytes, from the buffer's start: 14 (the Ethernet header) to
  # Nic.maxFrame.

  checksumStart @2 :UInt16;
  # Sending, with checksumOffload: the device computes the Internet checksum
  # of the frame's bytes from checksumStart to its end and stores it at
  # checksumStart + checksumOffset (the sender leaves the pseudo-header's
  # sum there). 0: the frame goes as it is.

  checksumOffset @3 :UInt16;
  # Where the checksum goes, counted from checksumStart.

  checksumValid @4 :Bool;
  # Received: the device has checked the checksums of the frame's TCP or UDP
  # packet (the receiver need not). False says nothing either way.
}

interface Nic {
  # One network interface, served by its driver: Ethernet frames sent and
  # received in batches through memory the driver shares with its holder
  # (the frame memory), so that frames are never copied into messages.
  #
  # The frame memory holds receiveBuffers + sendBuffers buffers of
  # frameBytes bytes each, the receive buffers first. A receive buffer is
  # the device's until a receive hands it to the holder with its frame, and
  # the device's again once the holder gives it back; a send buffer is the
  # holder's except from a send that names it until that send's answer. The
  # driver reads nothing the holder writes in the frame memory: a holder
  # that writes where it should not spoils its own frames only.

  const frameBytes :UInt32 = 2048;
  # Bytes per buffer.

  const maxFrame :UInt32 = 1514;
  # The longest frame sent or received (an MTU of 1500).

  const maxBatch :UInt32 = 64;
  # The most frames one send or receive moves.

  info @0 () -> (mac :Data, mtu :UInt16, linkUp :Bool, checksumOffload :Bool,
                 receiveBuffers :UInt16, sendBuffers :UInt16, model :Text);
  # The interface's 6-byte MAC address and MTU, whether its link is up,
  # whether the device computes checksums of frames sent (NicFrame's
  # checksumStart), how many buffers of each kind the frame memory has, and
  # what the driver calls the device.

  buffers @1 () -> (memory :MemoryObject);
  # The frame memory, to map. Starts the holder's use of it afresh: every
  # receive buffer a holder was given and did not give back goes back to
  # the device (a network stack started again after a crash takes over
  # cleanly).

  receive @2 (done :List(UInt16)) -> (frames :List(NicFrame));
  # Gives back the receive buffers in `done` (their frames read), then
  # answers with the frames received since the last receive, at most
  # maxBatch, oldest first: at once when there are any, else when the next
  # arrives. invalidArgument (nothing given back) for a buffer that is not
  # a receive buffer the holder has; overloaded while another receive
  # waits.

  send @3 (frames :List(NicFrame)) -> ();
  # Sends the frames, in order, each from its send buffer; answered once the
  # device has taken them all (their buffers are the holder's again).
  # invalidArgument (nothing sent) for a buffer that is not a send buffer,
  # or is one an unanswered send holds or another frame of this one names,
  # a length outside 14 to maxFrame, a checksum without checksumOffload or
  # whose place lies outside the frame, or more than maxBatch frames.
}

enum DhcpState {
  # Where an interface's DHCPv4 client is.

  off @0;
  # Not running: the address is static, or there is none.

  searching @1;
  # Asking for a lease (discovering, requesting, or starting again).

  bound @2;
  # Holding a lease, renewed before it ends.
}

struct NetInterface {
  # One interface of a network stack, as NetworkManager.interfaces says it.

  name @0 :Text;
  # The stack's name for it ("en0").

  mac @1 :Data;
  # Its 6-byte MAC address.

  mtu @2 :UInt16;
  # The largest IP packet it carries.

  linkUp @3 :Bool;
  # Whether its link is up, as its driver said last.

  ipv4 @4 :Data;
  # Its IPv4 address (4 bytes), empty while it has none.

  ipv4PrefixLength @5 :UInt8;
  # The length of its IPv4 network's prefix (24 for 255.255.255.0).

  ipv4Gateway @6 :Data;
  # The default route's gateway (4 bytes), empty when there is none.

  dhcp @7 :DhcpState;
  # Its DHCPv4 client's state.

  ipv6 @8 :List(Data);
  # Its IPv6 addresses (16 bytes each) that are valid: link-local first,
  # then those made from routers' prefixes (SLAAC).

  dnsServers @9 :List(Data);
  # The DNS servers it learned (4 or 16 bytes each), from DHCPv4 or
  # DHCPv6.

  framesReceived @10 :UInt64;
  # Frames its driver handed to the stack.

  framesSent @11 :UInt64;
  # Frames the stack handed to its driver.

  dropped @12 :UInt64;
  # Frames and packets the stack dropped: malformed, for nobody here, or
  # with no room for them (its statistics' drop counts of every protocol).
}

interface NetworkManager {
  # A network stack's configuration and state, and the capabilities its
  # tools need, each of which carries only its own authority.

  interfaces @0 () -> (interfaces :List(NetInterface));
  # Every interface, with its addresses and counts.

  waitConfigured @1 (timeoutMs :UInt32) -> (configured :Bool);
  # Answered once the first interface has an IPv4 address (at once when it
  # has one), or after `timeoutMs` milliseconds with false.

  icmp @2 () -> (icmp :Icmp);
  # A capability to send ICMP echo requests, and nothing more.

  tcpListenAuthority @3 (firstPort :UInt16, lastPort :UInt16)
      -> (authority :TcpListenAuthority);
  # A capability to listen for TCP connections on the ports from firstPort
  # to lastPort (1 to 65535), and nothing more. invalidArgument for port 0
  # or firstPort past lastPort.

  tcpConnector @4 () -> (connector :TcpConnector);
  # A capability to open TCP connections to any address, and nothing more.

  udpBind @5 (port :UInt16) -> (socket :UdpSocket);
  # A UDP socket bound to `port` on every address of the stack (IPv4 and
  # IPv6); 0: a free port the stack picks. failed when the port is taken,
  # overloaded when the stack has no room for another socket.

  resolver @6 (server :Data, port :UInt16) -> (resolver :Resolver);
  # A capability to look names up through DNS, and nothing more. Without
  # `server` it asks the interface's DNS servers (learned from DHCP, DHCPv6
  # or routers' advertisements); with one (4 or 16 bytes), that server only,
  # at `port` (0: 53). invalidArgument for a server of another length.
}

interface Resolver {
  # Names to addresses through DNS: A and AAAA records, asked of a
  # server over UDP.

  resolve @0 (name :Text, timeoutMs :UInt32) -> (addresses :List(Data));
  # The name's IPv4 addresses, then its IPv6 ones (4 and 16 bytes each, at
  # most 16 of each), asking each server in turn and each query again after
  # a second without an answer, for at most `timeoutMs` milliseconds (0:
  # 5,000). A name that is an address written as text ("10.0.2.2",
  # "fec0::2") is answered as it is, without asking. failed when the name
  # does not exist, has no addresses, or no server answered in time (the
  # message says which); invalidArgument for a name that is not one (labels
  # of letters, digits, '-' and '_'); overloaded while too many lookups
  # wait.
}

interface Icmp {
  # ICMP and ICMPv6 echo (ping) through a network stack.

  const maxPayload :UInt32 = 1400;
  # The most payload bytes an echo request carries.

  echo @0 (address :Data, sequence :UInt16, payloadBytes :UInt16,
           timeoutMs :UInt32) -> (answered :Bool, roundTripUs :UInt64, ttl :UInt8);
  # Sends an echo request with `sequence` and `payloadBytes` bytes of
  # payload to `address` (4 bytes: ICMP; 16: ICMPv6) and answers when its
  # reply comes (its round trip in microseconds and the reply's time to
  # live or hop limit), or after `timeoutMs` with answered false.
  # invalidArgument for an address of another length or payload past
  # maxPayload; failed when no route leads there.
}

interface TcpListenAuthority {
  # Listening for TCP connections on a range of ports (NetworkManager's
  # tcpListenAuthority), on every address of the stack, IPv4 and IPv6.

  listen @0 (port :UInt16, backlog :UInt16) -> (listener :TcpListener);
  # Listens on `port`, keeping up to `backlog` (1 to 64; 0: 16) connections
  # that have arrived and wait for accept; one more is refused (reset).
  # permissionDenied for a port outside the range, failed when it is taken,
  # overloaded when the stack has no room for another listener. Releasing
  # the listener stops listening and resets the connections still waiting.

  range @1 () -> (firstPort :UInt16, lastPort :UInt16);
  # The ports it allows.
}

interface TcpListener {
  # A port being listened on.

  accept @0 () -> (socket :TcpSocket, address :Data, port :UInt16);
  # The oldest connection that has arrived, with the address (4 or 16
  # bytes) and port it came from: at once when one waits, else when the
  # next arrives. overloaded while another accept waits.

  port @1 () -> (port :UInt16);
  # The port it listens on.
}

interface TcpConnector {
  # Opening TCP connections (NetworkManager's tcpConnector).

  connect @0 (address :Data, port :UInt16, timeoutMs :UInt32) -> (socket :TcpSocket);
  # Connects to `port` at `address` (4 bytes: IPv4; 16: IPv6) and answers
  # once the connection is open. failed when it is refused, nothing
  # answered within `timeoutMs` milliseconds (0: 10,000), or no route leads
  # there; invalidArgument for an address of another length or port 0;
  # overloaded when the stack has no room for another connection.
}

interface TcpSocket {
  # One TCP connection. Releasing the last capability to it closes it (a
  # FIN after the data written; a reset when the peer still sends).
  #
  # Both directions are bounded: the stack keeps at most two windows
  # (maxWindow bytes each) a reader has not read, and the peer is told to
  # wait (TCP's window) while they are full; it keeps at most sendBuffer
  # bytes written and not yet acknowledged, and a writer waits while they
  # are.

  const maxIo :UInt32 = 32768;
  # The most bytes one read answers with or one write takes.

  const maxWindow :UInt32 = 64240;
  const sendBuffer :UInt32 = 64240;

  read @0 (maxBytes :UInt32) -> (data :Data);
  # Up to maxBytes (1 to maxIo) of what has arrived, in order: at once when
  # any has, else when some does. Empty data: the peer has finished sending
  # and everything it sent has been read (end of stream). failed when the
  # connection was reset or timed out (after the data that came before);
  # overloaded while another read waits.

  write @1 (data :Data) -> (written :UInt32);
  # Queues the first `written` bytes of `data` (1 to maxIo bytes) to be
  # sent: as many as the send buffer has room for. With no room at all the
  # answer waits until there is some, and then says 0 (write them again).
  # failed after the connection was reset, timed out or shut down for
  # writing; overloaded while another write waits.

  shutdown @2 () -> ();
  # Finishes sending: the peer reads the end of the stream after the data
  # written before. Reading goes on.

  info @3 () -> (localAddress :Data, localPort :UInt16,
                 remoteAddress :Data, remotePort :UInt16);
  # The connection's two ends (addresses of 4 or 16 bytes).

  const maxShared :UInt32 = 65536;
  # The largest buffer share takes, in bytes (16 pages).

  share @4 (memory :MemoryObject) -> ();
  # Shares a buffer of the caller's with the stack for readInto and
  # writeFrom: `memory`, whole pages up to maxShared bytes, which the stack
  # maps until the socket is released. Bulk data then crosses once, the
  # stack's copy into or out of it, instead of in each call's message.
  # invalidArgument when `memory` is not a MemoryObject the stack can map
  # for reading and writing, is larger, or the socket has one already.

  readInto @5 (offset :UInt32, maxBytes :UInt32) -> (bytes :UInt32);
  # read into the shared buffer at `offset`: up to maxBytes (at least 1,
  # inside the buffer) of what has arrived, answered with their count
  # (0: the end of the stream); it waits and fails as read does.
  # invalidArgument without a shared buffer or for a range outside it.

  writeFrom @6 (offset :UInt32, bytes :UInt32) -> (written :UInt32);
  # write of the shared buffer's `bytes` at `offset` (at least 1, inside
  # the buffer), copied by the stack as the call is taken: it answers,
  # waits and fails as write does. invalidArgument without a shared buffer
  # or for a range outside it.
}

interface UdpSocket {
  # A UDP port (NetworkManager's udpBind). Releasing the last capability to
  # it closes it.

  const maxDatagram :UInt32 = 8192;
  # The most payload bytes one datagram carries, either way.

  const queuedDatagrams :UInt32 = 32;
  # How many received datagrams wait for receive; more are dropped.

  sendTo @0 (address :Data, port :UInt16, data :Data) -> ();
  # Sends `data` (up to maxDatagram bytes) in one datagram to `port` at
  # `address` (4 or 16 bytes). invalidArgument for an address of another
  # length, port 0 or too much data; failed when no route leads there;
  # overloaded when the stack has no memory for it.

  receive @1 () -> (address :Data, port :UInt16, data :Data);
  # The oldest datagram received (its sender's address and port): at once
  # when one waits, else when the next arrives. overloaded while another
  # receive waits.

  port @2 () -> (port :UInt16);
  # The port it is bound to.
}

# ---------------------------------------------------------------------------
# Files

enum FileError {
  # How a file or directory call ended: `none` when it did what it says,
  # else why nothing was done (a call that fails changes nothing).

  none @0;
  # Done.

  notFound @1;
  # No entry of that name.

  exists @2;
  # The name is taken.

  notDirectory @3;
  # A directory was needed (a path went through a file).

  isDirectory @4;
  # A file was needed.

  notEmpty @5;
  # A directory with entries cannot be removed or replaced.

  badName @6;
  # Not a name or path this volume can store: empty, ".", "..", a NUL, a
  # leading or doubled '/', or (FAT) a character it cannot hold.

  nameTooLong @7;
  # A name of more than 255 bytes (or what the format allows).

  noSpace @8;
  # The volume is full.

  tooLarge @9;
  # Past the largest file the format holds, or a read or write longer than
  # the interface carries.

  readOnly @10;
  # The volume (or the disk, or this capability) takes no writes.

  corrupt @11;
  # The volume's structures are broken: the call found what no correct
  # volume holds.

  io @12;
  # The disk failed; after a failed commit the volume refuses every call.

  invalid @13;
  # The call makes no sense: a directory moved below itself, an offset past
  # the largest file.

  notSupported @14;
  # The format has no such thing.

  quotaExceeded @15;
  # The write would take this capability past the bytes it may use.
}

enum FileKind {
  # What a directory entry names.
  file @0;
  directory @1;
}

struct FileStat {
  # What stat tells of a file or directory.

  kind @0 :FileKind;
  size @1 :UInt64;
  # Bytes (a directory: what its format counts).

  createdNs @2 :UInt64;
  # When it was made, in nanoseconds since the Unix epoch (0: not kept).

  modifiedNs @3 :UInt64;
  # When its contents last changed.

  links @4 :UInt32;
  # Directory entries naming it (0: removed, still open).
}

struct DirectoryEntry {
  # One name in a directory.
  name @0 :Text;
  kind @1 :FileKind;
}

struct VolumeInfo {
  # What `df` shows of a volume.
  format @0 :Text;
  # "capfs" or "fat32".
  blockSize @1 :UInt32;
  blocks @2 :UInt64;
  freeBlocks @3 :UInt64;
  readOnly @4 :Bool;
  quota @5 :UInt64;
  # The bytes the capability asked may add to its files (its own
  # Directory.limit; those it was made under apply too), 0 when it has none.
  quotaUsed @6 :UInt64;
  # What it has added of them so far (less what it removed since).
}

interface File {
  # One file of a volume, served by the filesystem service that mounted it
  # (one process per volume: each call is atomic and seen by every later
  # call of any client). The file stays readable and writable while this
  # capability lives, even after its name was removed. Durability: what a
  # `sync` that returned none saw survives a power cut (capfs; FAT32 is not
  # crash-safe).

  const maxTransfer :UInt32 = 32768;
  # The most bytes one read returns or one write takes.

  read @0 (offset :UInt64, length :UInt32) -> (data :Data, error :FileError);
  # Up to `length` bytes from `offset` (fewer at the end, none past it);
  # tooLarge for a length past maxTransfer.

  write @1 (offset :UInt64, data :Data) -> (error :FileError);
  # Writes all of `data` at `offset`, growing the file (a gap reads as
  # zeros), or nothing (noSpace, tooLarge, quotaExceeded).

  truncate @2 (size :UInt64) -> (error :FileError);
  # Sets the size: cut, or grown with zeros.

  stat @3 () -> (stat :FileStat, error :FileError);
  # Its kind, size, times and links.

  sync @4 () -> (error :FileError);
  # Answered once everything written to the volume so far is on stable
  # storage.
}

interface Directory {
  # A directory of a volume, and everything below it: nothing above. Names
  # and paths are relative: components of 1 to 255 bytes separated by '/',
  # never ".", "..", empty or with a NUL, so no path names anything outside
  # this directory. Served like File.

  const maxList :UInt32 = 64;
  # The most entries one list returns.

  list @0 (cursor :UInt64) -> (entries :List(DirectoryEntry), next :UInt64,
                               error :FileError);
  # The entries of this directory from `cursor` (0: the first), at most
  # maxList; `next` is the cursor to go on from, 0 when none is left.
  # Entries made or removed between two calls may or may not be seen; none
  # is listed twice.

  open @1 (path :Text, mode :OpenMode) -> (file :File, error :FileError);
  # The file at `path`: an existing one, or (create, createNew) one made
  # empty; truncate cuts an existing one to 0 bytes.

  openDirectory @2 (path :Text) -> (directory :Directory, error :FileError);
  # The directory at `path` as a capability of its own, reaching only what
  # lies below it ("" : this one again).

  makeDirectory @3 (path :Text) -> (directory :Directory, error :FileError);
  # A new empty directory at `path` (its parent must exist; exists if
  # taken).

  remove @4 (path :Text) -> (error :FileError);
  # Removes a file, or an empty directory (notEmpty); an open file stays
  # readable through the capabilities that name it until they are gone.

  rename @5 (from :Text, to :Text) -> (error :FileError);
  # Moves the entry at `from` to `to`, both below this directory,
  # replacing a file at `to` (or an empty directory, when a directory
  # moves). Atomic on capfs: after a power cut the entry is at one name or
  # the other. A directory moved below itself is invalid.

  stat @6 (path :Text) -> (stat :FileStat, error :FileError);
  # What `path` is ("": this directory).

  sync @7 () -> (error :FileError);
  # As File.sync.

  info @8 () -> (info :VolumeInfo, error :FileError);
  # The volume's format, size and free space.

  store @9 () -> (store :Store, error :FileError);
  # The blobs kept in this directory as a content store: each in a file
  # named by the hexadecimal SHA-256 of its bytes.

  limit @10 (bytes :UInt64) -> (directory :Directory, error :FileError);
  # This directory again, as a capability that may add at most `bytes`
  # bytes to the files below it, counting every File, Directory and Store
  # reached through it: a write, truncate or put that would grow them past
  # that is quotaExceeded and changes nothing. What it removes or cuts
  # (through it) counts back, down to nothing: removing what was there
  # before gives no room. Limits nest: a limited directory's limit obeys
  # both, at most 16 deep (a deeper one is an overloaded exception: every
  # write walks the chain).
}

interface Store {
  # Blobs kept by their content: a blob's key is the SHA-256 of its bytes
  # (32 bytes), so the same bytes are kept once and a key names exactly one
  # content. Served by the filesystem service over a directory
  # (Directory.store); as durable as the volume.

  const maxBlob :UInt32 = 32768;
  # The most bytes one put takes and one get returns.

  put @0 (data :Data) -> (key :Data, error :FileError);
  # Keeps `data` (at most maxBlob bytes; more is tooLarge) and returns its
  # key; putting bytes already kept changes nothing.

  get @1 (key :Data, offset :UInt64, length :UInt32)
      -> (data :Data, size :UInt64, error :FileError);
  # Up to `length` bytes (at most maxBlob) of the blob from `offset`, and
  # its whole size; notFound for a key not kept, badName for a key that is
  # not 32 bytes.

  has @2 (key :Data) -> (present :Bool, error :FileError);
  # Whether the blob is kept.

  delete @3 (key :Data) -> (error :FileError);
  # Forgets the blob (notFound when it was not kept).
}

interface Namespace {
  # Names bound to capabilities, for the processes that hold this
  # namespace to look up: a directory of capabilities rather than of files.
  # Held in memory by the service that serves it.

  const maxNames :UInt32 = 200;
  # The most names one namespace binds (each a capability in the serving
  # process's table, which holds 256 by default).

  bind @0 (name :Text, cap :Capability) -> (error :FileError);
  # Binds `name` (1 to 64 bytes, no NUL) to a copy of `cap`, replacing what
  # it named; noSpace past maxNames.

  lookup @1 (name :Text) -> (cap :Capability, error :FileError);
  # A copy of the capability bound to `name` (notFound otherwise).

  unbind @2 (name :Text) -> (error :FileError);
  # Releases the name and the capability it held.

  list @3 (from :UInt32) -> (names :List(Text));
  # The bound names in the order they were bound, at most 64 from the
  # `from`-th on (fewer when their bytes pass 2 KiB; none past the last).
  # A rebound name keeps its place; an unbound one's followers move up.
}

enum OpenMode {
  # How Directory.open treats what is (or is not) at the path.

  existing @0;
  # Only an existing file (notFound otherwise).

  create @1;
  # An existing file, or a new empty one.

  createNew @2;
  # Only a new file (exists when taken).

  truncate @3;
  # An existing file or a new one, cut to 0 bytes.
}

# ---------------------------------------------------------------------------
# Boot manifest

enum KernelCapability {
  # Capabilities the kernel itself serves, which a manifest may grant.
  console @0;
  timer @1;
  entropy @2;
  frameAllocator @3;
  virtualMemory @4;
  processSpawner @5;
  bootPackage @6;
  logSink @7;
  logReader @8;
  null @9;
  terminal @10;
  systemControl @11;
  schemaRegistry @12;
  systemInfo @13;
  processInspector @14;
  manual @15;
  bootFiles @16;
  deviceInventory @17;
  threadSpawner @18;
  threadControl @19;
  parkSpace @20;
  deviceManager @21;
}

struct CapGrant {
  # One capability named in a manifest, and where it comes from.

  name @0 :Text;
  # The name in the receiving process's CapSet.

  interfaceId @1 :UInt64;
  # The interface the receiver expects (0: whatever the source speaks); a
  # mismatch is a manifest error. Another service's export speaks any
  # interface: with this set, the receiver's copy speaks only this one
  # (Grant.interfaceId), and its CapSet says so.

  source :union {
    kernel @2 :KernelCapability;
    # A kernel-served capability.

    service :group {
      # Another service's export.
      service @3 :Text;
      export @4 :Text;
    }

    endpoint @5 :Void;
    # A fresh endpoint owned by the receiver; it can export it.

    device @6 :DeviceSelector;
    # A PCI function claimed for the receiver (a Device): init claims it
    # through its DeviceManager.

    supervisor @7 :Void;
    # A Supervisor init serves for the receiver alone (not transferable):
    # how it gets its imports again once the services serving them were
    # restarted. Services only.
  }

  required @8 :Bool;
  # For a grant of another service's export: when that service was not
  # started (an optional device of its was absent), this one is not
  # started either, instead of starting without the grant (a filesystem
  # service whose disk is not there).
}

struct ResourceLimits {
  # Per-process bounds; 0 means the kernel's default. The defaults and
  # maximums are abi/limits.h; a manifest asking for more is refused.
  capabilitySlots @0 :UInt32;
  outstandingCalls @1 :UInt32;
  queuedBytes @2 :UInt64;
  frames @3 :UInt64;
  cpuWeight @4 :UInt32;
  # The share of a CPU each of its threads gets against others that want it
  # too: of two threads always ready on one CPU, one of weight 300 runs three
  # times as long as one of 100 (docs/scheduling.md).
}

struct ServiceConfig {
  # One service init starts.

  name @0 :Text;
  binary @1 :Text;
  # A binary in the boot package.

  grants @2 :List(CapGrant);
  exports @3 :List(Text);
  # Names of the service's own capabilities (endpoint grants) others may import.

  waitForExit @4 :Bool;
  # Init waits for this service to exit before starting the next one.

  limits @5 :ResourceLimits;

  restarts @6 :UInt32;
  # How many times init starts the service again when it ends any way but by
  # exiting with code 0 (a fault, a kill, another exit code), once every
  # service has been started: its devices are claimed again (the old claims
  # ended with the old process, quiescing the devices), its grants made
  # again, and its exports are the new process's from then on: an importer
  # holding a `supervisor` grant gets them through Supervisor.reconnect. 0:
  # never.

  args @7 :List(Text);
  # The service's arguments (ProcessSpawner.spawn's `args`, abi/args.h).
}

interface Supervisor {
  # init's side of the services it started, as one service sees it: the
  # capabilities the manifest has it import, as they are now.

  reconnect @0 (name :Text) -> (cap :Capability);
  # The capability granted to the caller as `name` (another service's
  # export) as it is now: after the service serving it was restarted, the
  # new process's. Errors: invalidArgument (`name` is no import of the
  # caller's), disconnected (the service serving it has ended and is not
  # restarted), overloaded (the capability could not be sent).
}

struct Binary {
  # A program in the boot package.
  name @0 :Text;
  # The name manifests use.
  path @1 :Text;
  # Its file in the boot archive.
}

const maxServices :UInt32 = 30;
# The most services one manifest lists, counting each supervisor grant as
# one more: init keeps a record of each, and once they are started waits for
# every service and serves every supervisor at once, each an entry of its
# ring's 32.

struct InitConfig {
  # What the kernel starts, and what init then starts.
  program @0 :Text;
  # The binary the kernel starts as init.
  grants @1 :List(CapGrant);
  # init's own capabilities (kernel sources only).
  services @2 :List(ServiceConfig);
  # At most maxServices, started in order.
}

struct KernelParameters {
  # Settings the kernel reads from the manifest at boot.

  logLevel @0 :LogLevel = info;
  # The kernel log shows entries at this level or more severe from when the
  # manifest is read on, unless the command line names a level (`loglevel=`),
  # which wins.

  messageOfTheDay @1 :Text;
  # Not read: the kernel logs the boot archive's etc/motd.
}

struct SystemManifest {
  # The boot image's description: evaluated from system/*.capnp by
  # `capnp eval`, checked by tools/mkmanifest, read by the kernel and init.

  schemaVersion @0 :UInt32;
  # Must equal currentSchemaVersion.

  binaries @1 :List(Binary);
  init @2 :InitConfig;
  kernel @3 :KernelParameters;
}

const currentSchemaVersion :UInt32 = 1;
