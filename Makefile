# capOS front door. `make run` and `make test` are all a fresh Debian 12 machine
# needs: both install missing packages first (scripts/deps.sh).

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
# The boot archive `make run` boots (build/system/$(SYSTEM).cpio).
SYSTEM ?= boot
JOBS ?= $(shell nproc)
CMAKE_FLAGS = -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
              -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
              -DCMAKE_ASM_COMPILER=clang-14
QEMU_RUNNER = $(BUILD_DIR)/tools/qemu-runner/capos-qemu
SOURCES = $(shell git ls-files -co --exclude-standard -- '*.cpp' '*.h' 2>/dev/null)

.PHONY: all deps configure build run run-iso test torture iso bench profile fmt fmt-check clean

# `make run -- <QEMU arguments>` (and run-iso): everything after `--` goes to QEMU as
# it is, e.g. `make run -- -drive file=disk.img,if=virtio -m 512M`. Make would take
# those words for goals (and the ones with '=' for variables), so they are read back,
# in order, from make's own command line, and the stray goals do nothing.
ifneq ($(filter run run-iso,$(firstword $(MAKECMDGOALS))),)
QEMU_EXTRA := $(shell sed -z -n '/^--$$/,$$p' /proc/$$PPID/cmdline 2>/dev/null | tail -z -n +2 | xargs -0 -r printf '%q ')
RUN_GOAL_WORDS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
ifneq ($(RUN_GOAL_WORDS),)
.PHONY: $(RUN_GOAL_WORDS)
$(RUN_GOAL_WORDS):
	@:
endif
endif

all: build

deps:
	@scripts/deps.sh

$(BUILD_DIR)/build.ninja:
	@scripts/deps.sh
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# QEMU's status 1 is the kernel's orderly power-off (`halt`; docs/boot.md,
# exit codes): make reports it as success, any other status as it is.
# The default system mounts the home volume from the first transitional
# virtio-blk disk: build/home.img, made from the build's system/home.img the
# first time and kept from run to run (remove it to start afresh). Disks
# given after `--` come after it (the first transitional one is disk1).
# (Named by the system: a comma inside $(if ...) would end its argument.)
HOME_IMAGE = $(BUILD_DIR)/home.img
HOME_DRIVE_boot = -drive file=$(HOME_IMAGE),if=none,id=home,format=raw \
                  -device virtio-blk-pci,drive=home
HOME_DRIVE = $(HOME_DRIVE_$(SYSTEM))
# ... and its network: a virtio-net function on QEMU's user network (the
# host's NAT: DHCP gives 10.0.2.15, the gateway is 10.0.2.2), which the
# system's network stack configures (docs/networking.md). NET_OPTIONS is
# appended to the user network's options: NET_OPTIONS=,hostfwd=tcp:127.0.0.1:7007-:7
# forwards the host's port 7007 to the guest's port 7.
NETWORK_boot = -netdev user,id=net0$(NET_OPTIONS) -device virtio-net-pci,netdev=net0
NETWORK = $(NETWORK_$(SYSTEM))
run: build
	@if [ "$(SYSTEM)" = boot ] && [ ! -f $(HOME_IMAGE) ]; then \
	    cp $(BUILD_DIR)/system/home.img $(HOME_IMAGE); fi
	@status=0; $(QEMU_RUNNER) run --kernel $(BUILD_DIR)/kernel/kernel.elf \
	    --initrd $(BUILD_DIR)/system/$(SYSTEM).cpio $(if $(APPEND),--append "$(APPEND)") \
	    -- $(HOME_DRIVE) $(NETWORK) $(QEMU_EXTRA) || status=$$?; \
	if [ $$status -eq 1 ]; then echo "capOS powered off."; exit 0; fi; exit $$status

run-iso: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target iso
	@echo "ISO: $(BUILD_DIR)/capos.iso (make run-iso; make run-iso UEFI=1 for UEFI)"
	$(QEMU_RUNNER) run --iso $(BUILD_DIR)/capos.iso $(if $(UEFI),--uefi) $(if $(QEMU_EXTRA),-- $(QEMU_EXTRA))

iso: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target iso
	@echo "ISO: $(BUILD_DIR)/capos.iso (make run-iso; make run-iso UEFI=1 for UEFI)"

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) -LE torture

# Long soaks and torture runs (tests/torture): the random-submission storm and
# the fuzz targets for a hundred times their `make test` length. Not in `make test`.
torture: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) -L torture

