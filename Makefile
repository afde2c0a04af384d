# imfilter - a command-line image filter.
#
#   make            build build/imfilter, build/libimfilter.a, the pkg-config
#                   file and the man page (installs missing build dependencies
#                   with apt-get when run as root on Debian)
#   make check      build and run every test (Check unit suites, CLI tests,
#                   the hostile-file corpus and the mutated hostile corpus)
#   make corpus     tests/corpus/ alone (make-corpus.py's hostile files)
#   make hostile    tests/hostile.sh alone: mutants of ordinary files;
#                   HOSTILE_SEEDS=N mutants per file (default 40)
#   make demo       filter the bundled samples into build/demo/
#   make asan       the whole suite under AddressSanitizer + UBSan
#   make valgrind   the CLI tests under valgrind
#   make crosscheck compare with NumPy/SciPy, when they are installed
#   make samples    regenerate samples/ with the generator
#   make bench      time imfilter against vips, ImageMagick and GraphicsMagick
#                   (those installed); report in build/bench/report.md
#   make man        build/imfilter.1, the man page (OPTIONS and KERNELS come
#                   from the built binary's --dump-options and --list-kernels)
#   make install    binary, library, header, pkg-config file, man page and
#                   bash/zsh completions under $(DESTDIR)$(PREFIX)
#   make uninstall  remove exactly what 'make install' installed
#   V=1             show the commands
#
# Everything generated goes under build/ (or $(BUILD)).

CC       ?= cc
CFLAGS   ?= -O3 -g
WARN     := -std=c11 -Wall -Wextra -Wpedantic -Werror
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
PKG_CONFIG ?= pkg-config

# Installation directories; each can be overridden on its own.
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR   ?= $(PREFIX)/share/zsh/site-functions

# The one version number, from the public header.
VERSION := $(shell sed -n 's/^\#define IMF_VERSION "\(.*\)"/\1/p' src/imfilter.h)

# Expanded when a recipe runs, i.e. after 'deps' has installed pkg-config.
IMG_CFLAGS = $(shell $(PKG_CONFIG) --cflags libpng libjpeg zlib 2>/dev/null)
IMG_LIBS   = $(shell $(PKG_CONFIG) --libs libpng libjpeg zlib 2>/dev/null || echo -lpng -ljpeg -lz)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check 2>/dev/null || echo -lcheck)

