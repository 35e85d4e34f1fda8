# Runs a libFuzzer target twice with the same arguments and fails unless both
# runs succeed and report the same events (each input added or reduced, with
# its coverage and mutations, and the final counts): a fuzz run in CTest must
# depend on the source tree only, never on the process it runs in (address
# layout, environment, clock). What libFuzzer logs by the clock is left out:
# speed, memory use and its "pulse" lines (printed at powers of two runs, but
# only once two seconds have passed), and so is the run counter (see below).
#   cmake -DFUZZER=<target> "-DARGS=<libFuzzer arguments>" -P same_twice.cmake
separate_arguments(args UNIX_COMMAND "${ARGS}")
foreach(run 1 2)
  execute_process(COMMAND ${FUZZER} ${args} RESULT_VARIABLE status OUTPUT_VARIABLE log
                  ERROR_VARIABLE log)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "run ${run} of ${FUZZER} failed (${status}):\n${log}")
  endif()
  # Dictionary words in the log may hold any printable byte: keep CMake's list
  # separators and brackets out of the events.
  string(REGEX REPLACE "[][;]" "_" log "${log}")
  # Event lines: "#<runs>\t<EVENT> cov: ... exec/s: ... rss: ...Mb ...", the
  # events in capitals (INITED, NEW, REDUCE, DONE), unlike "pulse".
  string(REGEX MATCHALL "#[0-9]+\t[A-Z][^\n]*" events "${log}")
  string(REGEX REPLACE " (exec/s: [0-9]+|rss: [0-9]+Mb)" "" events "${events}")
  # The run counter too: libFuzzer may run a seed a second time at start (its
  # leak check runs an input again when mallocs and frees did not pair up),
  # which shifts every count by one and changes nothing else.
  string(REGEX REPLACE "#[0-9]+\t" "" events "${events}")
  set(events_${run} "${events}")
endforeach()

list(LENGTH events_1 count)
if(NOT events_1 MATCHES "(^|;)DONE ")
  message(FATAL_ERROR "no final event in the output of ${FUZZER}:\n${log}")
endif()
if(NOT events_1 STREQUAL events_2)
  set(index 0)
  foreach(event IN LISTS events_1)
    list(GET events_2 ${index} other)
    if(NOT event STREQUAL other)
      set(first "${event}")
      break()
    endif()
    math(EXPR index "${index} + 1")
  endforeach()
  message(FATAL_ERROR "two runs of ${FUZZER} differ at event ${index} of ${count}:\n"
                      "  ${first}\n  ${other}")
endif()
message(STATUS "two runs of ${FUZZER}: the same ${count} events")
