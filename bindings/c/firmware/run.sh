#!/usr/bin/env bash
# negsync on microcontrollers under QEMU: `make firmware` runs this (from any directory).
#
# 1. Gets its tools, installing what is missing where it can: the Rust targets thumbv6m-none-eabi,
#    thumbv7m-none-eabi, thumbv7em-none-eabihf and riscv32imc-unknown-none-elf (rustup);
#    arm-none-eabi-gcc and newlib (Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi);
#    riscv64-unknown-elf-gcc and picolibc (gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf);
#    qemu-system-arm and qemu-system-riscv32: Debian's qemu-system-arm and qemu-system-misc and
#    the few libraries they lack here are unpacked into build/qemu/ (apt-get download +
#    dpkg-deb -x), because installing them would remove this machine's qemu-utils. Tools that
#    cannot be had: it says so and exits 0.
# 2. Builds libnegsync.a for the four targets (cargo profile "firmware": opt-level z, LTO,
#    panic=abort; no std, feature c-runtime) and links main.c into five images.
# 3. Runs the full check on mps2-an385 (Cortex-M3), mps2-an386 (Cortex-M4F) and riscv32 virt
#    (RV32IMC), and the 16 KB check on microbit (nRF51, Cortex-M0): reconciliations checked by
#    construction, budgets asserted by the program itself. The same program built for the host
#    must print the same transcript digests (the same bytes on the wire everywhere). A deliberate
#    panic must reach the firmware's panic hook.
# 4. Searches the largest set a side that reconciles, both peers in one image, on lm3s6965evb
#    (64 KB of RAM) at frame limit 1024 and on microbit (16 KB) at frame limit 200, one boot per
#    size, with the initiator's IDs taken each round (the budgets) and held to the end (reported),
#    and fails below either board's budget.
#    Out of memory shows as NEGSYNC_NO_MEMORY (exit 1) or negsync's panic hook (exit 3).
# Any build or run failure once the tools are there fails the script. docs/firmware.md explains.
set -euo pipefail
cd "$(dirname "$0")/../../.."

FW=bindings/c/firmware
OUT=build/firmware
QEMU_ROOT=build/qemu/root
QEMU_TIMEOUT=120
LM3S_LIMIT=1024
LM3S_GOAL=640
MICROBIT_LIMIT=200
MICROBIT_GOAL=100

say() { echo "== firmware: $*"; }
skip() {
  say "SKIPPED: $*"
  say "(nothing was tested on a microcontroller; install the tools named above to run it)"
  exit 0
}
fail() {
  say "FAILED: $*"
  exit 1
}
elapsed() { echo "$(($(date +%s) - $1)) s"; }

# ---- 1. Tools --------------------------------------------------------------------------------

apt_updated=
apt_ready() {
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] || return 1
  if [ -z "$apt_updated" ]; then
    apt-get update -qq >/dev/null 2>&1 || return 1
    apt_updated=1
  fi
}

TARGETS=(thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf)
for target in "${TARGETS[@]}"; do
  if [ ! -d "$(rustc --print sysroot)/lib/rustlib/$target" ]; then
    start=$(date +%s)
    command -v rustup >/dev/null 2>&1 || skip "Rust target $target is not installed and there is no rustup"
    rustup target add "$target" >/dev/null 2>&1 || skip "rustup target add $target failed (offline?)"
    say "installed Rust target $target ($(elapsed "$start"))"
  fi
done

newlib_ok() {
  command -v arm-none-eabi-gcc >/dev/null 2>&1 &&
    [ -f "$(arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -print-file-name=libc_nano.a)" ]
}
if ! newlib_ok; then
  start=$(date +%s)
  apt_ready || skip "arm-none-eabi-gcc/newlib missing and apt-get is not usable here"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    gcc-arm-none-eabi libnewlib-arm-none-eabi >/dev/null 2>&1 ||
    skip "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi failed"
  newlib_ok || skip "arm-none-eabi-gcc or newlib still missing after apt-get install"
  say "installed gcc-arm-none-eabi and libnewlib-arm-none-eabi ($(elapsed "$start"))"
fi

