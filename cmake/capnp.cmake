# Code generation from Cap'n Proto schemas with tools/capnpc-capos (docs/schema.md).
#
# capos_capnp_generate(<target> SCHEMAS <file>... [SRC_PREFIX <dir>] [OUTPUT_DIR <dir>]
#                      [IMPORT_PATHS <dir>...] [NO_STANDARD_IMPORT] [DEPENDS <file>...])
#
# Runs `capnp compile` with the plugin over SCHEMAS and makes <target>, an
# INTERFACE library whose include path reaches the generated headers. Each schema
# `<SRC_PREFIX>/<path>.capnp` gives `<OUTPUT_DIR>/<path>.capnp.capos.h`, included as
# "<path>.capnp.capos.h" (SRC_PREFIX defaults to the repository root, so
# schema/capos.capnp is included as "schema/capos.capnp.capos.h"; OUTPUT_DIR to
# ${CMAKE_CURRENT_BINARY_DIR}/<target>). The headers are regenerated when a schema,
# a DEPENDS file (e.g. an imported schema) or the plugin changes, and formatted
# with the repository's .clang-format so that they read like the rest of the code.
# Generated headers for files with interfaces include the capos schema's, so
# <target> links capos_schema (except capos_schema itself).
find_program(CAPOS_CAPNP capnp REQUIRED)
find_program(CAPOS_CLANG_FORMAT clang-format-14 REQUIRED)
# libcapnp (Debian's libcapnp-dev), found directly rather than through pkg-config:
# capos::libcapnp for the plugin, capos::libcapnp_rpc for the wire-compatibility
# tests, whose schemas have interfaces and so need libcapnp's RPC library too.
find_path(CAPOS_LIBCAPNP_INCLUDE_DIR capnp/schema.capnp.h REQUIRED)
foreach(library capnp kj capnp-rpc kj-async)
  string(MAKE_C_IDENTIFIER ${library} variable)
  find_library(CAPOS_LIB_${variable} ${library} REQUIRED)
endforeach()
add_library(capos::libcapnp INTERFACE IMPORTED GLOBAL)
set_target_properties(capos::libcapnp PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES ${CAPOS_LIBCAPNP_INCLUDE_DIR}
  INTERFACE_LINK_LIBRARIES "${CAPOS_LIB_capnp};${CAPOS_LIB_kj}")
add_library(capos::libcapnp_rpc INTERFACE IMPORTED GLOBAL)
set_target_properties(capos::libcapnp_rpc PROPERTIES
  INTERFACE_LINK_LIBRARIES "${CAPOS_LIB_capnp_rpc};${CAPOS_LIB_kj_async};capos::libcapnp")

function(capos_capnp_generate target)
  cmake_parse_arguments(ARG "NO_STANDARD_IMPORT" "SRC_PREFIX;OUTPUT_DIR" "SCHEMAS;IMPORT_PATHS;DEPENDS"
                        ${ARGN})
  if(NOT ARG_SCHEMAS)
    message(FATAL_ERROR "capos_capnp_generate(${target}): no SCHEMAS")
  endif()
  if(NOT ARG_SRC_PREFIX)
    set(ARG_SRC_PREFIX ${PROJECT_SOURCE_DIR})
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/${target})
  endif()

  set(schemas)
  set(outputs)
  foreach(schema IN LISTS ARG_SCHEMAS)
    get_filename_component(schema ${schema} ABSOLUTE)
    file(RELATIVE_PATH relative ${ARG_SRC_PREFIX} ${schema})
    if(relative MATCHES "^\\.\\./")
      message(FATAL_ERROR "capos_capnp_generate(${target}): ${schema} is not under ${ARG_SRC_PREFIX}")
    endif()
    list(APPEND schemas ${schema})
    list(APPEND outputs ${ARG_OUTPUT_DIR}/${relative}.capos.h)
  endforeach()
  set(import_flags)
  if(ARG_NO_STANDARD_IMPORT)
    list(APPEND import_flags --no-standard-import)
  endif()
  foreach(path IN LISTS ARG_IMPORT_PATHS)
    list(APPEND import_flags -I${path})
  endforeach()

  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${ARG_OUTPUT_DIR}
    COMMAND ${CAPOS_CAPNP} compile -o$<TARGET_FILE:capnpc-capos>:${ARG_OUTPUT_DIR}
            --src-prefix=${ARG_SRC_PREFIX} ${import_flags} ${schemas}
    COMMAND ${CAPOS_CLANG_FORMAT} -i --style=file:${PROJECT_SOURCE_DIR}/.clang-format ${outputs}
    DEPENDS ${schemas} ${ARG_DEPENDS} capnpc-capos
    COMMENT "Generating C++ for ${target} from the schema"
    VERBATIM)
  add_custom_target(${target}_generate DEPENDS ${outputs})

  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_generate)
  target_include_directories(${target} INTERFACE ${ARG_OUTPUT_DIR} ${PROJECT_SOURCE_DIR})
  if(NOT target STREQUAL "capos_schema")
    target_link_libraries(${target} INTERFACE capos_schema)
  endif()
  set_target_properties(${target} PROPERTIES CAPOS_CAPNP_HEADERS "${outputs}")
endfunction()
