#!/bin/sh
# host.make_run_home_disk: `make run` gives QEMU the home volume as the first
# virtio-blk disk, before the user's arguments, for the default system only.
set -u
source_dir=$1
build_dir=$2
line=$(make -s -n -C "$source_dir" run BUILD_DIR="$build_dir" 2>&1)
want="-- -drive file=$build_dir/home.img,if=none,id=home,format=raw -device virtio-blk-pci,drive=home"
case $line in
*"$want"*) ;;
*) echo "make run's command line lacks: $want"; echo "$line"; exit 1 ;;
esac
demo=$(make -s -n -C "$source_dir" run BUILD_DIR="$build_dir" SYSTEM=demo 2>&1)
case $demo in
*id=home*) echo "SYSTEM=demo attaches the home volume"; echo "$demo"; exit 1 ;;
esac
echo "make run attaches the home volume first"
