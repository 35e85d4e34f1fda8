# The golden test of capnpc-capos, run as a script:
#   cmake -DMODE=check|update -DCAPNP=... -DCLANG_FORMAT=... -DPLUGIN=... -DSOURCE_DIR=...
#         -DTESTDATA=... -DOUTPUT_DIR=... -P golden.cmake
# Regenerates testdata/golden.capnp.capos.h from testdata/golden.capnp into
# OUTPUT_DIR exactly as cmake/capnp.cmake does (plugin, then clang-format), then
# check: fails with a unified diff when it differs from the checked-in copy;
# update: copies it over the checked-in copy.
foreach(variable MODE CAPNP CLANG_FORMAT PLUGIN SOURCE_DIR TESTDATA OUTPUT_DIR)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "golden.cmake: ${variable} not set")
  endif()
endforeach()

set(generated ${OUTPUT_DIR}/golden.capnp.capos.h)
set(golden ${TESTDATA}/golden.capnp.capos.h)
file(REMOVE_RECURSE ${OUTPUT_DIR})
file(MAKE_DIRECTORY ${OUTPUT_DIR})
execute_process(
  COMMAND ${CAPNP} compile -o${PLUGIN}:${OUTPUT_DIR} --src-prefix=${TESTDATA}
          ${TESTDATA}/golden.capnp
  RESULT_VARIABLE status
  ERROR_VARIABLE log)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "capnp compile failed (${status}):\n${log}")
endif()
execute_process(COMMAND ${CLANG_FORMAT} -i --style=file:${SOURCE_DIR}/.clang-format ${generated}
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "clang-format failed on ${generated}")
endif()

if(MODE STREQUAL "update")
  file(COPY_FILE ${generated} ${golden})
  message(STATUS "Updated ${golden}")
  return()
endif()

execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${golden} ${generated}
                RESULT_VARIABLE different)
if(different)
  # The diff goes straight to the output (message() would rewrap it).
  execute_process(COMMAND diff -u ${golden} ${generated})
  message(FATAL_ERROR "The generator's output for golden.capnp changed (diff above). If the "
                      "change is intended: cmake --build <build dir> --target update-capnp-goldens")
endif()
message(STATUS "golden.capnp.capos.h matches")
