# negsync: the two commands of the README.
#   make demo   builds the library, then runs the C and Python two-peer examples
#   make test   runs every test: fmt, clippy, Rust (with header drift), C (static and shared,
#               under valgrind), Python, and both examples
# Other targets are the steps these two are made of.

CC       ?= cc
CXX      ?= c++
PYTHON   ?= python3
CFLAGS   := -std=c99 -Wall -Wextra -Wpedantic -Werror -O1 -g -Iinclude
CXXFLAGS := -std=c++11 -Wall -Wextra -Wpedantic -Werror -Iinclude
LIBDIR   := target/release
BUILD    := build
# What the Rust standard library needs when libnegsync.a is linked into a C program
# (from `cargo rustc -- --print native-static-libs`).
STATIC_DEPS := -lpthread -lm -ldl -lrt -lutil -lgcc_s
# A hung program must fail the run, not stall it.
RUN      := timeout 300
VALGRIND := timeout 600 valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect

C_EXAMPLES := $(patsubst bindings/c/examples/%.c,%,$(wildcard bindings/c/examples/*.c))
C_TESTS    := $(patsubst bindings/c/tests/%.c,%,$(wildcard bindings/c/tests/test_*.c))
C_HEADERS  := include/negsync.h $(wildcard bindings/c/tests/*.h)

.PHONY: demo test lib rust-checks rust-tests c-build c-tests c-valgrind header-cxx python-tests examples clean
.DELETE_ON_ERROR:

demo: lib $(BUILD)/two_peers
	@echo "== C: bindings/c/examples/two_peers.c"
	$(BUILD)/two_peers
	@echo "== Python: bindings/python/examples/two_peers.py"
	$(PYTHON) bindings/python/examples/two_peers.py

test: rust-checks rust-tests lib header-cxx c-tests c-valgrind python-tests examples
	@echo "== all tests passed"

lib:
	cargo build --release

# The library files come from `lib`; naming them as targets lets `make -j` wait for cargo.
$(LIBDIR)/libnegsync.a $(LIBDIR)/libnegsync.so: lib ;

rust-checks:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

rust-tests:
	cargo test --release

$(BUILD):
	mkdir -p $(BUILD)

vpath %.c bindings/c/examples bindings/c/tests

# Every C program is linked twice: against libnegsync.a (what firmware does) and libnegsync.so.
$(BUILD)/%: %.c $(C_HEADERS) $(LIBDIR)/libnegsync.a | $(BUILD)
	$(CC) $(CFLAGS) $< $(LIBDIR)/libnegsync.a $(STATIC_DEPS) -o $@

$(BUILD)/%.shared: %.c $(C_HEADERS) $(LIBDIR)/libnegsync.so | $(BUILD)
	$(CC) $(CFLAGS) $< -L$(LIBDIR) -lnegsync -Wl,-rpath,$(abspath $(LIBDIR)) -o $@

c-build: lib $(foreach p,$(C_EXAMPLES) $(C_TESTS),$(BUILD)/$(p) $(BUILD)/$(p).shared)

header-cxx: | $(BUILD)
	printf '#include "negsync.h"\nint main() { return negsync_version() == nullptr; }\n' > $(BUILD)/header_cxx.cpp
	$(CXX) $(CXXFLAGS) $(BUILD)/header_cxx.cpp -c -o $(BUILD)/header_cxx.o

c-tests: c-build
	@set -e; for t in $(C_TESTS); do \
	  echo "== C test $$t (static)"; $(RUN) $(BUILD)/$$t; \
	  echo "== C test $$t (shared)"; $(RUN) $(BUILD)/$$t.shared; \
	done

c-valgrind: c-build
	@set -e; for p in $(C_TESTS) $(C_EXAMPLES); do \
	  echo "== valgrind $$p"; $(VALGRIND) $(BUILD)/$$p.shared > $(BUILD)/$$p.valgrind.log 2>&1 \
	    || { cat $(BUILD)/$$p.valgrind.log; exit 1; }; \
	done

python-tests: lib
	$(PYTHON) -m pytest -q bindings/python/tests

examples: lib $(BUILD)/two_peers $(BUILD)/two_peers.shared
	$(BUILD)/two_peers > /dev/null
	$(BUILD)/two_peers.shared > /dev/null
	$(PYTHON) bindings/python/examples/two_peers.py > /dev/null

clean:
	rm -rf $(BUILD)
	cargo clean
