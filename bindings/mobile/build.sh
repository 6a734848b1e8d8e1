#!/usr/bin/env bash
# Mobile static libraries: `make mobile` runs this (from any directory).
#
# Builds libnegsync.a for Android (aarch64-linux-android, armv7-linux-androideabi) and iOS
# (aarch64-apple-ios) with `cargo rustc --release --target X --lib --crate-type staticlib`: a static
# library is an archive, so no Android NDK or Apple SDK linker is needed (the crate's cdylib
# would need one: docs/firmware.md says how to build the shared libraries with them). Installs
# each Rust target with rustup when missing; a target that cannot be installed is skipped with
# the reason (exit 0). A build that fails once its target is installed fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."

built=()
skipped=()
for target in aarch64-linux-android armv7-linux-androideabi aarch64-apple-ios; do
  start=$(date +%s)
  if [ ! -d "$(rustc --print sysroot)/lib/rustlib/$target" ]; then
    if ! command -v rustup >/dev/null 2>&1; then
      skipped+=("$target (not installed, and there is no rustup)")
      continue
    fi
    if ! rustup target add "$target" >/dev/null 2>&1; then
      skipped+=("$target (rustup target add failed: offline?)")
      continue
    fi
    echo "== mobile: installed Rust target $target ($(($(date +%s) - start)) s)"
  fi
  cargo rustc --quiet --release --target "$target" --lib --crate-type staticlib
  lib="target/$target/release/libnegsync.a"
  [ -s "$lib" ] || { echo "== mobile: FAILED: $lib was not written"; exit 1; }
  echo "== mobile: built $lib ($(($(wc -c <"$lib") / 1024)) KiB) in $(($(date +%s) - start)) s"
  built+=("$target")
done
for reason in ${skipped[@]+"${skipped[@]}"}; do echo "== mobile: SKIPPED $reason"; done
echo "== mobile: ${#built[@]} of 3 static libraries built${skipped[*]:+; ${#skipped[@]} skipped}"
