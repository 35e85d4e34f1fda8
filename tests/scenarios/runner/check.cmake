# Runs `capos-qemu test` on one runner self-test scenario and checks that it ends
# with the exit code and report the self-test expects: the proof that the runner
# fails when it should.
#
#   cmake -DRUNNER=<capos-qemu> -DROOT=<build dir> -DSCENARIO=<file>
#         -DEXPECT_STATUS=<0|1|2> -DEXPECT_OUTPUT=<regex> -P check.cmake
execute_process(
  COMMAND ${RUNNER} test --root ${ROOT} ${SCENARIO}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
message("${output}")
if(NOT status STREQUAL EXPECT_STATUS)
  message(FATAL_ERROR "capos-qemu exited with ${status}, expected ${EXPECT_STATUS}")
endif()
if(NOT output MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "capos-qemu output does not match: ${EXPECT_OUTPUT}")
endif()
