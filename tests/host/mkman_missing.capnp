# A schema with a method that has no doc comment: capos-mkman must refuse it.
@0xcb4312ed96d9e6cd;

interface Missing {
  # Documented itself.

  documented @0 () -> ();
  # This one is.

  undocumented @1 () -> ();
}
