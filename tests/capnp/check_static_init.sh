#!/usr/bin/env bash
# Fails when an object file needs code run before main (global constructors) or
# on first use (initialization guards). Run on capnp_kernel_check's object: the
# generated headers' default values must be constant-initialized, because the
# kernel allows no global constructors (tests/kernel/check_image.sh) and its
# statics must not be initialized lazily, racing between CPUs.
set -euo pipefail
object=$1
if readelf -SW "$object" | grep -qE '\.(init_array|ctors)([[:space:]]|$)'; then
    echo "FAIL: $object has global constructors"
    exit 1
fi
guards=$(nm "$object" | grep -E ' _ZGV' || true)
if [ -n "$guards" ]; then
    echo "FAIL: initialization guards in $object:"
    c++filt <<<"$guards"
    exit 1
fi
echo "no global constructors or initialization guards in $object"
