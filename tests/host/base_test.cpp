// lib/base: Result/TRY and the kernel command-line reader.
#include "lib/base/cmdline.h"
#include "lib/base/result.h"
#include <gtest/gtest.h>

namespace capos {
namespace {

enum class TestError { Bad, Worse };

Result<int, TestError> parse_digit(char c) {
    if (c < '0' || c > '9')
        return Err{TestError::Bad};
    return c - '0';
}

Result<int, TestError> sum_two(char a, char b) {
    int x = TRY(parse_digit(a));
    int y = TRY(parse_digit(b));
    return x + y;
}

Result<void, TestError> check_positive(int value) {
    if (value <= 0)
        return Err{TestError::Worse};
    return {};
}

TEST(Result, ValueAndError) {
    auto ok = parse_digit('7');
    ASSERT_TRUE(ok.is_ok());
    EXPECT_EQ(ok.value(), 7);
    auto bad = parse_digit('x');
    ASSERT_TRUE(bad.is_error());
    EXPECT_EQ(bad.error(), TestError::Bad);
}

TEST(Result, TryPropagatesTheFirstError) {
    EXPECT_EQ(sum_two('3', '4').value(), 7);
    EXPECT_EQ(sum_two('x', '4').error(), TestError::Bad);
    EXPECT_EQ(sum_two('3', 'y').error(), TestError::Bad);
}

TEST(Result, VoidResult) {
    EXPECT_TRUE(check_positive(1).is_ok());
    EXPECT_EQ(check_positive(0).error(), TestError::Worse);
}

TEST(Result, CopyAndMoveKeepTheAlternative) {
    Result<int, TestError> a = parse_digit('5');
    Result<int, TestError> b = a;
    EXPECT_EQ(b.value(), 5);
    b = parse_digit('z');
    EXPECT_TRUE(b.is_error());
    Result<int, TestError> c = std::move(b);
    EXPECT_EQ(c.error(), TestError::Bad);
}

TEST(CommandLine, KeyValueAndFlags) {
    CommandLine line("loglevel=debug test=selftest shutdown");
    EXPECT_EQ(line.value("loglevel"), "debug");
    EXPECT_EQ(line.value("test"), "selftest");
    EXPECT_TRUE(line.has_flag("shutdown"));
    EXPECT_FALSE(line.has_flag("test"));
    EXPECT_FALSE(line.value("shutdown").has_value());
}

TEST(CommandLine, PrefixesDoNotMatch) {
    CommandLine line("testing=x tes=y test");
    EXPECT_FALSE(line.value("test").has_value());
    EXPECT_TRUE(line.has_flag("test"));
    EXPECT_FALSE(line.has_flag("tes"));
}

TEST(CommandLine, LaterWordsWinAndWhitespaceIsAnySpacing) {
    CommandLine line("  test=a\t\ttest=b \r\n");
    EXPECT_EQ(line.value("test"), "b");
}

TEST(CommandLine, EmptyValueAndEmptyLine) {
    EXPECT_EQ(CommandLine("test=").value("test"), "");
    EXPECT_FALSE(CommandLine("").value("test").has_value());
    EXPECT_FALSE(CommandLine("   ").has_flag(""));
}

} // namespace
} // namespace capos