# RV32IMC: picolibc's multilib for rv32im serves (the C code here needs no compressed
# instructions of its own); its specs bring the semihosting crt0, stdio and exit.
picolibc_ok() { # a program links for rv32imc with picolibc's semihosting
  command -v riscv64-unknown-elf-gcc >/dev/null 2>&1 &&
    echo 'int main(void) { return 0; }' | riscv64-unknown-elf-gcc -march=rv32imc -mabi=ilp32 \
      --specs=picolibc.specs --oslib=semihost --crt0=semihost -x c - -o /dev/null >/dev/null 2>&1
}
if ! picolibc_ok; then
  start=$(date +%s)
  apt_ready || skip "riscv64-unknown-elf-gcc/picolibc missing and apt-get is not usable here"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf >/dev/null 2>&1 ||
    skip "apt-get install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf failed"
  picolibc_ok || skip "riscv64-unknown-elf-gcc or picolibc still missing after apt-get install"
  say "installed gcc-riscv64-unknown-elf and picolibc-riscv64-unknown-elf ($(elapsed "$start"))"
fi

# QEMU: the machine's own if it has one, else Debian's package unpacked into build/qemu/.
# Installing qemu-system-arm or qemu-system-misc (riscv32) with apt would remove this machine's
# qemu-utils here, so the package and those of its dependencies that are not installed are
# downloaded and unpacked instead, and run with LD_LIBRARY_PATH.
qemu_libs="$PWD/$QEMU_ROOT/usr/lib/x86_64-linux-gnu:$PWD/$QEMU_ROOT/lib/x86_64-linux-gnu"
export LD_LIBRARY_PATH="$qemu_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
find_qemu() { # binary, Debian package: sets $found to a QEMU that runs, installing it if need be
  local binary=$1 package=$2
  found=$binary
  "$binary" --version >/dev/null 2>&1 && return
  local unpacked="$PWD/$QEMU_ROOT/usr/bin/$binary"
  if ! "$unpacked" --version >/dev/null 2>&1; then
    local start
    start=$(date +%s)
    apt_ready || skip "$binary missing and apt-get is not usable here"
    # The package and, recursively, those of its dependencies that are not installed. Not
    # qemu-system-common/-data (helpers, firmware and keymaps: not needed for -kernel -nographic).
    local wanted=("$package") queue=("$package") dep
    while [ ${#queue[@]} -gt 0 ]; do
      package=${queue[0]}
      queue=("${queue[@]:1}")
      for dep in $(apt-cache depends --no-recommends --no-suggests --no-enhances --no-breaks \
        --no-conflicts --no-replaces "$package" 2>/dev/null |
        awk '$1 ~ /^\|?(Pre)?Depends:$/ && $2 !~ /^</ {print $2}'); do
        case " ${wanted[*]} qemu-system-common qemu-system-data " in *" $dep "*) continue ;; esac
        dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q 'install ok installed' && continue
        wanted+=("$dep")
        queue+=("$dep")
      done
    done
    mkdir -p build/qemu/debs
    (cd build/qemu/debs && apt-get download "${wanted[@]}" >/dev/null 2>&1) ||
      skip "apt-get download ${wanted[*]} failed"
    for deb in build/qemu/debs/*.deb; do dpkg-deb -x "$deb" "$QEMU_ROOT"; done
    "$unpacked" --version >/dev/null 2>&1 ||
      skip "the unpacked $binary does not run: $("$unpacked" --version 2>&1 | head -1)"
    say "unpacked ${wanted[*]} into build/qemu/ ($(elapsed "$start"))"
  fi
  found=$unpacked
}
find_qemu qemu-system-arm qemu-system-arm
QEMU=$found
find_qemu qemu-system-riscv32 qemu-system-misc
QEMU_RV=$found
say "tools: $(arm-none-eabi-gcc --version | head -1); $(riscv64-unknown-elf-gcc --version | head -1); $("$QEMU" --version | head -1)"

# ---- 2. Build ----------------------------------------------------------------------------------

mkdir -p "$OUT"
for target in "${TARGETS[@]}"; do
  cargo rustc --quiet --profile firmware --no-default-features --features c-runtime \
    --target "$target" --lib --crate-type staticlib
done
# The host build of the same program, for the transcript comparison.
cargo build --quiet --release

CFLAGS=(-std=c99 -Wall -Wextra -Wpedantic -Werror -Os -g -ffunction-sections -fdata-sections
  -Iinclude)
M0=(-mcpu=cortex-m0 -mthumb)
M3=(-mcpu=cortex-m3 -mthumb)
M4F=(-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard)
# The C library (and aeabi_mem.c) before libnegsync.a, so that Rust uses the C library's
# memcpy/memmove/memset instead of bringing its own copies (docs/firmware.md).
# NEGSYNC_FIRMWARE: the header declares the c-runtime functions (negsync_set_allocator, ...).
# critical_section.c: what a CPU without compare-and-swap must give negsync (unused on M3/M4).
link_image() { # board, rust target, compiler flags...
  local board=$1 target=$2
  shift 2
  arm-none-eabi-gcc "$@" "${CFLAGS[@]}" -DNEGSYNC_FIRMWARE -DBOARD="\"$board\"" \
    --specs=nano.specs -nostartfiles -L "$FW" -T "$FW/$board.ld" \
    -Wl,--gc-sections -Wl,--no-warn-execstack -Wl,-Map="$OUT/$board.map" \
    "$FW/main.c" "$FW/startup.c" "$FW/syscalls.c" "$FW/command_line.c" "$FW/aeabi_mem.c" \
    "$FW/critical_section.c" \
    -lc "target/$target/firmware/libnegsync.a" -o "$OUT/$board.elf"
}
link_image mps2-an385 thumbv7m-none-eabi "${M3[@]}"
link_image mps2-an386 thumbv7em-none-eabihf "${M4F[@]}"
# 64 KB: the checker's seen-map sized for the 10% differences of the sizes searched here.
link_image lm3s6965evb thumbv7m-none-eabi "${M3[@]}" -DPANIC_TEST -DMAX_DIFF=1024
# 16 KB of RAM: smaller insert batches (their arrays live on the stack) and a smaller seen-map.
link_image microbit thumbv6m-none-eabi "${M0[@]}" -DBATCH=8 -DMAX_DIFF=1024
# RISC-V: picolibc's crt0, stdio and exit over semihosting; its linker script, with the memory
# map in riscv32-virt.ld.
riscv64-unknown-elf-gcc -march=rv32imc -mabi=ilp32 --specs=picolibc.specs --oslib=semihost \
  --crt0=semihost "${CFLAGS[@]}" -DNEGSYNC_FIRMWARE -DBOARD='"riscv32-virt"' -DPANIC_TEST \
  -T "$FW/riscv32-virt.ld" -Wl,--gc-sections -Wl,-Map="$OUT/riscv32-virt.map" \
  "$FW/main.c" "$FW/board_riscv.c" "$FW/command_line.c" "$FW/critical_section.c" \
  target/riscv32imc-unknown-none-elf/firmware/libnegsync.a -o "$OUT/riscv32-virt.elf"
cc -std=c99 -Wall -Wextra -Wpedantic -Werror -O1 -g -Iinclude -DNEGSYNC_HOST \
  "$FW/main.c" target/release/libnegsync.a -lpthread -lm -ldl -lrt -lutil -lgcc_s -o "$OUT/host"
for board in mps2-an385 mps2-an386 lm3s6965evb microbit; do
  arm-none-eabi-size "$OUT/$board.elf" | tail -1 | awk -v b="$board" \
    '{printf "== firmware: built %s.elf: %d bytes of flash (text+data), %d of RAM (data+bss)\n", b, $1+$2, $2+$3}'
done
riscv64-unknown-elf-size "$OUT/riscv32-virt.elf" | tail -1 | awk \
  '{printf "== firmware: built riscv32-virt.elf: %d bytes of flash (text+data), %d of RAM (data+bss, with the stack)\n", $1+$2, $2+$3}'

# ---- 3. Run ------------------------------------------------------------------------------------

run_board() { # board, args...: output in $OUT/last.log, returns the exit status
  local board=$1 args=main
  shift
  for a in "$@"; do args+=",arg=$a"; done
  local machine=(-M "$board")
  case $board in
    mps2-an385 | lm3s6965evb) machine+=(-cpu cortex-m3) ;;
    mps2-an386) machine+=(-cpu cortex-m4) ;;
  esac
  local qemu=$QEMU
  if [ "$board" = riscv32-virt ]; then
    qemu=$QEMU_RV
    machine=(-M virt -bios none)
  fi
  local status=0
  timeout "$QEMU_TIMEOUT" "$qemu" "${machine[@]}" -nographic -monitor none \
    -semihosting-config "enable=on,target=native,arg=$args" -kernel "$OUT/$board.elf" \
    </dev/null >"$OUT/last.log" 2>"$OUT/last.stderr" || status=$?
  # picolibc writes a character at a time (SYS_WRITEC), which QEMU sends to its stderr.
  [ "$board" != riscv32-virt ] || cat "$OUT/last.stderr" >>"$OUT/last.log"
  return "$status"
}

"$OUT/host" >"$OUT/host.log" || { cat "$OUT/host.log"; fail "the host build of main.c failed"; }
"$OUT/host" small >"$OUT/host-small.log" || {
  cat "$OUT/host-small.log"
  fail "the host build of main.c failed (small)"
}
for run in "mps2-an385 host.log" "mps2-an386 host.log" "riscv32-virt host.log" \
  "microbit host-small.log small"; do
  set -- $run
  board=$1 expected=$2
  shift 2
  start=$(date +%s)
  status=0
  run_board "$board" "$@" || status=$?
  cp "$OUT/last.log" "$OUT/$board.log"
  cat "$OUT/$board.log"
  [ "$status" = 0 ] || { cat "$OUT/last.stderr"; fail "$board exited with status $status"; }
  diff <(grep '^transcript' "$OUT/$expected") <(grep '^transcript' "$OUT/$board.log") >/dev/null ||
    fail "$board exchanged other bytes than the host build (diff $OUT/$expected $OUT/$board.log)"
  say "$board passed in $(elapsed "$start"); its transcripts match the host build's"
done

# A panic without std: negsync calls the firmware's hook, which must not return.
for board in lm3s6965evb riscv32-virt; do
  status=0
  run_board "$board" panic || status=$?
  [ "$status" = 3 ] && grep -q '^PANIC (negsync panic hook): negsync panicked: negsync_debug_panic' \
    "$OUT/last.log" || { cat "$OUT/last.log"; fail "$board: a panic did not reach the panic hook (status $status)"; }
  say "$board: a panic inside negsync reached the panic hook: $(head -1 "$OUT/last.log")"
done

# Out of memory where negsync cannot return an error (filling a set): the hook, with the size.
status=0
run_board lm3s6965evb size 800 1024 || status=$?
[ "$status" = 3 ] && grep -q '^PANIC (negsync panic hook): negsync panicked: memory allocation of [0-9]* bytes failed' \
  "$OUT/last.log" || { cat "$OUT/last.log"; fail "lm3s6965evb: a set too large did not reach the panic hook (status $status)"; }
say "lm3s6965evb: a set too large for the heap reached the panic hook: $(head -1 "$OUT/last.log")"

# ---- 4. The largest set a side on lm3s6965evb (64 KB of RAM) and microbit (16 KB) ---------------

fits() { # board, n, limit, mode: 0 when n items a side reconcile, 1 when memory runs out; else fails
  local status=0
  run_board "$1" size "$2" "$3" "$4" || status=$?
  case $status in
    0) return 0 ;;
    # Out of memory: NEGSYNC_NO_MEMORY where negsync can tell, else the panic hook.
    1) grep -q 'NEGSYNC_NO_MEMORY' "$OUT/last.log" && return 1 ;;
    3) grep -q 'memory allocation of' "$OUT/last.log" && return 1 ;;
  esac
  cat "$OUT/last.log" "$OUT/last.stderr"
  fail "$1 with $2 items a side exited with status $status"
}
# Up in steps to the first size that does not fit, then bisect that step. Heap fragmentation
# makes the edge ragged (a size above it may fit again): the figure is the largest size below
# the first failure found this way. Sets $largest. Mode "each": the initiator takes its IDs each
# round and forgets them (negsync_session_forget_ids); "held": it holds them all to the end.
search() { # board, limit, step, mode
  local board=$1 limit=$2 step=$3 mode=$4 low=0 high=$3 mid start
  start=$(date +%s)
  while fits "$board" "$high" "$limit" "$mode"; do
    cp "$OUT/last.log" "$OUT/$board-fit.log"
    low=$high
    high=$((high + step))
    [ "$high" -le 8192 ] || fail "$board: no out-of-memory even at $high items a side?"
  done
  cp "$OUT/last.log" "$OUT/$board-oom.log"
  while [ $((high - low)) -gt 1 ]; do
    mid=$(((low + high) / 2))
    if fits "$board" "$mid" "$limit" "$mode"; then
      cp "$OUT/last.log" "$OUT/$board-fit.log"
      low=$mid
    else
      cp "$OUT/last.log" "$OUT/$board-oom.log"
      high=$mid
    fi
  done
  [ "$low" -gt 0 ] || fail "$board: not even 1 item a side fits"
  say "$board search ($mode) took $(elapsed "$start")"
  grep '^fits' "$OUT/$board-fit.log"
  say "at $high items a side it runs out of memory, and negsync reports:"
  grep -E '^(PANIC|heap at|FAILED)' "$OUT/$board-oom.log" | sed 's/^/     /'
  largest=$low
}
search lm3s6965evb "$LM3S_LIMIT" 64 each
lm3s_largest=$largest
search lm3s6965evb "$LM3S_LIMIT" 64 held
lm3s_held=$largest
search microbit "$MICROBIT_LIMIT" 16 each
microbit_largest=$largest
search microbit "$MICROBIT_LIMIT" 16 held
microbit_held=$largest

# ---- Summary -----------------------------------------------------------------------------------

verdict() { [ "$1" -ge "$2" ] && echo met || echo "NOT MET"; }
{
  for board in mps2-an385 mps2-an386 riscv32-virt microbit; do
    grep '^figure' "$OUT/$board.log" | sed "s/^/$board /"
  done
  echo "lm3s6965evb figure largest_set_a_side_limit_$LM3S_LIMIT $lm3s_largest" \
    "budget >= $LM3S_GOAL: $(verdict "$lm3s_largest" "$LM3S_GOAL") (IDs taken each round)"
  echo "lm3s6965evb figure largest_set_a_side_limit_${LM3S_LIMIT}_held $lm3s_held" \
    "(IDs held to the end)"
  echo "microbit figure largest_set_a_side_limit_$MICROBIT_LIMIT $microbit_largest" \
    "budget >= $MICROBIT_GOAL: $(verdict "$microbit_largest" "$MICROBIT_GOAL") (IDs taken each round)"
  echo "microbit figure largest_set_a_side_limit_${MICROBIT_LIMIT}_held $microbit_held" \
    "(IDs held to the end)"
} >"$OUT/figures.txt"
say "largest set a side on lm3s6965evb at frame limit $LM3S_LIMIT: $lm3s_largest with the IDs" \
  "taken each round (budget >= $LM3S_GOAL: $(verdict "$lm3s_largest" "$LM3S_GOAL")), $lm3s_held" \
  "with them held to the end"
say "largest set a side on microbit at frame limit $MICROBIT_LIMIT: $microbit_largest with the IDs" \
  "taken each round (budget >= $MICROBIT_GOAL: $(verdict "$microbit_largest" "$MICROBIT_GOAL"))," \
  "$microbit_held with them held to the end"
[ "$lm3s_largest" -ge "$LM3S_GOAL" ] ||
  fail "lm3s6965evb holds $lm3s_largest items a side at limit $LM3S_LIMIT, budget $LM3S_GOAL"
[ "$microbit_largest" -ge "$MICROBIT_GOAL" ] ||
  fail "microbit holds $microbit_largest items a side at limit $MICROBIT_LIMIT, budget $MICROBIT_GOAL"
say "passed: mps2-an385, mps2-an386, riscv32 virt and microbit reconcile correctly within" \
  "their budgets, and lm3s6965evb and microbit hold the sets their budgets ask; figures in" \
  "$OUT/figures.txt"
