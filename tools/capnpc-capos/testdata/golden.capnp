# The golden schema of capnpc-capos: one of every construct the generator maps.
# Its output is checked in beside it as golden.capnp.capos.h and compared by the
# test capnp.golden; after an intended generator change, regenerate it with
# `cmake --build <build dir> --target update-capnp-goldens` and review the diff.

@0xa1b2c3d4e5f60718;

enum Color {
  # A top-level enum.
  red @0;
  green @1;
  blueViolet @2;
  # A two-word enumerant.
}

struct Scalars {
  # Every scalar type, without and with defaults.
  void @0 :Void;
  flag @1 :Bool;
  i8 @2 :Int8;
  i16 @3 :Int16;
  i32 @4 :Int32;
  i64 @5 :Int64;
  u8 @6 :UInt8;
  u16 @7 :UInt16;
  u32 @8 :UInt32;
  u64 @9 :UInt64;
  f32 @10 :Float32;
  f64 @11 :Float64;
  color @12 :Color;

  flagDefault @13 :Bool = true;
  i8Default @14 :Int8 = -128;
  i16Default @15 :Int16 = -1234;
  i32Default @16 :Int32 = -2147483648;
  i64Default @17 :Int64 = -9223372036854775808;
  u8Default @18 :UInt8 = 255;
  u16Default @19 :UInt16 = 65535;
  u32Default @20 :UInt32 = 4000000000;
  u64Default @21 :UInt64 = 18446744073709551615;
  f32Default @22 :Float32 = 1.5;
  f64Default @23 :Float64 = -2.25e300;
  f32Nan @24 :Float32 = nan;
  f64Inf @25 :Float64 = inf;
  colorDefault @26 :Color = blueViolet;
}

struct Pointers {
  # Text, Data, structs and capabilities, without and with defaults.
  text @0 :Text;
  data @1 :Data;
  scalars @2 :Scalars;
  textDefault @3 :Text = "hello, \"capOS\"\n";
  dataDefault @4 :Data = 0x"00 01 fe ff";
  scalarsDefault @5 :Scalars = (i32 = 42, color = green, f64 = 0.5);
  self @6 :Pointers;
  console @7 :Console;
  # A capability: an index into the message's capability table.
  anyCap @8 :Capability;
  any @9 :AnyPointer;
  anyStruct @10 :AnyStruct;
  anyList @11 :AnyList;
}

struct Lists {
  # A list of every element kind, and defaults for some.
  voids @0 :List(Void);
  bools @1 :List(Bool);
  i8s @2 :List(Int8);
  i16s @3 :List(Int16);
  i32s @4 :List(Int32);
  i64s @5 :List(Int64);
  u8s @6 :List(UInt8);
  u16s @7 :List(UInt16);
  u32s @8 :List(UInt32);
  u64s @9 :List(UInt64);
  f32s @10 :List(Float32);
  f64s @11 :List(Float64);
  colors @12 :List(Color);
  texts @13 :List(Text);
  datas @14 :List(Data);
  structs @15 :List(Scalars);
  listOfLists @16 :List(List(Int32));
  listOfListsOfStructs @17 :List(List(Scalars));
  listOfTextLists @18 :List(List(Text));
  consoles @19 :List(Console);
  capabilities @20 :List(Capability);

  i32sDefault @21 :List(Int32) = [1, -2, 3];
  textsDefault @22 :List(Text) = ["a", "bc"];
  structsDefault @23 :List(Scalars) = [(u8 = 1), (u8 = 2, flag = true)];
  boolsDefault @24 :List(Bool) = [true, false, true];
  nestedDefault @25 :List(List(UInt16)) = [[1], [2, 3]];
}

struct Unions {
  # An unnamed union, a named union, a union of groups, and a group.
  before @0 :UInt32;
  union {
    nothing @1 :Void;
    number @2 :Int64;
    name @3 :Text;
    scalars @4 :Scalars;
    pair :group {
      left @5 :UInt16;
      right @6 :Text;
    }
  }
  shape :union {
    circle @7 :Float64;
    rectangle :group {
      width @8 :Float64;
      height @9 :Float64;
    }
    unknown @10 :Void;
  }
  settings :group {
    # A group that is not in a union.
    verbose @11 :Bool = true;
    level @12 :UInt8 = 3;
    inner :union {
      off @13 :Void;
      on @14 :UInt32;
    }
  }
}

struct Outer {
  # Nested types and constants.
  enum Mode {
    fast @0;
    safe @1;
  }
  struct Inner {
    mode @0 :Mode = safe;
    outer @1 :Outer;
    const answer :UInt32 = 42;
  }
  const greeting :Text = "hi";
  const defaultMode :Mode = safe;
  const origin :Inner = (mode = fast);

  inner @0 :Inner;
  mode @1 :Mode;
  inners @2 :List(Inner);
}

struct Keywords {
  # Schema names that are C++ keywords, and a union member named after one.
  default @0 :UInt32;
  class @1 :Text;
  union {
    struct @2 :Void;
    return @3 :Int8;
  }
}

const maxCount :UInt64 = 1000;
const ratio :Float32 = 0.25;
const favorite :Color = green;
const motd :Text = "Welcome, \"user\" ♫";
const blob :Data = 0x"de ad be ef";
const primes :List(UInt32) = [2, 3, 5, 7];
const labels :List(Text) = ["one", "two"];
const sample :Pointers = (text = "sample", scalars = (i8 = -1));
const enabled :Bool = true;

interface Console {
  # An interface with simple params (typed arguments) and a results struct.
  write @0 (text :Text) -> ();
  # Writes `text`.
  writeLine @1 (text :Text, color :Color, bold :Bool) -> (written :UInt32);
  lookup @2 (key :Data, target :Console) -> (value :Pointers);
}

interface Store {
  # Complex params (builder callback only), an explicit params struct, nested
  # types, a streaming method and keyword method names.
  struct Entry {
    key @0 :Text;
    value @1 :Data;
  }
  put @0 (entries :List(Entry), options :Outer) -> (stored :UInt32, failed :List(Text));
  get @1 Entry -> Entry;
  append @2 (bytes :Data) -> stream;
  delete @3 (key :Text) -> ();
  const limit :UInt32 = 64;
}

interface Empty {
  # No methods at all: dispatch answers unimplemented.
}

interface Named {
  # The root of an inheritance chain (Described, Labelled) and of a diamond
  # (Tagged reaches it through Labelled and through Counted).
  name @0 () -> (name :Text);
  rename @1 (name :Text) -> ();
}

interface Described extends(Named) {
  # One level down: Named's methods are called under Named's interface id.
  describe @0 () -> (text :Text);
}

interface Labelled extends(Described) {
  # Two levels down: Named's, Described's and its own methods.
  label @0 (index :UInt32) -> (label :Text);
}

interface Counted extends(Named) {
  # The second branch of the diamond.
  count @0 () -> (count :UInt32);
}

interface Tagged extends(Labelled, Counted) {
  # Multiple inheritance: every method of Named, Described, Labelled and
  # Counted, Named's reached twice but dispatched once.
  tag @0 (text :Text) -> ();
}
