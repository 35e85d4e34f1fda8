# The bootable ISO: GRUB 2 loads the kernel through Multiboot2 and hands it the boot
# archive as its one module. grub-mkrescue makes the image bootable from both BIOS
# (grub-pc-bin) and UEFI (grub-efi-amd64-bin, mtools).
#
# This file has two roles:
#   include()d from system/CMakeLists.txt, after CAPOS_BOOT_ARCHIVE is set: defines
#     the target `iso` (in ALL) producing ${CMAKE_BINARY_DIR}/capos.iso;
#   run as `cmake -P cmake/iso.cmake` by that target: stages the files and calls
#     grub-mkrescue, showing its chatter only when it fails.

if(CMAKE_SCRIPT_MODE_FILE)
  # Script mode. Inputs: GRUB_MKRESCUE, KERNEL, ARCHIVE, GRUB_CFG, STAGING, OUTPUT.
  file(REMOVE_RECURSE ${STAGING})
  file(MAKE_DIRECTORY ${STAGING}/boot/grub)
  file(COPY_FILE ${KERNEL} ${STAGING}/boot/kernel.elf)
  file(COPY_FILE ${ARCHIVE} ${STAGING}/boot/boot.cpio)
  file(COPY_FILE ${GRUB_CFG} ${STAGING}/boot/grub/grub.cfg)
  # Build under a temporary name so that a failed run never leaves a fresh-looking ISO.
  # No fonts, locales or themes: the menu is never shown.
  execute_process(
    COMMAND ${GRUB_MKRESCUE} -o ${OUTPUT}.tmp --fonts= --locales= --themes= ${STAGING} -quiet
    RESULT_VARIABLE status
    OUTPUT_VARIABLE log
    ERROR_VARIABLE log)
  if(NOT status EQUAL 0)
    file(REMOVE ${OUTPUT}.tmp)
    message(FATAL_ERROR "grub-mkrescue failed (${status}):\n${log}")
  endif()
  file(RENAME ${OUTPUT}.tmp ${OUTPUT})
  return()
endif()

find_program(CAPOS_GRUB_MKRESCUE grub-mkrescue REQUIRED)
# grub-mkrescue needs both to build the image; missing ones fail late and obscurely.
find_program(CAPOS_XORRISO xorriso REQUIRED)
find_program(CAPOS_MFORMAT mformat REQUIRED)

set(CAPOS_ISO ${CMAKE_BINARY_DIR}/capos.iso CACHE INTERNAL "")
set(CAPOS_GRUB_CFG ${PROJECT_SOURCE_DIR}/system/grub.cfg)
add_custom_command(
  OUTPUT ${CAPOS_ISO}
  COMMAND
    ${CMAKE_COMMAND} -DGRUB_MKRESCUE=${CAPOS_GRUB_MKRESCUE} -DKERNEL=$<TARGET_FILE:kernel>
    -DARCHIVE=${CAPOS_BOOT_ARCHIVE} -DGRUB_CFG=${CAPOS_GRUB_CFG}
    -DSTAGING=${CMAKE_CURRENT_BINARY_DIR}/iso-root -DOUTPUT=${CAPOS_ISO} -P
    ${CMAKE_CURRENT_LIST_FILE}
  DEPENDS kernel ${CAPOS_BOOT_ARCHIVE} ${CAPOS_GRUB_CFG}
          ${CMAKE_CURRENT_LIST_FILE}
  COMMENT "Building capos.iso"
  VERBATIM)
add_custom_target(iso ALL DEPENDS ${CAPOS_ISO})
add_dependencies(iso boot-archive)