# Benchmarks (docs/performance.md); not part of `make test`. Builds only what they
# need and runs them:
#  1. the host Cap'n Proto benchmark: prints the Markdown table docs/performance.md
#     holds (also left in $(BUILD_DIR)/bench/, with the raw JSON);
#  2. capOS against Linux in the same QEMU: installs the bench-only packages
#     (scripts/bench-deps.sh: Debian's kernel, busybox-static), builds the capOS
#     bench system and the Linux peer (bench/linux/build.sh), boots both
#     (bench/run_bench.py) and writes the side-by-side section of
#     docs/performance.md. When the peer cannot be built (no package mirror, say)
#     capOS still runs and the section says why Linux is missing. The disk
#     figures (capOS's BlockDevice against Linux's O_DIRECT on the same image,
#     on virtio-blk and on NVMe) get a section of their own;
#     BENCH_FLAGS=--disk-only runs only them (--disk-kind nvme, one kind). So do
#     the filesystem figures (capOS's filesystem service on capfs against
#     Linux's ext4, on virtio-blk); BENCH_FLAGS=--fs-only runs only them. So do
#     the network figures (capOS's stack against Linux's behind the same
#     virtio-net and QEMU user network, driven and timed from the host by
#     bench/net_client.c); BENCH_FLAGS=--net-only runs only them.
BENCH_DIR = $(BUILD_DIR)/bench
bench: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target capnp_bench
	$(BENCH_DIR)/capnp_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
	    --benchmark_out=$(BENCH_DIR)/capnp_bench.json --benchmark_out_format=json
	python3 bench/bench_table.py $(BENCH_DIR)/capnp_bench.json | tee $(BENCH_DIR)/capnp_bench.md
	-scripts/bench-deps.sh
	cmake --build $(BUILD_DIR) -j $(JOBS) --target kernel capos-qemu boot-archive-bench \
	    boot-archive-bench_quick boot-archive-boot boot-archive-pairs_bench \
	    boot-archive-bench_disk boot-archive-bench_disk_nvme disk-image-bench-disk \
	    boot-archive-bench_fs disk-image-bench-fs boot-archive-bench_net net_client
	-bench/linux/build.sh $(BENCH_DIR)/linux
	python3 bench/run_bench.py --build-dir $(BUILD_DIR) --doc docs/performance.md $(BENCH_FLAGS)

# Where the time of the hot paths goes, deterministically (docs/performance.md):
# each figure of PROFILE_FIGURES run alone for a fixed number of operations
# under a QEMU plugin that counts instructions (per kernel function), system
# calls, address-space switches and the code and data pages and translation
# blocks touched between switches (bench/profile.py, bench/plugin); it fails
# when a figure's path allocates, takes a spin lock or formats a log line.
# The plugin is built against the installed QEMU's header from Debian's source package.
# Then the time of each stage of a call, from a measurement build of its own
# (STAGE_DIR, CMake option CAPOS_STAGE_CLOCK: kernel/lib/stage_clock.h); then
# where a received TCP frame's instructions go (bench/net_profile.py).
PROFILE_FIGURES ?= nop_16 timer_now_1 timer_now_16 ipc_raw ipc_echo
STAGE_FIGURES ?= timer_now_1 timer_now_16 ipc_raw ipc_echo
STAGE_DIR = $(BUILD_DIR)/stage-clock
profile: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target kernel capos-qemu capos-mkarchive \
	    ring_bench bench_echo bench_minimal
	bench/plugin/build.sh $(BENCH_DIR)/plugin
	test -f $(STAGE_DIR)/build.ninja || \
	    cmake -S . -B $(STAGE_DIR) $(CMAKE_FLAGS) -DCAPOS_STAGE_CLOCK=ON
	cmake --build $(STAGE_DIR) -j $(JOBS) --target kernel capos-qemu capos-mkarchive \
	    ring_bench bench_echo bench_minimal
	python3 bench/profile.py --build-dir $(BUILD_DIR) --require-clean \
	    --plugin $(BENCH_DIR)/plugin/libcapos_profile.so $(PROFILE_FIGURES) \
	    > $(BENCH_DIR)/profile.md; status=$$?; \
	python3 bench/profile.py --build-dir $(STAGE_DIR) --stage-clock $(STAGE_FIGURES) \
	    >> $(BENCH_DIR)/profile.md || status=1; \
	cmake --build $(BUILD_DIR) -j $(JOBS) --target boot-archive-bench_net net_client || status=1; \
	python3 bench/net_profile.py --build-dir $(BUILD_DIR) \
	    --plugin $(BENCH_DIR)/plugin/libcapos_profile.so >> $(BENCH_DIR)/profile.md || status=1; \
	cat $(BENCH_DIR)/profile.md; exit $$status

fmt:
	clang-format-14 -i $(SOURCES)

fmt-check:
	clang-format-14 --dry-run -Werror $(SOURCES)

clean:
	rm -rf $(BUILD_DIR)
