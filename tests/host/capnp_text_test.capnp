# Types for tests/host/capnp_text_test.cpp beyond what schema/capos.capnp uses:
# every kind of field and list, floats, defaults, unions beside other fields,
# named unions, groups inside unions and unions inside groups, interfaces.

@0xacb2249d6388f31a;

enum Color {
  red @0;
  green @1;
  blue @2;
}

interface Thing {
  get @0 (n :UInt32) -> (thing :Thing, names :List(Text));
}

interface SubThing extends(Thing) {
  more @0 () -> ();
}

struct AllTypes {
  voidField @0 :Void;
  boolField @1 :Bool;
  int8Field @2 :Int8;
  int16Field @3 :Int16;
  int32Field @4 :Int32;
  int64Field @5 :Int64;
  uInt8Field @6 :UInt8;
  uInt16Field @7 :UInt16;
  uInt32Field @8 :UInt32;
  uInt64Field @9 :UInt64;
  float32Field @10 :Float32;
  float64Field @11 :Float64;
  textField @12 :Text;
  dataField @13 :Data;
  structField @14 :AllTypes;
  enumField @15 :Color;
  interfaceField @16 :Thing;
  capabilityField @17 :Capability;

  voidList @18 :List(Void);
  boolList @19 :List(Bool);
  int8List @20 :List(Int8);
  int16List @21 :List(Int16);
  int32List @22 :List(Int32);
  int64List @23 :List(Int64);
  uInt8List @24 :List(UInt8);
  uInt16List @25 :List(UInt16);
  uInt32List @26 :List(UInt32);
  uInt64List @27 :List(UInt64);
  float32List @28 :List(Float32);
  float64List @29 :List(Float64);
  textList @30 :List(Text);
  dataList @31 :List(Data);
  structList @32 :List(AllTypes);
  enumList @33 :List(Color);
  interfaceList @34 :List(Thing);
  listList @35 :List(List(Int32));
  textListList @36 :List(List(Text));
  anyField @37 :AnyPointer;
}

struct Defaults {
  boolField @0 :Bool = true;
  int8Field @1 :Int8 = -5;
  uInt16Field @2 :UInt16 = 0xffff;
  int64Field @3 :Int64 = -1234567890123;
  float32Field @4 :Float32 = 1024;
  float64Field @5 :Float64 = -2;
  enumField @6 :Color = blue;
  textField @7 :Text = "default";
  dataField @8 :Data = 0x"ff00";
  structField @9 :Defaults = (int8Field = 3);
  listField @10 :List(UInt8) = [1, 2, 3];
}

struct Unions {
  before @0 :UInt8;
  union {
    first @1 :UInt16 = 7;
    second @2 :Text;
    third @3 :Void;
    fourth :group {
      x @4 :UInt32;
      y @5 :Text;
    }
    fifth @9 :Text = "fifth default";
  }
  after @6 :Int32;
  named :union {
    p @7 :Bool;
    q @8 :Int64;
    r @13 :Defaults;
  }
  outer :group {
    z @10 :UInt64;
    inner :union {
      m @11 :Void;
      n @12 :Data;
    }
  }
}

struct Tree {
  label @0 :Text;
  children @1 :List(Tree);
}
