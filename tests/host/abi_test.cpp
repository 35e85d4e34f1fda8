// abi/: the names of ring results and the ties between the ABI and the schema
// (abi/schema.h). Most of it is static_asserts in the headers; these check
// what a reader of logs and test output relies on.
#include "abi/ring.h"
#include "abi/schema.h"
#include <gtest/gtest.h>
#include <set>
#include <string>

namespace capos::abi {
namespace {

// Every transport error from -1 down has a name of its own, and the first
// value past them has none: a gap or a duplicate would show here.
TEST(AbiNames, EveryTransportErrorHasADistinctName) {
    std::set<std::string_view> names;
    int32_t value = -1;
    for (; !to_string(static_cast<TransportError>(value)).empty(); --value) {
        std::string_view name = to_string(static_cast<TransportError>(value));
        EXPECT_TRUE(names.insert(name).second) << name;
        EXPECT_EQ(cqe_result_name(value), name);
    }
    EXPECT_EQ(value, int32_t(TransportError::NoSuchCall) - 1);
    EXPECT_EQ(cqe_result_name(value), "?");
    EXPECT_EQ(cqe_result_name(INT32_MIN), "?");
}

TEST(AbiNames, CallStatusNames) {
    EXPECT_EQ(cqe_result_name(int32_t(CallStatus::Ok)), "Ok");
    EXPECT_EQ(cqe_result_name(int32_t(CallStatus::Exception)), "Exception");
    EXPECT_EQ(cqe_result_name(int32_t(CallStatus::OkInline)), "OkInline");
    EXPECT_EQ(cqe_result_name(3), "?");
    EXPECT_EQ(cqe_result_name(INT32_MAX), "?");
}

TEST(AbiSchema, TransferModesConvertOneToOne) {
    for (uint16_t value = 0; value < schema::enumerant_count(schema::TransferMode{}); ++value) {
        auto mode = transfer_mode_of(static_cast<schema::TransferMode>(value));
        ASSERT_TRUE(mode.has_value()) << value;
        EXPECT_EQ(uint16_t(*mode), value);
        EXPECT_TRUE(is_transfer_mode(uint8_t(*mode)));
    }
    EXPECT_EQ(transfer_mode_of(schema::TransferMode::Copy), TransferMode::Copy);
    EXPECT_FALSE(transfer_mode_of(static_cast<schema::TransferMode>(transfer_mode_count)));
    EXPECT_FALSE(is_transfer_mode(transfer_mode_count));
    EXPECT_FALSE(is_transfer_mode(UINT8_MAX));
}

} // namespace
} // namespace capos::abi
