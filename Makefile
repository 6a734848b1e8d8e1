# negsync: the two commands of the README.
#   make demo   builds the library, then runs the C and Python two-peer examples
#   make test   runs every test: fmt, clippy, Rust (with header drift), C (static and shared,
#               under valgrind, and with ASan+UBSan), Python, both examples, the C and Python
#               harnesses against the negentropy crate (interop), the firmware under QEMU and the
#               mobile static libraries (each says plainly when it skips)
# Other targets are the steps these two are made of.

CC       ?= cc
CXX      ?= c++
PYTHON   ?= python3
CFLAGS   := -std=c99 -Wall -Wextra -Wpedantic -Werror -O1 -g -Iinclude
CXXFLAGS := -std=c++11 -Wall -Wextra -Wpedantic -Werror -Iinclude
# Where `make lib` leaves the C libraries.
RELDIR   := target/release
BUILD    := build
# What the Rust standard library needs when libnegsync.a is linked into a C program
# (from `cargo rustc -- --print native-static-libs`).
STATIC_DEPS := -lpthread -lm -ldl -lrt -lutil -lgcc_s
# A hung program must fail the run, not stall it.
RUN      := timeout 300
VALGRIND := timeout 600 valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect
# Every C test and example is also built with AddressSanitizer + UndefinedBehaviorSanitizer and
# linked against libnegsync.so. The Rust code is not instrumented, but each allocation it makes
# goes through ASan's malloc, so LeakSanitizer sees its leaks as well as the C side's.
# -fno-sanitize-recover=all makes any UB report fail the run. No LSan suppressions are needed:
# whatever the Rust runtime keeps until exit stays reachable, so LSan reports nothing, even after
# caught panics with RUST_BACKTRACE=1 (test_panic) and from threads (test_concurrency); a program
# that does leak a negsync handle is reported.
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Sessions per thread in test_concurrency (8 threads): the plain runs (c-tests) and ASan do the
# issue's 1000 (under ASan about 5 s of CPU time); valgrind, which runs one thread at a time, 50.
STRESS_ASAN     := NEGSYNC_STRESS_SESSIONS=1000
STRESS_VALGRIND := NEGSYNC_STRESS_SESSIONS=50

