# isol: build, test, demo, bench, install.
# `make demo` and `make test` are the only set-up commands on a fresh Debian
# machine: both first run .ci/deps, which apt-get installs what is missing.

LUA        ?= lua5.4
LUA_VER    ?= 5.4
CC         ?= gcc
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
LIBS     := $(shell $(PKG_CONFIG) --libs libcgroup 2>/dev/null || echo -lcgroup) -lzstd -lz
CFLAGS_ALL = $(OPT) -std=gnu11 -fPIC -fvisibility=hidden $(WARN) $(LUA_INC) $(CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL = -shared $(LDFLAGS) $(EXTRA_LDFLAGS)

SRC  := $(wildcard csrc/*.c csrc/lua/*.c)
HDR  := $(wildcard csrc/*.h csrc/lua/*.h)
# (csrc/cli/ is the launcher executable, not part of core.so)
OBJ  := $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(SRC))
SO   := $(BUILD)/isol/core.so
DEPS_STAMP := $(BUILD)/.deps-ok

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(LUA_PATH);;
export LUA_CPATH := $(CURDIR)/$(BUILD)/?.so;$(LUA_CPATH);;

.PHONY: all deps test vm-test demo asan-test bench install uninstall clean lint examples check-format doc

# Lua modules are also precompiled to bytecode under $(BUILD)/lua: bin/isol
# loads those first (parsing the sources costs ~3 ms per `isol run`).
LUAC      ?= luac5.4
LUA_SRCS  := $(shell find lua -name '*.lua')
LUA_BC    := $(patsubst lua/%,$(BUILD)/lua/%,$(LUA_SRCS))

# The `isol` command as a native launcher (csrc/cli/isol.c): no readline,
# smaller and faster to start than `lua5.4 bin/isol`. bin/isol is the same
# command as a Lua script.
CLI_BIN   := $(BUILD)/bin/isol
LUA_LIB   ?= $(shell $(PKG_CONFIG) --libs lua$(LUA_VER) 2>/dev/null || echo -llua$(LUA_VER))

all: $(SO) $(LUA_BC) $(CLI_BIN)

$(CLI_BIN): csrc/cli/isol.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -std=gnu11 $(WARN) $(LUA_INC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LUA_LIB)

$(BUILD)/lua/%.lua: lua/%.lua | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(LUAC) -s -o $@ $<

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
# cgroup_no_v1=all; the kernel is fetched once into spec/vm/cache/.
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

# Programs that embed isol (examples/embed/host.c: its own lua_State).
LUA_LIBS := $(shell $(PKG_CONFIG) --libs lua$(LUA_VER) 2>/dev/null || echo -llua$(LUA_VER))
examples: all $(BUILD)/examples/embed/host
$(BUILD)/examples/embed/host: examples/embed/host.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -std=gnu11 $(WARN) $(LUA_INC) -DISOL_ROOT='"$(CURDIR)"' -o $@ $< $(LUA_LIBS) -lpthread

# API reference (LDoc, Debian lua-ldoc; config.ld) into build/doc.
doc: | $(DEPS_STAMP)
	ldoc -q -d $(BUILD)/doc .

bench: all
	$(MAKE) -C bench

install: all
	install -d $(DESTDIR)$(LUA_LIBDIR)/isol $(DESTDIR)$(LUA_SHAREDIR)/isol $(DESTDIR)$(BINDIR)
	install -m 0755 $(SO) $(DESTDIR)$(LUA_LIBDIR)/isol/core.so
	install -m 0644 lua/isol.lua $(DESTDIR)$(LUA_SHAREDIR)/isol.lua
	cd lua && find isol -name '*.lua' -exec install -D -m 0644 {} $(DESTDIR)$(LUA_SHAREDIR)/{} \;
	install -m 0755 $(CLI_BIN) $(DESTDIR)$(BINDIR)/isol

uninstall:
	rm -rf $(DESTDIR)$(LUA_LIBDIR)/isol $(DESTDIR)$(LUA_SHAREDIR)/isol $(DESTDIR)$(LUA_SHAREDIR)/isol.lua $(DESTDIR)$(BINDIR)/isol

lint:
	luacheck lua spec bin/isol examples bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
