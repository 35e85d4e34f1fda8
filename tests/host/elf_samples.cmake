# Real static binaries for elf_test.cpp, linked by lld from elf_sample.c the way
# user programs are (static, not position-independent), plus two the loader must
# refuse: one linked --omagic (a single RWX segment) and a PIE. Included by
# tests/host/CMakeLists.txt after lib_tests and lib_tests_san are defined; the
# paths reach the tests as compile definitions.
set(elf_sample_source ${CMAKE_CURRENT_SOURCE_DIR}/elf_sample.c)
set(elf_sample_flags -static -nostdlib -ffreestanding -fno-pic -fno-stack-protector -fuse-ld=lld
                     -O2)
set(elf_sample ${CMAKE_CURRENT_BINARY_DIR}/elf_sample)
set(elf_sample_rwx ${CMAKE_CURRENT_BINARY_DIR}/elf_sample_rwx)
set(elf_sample_pie ${CMAKE_CURRENT_BINARY_DIR}/elf_sample_pie)
add_custom_command(
  OUTPUT ${elf_sample} ${elf_sample_rwx} ${elf_sample_pie}
  COMMAND ${CMAKE_C_COMPILER} ${elf_sample_flags} -o ${elf_sample} ${elf_sample_source}
  COMMAND ${CMAKE_C_COMPILER} ${elf_sample_flags} -Wl,--omagic -o ${elf_sample_rwx}
          ${elf_sample_source}
  COMMAND ${CMAKE_C_COMPILER} -nostdlib -ffreestanding -fPIE -pie -fuse-ld=lld -O2 -o
          ${elf_sample_pie} ${elf_sample_source}
  DEPENDS ${elf_sample_source}
  COMMENT "Linking ELF loader test binaries"
  VERBATIM)
add_custom_target(elf_test_samples DEPENDS ${elf_sample} ${elf_sample_rwx} ${elf_sample_pie})

foreach(target lib_tests lib_tests_san)
  target_compile_definitions(
    ${target} PRIVATE CAPOS_ELF_SAMPLE="${elf_sample}" CAPOS_ELF_SAMPLE_RWX="${elf_sample_rwx}"
                      CAPOS_ELF_SAMPLE_PIE="${elf_sample_pie}")
  add_dependencies(${target} elf_test_samples)
endforeach()