# -pthread on both: batch mode's worker threads.  -ffp-contract=off: no fused
# multiply-add, which would round differently from the reference, and could
# round a row differently in each of the engine's loops that may make it
# (GCC's default under -std=c11 already; clang contracts unless told).
ALL_CFLAGS = $(WARN) -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64 -pthread -ffp-contract=off -Isrc $(IMG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_ALL = -pthread $(LDFLAGS) $(IMG_LIBS) -lm $(EXTRA_LDFLAGS)

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
# What 'make' builds and 'make install' installs.
BUILT    := $(BUILD)/imfilter $(BUILD)/libimfilter.a $(BUILD)/imfilter.pc $(BUILD)/imfilter.1

.SECONDARY:
.PHONY: corpus hostile all built deps check-deps check unit cli-tests install-tests crosscheck demo asan valgrind \
	samples man clean install uninstall FORCE

# Dependencies first, then the build (a recursive make, so that 'make -j'
# never compiles before the headers are installed).
all: deps
	$(Q)$(MAKE) --no-print-directory built

# The recursive make's goal (a phony with a recipe: quiet when up to date).
built: $(BUILT)
	@:

man: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/imfilter.1

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

# check_cpus tests a module of the CLI (src/cli/cpus.c), linked in alone.
$(BUILD)/tests/check_cpus: $(BUILD)/obj/tests/check_cpus.o $(BUILD)/obj/src/cli/cpus.o \
                           $(TEST_UTIL_OBJ) $(BUILD)/libimfilter.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/obj/src/cli/cpus.o $(TEST_UTIL_OBJ) \
	        $(BUILD)/libimfilter.a $(CHECK_LIBS) $(LDLIBS_ALL)

unit: $(TEST_BIN)
	$(Q)sh tests/run-unit.sh $(TEST_BIN)

cli-tests: $(BUILD)/imfilter
	$(Q)IMFILTER="$(TEST_WRAPPER) $(abspath $(BUILD)/imfilter)" sh tests/cli.sh
	$(Q)IMFILTER="$(TEST_WRAPPER) $(abspath $(BUILD)/imfilter)" sh tests/cli_batch.sh
	$(Q)IMFILTER="$(TEST_WRAPPER) $(abspath $(BUILD)/imfilter)" sh tests/cli_stream.sh
	$(Q)IMFILTER="$(TEST_WRAPPER) $(abspath $(BUILD)/imfilter)" sh tests/cli_learn.sh

# make install into a scratch DESTDIR, then build a program against it.
install-tests: $(BUILD)/imfilter
	$(Q)MAKE="$(MAKE)" BUILD="$(BUILD)" CC="$(CC)" sh tests/install.sh

check: check-deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/imfilter $(TEST_BIN) $(BUILD)/tools/mutate
	$(Q)$(MAKE) --no-print-directory unit cli-tests install-tests corpus hostile

# Sanitizer build of the whole suite, in its own build folder.
asan: check-deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan CC=$${ASAN_CC:-cc} \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		IMF_NO_ULIMIT=1 unit cli-tests
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan CC=$${ASAN_CC:-cc} \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		IMF_NO_ULIMIT=1 corpus hostile

valgrind: check-deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/valgrind CFLAGS="-O1 -g" \
		TEST_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite" \
		IMF_NO_ULIMIT=1 IMF_QUICK=1 cli-tests

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

# ---- benchmark (issue 6): not a test, asserts nothing -----------------------
# make bench [BENCH_RUNS=N]: bench/run.sh times build/imfilter and the peers
# on images it makes under build/bench/; build/imfilter-bench times the
# engine alone.
BENCH_TOOLS := $(BUILD)/imfilter $(BUILD)/imfilter-bench $(BUILD)/tools/runstat \
	$(BUILD)/tools/mkbenchimg

.PHONY: bench
bench: deps
	$(Q)$(MAKE) --no-print-directory $(BENCH_TOOLS)
	$(Q)BUILD="$(BUILD)" BENCH_CC="$(CC)" BENCH_CFLAGS="$(CFLAGS)" sh bench/run.sh

$(BUILD)/imfilter-bench: src/tools/bench.c $(BUILD)/libimfilter.a
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libimfilter.a $(LDLIBS_ALL)

$(BUILD)/tools/mkbenchimg: bench/mkbenchimg.c $(BUILD)/libimfilter.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libimfilter.a $(LDLIBS_ALL)

$(BUILD)/tools/runstat: bench/runstat.c
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $<

# ---- man page, pkg-config file, install -----------------------------------

# OPTIONS and KERNELS are generated from the binary, so the man page lists
# exactly the option table and the built-ins that were compiled in.
$(BUILD)/imfilter.1: doc/imfilter.1.in src/tools/mkman.sh $(BUILD)/imfilter
	@echo "  GEN     $@"
	$(Q)sh src/tools/mkman.sh $(BUILD)/imfilter doc/imfilter.1.in $(VERSION) > $@.tmp && \
		mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# The pc file holds the install prefix, so it is regenerated on every run
# (FORCE) but replaced only when its text changes: 'make install PREFIX=/usr'
# after a plain 'make' installs a file that says /usr.
$(BUILD)/imfilter.pc: src/imfilter.pc.in src/imfilter.h FORCE
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' \
		-e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
		-e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
		-e 's|@VERSION@|$(VERSION)|g' src/imfilter.pc.in > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else echo "  GEN     $@"; mv $@.tmp $@; fi

FORCE:

# What 'make install' puts where; 'make uninstall' removes exactly these.
INSTALLED = $(BINDIR)/imfilter $(LIBDIR)/libimfilter.a $(INCLUDEDIR)/imfilter.h \
	$(PKGCONFIGDIR)/imfilter.pc $(MANDIR)/man1/imfilter.1 \
	$(BASHCOMPDIR)/imfilter $(ZSHCOMPDIR)/_imfilter

# install FILE MODE DIR NAME
define install_file
	@echo "  INSTALL $(DESTDIR)$(3)/$(4)"
	$(Q)install -d "$(DESTDIR)$(3)"
	$(Q)install -m $(2) "$(1)" "$(DESTDIR)$(3)/$(4)"
endef

install: deps
	$(Q)$(MAKE) --no-print-directory built
	$(call install_file,$(BUILD)/imfilter,755,$(BINDIR),imfilter)
	$(call install_file,$(BUILD)/libimfilter.a,644,$(LIBDIR),libimfilter.a)
	$(call install_file,src/imfilter.h,644,$(INCLUDEDIR),imfilter.h)
	$(call install_file,$(BUILD)/imfilter.pc,644,$(PKGCONFIGDIR),imfilter.pc)
	$(call install_file,$(BUILD)/imfilter.1,644,$(MANDIR)/man1,imfilter.1)
	$(call install_file,completions/imfilter.bash,644,$(BASHCOMPDIR),imfilter)
	$(call install_file,completions/_imfilter,644,$(ZSHCOMPDIR),_imfilter)

uninstall:
	$(Q)for f in $(INSTALLED); do \
		echo "  RM      $(DESTDIR)$$f"; rm -f "$(DESTDIR)$$f" || exit 1; \
	done

clean:
	rm -rf $(BUILD)

# libFuzzer harnesses: make fuzz, make fuzz-run FUZZ_SECONDS=N (clang).
include tests/fuzz/fuzz.mk

# The hostile-file corpus (tests/corpus/MANIFEST), and mutants of ordinary
# files made by tools/mutate.c (tests/hostile.sh).  Under ASan, run with
# IMF_NO_ULIMIT=1: its shadow memory cannot start under 'ulimit -v'.
corpus: $(BUILD)/imfilter
	$(Q)IMF_NO_ULIMIT="$(IMF_NO_ULIMIT)" \
		IMFILTER="$(TEST_WRAPPER) $(abspath $(BUILD)/imfilter)" sh tests/corpus.sh

hostile: $(BUILD)/imfilter $(BUILD)/tools/mutate
	$(Q)IMF_NO_ULIMIT="$(IMF_NO_ULIMIT)" HOSTILE_KEEP="$(abspath $(BUILD))/hostile-failures" \
		IMFILTER="$(TEST_WRAPPER) $(abspath $(BUILD)/imfilter)" \
		MUTATE="$(abspath $(BUILD)/tools/mutate)" sh tests/hostile.sh

# The mutator is a standalone test tool: it links nothing from the library.
$(BUILD)/tools/mutate: src/tools/mutate.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(WARN) -D_POSIX_C_SOURCE=200809L $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $<

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
