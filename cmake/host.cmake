# Flags for programs that run on the build machine: host tests, tools, fuzzers.
set(CAPOS_HOST_WARNINGS -Wall -Wextra -Werror)
set(CAPOS_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                         -fno-omit-frame-pointer)

# capos_host_target(<target> [SANITIZE]): warnings for a host target, and
# ASan+UBSan when SANITIZE is given.
function(capos_host_target target)
  cmake_parse_arguments(ARG "SANITIZE" "" "" ${ARGN})
  target_compile_options(${target} PRIVATE ${CAPOS_HOST_WARNINGS})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR})
  if(ARG_SANITIZE)
    target_compile_options(${target} PRIVATE ${CAPOS_SANITIZE_FLAGS})
    target_link_options(${target} PRIVATE ${CAPOS_SANITIZE_FLAGS})
  endif()
endfunction()
