# patrold: build, run, test, bench. `make run` and `make test` do every set-up step.
SANITIZE ?=
comma    := ,
BUILD    ?= build$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))
CC       ?= cc
PKGS     := libpq geos proj jansson libsodium zlib opencc libturbojpeg xlsxwriter
# -Wno-overlength-strings: C99 only promises 4095-character literals; gcc and clang take any
# length, and a report's creation statement (its columns from REPORT_FIELDS) is longer.
WARN     := -Wall -Wextra -Wpedantic -Wno-overlength-strings -Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DGEOS_USE_ONLY_R_API $(WARN) -I. \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb -lpthread -lm
# Hardening: stack protector, PIE, full RELRO (-z now: the GOT is read-only after start-up), and
# _FORTIFY_SOURCE=3 (GCC 12 + glibc 2.36 support level 3: checked string/memory calls also where
# the object size is only known at run time). Not under AddressSanitizer, which checks those calls
# itself and does not intercept the _chk variants. HARDEN= turns it all off.
HARDEN   ?= 1
ifeq ($(HARDEN),1)
CFLAGS   += -fstack-protector-strong -fPIE
LDFLAGS  += -pie -Wl,-z,relro,-z,now
ifeq ($(findstring address,$(SANITIZE)),)
CFLAGS   += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3
endif
endif
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

GIS_SRC  := $(wildcard gis/*.c)
SVC_SRC  := $(filter-out service/cmd/main.c,$(wildcard service/*/*.c))
LIB_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(GIS_SRC) $(SVC_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))

.PHONY: all deps run test unit bench format format-check clean web ha stop
all: $(BUILD)/patrold

deps:
	@scripts/deps.sh

# Header dependencies come from the compiler (-MMD): an object depends on the headers it includes.
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(LIB_OBJ:.o=.d) $(BUILD)/service/cmd/main.d

$(BUILD)/patrold: $(BUILD)/service/cmd/main.o $(LIB_OBJ)
	@echo "  LD $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A unit test that #includes "service/x.c" (to reach static functions, as h2o's tests do) is linked
# without that object.
$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< \
	    $(filter-out $(shell sed -n 's|^#include "\(.*\)\.c".*|$(BUILD)/\1.o|p' $<),$(LIB_OBJ)) \
	    $(LDLIBS) -lcmocka

$(BUILD)/bench/%: tests/bench/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  CC $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

run: deps $(BUILD)/patrold web
	@scripts/run.sh $(BUILD)/patrold

unit: $(UNIT_BIN)

test: deps $(BUILD)/patrold $(UNIT_BIN) web
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run

# More than one machine on loopback (scripts/ha.sh): etcd, two Patroni PostGIS nodes, two patrold
# behind nginx on http://127.0.0.1:8090. `make ha stop` stops it; the run folder is in state/ha.dir.
ha: deps $(BUILD)/patrold
ifeq ($(filter stop,$(MAKECMDGOALS)),)
	@mkdir -p state; d=$$(cat state/ha.dir 2>/dev/null || true); \
	  [ -n "$$d" ] && [ -d "$$d" ] || { d=$$(mktemp -d /tmp/patrold-ha.XXXXXX) && echo "$$d" >state/ha.dir; }; \
	  scripts/ha.sh start "$$d" $(BUILD)/patrold
else
	@d=$$(cat state/ha.dir 2>/dev/null) && scripts/ha.sh stop "$$d" || echo "make ha: nothing started"
endif

stop:
	@:

bench: $(BUILD)/patrold $(BENCH_BIN)
	@PATROLD_BENCH_DEPS=1 scripts/deps.sh
	@BUILD=$(BUILD) tests/bench/run

# libFuzzer drivers tests/fuzz/fuzz_*.c: `make fuzz` builds every driver and the project's objects
# with clang into $(FUZZ_BUILD) (ASan + UBSan + coverage), then tests/fuzz/run.sh runs each for
# FUZZ_SECONDS (default 30) and fails on the first crash. A driver that #includes "service/x.c" or
# "gis/x.c" (to reach static functions, as h2o's tests do) is linked without that object.
FUZZ_BUILD ?= build-fuzz
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
.PHONY: fuzz fuzz-build

fuzz:
	@PATROLD_FUZZ_DEPS=1 scripts/deps.sh
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang SANITIZE=fuzzer-no-link,address,undefined fuzz-build
	@BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh

fuzz-build: $(FUZZ_BIN)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  FUZZ $<"
	@$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< \
	    $(filter-out $(shell sed -n 's|^#include "\(.*\)\.c".*|$(BUILD)/\1.o|p' $<),$(LIB_OBJ)) $(LDLIBS)

# The pages of web/ (the dispatcher console, the patrol app at /app/): OpenLayers, idb and esbuild
# pinned by web/package-lock.json, bundled by web/build.mjs into web/dist/ (served by patrold from
# web_root; the app from web/dist/app/).
WEB_SRC := $(shell find web/src web/app -type f) web/build.mjs web/index.html

web: web/dist/console.js web/dist/app/index.html

web/node_modules/.package-lock.json: web/package-lock.json
	@echo "  NPM ci"
	@cd web && npm ci --no-audit --no-fund --loglevel=error

web/dist/console.js web/dist/app/index.html &: $(WEB_SRC) web/node_modules/.package-lock.json
	@echo "  WEB web/dist"
	@cd web && node build.mjs

FORMAT_SRC = service/*/*.[ch] gis/*.[ch] tests/unit/*.c tests/bench/*.c tests/fuzz/*.c

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	@clang-format --dry-run -Werror $(FORMAT_SRC)

clean:
	rm -rf $(BUILD)
