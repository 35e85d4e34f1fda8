// Wire compatibility of the generated code with libcapnp, on Cap'n Proto's own
// test schema (capnp/test.capnp from Debian's source package): messages built by
// libcapnp read back field by field with our readers, messages built by our
// builders read back with libcapnp's, upstream's golden messages, defaults,
// constants, unions, groups and lists of lists, and canonical forms compared word
// for word. The values are those of upstream's initTestMessage (test-util.c++).
#include "capnp/test-import.capnp.capos.h"
#include "capnp/test-import.capnp.h"
#include "capnp/test.capnp.capos.h"
#include "capnp/test.capnp.h"
#include "tests/capnp/message_util.h"
#include <capnp/any.h>
#include <capnp/schema.h>
#include <cmath>
#include <limits>

namespace capnp_test {
namespace {

namespace ours = ::test::schema;
namespace theirs = ::capnproto_test::capnp::test;
namespace gen = ::capos::gen;

const std::string testdata = CAPNP_TESTDATA;

// ---------------------------------------------------------------------------
// Helpers for our lists.

template <typename List, typename T>
void expect_list(const List& list, std::initializer_list<T> expected) {
    ASSERT_EQ(list.size(), expected.size());
    uint32_t index = 0;
    for (const T& value : expected) {
        EXPECT_EQ(list[index], value) << "element " << index;
        ++index;
    }
}

template <typename List>
void expect_data_list(const List& list, std::initializer_list<std::string_view> expected) {
    ASSERT_EQ(list.size(), expected.size());
    uint32_t index = 0;
    for (std::string_view value : expected) {
        EXPECT_EQ(as_string(list[index]), value) << "element " << index;
        ++index;
    }
}

template <typename List, typename T>
void fill(List list, std::initializer_list<T> values) {
    ASSERT_EQ(list.size(), values.size());
    uint32_t index = 0;
    for (const T& value : values)
        list.set(index++, value);
}

template <typename List>
void fill_data(List list, std::initializer_list<std::string_view> values) {
    ASSERT_EQ(list.size(), values.size());
    uint32_t index = 0;
    for (std::string_view value : values)
        list.set(index++, bytes(value));
}

// Helpers for libcapnp's lists.
template <typename List, typename T>
void expect_their_list(List list, std::initializer_list<T> expected) {
    ASSERT_EQ(list.size(), expected.size());
    uint32_t index = 0;
    for (const T& value : expected) {
        EXPECT_EQ(list[index], value) << "element " << index;
        ++index;
    }
}

// ---------------------------------------------------------------------------
// TestAllTypes with libcapnp, as upstream's genericInitTestMessage and
// genericCheckTestMessage.

capnp::Data::Reader data(const char* text) {
    return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(text), strlen(text));
}

void init_theirs(theirs::TestAllTypes::Builder builder) {
    builder.setVoidField(capnp::VOID);
    builder.setBoolField(true);
    builder.setInt8Field(-123);
    builder.setInt16Field(-12345);
    builder.setInt32Field(-12345678);
    builder.setInt64Field(-123456789012345ll);
    builder.setUInt8Field(234u);
    builder.setUInt16Field(45678u);
    builder.setUInt32Field(3456789012u);
    builder.setUInt64Field(12345678901234567890ull);
    builder.setFloat32Field(1234.5);
    builder.setFloat64Field(-123e45);
    builder.setTextField("foo");
    builder.setDataField(data("bar"));
    {
        auto sub = builder.initStructField();
        sub.setVoidField(capnp::VOID);
        sub.setBoolField(true);
        sub.setInt8Field(-12);
        sub.setInt16Field(3456);
        sub.setInt32Field(-78901234);
        sub.setInt64Field(56789012345678ll);
        sub.setUInt8Field(90u);
        sub.setUInt16Field(1234u);
        sub.setUInt32Field(56789012u);
        sub.setUInt64Field(345678901234567890ull);
        sub.setFloat32Field(-1.25e-10f);
        sub.setFloat64Field(345);
        sub.setTextField("baz");
        sub.setDataField(data("qux"));
        {
            auto subsub = sub.initStructField();
            subsub.setTextField("nested");
            subsub.initStructField().setTextField("really nested");
        }
        sub.setEnumField(theirs::TestEnum::BAZ);
        sub.setVoidList({capnp::VOID, capnp::VOID, capnp::VOID});
        sub.setBoolList({false, true, false, true, true});
        sub.setInt8List({12, -34, -0x80, 0x7f});
        sub.setInt16List({1234, -5678, -0x8000, 0x7fff});
        sub.setInt32List({12345678, -90123456, -0x7fffffff - 1, 0x7fffffff});
        sub.setInt64List({123456789012345ll, -678901234567890ll, -0x7fffffffffffffffll - 1,
                          0x7fffffffffffffffll});
        sub.setUInt8List({12u, 34u, 0u, 0xffu});
        sub.setUInt16List({1234u, 5678u, 0u, 0xffffu});
        sub.setUInt32List({12345678u, 90123456u, 0u, 0xffffffffu});
        sub.setUInt64List({123456789012345ull, 678901234567890ull, 0ull, 0xffffffffffffffffull});
        sub.setFloat32List({0, 1234567, 1e37f, -1e37f, 1e-37f, -1e-37f});
        sub.setFloat64List({0, 123456789012345, 1e306, -1e306, 1e-306, -1e-306});
        sub.setTextList({"quux", "corge", "grault"});
        sub.setDataList({data("garply"), data("waldo"), data("fred")});
        {
            auto list = sub.initStructList(3);
            list[0].setTextField("x structlist 1");
            list[1].setTextField("x structlist 2");
            list[2].setTextField("x structlist 3");
        }
        sub.setEnumList({theirs::TestEnum::QUX, theirs::TestEnum::BAR, theirs::TestEnum::GRAULT});
    }
    builder.setEnumField(theirs::TestEnum::CORGE);
    builder.initVoidList(6);
    builder.setBoolList({true, false, false, true});
    builder.setInt8List({111, -111});
    builder.setInt16List({11111, -11111});
    builder.setInt32List({111111111, -111111111});
    builder.setInt64List({1111111111111111111ll, -1111111111111111111ll});
    builder.setUInt8List({111u, 222u});
    builder.setUInt16List({33333u, 44444u});
    builder.setUInt32List({3333333333u});
    builder.setUInt64List({11111111111111111111ull});
    builder.setFloat32List({5555.5, kj::inf(), -kj::inf(), kj::nan()});
    builder.setFloat64List({7777.75, kj::inf(), -kj::inf(), kj::nan()});
    builder.setTextList({"plugh", "xyzzy", "thud"});
    builder.setDataList({data("oops"), data("exhausted"), data("rfc3092")});
    {
        auto list = builder.initStructList(3);
        list[0].setTextField("structlist 1");
        list[1].setTextField("structlist 2");
        list[2].setTextField("structlist 3");
    }
    builder.setEnumList({theirs::TestEnum::FOO, theirs::TestEnum::GARPLY});
}

void check_theirs(theirs::TestAllTypes::Reader reader) {
    EXPECT_EQ(true, reader.getBoolField());
    EXPECT_EQ(-123, reader.getInt8Field());
    EXPECT_EQ(-12345, reader.getInt16Field());
    EXPECT_EQ(-12345678, reader.getInt32Field());
    EXPECT_EQ(-123456789012345ll, reader.getInt64Field());
    EXPECT_EQ(234u, reader.getUInt8Field());
    EXPECT_EQ(45678u, reader.getUInt16Field());
    EXPECT_EQ(3456789012u, reader.getUInt32Field());
    EXPECT_EQ(12345678901234567890ull, reader.getUInt64Field());
    EXPECT_FLOAT_EQ(1234.5f, reader.getFloat32Field());
    EXPECT_DOUBLE_EQ(-123e45, reader.getFloat64Field());
    EXPECT_EQ("foo", reader.getTextField());
    EXPECT_EQ(data("bar"), reader.getDataField());
    {
        auto sub = reader.getStructField();
        EXPECT_EQ(true, sub.getBoolField());
        EXPECT_EQ(-12, sub.getInt8Field());
        EXPECT_EQ(3456, sub.getInt16Field());
        EXPECT_EQ(-78901234, sub.getInt32Field());
        EXPECT_EQ(56789012345678ll, sub.getInt64Field());
        EXPECT_EQ(90u, sub.getUInt8Field());
        EXPECT_EQ(1234u, sub.getUInt16Field());
        EXPECT_EQ(56789012u, sub.getUInt32Field());
        EXPECT_EQ(345678901234567890ull, sub.getUInt64Field());
        EXPECT_FLOAT_EQ(-1.25e-10f, sub.getFloat32Field());
        EXPECT_DOUBLE_EQ(345, sub.getFloat64Field());
        EXPECT_EQ("baz", sub.getTextField());
        EXPECT_EQ(data("qux"), sub.getDataField());
        EXPECT_EQ("nested", sub.getStructField().getTextField());
        EXPECT_EQ("really nested", sub.getStructField().getStructField().getTextField());
        EXPECT_EQ(theirs::TestEnum::BAZ, sub.getEnumField());
        EXPECT_EQ(3u, sub.getVoidList().size());
        expect_their_list(sub.getBoolList(), {false, true, false, true, true});
        expect_their_list(sub.getInt8List(), {12, -34, -0x80, 0x7f});
        expect_their_list(sub.getInt16List(), {1234, -5678, -0x8000, 0x7fff});
        expect_their_list(sub.getInt32List(), {12345678, -90123456, -0x7fffffff - 1, 0x7fffffff});
        expect_their_list(sub.getInt64List(), {123456789012345ll, -678901234567890ll,
                                               -0x7fffffffffffffffll - 1, 0x7fffffffffffffffll});
        expect_their_list(sub.getUInt8List(), {12u, 34u, 0u, 0xffu});
        expect_their_list(sub.getUInt16List(), {1234u, 5678u, 0u, 0xffffu});
        expect_their_list(sub.getUInt32List(), {12345678u, 90123456u, 0u, 0xffffffffu});
        expect_their_list(sub.getUInt64List(),
                          {123456789012345ull, 678901234567890ull, 0ull, 0xffffffffffffffffull});
        expect_their_list(sub.getFloat32List(), {0.0f, 1234567.0f, 1e37f, -1e37f, 1e-37f, -1e-37f});
        expect_their_list(sub.getFloat64List(),
                          {0.0, 123456789012345.0, 1e306, -1e306, 1e-306, -1e-306});
        ASSERT_EQ(3u, sub.getTextList().size());
        EXPECT_EQ("quux", sub.getTextList()[0]);
        EXPECT_EQ("corge", sub.getTextList()[1]);
        EXPECT_EQ("grault", sub.getTextList()[2]);
        ASSERT_EQ(3u, sub.getDataList().size());
        EXPECT_EQ(data("garply"), sub.getDataList()[0]);
        EXPECT_EQ(data("waldo"), sub.getDataList()[1]);
        EXPECT_EQ(data("fred"), sub.getDataList()[2]);
        ASSERT_EQ(3u, sub.getStructList().size());
        EXPECT_EQ("x structlist 1", sub.getStructList()[0].getTextField());
        EXPECT_EQ("x structlist 2", sub.getStructList()[1].getTextField());
        EXPECT_EQ("x structlist 3", sub.getStructList()[2].getTextField());
        expect_their_list(sub.getEnumList(),
                          {theirs::TestEnum::QUX, theirs::TestEnum::BAR, theirs::TestEnum::GRAULT});
    }
    EXPECT_EQ(theirs::TestEnum::CORGE, reader.getEnumField());
    EXPECT_EQ(6u, reader.getVoidList().size());
    expect_their_list(reader.getBoolList(), {true, false, false, true});
    expect_their_list(reader.getInt8List(), {111, -111});
    expect_their_list(reader.getInt16List(), {11111, -11111});
    expect_their_list(reader.getInt32List(), {111111111, -111111111});
    expect_their_list(reader.getInt64List(), {1111111111111111111ll, -1111111111111111111ll});
    expect_their_list(reader.getUInt8List(), {111u, 222u});
    expect_their_list(reader.getUInt16List(), {33333u, 44444u});
    expect_their_list(reader.getUInt32List(), {3333333333u});
    expect_their_list(reader.getUInt64List(), {11111111111111111111ull});
    {
        auto list = reader.getFloat32List();
        ASSERT_EQ(4u, list.size());
        EXPECT_EQ(5555.5f, list[0]);
        EXPECT_EQ(kj::inf(), list[1]);
        EXPECT_EQ(-kj::inf(), list[2]);
        EXPECT_TRUE(std::isnan(list[3]));
    }
    {
        auto list = reader.getFloat64List();
        ASSERT_EQ(4u, list.size());
        EXPECT_EQ(7777.75, list[0]);
        EXPECT_EQ(kj::inf(), list[1]);
        EXPECT_EQ(-kj::inf(), list[2]);
        EXPECT_TRUE(std::isnan(list[3]));
    }
    ASSERT_EQ(3u, reader.getTextList().size());
    EXPECT_EQ("plugh", reader.getTextList()[0]);
    EXPECT_EQ("xyzzy", reader.getTextList()[1]);
    EXPECT_EQ("thud", reader.getTextList()[2]);
    ASSERT_EQ(3u, reader.getDataList().size());
    EXPECT_EQ(data("oops"), reader.getDataList()[0]);
    EXPECT_EQ(data("exhausted"), reader.getDataList()[1]);
    EXPECT_EQ(data("rfc3092"), reader.getDataList()[2]);
    ASSERT_EQ(3u, reader.getStructList().size());
    EXPECT_EQ("structlist 1", reader.getStructList()[0].getTextField());
    EXPECT_EQ("structlist 2", reader.getStructList()[1].getTextField());
    EXPECT_EQ("structlist 3", reader.getStructList()[2].getTextField());
    expect_their_list(reader.getEnumList(), {theirs::TestEnum::FOO, theirs::TestEnum::GARPLY});
}

// ---------------------------------------------------------------------------
// TestAllTypes with our generated code, the same values.

void init_ours(ours::TestAllTypes::Builder builder) {
    builder.set_bool_field(true);
    builder.set_int8_field(-123);
    builder.set_int16_field(-12345);
    builder.set_int32_field(-12345678);
    builder.set_int64_field(-123456789012345ll);
    builder.set_u_int8_field(234u);
    builder.set_u_int16_field(45678u);
    builder.set_u_int32_field(3456789012u);
    builder.set_u_int64_field(12345678901234567890ull);
    builder.set_float32_field(1234.5f);
    builder.set_float64_field(-123e45);
    builder.set_text_field("foo");
    builder.set_data_field(bytes("bar"));
    {
        auto sub = builder.init_struct_field();
        sub.set_bool_field(true);
        sub.set_int8_field(-12);
        sub.set_int16_field(3456);
        sub.set_int32_field(-78901234);
        sub.set_int64_field(56789012345678ll);
        sub.set_u_int8_field(90u);
        sub.set_u_int16_field(1234u);
        sub.set_u_int32_field(56789012u);
        sub.set_u_int64_field(345678901234567890ull);
        sub.set_float32_field(-1.25e-10f);
        sub.set_float64_field(345);
        sub.set_text_field("baz");
        sub.set_data_field(bytes("qux"));
        {
            auto subsub = sub.init_struct_field();
            subsub.set_text_field("nested");
            subsub.init_struct_field().set_text_field("really nested");
        }
        sub.set_enum_field(ours::TestEnum::Baz);
        sub.init_void_list(3);
        fill(sub.init_bool_list(5), {false, true, false, true, true});
        fill<gen::PrimitiveList<int8_t>::Builder, int8_t>(sub.init_int8_list(4),
                                                          {12, -34, -0x80, 0x7f});
        fill<gen::PrimitiveList<int16_t>::Builder, int16_t>(sub.init_int16_list(4),
                                                            {1234, -5678, -0x8000, 0x7fff});
        fill(sub.init_int32_list(4), {12345678, -90123456, -0x7fffffff - 1, 0x7fffffff});
        fill(sub.init_int64_list(4), {123456789012345ll, -678901234567890ll,
                                      -0x7fffffffffffffffll - 1, 0x7fffffffffffffffll});
        fill<gen::PrimitiveList<uint8_t>::Builder, uint8_t>(sub.init_u_int8_list(4),
                                                            {12u, 34u, 0u, 0xffu});
        fill<gen::PrimitiveList<uint16_t>::Builder, uint16_t>(sub.init_u_int16_list(4),
                                                              {1234u, 5678u, 0u, 0xffffu});
        fill(sub.init_u_int32_list(4), {12345678u, 90123456u, 0u, 0xffffffffu});
        fill(sub.init_u_int64_list(4),
             {123456789012345ull, 678901234567890ull, 0ull, 0xffffffffffffffffull});
        fill(sub.init_float32_list(6), {0.0f, 1234567.0f, 1e37f, -1e37f, 1e-37f, -1e-37f});
        fill(sub.init_float64_list(6), {0.0, 123456789012345.0, 1e306, -1e306, 1e-306, -1e-306});
        fill<gen::TextList::Builder, std::string_view>(sub.init_text_list(3),
                                                       {"quux", "corge", "grault"});
        fill_data(sub.init_data_list(3), {"garply", "waldo", "fred"});
        {
            auto list = sub.init_struct_list(3);
            list[0].set_text_field("x structlist 1");
            list[1].set_text_field("x structlist 2");
            list[2].set_text_field("x structlist 3");
        }
        fill(sub.init_enum_list(3),
             {ours::TestEnum::Qux, ours::TestEnum::Bar, ours::TestEnum::Grault});
    }
    builder.set_enum_field(ours::TestEnum::Corge);
    builder.init_void_list(6);
    fill(builder.init_bool_list(4), {true, false, false, true});
    fill<gen::PrimitiveList<int8_t>::Builder, int8_t>(builder.init_int8_list(2), {111, -111});
    fill<gen::PrimitiveList<int16_t>::Builder, int16_t>(builder.init_int16_list(2),
                                                        {11111, -11111});
    fill(builder.init_int32_list(2), {111111111, -111111111});
    fill(builder.init_int64_list(2), {1111111111111111111ll, -1111111111111111111ll});
    fill<gen::PrimitiveList<uint8_t>::Builder, uint8_t>(builder.init_u_int8_list(2), {111u, 222u});
    fill<gen::PrimitiveList<uint16_t>::Builder, uint16_t>(builder.init_u_int16_list(2),
                                                          {33333u, 44444u});
    fill(builder.init_u_int32_list(1), {3333333333u});
    fill(builder.init_u_int64_list(1), {11111111111111111111ull});
    fill(builder.init_float32_list(4),
         {5555.5f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
          std::numeric_limits<float>::quiet_NaN()});
    fill(builder.init_float64_list(4),
         {7777.75, std::numeric_limits<double>::infinity(),
          -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()});
    fill<gen::TextList::Builder, std::string_view>(builder.init_text_list(3),
                                                   {"plugh", "xyzzy", "thud"});
    fill_data(builder.init_data_list(3), {"oops", "exhausted", "rfc3092"});
    {
        auto list = builder.init_struct_list(3);
        list[0].set_text_field("structlist 1");
        list[1].set_text_field("structlist 2");
        list[2].set_text_field("structlist 3");
    }
    fill(builder.init_enum_list(2), {ours::TestEnum::Foo, ours::TestEnum::Garply});
}

void check_ours(ours::TestAllTypes::Reader reader) {
    EXPECT_EQ(true, reader.bool_field());
    EXPECT_EQ(-123, reader.int8_field());
    EXPECT_EQ(-12345, reader.int16_field());
    EXPECT_EQ(-12345678, reader.int32_field());
    EXPECT_EQ(-123456789012345ll, reader.int64_field());
    EXPECT_EQ(234u, reader.u_int8_field());
    EXPECT_EQ(45678u, reader.u_int16_field());
    EXPECT_EQ(3456789012u, reader.u_int32_field());
    EXPECT_EQ(12345678901234567890ull, reader.u_int64_field());
    EXPECT_FLOAT_EQ(1234.5f, reader.float32_field());
    EXPECT_DOUBLE_EQ(-123e45, reader.float64_field());
    EXPECT_TRUE(reader.has_text_field());
    EXPECT_EQ("foo", reader.text_field());
    EXPECT_EQ("bar", as_string(reader.data_field()));
    {
        EXPECT_TRUE(reader.has_struct_field());
        auto sub = reader.struct_field();
        EXPECT_EQ(true, sub.bool_field());
        EXPECT_EQ(-12, sub.int8_field());
        EXPECT_EQ(3456, sub.int16_field());
        EXPECT_EQ(-78901234, sub.int32_field());
        EXPECT_EQ(56789012345678ll, sub.int64_field());
        EXPECT_EQ(90u, sub.u_int8_field());
        EXPECT_EQ(1234u, sub.u_int16_field());
        EXPECT_EQ(56789012u, sub.u_int32_field());
        EXPECT_EQ(345678901234567890ull, sub.u_int64_field());
        EXPECT_FLOAT_EQ(-1.25e-10f, sub.float32_field());
        EXPECT_DOUBLE_EQ(345, sub.float64_field());
        EXPECT_EQ("baz", sub.text_field());
        EXPECT_EQ("qux", as_string(sub.data_field()));
        EXPECT_EQ("nested", sub.struct_field().text_field());
        EXPECT_EQ("really nested", sub.struct_field().struct_field().text_field());
        EXPECT_FALSE(sub.struct_field().struct_field().has_struct_field());
        EXPECT_EQ(ours::TestEnum::Baz, sub.enum_field());
        EXPECT_EQ(3u, sub.void_list().size());
        expect_list(sub.bool_list(), {false, true, false, true, true});
        expect_list<gen::PrimitiveList<int8_t>::Reader, int8_t>(sub.int8_list(),
                                                                {12, -34, -0x80, 0x7f});
        expect_list<gen::PrimitiveList<int16_t>::Reader, int16_t>(sub.int16_list(),
                                                                  {1234, -5678, -0x8000, 0x7fff});
        expect_list(sub.int32_list(), {12345678, -90123456, -0x7fffffff - 1, 0x7fffffff});
        expect_list(sub.int64_list(), {123456789012345ll, -678901234567890ll,
                                       -0x7fffffffffffffffll - 1, 0x7fffffffffffffffll});
        expect_list<gen::PrimitiveList<uint8_t>::Reader, uint8_t>(sub.u_int8_list(),
                                                                  {12u, 34u, 0u, 0xffu});
        expect_list<gen::PrimitiveList<uint16_t>::Reader, uint16_t>(sub.u_int16_list(),
                                                                    {1234u, 5678u, 0u, 0xffffu});
        expect_list(sub.u_int32_list(), {12345678u, 90123456u, 0u, 0xffffffffu});
        expect_list(sub.u_int64_list(),
                    {123456789012345ull, 678901234567890ull, 0ull, 0xffffffffffffffffull});
        expect_list(sub.float32_list(), {0.0f, 1234567.0f, 1e37f, -1e37f, 1e-37f, -1e-37f});
        expect_list(sub.float64_list(), {0.0, 123456789012345.0, 1e306, -1e306, 1e-306, -1e-306});
        expect_list<gen::TextList::Reader, std::string_view>(sub.text_list(),
                                                             {"quux", "corge", "grault"});
        expect_data_list(sub.data_list(), {"garply", "waldo", "fred"});
        {
            auto list = sub.struct_list();
            ASSERT_EQ(3u, list.size());
            EXPECT_EQ("x structlist 1", list[0].text_field());
            EXPECT_EQ("x structlist 2", list[1].text_field());
            EXPECT_EQ("x structlist 3", list[2].text_field());
        }
        expect_list(sub.enum_list(),
                    {ours::TestEnum::Qux, ours::TestEnum::Bar, ours::TestEnum::Grault});
    }
    EXPECT_EQ(ours::TestEnum::Corge, reader.enum_field());
    EXPECT_EQ(6u, reader.void_list().size());
    expect_list(reader.bool_list(), {true, false, false, true});
    expect_list<gen::PrimitiveList<int8_t>::Reader, int8_t>(reader.int8_list(), {111, -111});
    expect_list<gen::PrimitiveList<int16_t>::Reader, int16_t>(reader.int16_list(), {11111, -11111});
    expect_list(reader.int32_list(), {111111111, -111111111});
    expect_list(reader.int64_list(), {1111111111111111111ll, -1111111111111111111ll});
    expect_list<gen::PrimitiveList<uint8_t>::Reader, uint8_t>(reader.u_int8_list(), {111u, 222u});
    expect_list<gen::PrimitiveList<uint16_t>::Reader, uint16_t>(reader.u_int16_list(),
                                                                {33333u, 44444u});
    expect_list(reader.u_int32_list(), {3333333333u});
    expect_list(reader.u_int64_list(), {11111111111111111111ull});
    {
        auto list = reader.float32_list();
        ASSERT_EQ(4u, list.size());
        EXPECT_EQ(5555.5f, list[0]);
        EXPECT_EQ(std::numeric_limits<float>::infinity(), list[1]);
        EXPECT_EQ(-std::numeric_limits<float>::infinity(), list[2]);
        EXPECT_TRUE(std::isnan(list[3]));
    }
    {
        auto list = reader.float64_list();
        ASSERT_EQ(4u, list.size());
        EXPECT_EQ(7777.75, list[0]);
        EXPECT_EQ(std::numeric_limits<double>::infinity(), list[1]);
        EXPECT_EQ(-std::numeric_limits<double>::infinity(), list[2]);
        EXPECT_TRUE(std::isnan(list[3]));
    }
    expect_list<gen::TextList::Reader, std::string_view>(reader.text_list(),
                                                         {"plugh", "xyzzy", "thud"});
    expect_data_list(reader.data_list(), {"oops", "exhausted", "rfc3092"});
    {
        auto list = reader.struct_list();
        ASSERT_EQ(3u, list.size());
        EXPECT_EQ("structlist 1", list[0].text_field());
        EXPECT_EQ("structlist 2", list[1].text_field());
        EXPECT_EQ("structlist 3", list[2].text_field());
        // Range-for over a struct list.
        int count = 0;
        for (auto element : list)
            count += element.text_field().starts_with("structlist") ? 1 : 0;
        EXPECT_EQ(3, count);
    }
    expect_list(reader.enum_list(), {ours::TestEnum::Foo, ours::TestEnum::Garply});
}

// Builds TestAllTypes with our builders into `buffer`; returns the message words.
std::vector<wire::Word> build_ours() {
    std::vector<wire::Word> buffer(4096);
    wire::MessageBuilder builder(buffer);
    init_ours(gen::init_root<ours::TestAllTypes>(builder));
    EXPECT_EQ(builder.error(), wire::WireError::None);
    return std::vector<wire::Word>(builder.words().begin(), builder.words().end());
}

// ---------------------------------------------------------------------------
// (a) libcapnp builds, we read.

TEST(CapnpCompat, LibcapnpFramedReadByOurs) {
    capnp::MallocMessageBuilder message;
    init_theirs(message.initRoot<theirs::TestAllTypes>());
    FramedMessage ours_message(framed(message));
    ASSERT_TRUE(ours_message.ok());
    EXPECT_EQ(gen::validate<ours::TestAllTypes>(ours_message.reader()), wire::WireError::None);
    EXPECT_EQ(wire::validate(ours_message.reader()), wire::WireError::None);
    check_ours(gen::read_root<ours::TestAllTypes>(ours_message.reader()));
    EXPECT_EQ(ours_message.reader().error(), wire::WireError::None);
}

TEST(CapnpCompat, LibcapnpMultiSegmentReadByOurs) {
    // Tiny segments force far pointers between them.
    capnp::MallocMessageBuilder message(16, capnp::AllocationStrategy::FIXED_SIZE);
    init_theirs(message.initRoot<theirs::TestAllTypes>());
    ASSERT_GT(message.getSegmentsForOutput().size(), 5u);
    FramedMessage ours_message(framed(message));
    ASSERT_TRUE(ours_message.ok());
    EXPECT_EQ(gen::validate<ours::TestAllTypes>(ours_message.reader()), wire::WireError::None);
    check_ours(gen::read_root<ours::TestAllTypes>(ours_message.reader()));
    EXPECT_EQ(ours_message.reader().error(), wire::WireError::None);
}

TEST(CapnpCompat, LibcapnpSingleSegmentReadByOurs) {
    capnp::MallocMessageBuilder message;
    init_theirs(message.initRoot<theirs::TestAllTypes>());
    ASSERT_EQ(message.getSegmentsForOutput().size(), 1u);
    std::vector<wire::Word> words = to_words(message.getSegmentsForOutput()[0]);
    wire::MessageReader reader(words);
    check_ours(gen::read_root<ours::TestAllTypes>(reader));
    EXPECT_EQ(reader.error(), wire::WireError::None);
}

// ---------------------------------------------------------------------------
// (b) we build, libcapnp reads.

TEST(CapnpCompat, OursReadByLibcapnp) {
    std::vector<wire::Word> words = build_ours();
    LibcapnpReader reader(words);
    check_theirs(reader.root<theirs::TestAllTypes>());

    // The framed form through libcapnp's own stream parser.
    std::vector<wire::Word> buffer(4096);
    wire::MessageBuilder builder(buffer);
    init_ours(gen::init_root<ours::TestAllTypes>(builder));
    std::vector<wire::Word> framed_words(builder.framed_size_words());
    auto written = builder.write_framed(framed_words);
    ASSERT_TRUE(written.is_ok());
    capnp::FlatArrayMessageReader flat(
        kj::arrayPtr(reinterpret_cast<const capnp::word*>(framed_words.data()), written.value()));
    check_theirs(flat.getRoot<theirs::TestAllTypes>());
}

TEST(CapnpCompat, OurBuilderReadsBack) {
    std::vector<wire::Word> buffer(4096);
    wire::MessageBuilder builder(buffer);
    auto root = gen::init_root<ours::TestAllTypes>(builder);
    init_ours(root);
    check_ours(root.as_reader());
    // Scalars read back through the builder too.
    EXPECT_EQ(-123, root.int8_field());
    EXPECT_EQ(ours::TestEnum::Corge, root.enum_field());
    EXPECT_FLOAT_EQ(1234.5f, root.float32_field());
}

TEST(CapnpCompat, CanonicalFormMatchesLibcapnp) {
    // Our message, canonicalized by us and by libcapnp.
    std::vector<wire::Word> words = build_ours();
    wire::MessageReader reader(words);
    std::vector<wire::Word> ours_canonical = our_canonical(reader.root());
    LibcapnpReader libcapnp(words);
    EXPECT_EQ(ours_canonical, their_canonical(libcapnp.root<theirs::TestAllTypes>()));

    // libcapnp's message, the same way.
    capnp::MallocMessageBuilder message;
    init_theirs(message.initRoot<theirs::TestAllTypes>());
    std::vector<wire::Word> their_words = to_words(message.getSegmentsForOutput()[0]);
    wire::MessageReader their_reader(their_words);
    EXPECT_EQ(our_canonical(their_reader.root()),
              their_canonical(message.getRoot<theirs::TestAllTypes>().asReader()));

    // The canonical copy is canonical by libcapnp's own check.
    LibcapnpReader copy(ours_canonical);
    EXPECT_TRUE(copy.reader().isCanonical());
    check_theirs(copy.root<theirs::TestAllTypes>());

    // Deep copy of a struct field through a generated setter.
    std::vector<wire::Word> buffer(4096);
    wire::MessageBuilder builder(buffer);
    auto holder = gen::init_root<ours::TestAllTypes>(builder);
    holder.set_struct_field(gen::read_root<ours::TestAllTypes>(reader));
    check_ours(holder.as_reader().struct_field());
}

// Struct lists in place of primitive and pointer lists (the upgrade the spec
// allows), with sections that are zero in every element: an empty list with a
// data word and a pointer per element as List(Data); zero elements as
// List(Int32); elements whose pointers are null as List(Text); elements whose
// data is zero as List(UInt8). Canonical form drops those sections, ours and
// libcapnp's alike. libcapnp reads the message but not its own canonical form
// ("Expected a pointer list, but got a list of data-only structs", and the
// same for primitives); we read both, with the same values, so that a message
// and its canonical copy always validate alike.
TEST(CapnpCompat, StructListsWithZeroSectionsReadAlikeWhenCanonical) {
    capnp::MallocMessageBuilder message;
    capnp::AnyStruct::Builder root = message.initRoot<theirs::TestAllTypes>();
    auto pointer_of = [&](const char* name) {
        auto field = capnp::Schema::from<theirs::TestAllTypes>().getFieldByName(name);
        return root.getPointerSection()[field.getProto().getSlot().getOffset()];
    };
    pointer_of("dataList").initAsListOfAnyStruct(1, 1, 0);
    pointer_of("int32List").initAsListOfAnyStruct(1, 1, 2);
    auto texts = pointer_of("textList").initAsListOfAnyStruct(1, 1, 2);
    texts[1].getDataSection()[0] = 9;
    auto bytes = pointer_of("uInt8List").initAsListOfAnyStruct(1, 1, 2);
    bytes[1].getPointerSection()[0].setAs<capnp::Text>("x");
    std::vector<wire::Word> words = to_words(message.getSegmentsForOutput()[0]);

    // libcapnp reads the fields typed, without error.
    auto their_values = [](theirs::TestAllTypes::Reader value) {
        EXPECT_EQ(value.getDataList().size(), 0u);
        expect_their_list(value.getInt32List(), {0, 0});
        ASSERT_EQ(value.getTextList().size(), 2u);
        EXPECT_EQ(value.getTextList()[1], "");
        expect_their_list(value.getUInt8List(), {uint8_t{0}, uint8_t{0}});
    };
    LibcapnpReader libcapnp(words);
    EXPECT_TRUE(kj::runCatchingExceptions(
                    [&] { their_values(libcapnp.root<theirs::TestAllTypes>()); }) == nullptr);

    // The canonical forms agree and have lost the zero sections.
    wire::MessageReader reader(words);
    std::vector<wire::Word> canonical = our_canonical(reader.root());
    EXPECT_EQ(canonical, their_canonical(libcapnp.root<theirs::TestAllTypes>()));
    LibcapnpReader their_copy(canonical);
    EXPECT_TRUE(their_copy.reader().isCanonical());
    auto copied = their_copy.root<theirs::TestAllTypes>();
    // Data bytes and pointers per element of a struct list, (0, 0) when empty.
    using Sections = std::pair<size_t, size_t>;
    auto their_tag = [](capnp::AnyPointer::Reader pointer) {
        auto list = pointer.getAs<capnp::AnyList>().as<capnp::List<capnp::AnyStruct>>();
        if (list.size() == 0)
            return Sections{0, 0};
        return Sections{list[0].getDataSection().size(), list[0].getPointerSection().size()};
    };
    capnp::AnyStruct::Reader copied_any = copied;
    auto copied_pointer = [&](const char* name) {
        auto field = capnp::Schema::from<theirs::TestAllTypes>().getFieldByName(name);
        return copied_any.getPointerSection()[field.getProto().getSlot().getOffset()];
    };
    EXPECT_EQ(their_tag(copied_pointer("int32List")), (Sections{0, 0}));
    EXPECT_EQ(their_tag(copied_pointer("textList")), (Sections{8, 0}));
    EXPECT_EQ(their_tag(copied_pointer("uInt8List")), (Sections{0, 1}));

    // ...which libcapnp then refuses, field by field.
    EXPECT_TRUE(kj::runCatchingExceptions([&] { copied.getDataList(); }) != nullptr);
    EXPECT_TRUE(kj::runCatchingExceptions([&] { copied.getInt32List(); }) != nullptr);
    EXPECT_TRUE(kj::runCatchingExceptions([&] { copied.getTextList(); }) != nullptr);
    EXPECT_TRUE(kj::runCatchingExceptions([&] { copied.getUInt8List(); }) != nullptr);

    // We read the message and its copy alike, with libcapnp's values.
    wire::MessageReader copy(canonical);
    for (const wire::MessageReader* each : {&reader, &copy}) {
        EXPECT_EQ(gen::validate<ours::TestAllTypes>(*each), wire::WireError::None);
        auto value = gen::read_root<ours::TestAllTypes>(*each);
        EXPECT_EQ(value.data_list().size(), 0u);
        expect_list(value.int32_list(), {0, 0});
        expect_list(value.text_list(), {std::string_view(), std::string_view()});
        expect_list(value.u_int8_list(), {uint8_t{0}, uint8_t{0}});
        EXPECT_EQ(each->error(), wire::WireError::None);
    }
}

// ---------------------------------------------------------------------------
// (c) upstream's golden messages.

TEST(CapnpCompat, UpstreamBinary) {
    FramedMessage message(read_words(testdata + "/binary"));
    ASSERT_TRUE(message.ok());
    EXPECT_EQ(gen::validate<ours::TestAllTypes>(message.reader()), wire::WireError::None);
    check_ours(gen::read_root<ours::TestAllTypes>(message.reader()));
    EXPECT_EQ(message.reader().error(), wire::WireError::None);
}

TEST(CapnpCompat, UpstreamSegmented) {
    FramedMessage message(read_words(testdata + "/segmented"));
    ASSERT_TRUE(message.ok());
    EXPECT_GT(message.reader().segment_count(), 1u);
    EXPECT_EQ(gen::validate<ours::TestAllTypes>(message.reader()), wire::WireError::None);
    check_ours(gen::read_root<ours::TestAllTypes>(message.reader()));
    EXPECT_EQ(message.reader().error(), wire::WireError::None);
}

TEST(CapnpCompat, UpstreamFlat) {
    std::vector<wire::Word> words = read_words(testdata + "/flat");
    wire::MessageReader reader(words);
    check_ours(gen::read_root<ours::TestAllTypes>(reader));
    EXPECT_EQ(reader.error(), wire::WireError::None);
}

TEST(CapnpCompat, UpstreamLists) {
    FramedMessage message(read_words(testdata + "/lists.binary"));
    ASSERT_TRUE(message.ok());
    EXPECT_EQ(gen::validate<ours::TestLists>(message.reader()), wire::WireError::None);
    auto lists = gen::read_root<ours::TestLists>(message.reader());
    EXPECT_EQ(2u, lists.list0().size());
    ASSERT_EQ(4u, lists.list1().size());
    EXPECT_TRUE(lists.list1()[0].f());
    EXPECT_FALSE(lists.list1()[1].f());
    EXPECT_TRUE(lists.list1()[2].f());
    EXPECT_TRUE(lists.list1()[3].f());
    ASSERT_EQ(2u, lists.list8().size());
    EXPECT_EQ(123u, lists.list8()[0].f());
    EXPECT_EQ(45u, lists.list8()[1].f());
    ASSERT_EQ(2u, lists.list16().size());
    EXPECT_EQ(12345u, lists.list16()[0].f());
    EXPECT_EQ(6789u, lists.list16()[1].f());
    ASSERT_EQ(2u, lists.list32().size());
    EXPECT_EQ(123456789u, lists.list32()[0].f());
    EXPECT_EQ(234567890u, lists.list32()[1].f());
    ASSERT_EQ(2u, lists.list64().size());
    EXPECT_EQ(1234567890123456u, lists.list64()[0].f());
    EXPECT_EQ(2345678901234567u, lists.list64()[1].f());
    ASSERT_EQ(2u, lists.list_p().size());
    EXPECT_EQ("foo", lists.list_p()[0].f());
    EXPECT_EQ("bar", lists.list_p()[1].f());
    ASSERT_EQ(3u, lists.int32_list_list().size());
    expect_list(lists.int32_list_list()[0], {1, 2, 3});
    expect_list(lists.int32_list_list()[1], {4, 5});
    expect_list(lists.int32_list_list()[2], {12341234});
    ASSERT_EQ(3u, lists.text_list_list().size());
    expect_list<gen::TextList::Reader, std::string_view>(lists.text_list_list()[0], {"foo", "bar"});
    expect_list<gen::TextList::Reader, std::string_view>(lists.text_list_list()[1], {"baz"});
    expect_list<gen::TextList::Reader, std::string_view>(lists.text_list_list()[2],
                                                         {"qux", "corge"});
    ASSERT_EQ(2u, lists.struct_list_list().size());
    ASSERT_EQ(2u, lists.struct_list_list()[0].size());
    EXPECT_EQ(123, lists.struct_list_list()[0][0].int32_field());
    EXPECT_EQ(456, lists.struct_list_list()[0][1].int32_field());
    ASSERT_EQ(1u, lists.struct_list_list()[1].size());
    EXPECT_EQ(789, lists.struct_list_list()[1][0].int32_field());
    EXPECT_EQ(message.reader().error(), wire::WireError::None);
}

// ---------------------------------------------------------------------------
// (d) defaults.

void check_defaults(ours::TestDefaults::Reader reader) {
    EXPECT_EQ(true, reader.bool_field());
    EXPECT_EQ(-123, reader.int8_field());
    EXPECT_EQ(-12345, reader.int16_field());
    EXPECT_EQ(-12345678, reader.int32_field());
    EXPECT_EQ(-123456789012345ll, reader.int64_field());
    EXPECT_EQ(234u, reader.u_int8_field());
    EXPECT_EQ(45678u, reader.u_int16_field());
    EXPECT_EQ(3456789012u, reader.u_int32_field());
    EXPECT_EQ(12345678901234567890ull, reader.u_int64_field());
    EXPECT_FLOAT_EQ(1234.5f, reader.float32_field());
    EXPECT_DOUBLE_EQ(-123e45, reader.float64_field());
    EXPECT_FALSE(reader.has_text_field());
    EXPECT_EQ("foo", reader.text_field());
    EXPECT_EQ("bar", as_string(reader.data_field()));
    {
        // Upstream's default struct is initTestMessage's sub-struct.
        auto sub = reader.struct_field();
        EXPECT_EQ(true, sub.bool_field());
        EXPECT_EQ(-12, sub.int8_field());
        EXPECT_EQ(3456, sub.int16_field());
        EXPECT_EQ(-78901234, sub.int32_field());
        EXPECT_EQ(56789012345678ll, sub.int64_field());
        EXPECT_EQ(90u, sub.u_int8_field());
        EXPECT_EQ(1234u, sub.u_int16_field());
        EXPECT_EQ(56789012u, sub.u_int32_field());
        EXPECT_EQ(345678901234567890ull, sub.u_int64_field());
        EXPECT_FLOAT_EQ(-1.25e-10f, sub.float32_field());
        EXPECT_DOUBLE_EQ(345, sub.float64_field());
        EXPECT_EQ("baz", sub.text_field());
        EXPECT_EQ("qux", as_string(sub.data_field()));
        EXPECT_EQ("nested", sub.struct_field().text_field());
        EXPECT_EQ("really nested", sub.struct_field().struct_field().text_field());
        EXPECT_EQ(ours::TestEnum::Baz, sub.enum_field());
        EXPECT_EQ(3u, sub.void_list().size());
        expect_list(sub.bool_list(), {false, true, false, true, true});
        expect_list(sub.int32_list(), {12345678, -90123456, -0x7fffffff - 1, 0x7fffffff});
        expect_list(sub.float64_list(), {0.0, 123456789012345.0, 1e306, -1e306, 1e-306, -1e-306});
        expect_list<gen::TextList::Reader, std::string_view>(sub.text_list(),
                                                             {"quux", "corge", "grault"});
        expect_data_list(sub.data_list(), {"garply", "waldo", "fred"});
        ASSERT_EQ(3u, sub.struct_list().size());
        EXPECT_EQ("x structlist 1", sub.struct_list()[0].text_field());
        EXPECT_EQ("x structlist 3", sub.struct_list()[2].text_field());
        expect_list(sub.enum_list(),
                    {ours::TestEnum::Qux, ours::TestEnum::Bar, ours::TestEnum::Grault});
    }
    EXPECT_EQ(ours::TestEnum::Corge, reader.enum_field());
    EXPECT_EQ(6u, reader.void_list().size());
    expect_list(reader.bool_list(), {true, false, false, true});
    expect_list<gen::PrimitiveList<int8_t>::Reader, int8_t>(reader.int8_list(), {111, -111});
    expect_list<gen::PrimitiveList<int16_t>::Reader, int16_t>(reader.int16_list(), {11111, -11111});
    expect_list(reader.int32_list(), {111111111, -111111111});
    expect_list(reader.int64_list(), {1111111111111111111ll, -1111111111111111111ll});
    expect_list<gen::PrimitiveList<uint8_t>::Reader, uint8_t>(reader.u_int8_list(), {111u, 222u});
    expect_list<gen::PrimitiveList<uint16_t>::Reader, uint16_t>(reader.u_int16_list(),
                                                                {33333u, 44444u});
    expect_list(reader.u_int32_list(), {3333333333u});
    expect_list(reader.u_int64_list(), {11111111111111111111ull});
    {
        auto list = reader.float32_list();
        ASSERT_EQ(4u, list.size());
        EXPECT_EQ(5555.5f, list[0]);
        EXPECT_EQ(std::numeric_limits<float>::infinity(), list[1]);
        EXPECT_EQ(-std::numeric_limits<float>::infinity(), list[2]);
        EXPECT_TRUE(std::isnan(list[3]));
    }
    {
        auto list = reader.float64_list();
        ASSERT_EQ(4u, list.size());
        EXPECT_EQ(7777.75, list[0]);
        EXPECT_TRUE(std::isnan(list[3]));
    }
    expect_list<gen::TextList::Reader, std::string_view>(reader.text_list(),
                                                         {"plugh", "xyzzy", "thud"});
    expect_data_list(reader.data_list(), {"oops", "exhausted", "rfc3092"});
    ASSERT_EQ(3u, reader.struct_list().size());
    EXPECT_EQ("structlist 1", reader.struct_list()[0].text_field());
    EXPECT_EQ("structlist 2", reader.struct_list()[1].text_field());
    EXPECT_EQ("structlist 3", reader.struct_list()[2].text_field());
    expect_list(reader.enum_list(), {ours::TestEnum::Foo, ours::TestEnum::Garply});
}

TEST(CapnpCompat, DefaultsOfNullStruct) {
    check_defaults(ours::TestDefaults::Reader());
}

TEST(CapnpCompat, DefaultsOfEmptyMessages) {
    // Built empty by us.
    std::vector<wire::Word> buffer(64);
    wire::MessageBuilder builder(buffer);
    auto root = gen::init_root<ours::TestDefaults>(builder);
    check_defaults(root.as_reader());
    EXPECT_EQ(-123, root.int8_field()); // the builder's getters apply the masks too
    EXPECT_EQ(ours::TestEnum::Corge, root.enum_field());

    // Built empty by libcapnp (an older sender: no data section at all).
    capnp::MallocMessageBuilder message;
    message.initRoot<theirs::TestEmptyStruct>();
    std::vector<wire::Word> words = to_words(message.getSegmentsForOutput()[0]);
    wire::MessageReader reader(words);
    check_defaults(gen::read_root<ours::TestDefaults>(reader));
    EXPECT_EQ(reader.error(), wire::WireError::None);
}

TEST(CapnpCompat, DefaultValuesAreStoredAsZero) {
    // Setting every scalar to its default leaves the data section zero (XOR
    // masks), exactly as libcapnp encodes it.
    std::vector<wire::Word> buffer(64);
    wire::MessageBuilder builder(buffer);
    auto root = gen::init_root<ours::TestDefaults>(builder);
    root.set_bool_field(true);
    root.set_int8_field(-123);
    root.set_int16_field(-12345);
    root.set_int32_field(-12345678);
    root.set_int64_field(-123456789012345ll);
    root.set_u_int8_field(234u);
    root.set_u_int16_field(45678u);
    root.set_u_int32_field(3456789012u);
    root.set_u_int64_field(12345678901234567890ull);
    root.set_float32_field(1234.5f);
    root.set_float64_field(-123e45);
    root.set_enum_field(ours::TestEnum::Corge);
    for (size_t i = 1; i < 1 + ours::TestDefaults::data_words; ++i)
        EXPECT_EQ(builder.words()[i], 0u) << "data word " << i - 1;

    // Other values travel as libcapnp expects.
    root.set_int8_field(7);
    root.set_bool_field(false);
    root.set_float64_field(0.5);
    root.set_enum_field(ours::TestEnum::Foo);
    LibcapnpReader libcapnp(builder.words());
    auto their = libcapnp.root<theirs::TestDefaults>();
    EXPECT_EQ(7, their.getInt8Field());
    EXPECT_FALSE(their.getBoolField());
    EXPECT_EQ(0.5, their.getFloat64Field());
    EXPECT_EQ(theirs::TestEnum::FOO, their.getEnumField());
    EXPECT_EQ(-12345, their.getInt16Field());
    EXPECT_EQ("foo", their.getTextField());
}

TEST(CapnpCompat, Constants) {
    using C = ours::TestConstants;
    using T = theirs::TestConstants;
    EXPECT_EQ(C::bool_const, T::BOOL_CONST);
    EXPECT_EQ(C::int8_const, T::INT8_CONST);
    EXPECT_EQ(C::int16_const, T::INT16_CONST);
    EXPECT_EQ(C::int32_const, T::INT32_CONST);
    EXPECT_EQ(C::int64_const, T::INT64_CONST);
    EXPECT_EQ(C::uint8_const, T::UINT8_CONST);
    EXPECT_EQ(C::uint16_const, T::UINT16_CONST);
    EXPECT_EQ(C::uint32_const, T::UINT32_CONST);
    EXPECT_EQ(C::uint64_const, T::UINT64_CONST);
    EXPECT_EQ(C::float32_const, T::FLOAT32_CONST);
    EXPECT_EQ(C::float64_const, T::FLOAT64_CONST);
    EXPECT_EQ(C::text_const, std::string_view(T::TEXT_CONST.get().cStr()));
    EXPECT_EQ(as_string(C::data_const), as_string(T::DATA_CONST.get()));
    EXPECT_EQ(C::enum_const, ours::TestEnum::Corge);
    static_assert(C::int64_const == -123456789012345ll);

    // The struct constant is upstream's default sub-struct.
    auto structure = C::struct_const();
    EXPECT_EQ(-12, structure.int8_field());
    EXPECT_EQ("really nested", structure.struct_field().struct_field().text_field());
    EXPECT_EQ(our_canonical(structure.raw()), their_canonical(T::STRUCT_CONST.get()));

    EXPECT_EQ(C::void_list_const().size(), 6u);
    expect_list(C::bool_list_const(), {true, false, false, true});
    expect_list<gen::PrimitiveList<int8_t>::Reader, int8_t>(C::int8_list_const(), {111, -111});
    expect_list<gen::PrimitiveList<int16_t>::Reader, int16_t>(C::int16_list_const(),
                                                              {11111, -11111});
    expect_list(C::int32_list_const(), {111111111, -111111111});
    expect_list(C::int64_list_const(), {1111111111111111111ll, -1111111111111111111ll});
    expect_list<gen::PrimitiveList<uint8_t>::Reader, uint8_t>(C::uint8_list_const(), {111u, 222u});
    expect_list<gen::PrimitiveList<uint16_t>::Reader, uint16_t>(C::uint16_list_const(),
                                                                {33333u, 44444u});
    expect_list(C::uint32_list_const(), {3333333333u});
    expect_list(C::uint64_list_const(), {11111111111111111111ull});
    EXPECT_EQ(C::float32_list_const()[0], 5555.5f);
    EXPECT_TRUE(std::isnan(C::float32_list_const()[3]));
    EXPECT_EQ(C::float64_list_const()[1], std::numeric_limits<double>::infinity());
    expect_list<gen::TextList::Reader, std::string_view>(C::text_list_const(),
                                                         {"plugh", "xyzzy", "thud"});
    expect_data_list(C::data_list_const(), {"oops", "exhausted", "rfc3092"});
    ASSERT_EQ(C::struct_list_const().size(), 3u);
    EXPECT_EQ(C::struct_list_const()[1].text_field(), "structlist 2");
    expect_list(C::enum_list_const(), {ours::TestEnum::Foo, ours::TestEnum::Garply});

    EXPECT_EQ(ours::global_int, 12345u);
    EXPECT_EQ(ours::global_text, "foobar");
    EXPECT_EQ(ours::global_struct().int32_field(), 54321);
    EXPECT_EQ(ours::derived_constant().u_int32_field(), 12345u);
    EXPECT_EQ(ours::derived_constant().text_field(), "foo");
    EXPECT_EQ(ours::derived_constant().struct_field().struct_field().text_field(), "nested");
    expect_list<gen::PrimitiveList<int16_t>::Reader, int16_t>(ours::derived_constant().int16_list(),
                                                              {11111, -11111});
    EXPECT_EQ(ours::non_ascii_text, std::string_view(theirs::NON_ASCII_TEXT.get().cStr()));
    EXPECT_EQ(as_string(ours::embedded_data), as_string(theirs::EMBEDDED_DATA.get()));
    EXPECT_EQ(ours::embedded_text, std::string_view(theirs::EMBEDDED_TEXT.get().cStr()));
    check_ours(ours::embedded_struct()); // testdata/binary, embedded by the schema
    EXPECT_EQ(ours::TestWholeFloatDefault::constant, 456.0f);
    EXPECT_EQ(ours::TestWholeFloatDefault::big_constant, 4e30f);
    EXPECT_EQ(ours::TestWholeFloatDefault::Reader().big_field(), 2e30f);
}

// ---------------------------------------------------------------------------
// (e) unions, groups, lists of lists, nested types.

TEST(CapnpCompat, UnionsFromLibcapnp) {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<theirs::TestUnion>();
    root.getUnion0().setU0f0s16(321);
    root.getUnion1().setU1f1sp("hello");
    root.getUnion2().setU2f0s1(true);
    root.getUnion3().setU3f0s64(1234567890123456789ll);
    root.setBit0(true);
    root.setBit7(true);
    root.setByte0(200);
    FramedMessage framed_message(framed(message));
    ASSERT_TRUE(framed_message.ok());
    auto ours_root = gen::read_root<ours::TestUnion>(framed_message.reader());
    EXPECT_EQ(ours_root.union0().which(), ours::TestUnion::Union0::Which::U0f0s16);
    EXPECT_TRUE(ours_root.union0().is_u0f0s16());
    EXPECT_FALSE(ours_root.union0().is_u0f0s0());
    EXPECT_EQ(ours_root.union0().u0f0s16(), 321);
    EXPECT_EQ(ours_root.union1().which(), ours::TestUnion::Union1::Which::U1f1sp);
    EXPECT_EQ(ours_root.union1().u1f1sp(), "hello");
    EXPECT_TRUE(ours_root.union2().is_u2f0s1());
    EXPECT_TRUE(ours_root.union2().u2f0s1());
    EXPECT_TRUE(ours_root.union3().is_u3f0s64());
    EXPECT_EQ(ours_root.union3().u3f0s64(), 1234567890123456789ll);
    EXPECT_TRUE(ours_root.bit0());
    EXPECT_FALSE(ours_root.bit2());
    EXPECT_TRUE(ours_root.bit7());
    EXPECT_EQ(ours_root.byte0(), 200);
    EXPECT_EQ(gen::validate<ours::TestUnion>(framed_message.reader()), wire::WireError::None);
}

TEST(CapnpCompat, UnionsFromOurs) {
    std::vector<wire::Word> buffer(256);
    wire::MessageBuilder builder(buffer);
    auto root = gen::init_root<ours::TestUnion>(builder);
    root.union0().set_u0f1sp("text in union0");
    root.union1().set_u1f2s64(-42);
    root.union2().set_u2f0s8(-7);
    root.union3().set_u3f0s1(true);
    root.set_bit5(true);
    EXPECT_TRUE(root.union0().is_u0f1sp());
    EXPECT_EQ(root.union1().which(), ours::TestUnion::Union1::Which::U1f2s64);
    LibcapnpReader libcapnp(builder.words());
    auto their = libcapnp.root<theirs::TestUnion>();
    ASSERT_EQ(their.getUnion0().which(), theirs::TestUnion::Union0::U0F1SP);
    EXPECT_EQ(their.getUnion0().getU0f1sp(), "text in union0");
    ASSERT_EQ(their.getUnion1().which(), theirs::TestUnion::Union1::U1F2S64);
    EXPECT_EQ(their.getUnion1().getU1f2s64(), -42);
    ASSERT_EQ(their.getUnion2().which(), theirs::TestUnion::Union2::U2F0S8);
    EXPECT_EQ(their.getUnion2().getU2f0s8(), -7);
    ASSERT_EQ(their.getUnion3().which(), theirs::TestUnion::Union3::U3F0S1);
    EXPECT_TRUE(their.getUnion3().getU3f0s1());
    EXPECT_TRUE(their.getBit5());

    // Unnamed unions: a Void member, then a value member.
    std::vector<wire::Word> buffer2(64);
    wire::MessageBuilder builder2(buffer2);
    auto unnamed = gen::init_root<ours::TestUnnamedUnion>(builder2);
    unnamed.set_before("before");
    unnamed.set_bar(321u);
    unnamed.set_middle(7);
    unnamed.set_after("after");
    LibcapnpReader libcapnp2(builder2.words());
    auto their_unnamed = libcapnp2.root<theirs::TestUnnamedUnion>();
    ASSERT_EQ(their_unnamed.which(), theirs::TestUnnamedUnion::BAR);
    EXPECT_EQ(their_unnamed.getBar(), 321u);
    EXPECT_EQ(their_unnamed.getBefore(), "before");
    EXPECT_EQ(their_unnamed.getAfter(), "after");
    EXPECT_EQ(their_unnamed.getMiddle(), 7u);
}

TEST(CapnpCompat, UnionDefaults) {
    ours::TestUnionDefaults::Reader defaults;
    auto a = defaults.s16s8s64s8_set();
    EXPECT_EQ(a.union0().u0f0s16(), 321);
    EXPECT_TRUE(a.union0().is_u0f0s16());
    EXPECT_TRUE(a.union1().is_u1f0s8());
    EXPECT_EQ(a.union1().u1f0s8(), 123);
    EXPECT_EQ(a.union2().u2f0s64(), 12345678901234567ll);
    EXPECT_EQ(a.union3().u3f0s8(), 55);
    auto b = defaults.s0sps1s32_set();
    EXPECT_TRUE(b.union0().is_u0f1s0());
    EXPECT_EQ(b.union1().u1f0sp(), "foo");
    EXPECT_TRUE(b.union2().u2f0s1());
    EXPECT_EQ(b.union3().u3f0s32(), 12345678);
    EXPECT_EQ(defaults.unnamed1().which(), ours::TestUnnamedUnion::Which::Foo);
    EXPECT_EQ(defaults.unnamed1().foo(), 123u);
    EXPECT_EQ(defaults.unnamed2().which(), ours::TestUnnamedUnion::Which::Bar);
    EXPECT_EQ(defaults.unnamed2().bar(), 321u);
    EXPECT_EQ(defaults.unnamed2().before(), "foo");
    EXPECT_EQ(defaults.unnamed2().after(), "bar");
}

TEST(CapnpCompat, Groups) {
    // libcapnp to ours.
    capnp::MallocMessageBuilder message;
    auto their = message.initRoot<theirs::TestGroups>();
    auto bar = their.initGroups().initBar();
    bar.setCorge(12);
    bar.setGrault("grault");
    bar.setGarply(-34);
    FramedMessage framed_message(framed(message));
    ASSERT_TRUE(framed_message.ok());
    auto groups = gen::read_root<ours::TestGroups>(framed_message.reader()).groups();
    ASSERT_TRUE(groups.is_bar());
    EXPECT_EQ(groups.bar().corge(), 12);
    EXPECT_EQ(groups.bar().grault(), "grault");
    EXPECT_EQ(groups.bar().garply(), -34);

    // Ours to libcapnp, switching members: init_<group> selects and clears.
    std::vector<wire::Word> buffer(64);
    wire::MessageBuilder builder(buffer);
    auto root = gen::init_root<ours::TestGroups>(builder);
    auto foo = root.groups().init_foo();
    foo.set_corge(1);
    foo.set_grault(2);
    foo.set_garply("foo garply");
    auto baz = root.groups().init_baz();
    baz.set_corge(3);
    baz.set_grault("baz grault");
    EXPECT_FALSE(baz.as_reader().has_garply()); // foo's garply was cleared
    LibcapnpReader libcapnp(builder.words());
    auto their_groups = libcapnp.root<theirs::TestGroups>().getGroups();
    ASSERT_EQ(their_groups.which(), theirs::TestGroups::Groups::BAZ);
    EXPECT_EQ(their_groups.getBaz().getCorge(), 3);
    EXPECT_EQ(their_groups.getBaz().getGrault(), "baz grault");
    EXPECT_EQ(their_groups.getBaz().getGarply(), "");

    // Interleaved groups with unions inside.
    std::vector<wire::Word> buffer2(64);
    wire::MessageBuilder builder2(buffer2);
    auto interleaved = gen::init_root<ours::TestInterleavedGroups>(builder2);
    interleaved.group1().set_foo(1);
    interleaved.group1().set_bar(2);
    auto corge = interleaved.group1().init_corge();
    corge.set_grault(3);
    corge.set_garply(4);
    corge.set_plugh("plugh");
    corge.set_xyzzy("xyzzy");
    interleaved.group1().set_waldo("waldo");
    interleaved.group2().set_foo(5);
    interleaved.group2().set_qux(6);
    LibcapnpReader libcapnp2(builder2.words());
    auto their_interleaved = libcapnp2.root<theirs::TestInterleavedGroups>();
    EXPECT_EQ(their_interleaved.getGroup1().getFoo(), 1u);
    EXPECT_EQ(their_interleaved.getGroup1().getBar(), 2u);
    ASSERT_EQ(their_interleaved.getGroup1().which(), theirs::TestInterleavedGroups::Group1::CORGE);
    EXPECT_EQ(their_interleaved.getGroup1().getCorge().getGrault(), 3u);
    EXPECT_EQ(their_interleaved.getGroup1().getCorge().getGarply(), 4u);
    EXPECT_EQ(their_interleaved.getGroup1().getCorge().getPlugh(), "plugh");
    EXPECT_EQ(their_interleaved.getGroup1().getCorge().getXyzzy(), "xyzzy");
    EXPECT_EQ(their_interleaved.getGroup1().getWaldo(), "waldo");
    EXPECT_EQ(their_interleaved.getGroup2().getFoo(), 5u);
    ASSERT_EQ(their_interleaved.getGroup2().which(), theirs::TestInterleavedGroups::Group2::QUX);
    EXPECT_EQ(their_interleaved.getGroup2().getQux(), 6u);
}

TEST(CapnpCompat, ListsOfListsFromOurs) {
    std::vector<wire::Word> buffer(1024);
    wire::MessageBuilder builder(buffer);
    auto root = gen::init_root<ours::TestLists>(builder);
    root.init_list0(2);
    auto list1 = root.init_list1(3);
    list1[1].set_f(true);
    auto list64 = root.init_list64(2);
    list64[0].set_f(1);
    list64[1].set_f(0xffffffffffffffffull);
    auto list_p = root.init_list_p(1);
    list_p[0].set_f("p");
    auto ints = root.init_int32_list_list(2);
    fill(ints.init(0, 3), {1, 2, 3});
    fill(ints.init(1, 1), {-4});
    auto texts = root.init_text_list_list(2);
    fill<gen::TextList::Builder, std::string_view>(texts.init(0, 2), {"a", "b"});
    texts.init(1, 0);
    auto structs = root.init_struct_list_list(1);
    auto inner = structs.init(0, 2);
    inner[0].set_int32_field(123);
    inner[1].set_text_field("second");
    EXPECT_EQ(builder.error(), wire::WireError::None);

    LibcapnpReader libcapnp(builder.words());
    auto their = libcapnp.root<theirs::TestLists>();
    EXPECT_EQ(their.getList0().size(), 2u);
    ASSERT_EQ(their.getList1().size(), 3u);
    EXPECT_TRUE(their.getList1()[1].getF());
    EXPECT_EQ(their.getList64()[1].getF(), 0xffffffffffffffffull);
    EXPECT_EQ(their.getListP()[0].getF(), "p");
    ASSERT_EQ(their.getInt32ListList().size(), 2u);
    expect_their_list(their.getInt32ListList()[0], {1, 2, 3});
    expect_their_list(their.getInt32ListList()[1], {-4});
    EXPECT_EQ(their.getTextListList()[0][1], "b");
    EXPECT_EQ(their.getTextListList()[1].size(), 0u);
    EXPECT_EQ(their.getStructListList()[0][0].getInt32Field(), 123);
    EXPECT_EQ(their.getStructListList()[0][1].getTextField(), "second");

    // And the canonical forms agree.
    wire::MessageReader reader(builder.words());
    EXPECT_EQ(our_canonical(reader.root()), their_canonical(their));
}

TEST(CapnpCompat, ListDefaults) {
    auto lists = ours::TestListDefaults::Reader().lists();
    ASSERT_EQ(lists.list1().size(), 4u);
    EXPECT_TRUE(lists.list1()[0].f());
    EXPECT_FALSE(lists.list1()[1].f());
    EXPECT_EQ(lists.list16()[1].f(), 6789u);
    EXPECT_EQ(lists.list_p()[1].f(), "bar");
    expect_list(lists.int32_list_list()[2], {12341234});
    expect_list<gen::TextList::Reader, std::string_view>(lists.text_list_list()[2],
                                                         {"qux", "corge"});
    EXPECT_EQ(lists.struct_list_list()[1][0].int32_field(), 789);
}

TEST(CapnpCompat, NestedTypesAndImports) {
    ours::TestNestedTypes::Reader nested;
    EXPECT_EQ(nested.outer_nested_enum(), ours::TestNestedTypes::NestedEnum::Bar);
    EXPECT_EQ(nested.inner_nested_enum(), ours::TestNestedTypes::NestedStruct::NestedEnum::Quux);
    EXPECT_EQ(nested.nested_struct().outer_nested_enum(), ours::TestNestedTypes::NestedEnum::Bar);
    EXPECT_TRUE(is_known(ours::TestNestedTypes::NestedEnum::Bar));
    EXPECT_FALSE(is_known(static_cast<ours::TestEnum>(8)));
    // Counts and names, top-level and nested (hidden friends found by ADL).
    EXPECT_EQ(enumerant_count(ours::TestEnum{}), 8u);
    EXPECT_EQ(enumerant_name(ours::TestEnum::Garply), "garply");
    EXPECT_EQ(enumerant_count(ours::TestNestedTypes::NestedEnum{}), 2u);
    EXPECT_EQ(enumerant_name(ours::TestNestedTypes::NestedStruct::NestedEnum::Quux), "quux");
    EXPECT_EQ(enumerant_name(static_cast<ours::TestEnum>(8)), "");
    EXPECT_EQ(ours::TestUsing::Reader().inner_nested_enum(),
              ours::TestNestedTypes::NestedStruct::NestedEnum::Quux);

    // A struct from another file (test-import.capnp imports test.capnp).
    capnp::MallocMessageBuilder message;
    init_theirs(message.initRoot<::TestImport>().initField());
    FramedMessage framed_message(framed(message));
    ASSERT_TRUE(framed_message.ok());
    check_ours(gen::read_root<::test_import::schema::TestImport>(framed_message.reader()).field());
}

TEST(CapnpCompat, OutOfOrderAndOldVersions) {
    // A newer reader of an older message sees the new fields' defaults.
    capnp::MallocMessageBuilder message;
    auto old_version = message.initRoot<theirs::TestOldVersion>();
    old_version.setOld1(123);
    old_version.setOld2("old");
    FramedMessage framed_message(framed(message));
    ASSERT_TRUE(framed_message.ok());
    auto newer = gen::read_root<ours::TestNewVersion>(framed_message.reader());
    EXPECT_EQ(newer.old1(), 123);
    EXPECT_EQ(newer.old2(), "old");
    EXPECT_EQ(newer.new1(), 987);
    EXPECT_EQ(newer.new2(), "baz");
}

} // namespace
} // namespace capnp_test
