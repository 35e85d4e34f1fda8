// lib/base: Result/TRY and the kernel command-line reader.
#include "lib/base/cmdline.h"
#include "lib/base/cycle_scale.h"
#include "lib/base/result.h"
#include <gtest/gtest.h>
#include <random>

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

// The exact floor(cycles * units / rate), the oracle.
uint64_t exact_scale(uint64_t cycles, uint64_t rate, uint64_t units) {
    return uint64_t((unsigned __int128)cycles * units / rate);
}

TEST(CycleScale, WithinOneOfTheDivisionForEveryCalibratedRate) {
    std::mt19937_64 random(7);
    for (int i = 0; i < 200000; ++i) {
        // Rates from 1 MHz to 100 GHz; counts up to about 58 years at 10 GHz.
        uint64_t rate = 1 + random() % 100000;
        uint64_t cycles = random() >> (random() % 64);
        for (uint64_t units : {uint64_t{1}, uint64_t{1000}}) {
            CycleScale scale = CycleScale::make(rate, units);
            uint64_t exact = exact_scale(cycles, rate, units);
            uint64_t scaled = scale.apply(cycles);
            ASSERT_LE(scaled, exact) << rate << " " << cycles << " " << units;
            uint64_t slack = rate > units ? 1 : 1 + (cycles >> scale.shift);
            ASSERT_LE(exact - scaled, slack) << rate << " " << cycles << " " << units;
        }
    }
}

TEST(CycleScale, ExactOnWholeMicrosecondsAndNeverDecreasing) {
    for (uint64_t rate : {uint64_t{1}, uint64_t{3}, uint64_t{999}, uint64_t{1000}, uint64_t{2893},
                          uint64_t{4000}}) {
        CycleScale us = CycleScale::make(rate, 1);
        CycleScale ns = CycleScale::make(rate, 1000);
        uint64_t last_us = 0, last_ns = 0;
        for (uint64_t cycles = 0; cycles < 200000; cycles += 1 + cycles / 1000) {
            uint64_t a = us.apply(cycles), b = ns.apply(cycles);
            ASSERT_GE(a, last_us);
            ASSERT_GE(b, last_ns);
            last_us = a;
            last_ns = b;
        }
        // A whole number of microseconds may come out one short of exact, never more.
        for (uint64_t micros : {uint64_t{1}, uint64_t{1000}, uint64_t{86400000000}}) {
            EXPECT_GE(us.apply(micros * rate) + 1, micros) << rate;
            EXPECT_LE(us.apply(micros * rate), micros) << rate;
            EXPECT_GE(ns.apply(micros * rate) + 1, micros * 1000) << rate;
            EXPECT_LE(ns.apply(micros * rate), micros * 1000) << rate;
        }
    }
    // The largest count: no overflow inside the product.
    CycleScale ns = CycleScale::make(1, 1000);
    EXPECT_LE(exact_scale(UINT64_MAX / 1000, 1, 1000) - ns.apply(UINT64_MAX / 1000),
              1 + ((UINT64_MAX / 1000) >> ns.shift));
}

} // namespace
} // namespace capos