C_EXAMPLES := $(patsubst bindings/c/examples/%.c,%,$(wildcard bindings/c/examples/*.c))
C_TESTS    := $(patsubst bindings/c/tests/%.c,%,$(wildcard bindings/c/tests/test_*.c))
C_HEADERS  := include/negsync.h $(wildcard bindings/c/tests/*.h)

.PHONY: fuzz-smoke demo test lib rust-checks rust-tests net-tests c-build c-tests c-valgrind c-asan-build c-asan header-cxx python-tests examples clean
.DELETE_ON_ERROR:

demo: lib $(BUILD)/two_peers
	@echo "== C: bindings/c/examples/two_peers.c"
	$(BUILD)/two_peers
	@echo "== Python: bindings/python/examples/two_peers.py"
	$(PYTHON) bindings/python/examples/two_peers.py

test: rust-checks rust-tests net-tests lib header-cxx header-symbols cpp-tests install-test c-tests c-valgrind c-asan python-tests python-install python-typecheck examples harness-valgrind interop fuzz-smoke firmware mobile
	@echo "== all tests passed"

# The version comes from Cargo.toml; the soname carries its major number (README, "Versioning").
VERSION       := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -1)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
SONAME        := libnegsync.so.$(VERSION_MAJOR)

# build.rs gives the shared library its soname, libnegsync.so.MAJOR, so that loaders can tell an
# ABI break apart. Programs linked with -lnegsync record the soname, so a link by that name sits
# beside the library for the in-tree tests (rpath target/release).
lib:
	cargo rustc --release --lib --crate-type cdylib,staticlib
	ln -sf libnegsync.so $(RELDIR)/$(SONAME)

# The library files come from `lib`; naming them as targets lets `make -j` wait for cargo.
$(RELDIR)/libnegsync.a $(RELDIR)/libnegsync.so: lib ;

# ---- Install -------------------------------------------------------------------------------------
#   make install [PREFIX=/usr/local] [LIBDIR=$(PREFIX)/lib] [INCLUDEDIR=$(PREFIX)/include] [DESTDIR=]
# installs negsync.h and negsync.hpp, libnegsync.a, libnegsync.so.X.Y.Z with the links
# libnegsync.so.X (the soname) and libnegsync.so, negsync.pc (pkg-config) and the CMake package
# (LIBDIR/cmake/negsync). The .pc and CMake files name PREFIX's paths; DESTDIR only stages them
# (packagers). `make uninstall` with the same variables removes exactly these files. Linux (ELF).
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CMAKEDIR   := $(LIBDIR)/cmake/negsync
PKGCONFIGDIR := $(LIBDIR)/pkgconfig
SHARED_REAL := libnegsync.so.$(VERSION)
INSTALL    ?= install
EMPTY :=
SPACE := $(EMPTY) $(EMPTY)
# Placeholders of packaging/*.in and their values.
SUBST := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
  -e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' -e 's|@SONAME@|$(SONAME)|g' \
  -e 's|@SHARED_REAL@|$(SHARED_REAL)|g' -e 's|@STATIC_DEPS@|$(STATIC_DEPS)|g' \
  -e 's|@STATIC_LIBS_CMAKE@|$(subst $(SPACE),;,$(patsubst -l%,%,$(STATIC_DEPS)))|g' \
  -e 's|@SIZEOF_VOID_P@|$(shell getconf LONG_BIT | awk '{print $$1 / 8}')|g'

.PHONY: install uninstall install-test
# Builds first (make lib) where cargo is at hand; `sudo make install`, whose PATH often has no
# cargo, installs what an earlier `make lib` built.
install:
	@if command -v cargo >/dev/null 2>&1; then $(MAKE) --no-print-directory lib; \
	elif [ ! -f $(RELDIR)/libnegsync.so ] || [ ! -f $(RELDIR)/libnegsync.a ]; then \
	  echo "make install: no cargo on PATH and no library in $(RELDIR): run make lib first" >&2; exit 1; \
	else echo "make install: no cargo on PATH: installing the libraries make lib built earlier"; fi
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	$(INSTALL) -m 644 include/negsync.h include/negsync.hpp $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 644 $(RELDIR)/libnegsync.a $(DESTDIR)$(LIBDIR)/libnegsync.a
	$(INSTALL) -m 755 $(RELDIR)/libnegsync.so $(DESTDIR)$(LIBDIR)/$(SHARED_REAL)
	ln -sf $(SHARED_REAL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libnegsync.so
	@echo "write $(DESTDIR)$(PKGCONFIGDIR)/negsync.pc (from packaging/negsync.pc.in)"
	@$(SUBST) packaging/negsync.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/negsync.pc
	@echo "write $(DESTDIR)$(CMAKEDIR)/negsyncConfig.cmake (from packaging/negsyncConfig.cmake.in)"
	@$(SUBST) packaging/negsyncConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/negsyncConfig.cmake
	@echo "write $(DESTDIR)$(CMAKEDIR)/negsyncConfigVersion.cmake (from packaging/negsyncConfigVersion.cmake.in)"
	@$(SUBST) packaging/negsyncConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/negsyncConfigVersion.cmake
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/negsync.pc $(DESTDIR)$(CMAKEDIR)/*.cmake

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/negsync.h $(DESTDIR)$(INCLUDEDIR)/negsync.hpp
	rm -f $(DESTDIR)$(LIBDIR)/libnegsync.a $(DESTDIR)$(LIBDIR)/$(SHARED_REAL) \
	  $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libnegsync.so
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/negsync.pc
	rm -f $(DESTDIR)$(CMAKEDIR)/negsyncConfig.cmake $(DESTDIR)$(CMAKEDIR)/negsyncConfigVersion.cmake
	-rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null

# The installed library as its users see it (tests/install/run.sh): install into a temporary
# prefix, build a C program with pkg-config (shared and --static) and with CMake's find_package,
# run each, check the soname and links, then uninstall and check that nothing is left.
install-test: lib
	bash tests/install/run.sh

rust-checks:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --no-default-features --lib -- -D warnings

rust-tests:
	cargo test --release
	# The firmware (no_std) forms of the core, on the host.
	cargo test --release --no-default-features --lib
	# The engine's exchanges with fingerprints hashed in vector lanes, the path x86-64 CPUs
	# without SHA instructions take (src/engine/fingerprint.rs): most machines here have them.
	RUSTFLAGS="--cfg negsync_portable_sha" cargo test --release --target-dir target/portable-sha \
	  --lib --test differential --test reconcile --test vectors --test properties --test allocations
	# The airtime tables in docs/firmware.md must be what examples/airtime.rs computes today.
	cargo test --release --example airtime
	cargo run --release --example airtime -- --check docs/firmware.md

# Recomputes the "What a sync costs on air" tables of docs/firmware.md (about 10 s).
.PHONY: airtime
airtime:
	cargo run --release --example airtime -- --write docs/firmware.md

# The iroh transport and the `negsync` CLI (feature "iroh", off by default: no other target
# builds it). clippy with the feature (rust-checks' fmt covers its files); the net unit tests and
# doc example; two endpoints in one process (tests/net.rs); two negsync processes syncing 10,000
# files over loopback and, as root with `ip`, between two network namespaces (tests/cli.rs, which
# says when it skips). Dev profile: the release profile's fat LTO would relink about 230 crates
# for every test binary. Built first, so that $(RUN)'s limit counts only the tests.
# tests/hostile.rs: hostile peers speaking the frame format by hand, one test per attack, and
# the load test (200 honest clients with and without 20 slow peers; it prints the ratio of the
# median times, "LOAD: ..."). Each test binary has its own $(RUN) limit: with received files
# flushed to disk one by one, tests/cli.rs alone takes minutes on a loaded machine.
# tests/memory.rs: the peak memory of a `negsync serve` process with 1 and with 8 sessions, each
# moving two 16 MiB files, against N x a per-session bound plus a fixed amount ("MEMORY: ...").
NET_TESTS := --features iroh --lib --test net --test cli --test hostile --test memory
# tests/cli.rs syncs 10,000 files, each flushed to disk: 24 s on a quiet machine, 209 s once on a
# loaded one; its limit leaves room for that.
NET_RUN  := timeout 900
net-tests:
	cargo clippy --features iroh --all-targets -- -D warnings
	cargo test $(NET_TESTS) --no-run
	$(RUN) cargo test --features iroh --lib --test net -- --nocapture --test-threads=1
	$(NET_RUN) cargo test --features iroh --test cli -- --nocapture --test-threads=1
	$(RUN) cargo test --features iroh --test hostile -- --nocapture --test-threads=1
	$(RUN) cargo test --features iroh --test memory -- --nocapture
	$(RUN) cargo test --features iroh --doc net

$(BUILD):
	mkdir -p $(BUILD)

vpath %.c bindings/c/examples bindings/c/tests

# Every C program is linked twice: against libnegsync.a (what firmware does) and libnegsync.so.
$(BUILD)/%: %.c $(C_HEADERS) $(RELDIR)/libnegsync.a | $(BUILD)
	$(CC) $(CFLAGS) $< $(RELDIR)/libnegsync.a $(STATIC_DEPS) -o $@

$(BUILD)/%.shared: %.c $(C_HEADERS) $(RELDIR)/libnegsync.so | $(BUILD)
	$(CC) $(CFLAGS) $< -L$(RELDIR) -lnegsync -Wl,-rpath,$(abspath $(RELDIR)) -o $@

# ...and once more with the sanitizers (see SANITIZE), against libnegsync.so.
$(BUILD)/%.asan: %.c $(C_HEADERS) $(RELDIR)/libnegsync.so | $(BUILD)
	$(CC) $(CFLAGS) $(SANITIZE) $< -L$(RELDIR) -lnegsync -Wl,-rpath,$(abspath $(RELDIR)) -o $@

# test_concurrency runs POSIX threads.
$(BUILD)/test_concurrency $(BUILD)/test_concurrency.shared $(BUILD)/test_concurrency.asan: CFLAGS += -pthread

c-build: lib $(foreach p,$(C_EXAMPLES) $(C_TESTS),$(BUILD)/$(p) $(BUILD)/$(p).shared)

c-asan-build: lib $(foreach p,$(C_EXAMPLES) $(C_TESTS),$(BUILD)/$(p).asan)

header-cxx: | $(BUILD)
	printf '#include "negsync.h"\n#include <cstdlib>\n#include <cstdio>\nint main() { return negsync_version() == nullptr; }\n' > $(BUILD)/header_cxx.cpp
	$(CXX) $(CXXFLAGS) $(BUILD)/header_cxx.cpp -c -o $(BUILD)/header_cxx.o

c-tests: c-build
	@set -e; for t in $(C_TESTS); do \
	  echo "== C test $$t (static)"; $(RUN) $(BUILD)/$$t; \
	  echo "== C test $$t (shared)"; $(RUN) $(BUILD)/$$t.shared; \
	done

c-valgrind: c-build
	@set -e; for p in $(C_TESTS) $(C_EXAMPLES); do \
	  echo "== valgrind $$p"; $(STRESS_VALGRIND) $(VALGRIND) $(BUILD)/$$p.shared < /dev/null \
	    > $(BUILD)/$$p.valgrind.log 2>&1 || { cat $(BUILD)/$$p.valgrind.log; exit 1; }; \
	done

# Every C test and example built with ASan+UBSan must run clean: any report fails the run.
c-asan: c-asan-build
	@set -e; for p in $(C_TESTS) $(C_EXAMPLES); do \
	  echo "== ASan+UBSan $$p"; $(ASAN_ENV) $(STRESS_ASAN) $(RUN) $(BUILD)/$$p.asan < /dev/null \
	    > $(BUILD)/$$p.asan.log 2>&1 || { cat $(BUILD)/$$p.asan.log; exit 1; }; \
	done

# ---- C++: include/negsync.hpp -----------------------------------------------------------------
# The wrapper's tests and example, linked against libnegsync.so, run plain and with ASan+UBSan.
CXX17FLAGS := -std=c++17 -Wall -Wextra -Wpedantic -Werror -O1 -g -Iinclude
CPP_PROGRAMS := $(BUILD)/cpp_test_wrapper $(BUILD)/cpp_two_peers
CPP_DEPS := include/negsync.h include/negsync.hpp $(RELDIR)/libnegsync.so | $(BUILD)

$(BUILD)/cpp_test_wrapper: bindings/cpp/tests/test_wrapper.cpp $(CPP_DEPS)
	$(CXX) $(CXX17FLAGS) $< -L$(RELDIR) -lnegsync -Wl,-rpath,$(abspath $(RELDIR)) -o $@
$(BUILD)/cpp_two_peers: bindings/cpp/examples/two_peers.cpp $(CPP_DEPS)
	$(CXX) $(CXX17FLAGS) $< -L$(RELDIR) -lnegsync -Wl,-rpath,$(abspath $(RELDIR)) -o $@
$(BUILD)/cpp_test_wrapper.asan: bindings/cpp/tests/test_wrapper.cpp $(CPP_DEPS)
	$(CXX) $(CXX17FLAGS) $(SANITIZE) $< -L$(RELDIR) -lnegsync -Wl,-rpath,$(abspath $(RELDIR)) -o $@
$(BUILD)/cpp_two_peers.asan: bindings/cpp/examples/two_peers.cpp $(CPP_DEPS)
	$(CXX) $(CXX17FLAGS) $(SANITIZE) $< -L$(RELDIR) -lnegsync -Wl,-rpath,$(abspath $(RELDIR)) -o $@

.PHONY: cpp-tests header-symbols
cpp-tests: lib $(CPP_PROGRAMS) $(addsuffix .asan,$(CPP_PROGRAMS))
	@set -e; for p in $(CPP_PROGRAMS); do \
	  echo "== C++ $$p"; $(RUN) $$p > $$p.log 2>&1 || { cat $$p.log; exit 1; }; \
	  echo "== C++ ASan+UBSan $$p"; $(ASAN_ENV) $(RUN) $$p.asan > $$p.asan.log 2>&1 || { cat $$p.asan.log; exit 1; }; \
	done

# Every function the header declares to a host program links against libnegsync.a and
# libnegsync.so, and the library exports no undeclared negsync_ function (firmware-only functions
# are declared under NEGSYNC_FIRMWARE only).
header-symbols: lib | $(BUILD)
	$(PYTHON) tests/header_symbols.py $(CC) $(RELDIR) $(BUILD)

python-tests: lib
	$(PYTHON) -m pytest -q bindings/python/tests

# `pip install ./bindings/python` in a fresh venv (build/pyvenv; pip fetches setuptools from PyPI
# for its isolated build), import and sync from outside the repository, and `pip wheel`'s tag and
# contents (bindings/python/install_test.sh). After `lib`, so setup.py's cargo build is a no-op.
.PHONY: python-install python-typecheck
python-install: lib
	PYTHON=$(PYTHON) bash bindings/python/install_test.sh

# mypy --strict on the package (it ships py.typed), its examples and its tests.
python-typecheck:
	cd bindings/python && $(PYTHON) -m mypy --strict negsync examples tests

examples: lib $(BUILD)/two_peers $(BUILD)/two_peers.shared
	$(BUILD)/two_peers > /dev/null
	$(BUILD)/two_peers.shared > /dev/null
	$(PYTHON) bindings/python/examples/two_peers.py > /dev/null

# Interoperability: negsync's harnesses (bindings/c/examples/harness.c and
# bindings/python/examples/harness.py) against one built on the negentropy crate alone
# (examples/crate_harness.rs), in both roles: contract and version checks, the transcript vectors
# of tests/vectors/, the frame-cut regressions and 200 seeded random cases (tests/interop/run.py;
# about a minute on two cores).
CRATE_HARNESS := $(RELDIR)/examples/crate_harness
# Under valgrind the C harness gets a few short sessions, each fed from the driver, never from a
# terminal: the version exchange, refused input, two frame-limited vectors with C in both roles.
# valgrind's own failure status is 99, so that a report cannot pass for the harness refusing bad
# input (status 1).
HARNESS_VALGRIND_CHECKS := versions|inside a varint|reserved timestamp|msg after done|800,000|below every minimum|initiate twice|vector (frame_cut_empty_tail|both_limited) \[(C -> crate|crate -> C)\]

.PHONY: interop harness-valgrind crate-harness
crate-harness:
	cargo build --release --example crate_harness

interop: lib crate-harness $(BUILD)/harness
	$(RUN) $(PYTHON) tests/interop/run.py --c-harness $(BUILD)/harness --crate-harness $(CRATE_HARNESS)

harness-valgrind: lib crate-harness $(BUILD)/harness.shared
	$(PYTHON) tests/interop/run.py --fixed-only --negsync c --skip-crate-checks \
	  --c-harness $(BUILD)/harness.shared --crate-harness $(CRATE_HARNESS) \
	  --c-wrapper '$(subst --error-exitcode=1,--error-exitcode=99,$(VALGRIND))' \
	  --only '$(HARNESS_VALGRIND_CHECKS)'

# Each fuzz target for a few seconds from the checked-in seeds (skipped without cargo-fuzz).
fuzz-smoke:
	fuzz/smoke.sh

# The no_std libnegsync.a linked into a C program on Cortex-M3/M4F boards under QEMU: correct
# results, code/heap budgets, the largest set on a 64 KB board (docs/firmware.md). Installs its
# tools when it can (first time about a minute); skips with the reason when they cannot be had.
.PHONY: firmware mobile
firmware: lib
	bash bindings/c/firmware/run.sh

# libnegsync.a for Android (arm64, armv7) and iOS (arm64): no NDK or SDK needed for a static library.
mobile:
	bash bindings/mobile/build.sh

clean:
	rm -rf $(BUILD)
	cargo clean

# ---- Benchmarks: never part of `make test` (timing does not belong in tests) -------------------
#   make bench          the whole suite (crate baseline, Rust, C, Python), one table with every
#                       target: prints it, writes target/bench/results.json, docs/bench.md and, when
#                       matplotlib is installed, docs/bench.png. About 2 minutes with a core free,
#                       up to 10 on a busy machine.
#   make bench-profile  callgrind instruction counts and the S2 breakdown, into target/bench/;
#                       `python3 benches/run.py --render-only` then puts them into docs/bench.md
#                       beside the last timings. 7 to 13 minutes.
BENCH_CFLAGS  := -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -Iinclude
# The C and Python benches load a copy of the libnegsync.so that `make lib` builds (with LTO),
# taken here, so that a rebuild of target/release by other work during a run cannot change what
# is measured halfway through.
BENCH_LIB_DIR := $(BUILD)/bench-lib

.PHONY: bench bench-profile bench-programs

bench: bench-programs
	$(PYTHON) benches/run.py

bench-profile: bench-programs
	$(PYTHON) benches/callgrind_profile.py

bench-programs: lib | $(BUILD)
	mkdir -p $(BENCH_LIB_DIR)
	cp $(RELDIR)/libnegsync.so $(BENCH_LIB_DIR)/
	ln -sf libnegsync.so $(BENCH_LIB_DIR)/$(SONAME)
	$(CC) $(BENCH_CFLAGS) bindings/c/bench/bench.c -L$(BENCH_LIB_DIR) -lnegsync \
	  -Wl,-rpath,$(abspath $(BENCH_LIB_DIR)) -o $(BUILD)/negsync_bench
