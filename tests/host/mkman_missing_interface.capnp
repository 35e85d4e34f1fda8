# A schema with an interface that has no doc comment: capos-mkman must refuse it.
@0xbaa1ff8e210242f0;

interface Bare {
  ping @0 () -> ();
  # Documented, but the interface is not.
}
