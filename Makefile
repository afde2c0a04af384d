# imfilter - a command-line image filter.
#
#   make            build build/imfilter (installs missing build dependencies
#                   with apt-get when run as root on Debian)
#   make check      build and run every test (Check unit suites + CLI tests)
#   make demo       filter the bundled samples into build/demo/
#   make asan       the whole suite under AddressSanitizer + UBSan
#   make valgrind   the CLI tests under valgrind
#   make crosscheck compare with NumPy/SciPy, when they are installed
#   make samples    regenerate samples/ with the generator
#   V=1             show the commands
#
# Everything generated goes under build/ (or $(BUILD)).

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Wpedantic -Werror
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
PKG_CONFIG ?= pkg-config

# Expanded when a recipe runs, i.e. after 'deps' has installed pkg-config.
IMG_CFLAGS = $(shell $(PKG_CONFIG) --cflags libpng libjpeg 2>/dev/null)
IMG_LIBS   = $(shell $(PKG_CONFIG) --libs libpng libjpeg 2>/dev/null || echo -lpng -ljpeg)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check 2>/dev/null || echo -lcheck)

ALL_CFLAGS = $(WARN) -D_POSIX_C_SOURCE=200809L -Isrc $(IMG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_ALL = $(LDFLAGS) $(IMG_LIBS) -lm $(EXTRA_LDFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC  := $(wildcard src/*.c src/io/*.c)
CLI_SRC  := $(wildcard src/cli/*.c)
TEST_SRC := $(wildcard tests/check_*.c)
FILTERS  := $(sort $(wildcard filters/*.txt))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/builtin_kernels.o
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL_OBJ := $(BUILD)/obj/tests/testutil.o

.SECONDARY:
.PHONY: all deps check-deps check unit cli-tests crosscheck demo asan valgrind samples clean install uninstall

# Dependencies first, then the build (a recursive make, so that 'make -j'
# never compiles before the headers are installed).
all: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/imfilter

deps:
	$(Q)sh src/tools/install-deps.sh build

check-deps:
	$(Q)sh src/tools/install-deps.sh check

$(BUILD)/libimfilter.a: $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/imfilter: $(CLI_OBJ) $(BUILD)/libimfilter.a
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libimfilter.a $(LDLIBS_ALL)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Built-in kernels: filters/*.txt embedded as C strings.
$(BUILD)/tools/embed-kernels: src/tools/embed-kernels.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(WARN) $(CFLAGS) -o $@ $<

$(BUILD)/gen/builtin_kernels.c: $(BUILD)/tools/embed-kernels $(FILTERS) Makefile
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)$(BUILD)/tools/embed-kernels $(FILTERS) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/builtin_kernels.o: $(BUILD)/gen/builtin_kernels.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# ---- tests ---------------------------------------------------------------

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -MMD -MP -c -o $@ $<

$(BUILD)/tests/check_%: $(BUILD)/obj/tests/check_%.o $(TEST_UTIL_OBJ) $(BUILD)/libimfilter.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(TEST_UTIL_OBJ) $(BUILD)/libimfilter.a $(CHECK_LIBS) $(LDLIBS_ALL)

unit: $(TEST_BIN)
	$(Q)sh tests/run-unit.sh $(TEST_BIN)

cli-tests: $(BUILD)/imfilter
	$(Q)IMFILTER="$(TEST_WRAPPER) $(abspath $(BUILD)/imfilter)" sh tests/cli.sh

check: check-deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/imfilter $(TEST_BIN)
	$(Q)$(MAKE) --no-print-directory unit cli-tests

# Sanitizer build of the whole suite, in its own build folder.
asan: check-deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan CC=$${ASAN_CC:-cc} \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		unit cli-tests

valgrind: check-deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/valgrind CFLAGS="-O1 -g" \
		TEST_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
		cli-tests

# Compare with NumPy/SciPy when they are installed (not a dependency).
crosscheck: all
	$(Q)IMFILTER=$(BUILD)/imfilter python3 tests/crosscheck.py

demo: all
	$(Q)sh src/tools/demo.sh $(BUILD)/imfilter $(BUILD)/demo

samples: all $(BUILD)/tools/mksamples
	$(Q)$(BUILD)/tools/mksamples samples

$(BUILD)/tools/mksamples: src/tools/mksamples.c $(BUILD)/libimfilter.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libimfilter.a $(LDLIBS_ALL)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/imfilter $(DESTDIR)$(PREFIX)/bin/imfilter

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/imfilter

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
