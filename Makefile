# isol: build, test, demo, bench, install.
# `make demo` and `make test` are the only set-up commands on a fresh Debian
# machine: both first run .ci/deps, which installs what is missing with
# apt-get when run as root (and otherwise names the packages and stops).
# ISOL_NO_DEPS=1 skips that step. A bare `make` builds everything (all).
.DEFAULT_GOAL := all

LUA        ?= lua5.4
LUA_VER    ?= 5.4
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LUA_LIBDIR ?= $(PREFIX)/lib/lua/$(LUA_VER)
LUA_SHAREDIR ?= $(PREFIX)/share/lua/$(LUA_VER)
BUILD      ?= build
BUSTED     ?= $(LUA) /usr/bin/busted

OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2
ifneq ($(CI),)
WARN     += -Werror
endif
ifneq ($(WERROR),)
WARN     += -Werror
endif
LUA_INC  ?= $(shell $(PKG_CONFIG) --cflags lua$(LUA_VER) 2>/dev/null || echo -I/usr/include/lua$(LUA_VER))
LIBS     := $(shell $(PKG_CONFIG) --libs libcgroup 2>/dev/null || echo -lcgroup) -lzstd -lz -lcap -lseccomp
CFLAGS_ALL = $(OPT) -std=gnu11 -fPIC -fvisibility=hidden $(WARN) $(LUA_INC) $(CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL = -shared $(LDFLAGS) $(EXTRA_LDFLAGS)

SRC  := $(wildcard csrc/*.c csrc/lua/*.c)
HDR  := $(wildcard csrc/*.h csrc/lua/*.h)
# (csrc/cli/ is the launcher executable, not part of core.so)
OBJ  := $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(SRC))
SO   := $(BUILD)/isol/core.so

# ---- isol's init (csrc/init/): its own small static program, embedded ----
# Built with musl-gcc -static -Os when musl-tools is there (about 30 KiB,
# copied into a memfd on each host's first spawn), else static glibc (about
# 800 KiB). It gets none of core.so's flags (no -fPIC, no sanitizers): it is
# a separate executable, exec'd in the sandbox. blob.S embeds it into
# core.so as data (.incbin).
INIT_CC     ?= $(shell command -v musl-gcc 2>/dev/null || echo $(CC))
INIT_CFLAGS ?= -static -Os -std=gnu11 $(WARN) -ffunction-sections -fdata-sections \
               -Wl,--gc-sections -s
INIT_SRC    := csrc/init/isol-init.c csrc/procfs.c csrc/execpath.c
INIT_BIN    := $(BUILD)/init/isol-init
INIT_BLOB   := $(BUILD)/obj/init/blob.o
OBJ         += $(INIT_BLOB)
$(INIT_BIN): $(INIT_SRC) csrc/init.h csrc/error.h csrc/procfs.h csrc/execpath.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(INIT_CC) $(INIT_CFLAGS) -o $@ $(INIT_SRC)
$(INIT_BLOB): csrc/init/blob.S $(INIT_BIN)
	@mkdir -p $(dir $@)
	$(CC) -c -DISOL_INIT_BIN='"$(INIT_BIN)"' -o $@ $<
# ---- end of isol's init ----
DEPS_STAMP := $(BUILD)/.deps-ok

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(LUA_PATH);;
export LUA_CPATH := $(CURDIR)/$(BUILD)/?.so;$(LUA_CPATH);;

.PHONY: all installable deps test vm-test demo asan-test bench install uninstall clean lint examples charts check-format format doc

# Lua modules are also precompiled to bytecode under $(BUILD)/lua, with line
# information (errors and ISOL_DEBUG tracebacks name file:line). The native
# launcher ($(BUILD)/bin/isol) loads a module's bytecode only when it is at
# least as new as its source, else the source: parsing the sources costs
# ~2.7 ms of CPU per `isol run` (100 runs: 0.26 s user with bytecode, 0.54 s
# from sources). bin/isol, which cannot compare file times, reads sources.
# The modules of every `isol run` are also bundled without line information
# (RUN_BUNDLE below): build/bin/isol reads them from that one file unless
# ISOL_DEBUG is set.
LUAC      ?= luac5.4
LUA_SRCS  := $(shell find lua -name '*.lua')
LUA_BC    := $(patsubst lua/%,$(BUILD)/lua/%,$(LUA_SRCS))

# The `isol` command as a native launcher (csrc/cli/isol.c): no readline,
# smaller and faster to start than `lua5.4 bin/isol`. bin/isol is the same
# command as a Lua script.
CLI_BIN   := $(BUILD)/bin/isol
LUA_LIBS  ?= $(shell $(PKG_CONFIG) --libs lua$(LUA_VER) 2>/dev/null || echo -llua$(LUA_VER))

# The modules every `isol run` loads, for build/bin/isol as one file of
# bytecode without debug information (see preload_bundle in
# csrc/cli/isol.c): a module missing here is searched as usual, one listed
# but not loaded costs its undump.
RUN_MODS   := isol isol.cli isol.cli.run isol.recipe isol.util isol.userns isol.sandbox isol.rootless \
              isol.fs isol.kill isol.security isol.net isol.policy
RUN_STRIP  := $(foreach m,$(RUN_MODS),$(BUILD)/lua-s/$(subst .,/,$(m)).lua)
RUN_BUNDLE := $(BUILD)/lua/run.bundle

all: installable $(LUA_BC) $(RUN_BUNDLE)

# What `make install` (and the rockspec) installs: no bytecode, so no luac.
installable: $(SO) $(CLI_BIN)

# The launcher carries the core (the objects of core.so, preloaded as
# isol.core) and links Lua and the core's libraries statically when their
# archives are there: `isol run` then maps one executable besides libc and
# libm, and needs no dlopen (core.so's load with its five libraries costs
# ~0.5 ms and ~250 KiB of RSS per run). csrc/cli/isol.dynlist exports the
# Lua API (only) to C modules it may load (lua-cjson; core.so itself under
# ISOL_CPATH, e.g. the ASan build). Without the archives: the dynamic link,
# core.so at run time.
LIBDIR_A   ?= $(shell $(CC) -print-multiarch >/dev/null 2>&1 && echo /usr/lib/$$($(CC) -print-multiarch))
STATIC_A   := $(foreach l,lua$(LUA_VER) cgroup zstd z cap seccomp,$(LIBDIR_A)/lib$(l).a)
# The math functions Lua needs come from musl's libc.a when musl-tools is
# there (CLI_MATH: those members only, in one object whose other symbols,
# musl's own memcpy among them, are made local): glibc's libm.so resolves
# its IFUNCs at load, which maps ~330 KiB of it into every `isol run` for
# functions a recipe seldom calls. Any other math function still comes
# from libm.so (--as-needed: libm is needed only then).
# (musl-gcc -print-file-name names glibc's libc.a: the archive is the one
# a static link with musl-gcc uses)
MUSL_LIBC  := $(shell command -v musl-gcc >/dev/null 2>&1 && echo 'int main(void){return 0;}' | \
              musl-gcc -static -Wl,-t -o /dev/null -x c - 2>/dev/null | grep -m1 '/libc\.a$$')
LUA_MATH   := acos asin atan2 cos cosh exp fmod frexp ldexp llround log log10 log2 pow sin sinh sqrt tan tanh
CLI_MATH   := $(if $(wildcard $(MUSL_LIBC)),$(BUILD)/obj/cli/math.o)
$(BUILD)/obj/cli/math.o: | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(LD) -r -o $@.tmp $(addprefix -u ,$(LUA_MATH)) $(MUSL_LIBC)
	$(OBJCOPY) $(addprefix --keep-global-symbol=,$(LUA_MATH)) $@.tmp $@
	@rm -f $@.tmp
OBJCOPY    ?= objcopy
# Full RELRO: every symbol bound at start and the GOT read-only after it (the
# launcher runs as root and relays a sandbox's terminal with -t); no
# measurable cost (perf stat -r 100, A/B; peak RSS the same).
# pack-relative-relocs (DT_RELR, binutils >= 2.38, glibc >= 2.36): the 1,600
# relative relocations of the static core and Lua take 0.3 KiB instead of
# 38 KiB, which the loader reads in every run (peak RSS -20 to -36 KiB,
# medians of 41 runs each; an older ld ignores the option with a warning).
CLI_HARDEN := -Wl,-z,relro,-z,now -Wl,-z,pack-relative-relocs
ifeq ($(words $(wildcard $(STATIC_A))),6)
CLI_CORE   := -DISOL_STATIC_CORE
CLI_LINK   := $(OBJ) -Wl,--dynamic-list=csrc/cli/isol.dynlist $(STATIC_A) $(CLI_MATH) \
              -Wl,--as-needed -lm -Wl,--no-as-needed -ldl
CLI_DEPS   := $(OBJ) csrc/cli/isol.dynlist $(CLI_MATH)
else
CLI_LINK   := $(LUA_LIBS)
endif
$(CLI_BIN): csrc/cli/isol.c $(CLI_DEPS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -std=gnu11 $(WARN) $(LUA_INC) $(CFLAGS) $(CLI_CORE) -o $@ $< $(LDFLAGS) $(EXTRA_LDFLAGS) $(CLI_LINK) \
		$(CLI_HARDEN)

$(BUILD)/lua/%.lua: lua/%.lua | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(LUAC) -o $@ $<
$(BUILD)/lua-s/%.lua: lua/%.lua | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(LUAC) -s -o $@ $<
$(RUN_BUNDLE): $(RUN_STRIP)
	@mkdir -p $(dir $@)
	@{ printf 'isol-bundle 1\n'; for m in $(RUN_MODS); do \
	  f=$(BUILD)/lua-s/$$(echo $$m | tr . /).lua; printf '%s %s\n' $$m $$(wc -c < $$f); cat $$f; \
	done; } > $@.tmp && mv $@.tmp $@

deps: $(DEPS_STAMP)
$(DEPS_STAMP): .ci/deps
	@mkdir -p $(BUILD)
	@[ -n "$(ISOL_NO_DEPS)" ] || sh .ci/deps
	@touch $@

$(BUILD)/obj/%.o: csrc/%.c $(HDR) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(SO): $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(OBJ) $(LIBS)

# Every busted spec, as root here: privileged specs really run. Then the #v2
# specs in a VM booted with a pure cgroup2 hierarchy (spec/vm/run).
test: all
	@echo "== host suite (this kernel, cgroup v1/hybrid): busted --run=default =="
	$(BUSTED) --run=default
	@$(MAKE) --no-print-directory vm-test

# The #v2 specs inside qemu (TCG) booted from Debian's kernel with
# cgroup_no_v1=all; the kernel is fetched once into spec/vm/cache/. The
# whole of spec/cgroup_spec.lua is #v2 (both backends: ~35 s of the run).
vm-test: all
	@echo "== VM suite (Debian kernel, pure cgroup v2): busted --run=vm =="
	spec/vm/run $(BUSTED) --run=vm

demo: all
	bin/isol run examples/demo.lua

# The same suite against a core built with ASan+UBSan. lua5.4 itself is not
# instrumented, so the runtime is preloaded; children get it removed from env.
ASAN_BUILD := $(BUILD)-asan
asan-test: | $(DEPS_STAMP)
	$(MAKE) BUILD=$(ASAN_BUILD) OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" all
	LUA_CPATH="$(CURDIR)/$(ASAN_BUILD)/?.so;;" \
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:$(ASAN_OPTIONS)" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	ISOL_ASAN=1 ISOL_CPATH="$(CURDIR)/$(ASAN_BUILD)/?.so" $(BUSTED) --run=default --cpath="$(ASAN_BUILD)/?.so"

# ---- fuzz (binding helper's block) ----------------------------------------
# The fuzzer (spec/fuzz_spec.lua, spec/fuzz_driver.lua) for FUZZ_SECONDS of
# rounds with fresh seeds, against the ASan+UBSan core of asan-test; each
# batch of calls runs in a child of its own. FUZZ_SEED=N replays a round.
# `make test` runs the same spec briefly, with a fixed seed, without ASan.
.PHONY: fuzz
FUZZ_SECONDS ?= 600
fuzz: | $(DEPS_STAMP)
	$(MAKE) BUILD=$(ASAN_BUILD) OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" all
	LUA_CPATH="$(CURDIR)/$(ASAN_BUILD)/?.so;;" \
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:$(ASAN_OPTIONS)" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	ISOL_ASAN=1 ISOL_CPATH="$(CURDIR)/$(ASAN_BUILD)/?.so" ISOL_FUZZ_SECONDS=$(FUZZ_SECONDS) \
	$(if $(FUZZ_SEED),ISOL_FUZZ_SEED=$(FUZZ_SEED)) \
	$(BUSTED) --cpath="$(ASAN_BUILD)/?.so" spec/fuzz_spec.lua
# ---- end of the fuzz block ---------------------------------------------------

# Programs that embed isol (examples/embed/host.c: its own lua_State), and
# the chart the README shows.
examples: all $(BUILD)/examples/embed/host charts

# examples/sweep_memory.svg (checked in): a real memory sweep drawn by
# gnuplot; it needs root for the memory cgroups, so others keep the old one.
charts: all
	@if [ "$$(id -u)" = 0 ]; then bin/isol run examples/sweep_memory.lua -- 24 examples/sweep_memory.svg; \
	else echo "charts: examples/sweep_memory.svg left as it is (the sweep needs root for its cgroups)"; fi
$(BUILD)/examples/embed/host: examples/embed/host.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -std=gnu11 $(WARN) $(LUA_INC) -DISOL_ROOT='"$(CURDIR)"' -o $@ $< $(LUA_LIBS) -lpthread

# API reference (LDoc, Debian lua-ldoc; config.ld) into build/doc.
doc: | $(DEPS_STAMP)
	ldoc -q -d $(BUILD)/doc .

bench: all
	$(MAKE) -C bench

# The installed launcher is built again, linked as build/bin/isol is, with
# the directories it is installed with compiled in (no LUA_PATH needed;
# DESTDIR is not part of them). Without root: `make install
# PREFIX=$$HOME/.local`. When luac is there (not under luarocks), the
# modules' bytecode and the run bundle go to $(LUA_LIBDIR)/isol/bytecode,
# the sources beside them keep their times (install -p): the installed
# `isol run` then starts as fast as build/bin/isol (from the sources alone
# it parses them: about twice the time).
INSTALL_CLI := $(BUILD)/install/isol
HAVE_LUAC   := $(shell command -v $(LUAC) 2>/dev/null)
INSTALL_BC  := $(if $(HAVE_LUAC),$(LUA_BC) $(RUN_BUNDLE))
install: installable $(INSTALL_BC)
	@mkdir -p $(dir $(INSTALL_CLI))
	$(CC) $(OPT) -std=gnu11 $(WARN) $(LUA_INC) $(CFLAGS) $(CLI_CORE) -DISOL_LUADIR='"$(LUA_SHAREDIR)"' \
		-DISOL_LIBDIR='"$(LUA_LIBDIR)"' -o $(INSTALL_CLI) csrc/cli/isol.c $(LDFLAGS) $(EXTRA_LDFLAGS) $(CLI_LINK) \
		$(CLI_HARDEN)
	install -d $(DESTDIR)$(LUA_LIBDIR)/isol $(DESTDIR)$(LUA_SHAREDIR)/isol $(DESTDIR)$(BINDIR)
	install -m 0755 $(SO) $(DESTDIR)$(LUA_LIBDIR)/isol/core.so
	install -p -m 0644 lua/isol.lua $(DESTDIR)$(LUA_SHAREDIR)/isol.lua
	cd lua && find isol -name '*.lua' -exec install -p -D -m 0644 {} $(DESTDIR)$(LUA_SHAREDIR)/{} \;
	rm -rf $(DESTDIR)$(LUA_LIBDIR)/isol/bytecode
ifneq ($(HAVE_LUAC),)
	cd $(BUILD)/lua && find . -name '*.lua' -exec install -p -D -m 0644 {} $(DESTDIR)$(LUA_LIBDIR)/isol/bytecode/{} \;
	install -p -m 0644 $(RUN_BUNDLE) $(DESTDIR)$(LUA_LIBDIR)/isol/bytecode/run.bundle
endif
	install -m 0755 $(INSTALL_CLI) $(DESTDIR)$(BINDIR)/isol

uninstall:
	rm -rf $(DESTDIR)$(LUA_LIBDIR)/isol $(DESTDIR)$(LUA_SHAREDIR)/isol $(DESTDIR)$(LUA_SHAREDIR)/isol.lua $(DESTDIR)$(BINDIR)/isol

lint:
	luacheck lua spec bin/isol examples bench

# C style: .clang-format (clang-format 14, Debian clang-format).
C_FORMAT_FILES := $(wildcard csrc/*.[ch] csrc/*/*.[ch])
check-format:
	clang-format --dry-run --Werror $(C_FORMAT_FILES)

format:
	clang-format -i $(C_FORMAT_FILES)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
