#!/usr/bin/env bash
# Runs every fuzz target for a short time (default 10 s each), starting from the checked-in seeds
# in fuzz/seeds/<target>/ (read only; new inputs go to build/fuzz/<target>/). Skips, saying why,
# when cargo-fuzz is not installed:  cargo install cargo-fuzz
# Longer runs:  FUZZ_SECONDS=600 fuzz/smoke.sh   or, per target,
#   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O <target> -- -runs=10000000
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-10}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz smoke: SKIPPED (cargo-fuzz is not installed; cargo install cargo-fuzz)"
  exit 0
fi
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
for target in $(cargo fuzz list); do
  mkdir -p "../build/fuzz/$target" "seeds/$target"
  echo "== fuzz smoke: $target (${seconds}s)"
  cargo fuzz run -O "$target" "../build/fuzz/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 2>&1 | grep -E "^(Done|stat::number_of_executed_units)" || {
      echo "fuzz smoke: $target FAILED (see fuzz/artifacts/$target)"
      exit 1
    }
done
