# A small schema for tests/host/mkman_test.cpp: every interface and method
# documented, with the kinds of params and results a signature shows.
@0x98c611a69f230c81;

struct Thing {
  # A named struct, used whole as params.
  size @0 :UInt32;
}

interface Widget {
  # Makes widgets. A second sentence
  # on another line.

  make @0 (names :List(Text), count :UInt16) -> (widget :Widget, ok :Bool);
  # Makes `count` widgets.
  #
  # After a blank line.

  measure @1 Thing -> ();
  # Takes a named struct.
}

interface Gadget extends(Widget) {
  # A widget that spins.

  spin @0 (turns :UInt32) -> ();
  # Spins `turns` times.
}

interface Gizmo extends(Gadget) {
  # Two levels down.

  glow @0 () -> ();
  # Glows.
}
