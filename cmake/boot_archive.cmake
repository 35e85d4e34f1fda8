# Boot archives: a boot manifest (Cap'n Proto text, system/*.capnp) compiled with
# `capnp eval --binary`, checked by tools/mkmanifest, and packed with the programs
# it names and the message of the day into one cpio archive by tools/mkarchive.
#
# capos_boot_archive(<name> MANIFEST <file.capnp> [PROGRAMS <target>...] [UNCHECKED]
#                    [SCHEMA])
#   makes ${CMAKE_BINARY_DIR}/system/<name>.cpio holding manifest.bin,
#   etc/motd and bin/<target> for each program (the user program targets of
#   user/), and a target boot-archive-<name> in ALL. The manifest's binaries
#   name their files as "bin/<target>". UNCHECKED packs the manifest without
#   tools/mkmanifest: only for tests of the kernel's own check at boot. SCHEMA
#   adds etc/schema.bin, the compiled schema SchemaRegistry serves, and
#   etc/man.bin, the manual Manual serves (made from it, schema/CMakeLists.txt).
find_program(CAPOS_CAPNP_TOOL capnp REQUIRED)

function(capos_boot_archive name)
  cmake_parse_arguments(ARG "UNCHECKED;SCHEMA" "MANIFEST" "PROGRAMS" ${ARGN})
  get_filename_component(manifest ${ARG_MANIFEST} ABSOLUTE)
  set(out_dir ${CMAKE_BINARY_DIR}/system)
  set(manifest_bin ${out_dir}/${name}.manifest.bin)
  set(archive ${out_dir}/${name}.cpio)

  add_custom_command(
    OUTPUT ${manifest_bin}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${CAPOS_CAPNP_TOOL} eval --binary -I${PROJECT_SOURCE_DIR} ${manifest} manifest
            > ${manifest_bin}
    DEPENDS ${manifest} ${PROJECT_SOURCE_DIR}/schema/capos.capnp
    COMMENT "Compiling boot manifest ${ARG_MANIFEST}")

  set(entries manifest.bin=${manifest_bin} etc/motd=${PROJECT_SOURCE_DIR}/system/motd.txt)
  set(paths manifest.bin etc/motd)
  set(depends ${manifest_bin} ${PROJECT_SOURCE_DIR}/system/motd.txt)
  if(ARG_SCHEMA)
    list(APPEND entries etc/schema.bin=${CAPOS_SCHEMA_REQUEST} etc/man.bin=${CAPOS_MANUAL})
    list(APPEND paths etc/schema.bin etc/man.bin)
    list(APPEND depends ${CAPOS_SCHEMA_REQUEST} capos_schema_request ${CAPOS_MANUAL} capos_manual)
  endif()
  foreach(program IN LISTS ARG_PROGRAMS)
    list(APPEND entries bin/${program}=$<TARGET_FILE:${program}>)
    list(APPEND paths bin/${program})
    list(APPEND depends ${program})
  endforeach()
  # The manifest is checked (tools/mkmanifest) before anything is packed.
  if(ARG_UNCHECKED)
    add_custom_command(
      OUTPUT ${archive}
      COMMAND capos-mkarchive -o ${archive} ${entries}
      DEPENDS capos-mkarchive ${depends}
      COMMENT "Packing boot archive ${name} (manifest not checked)")
  else()
    add_custom_command(
      OUTPUT ${archive}
      COMMAND capos-mkmanifest ${manifest_bin} ${paths}
      COMMAND capos-mkarchive -o ${archive} ${entries}
      DEPENDS capos-mkmanifest capos-mkarchive ${depends}
      COMMENT "Checking and packing boot archive ${name}")
  endif()
  add_custom_target(boot-archive-${name} ALL DEPENDS ${archive})
endfunction()
