// Misuse tests: a block of statements that must trap (a VERIFY in the code
// under test) before it reaches its end. Runs in a death-test child; the
// child's clean exit after the block, or a normal return, fails the test.
#pragma once

#include <cstdlib>

#include <gtest/gtest.h>

#define EXPECT_TRAPS(...)                                                                          \
    EXPECT_DEATH(                                                                                  \
        {                                                                                          \
            __VA_ARGS__                                                                            \
            std::_Exit(0);                                                                         \
        },                                                                                         \
        "")
