# Makefile — builds build/talaash and everything that tests, fuzzes and
# measures it. Plain GNU make; sources are discovered, so a new module is a
# new .c/.h pair and nothing here changes.
#
#   make            build/talaash
#   make run        install missing Debian packages, build, serve gateway.conf.example
#   make test       install, build, run every test under prove
#   make check      the same with ASan+UBSan (build/san), no recovery
#   make fuzz       libFuzzer harnesses (clang), FUZZ_SECONDS each, FUZZ_JOBS at a time (mk/fuzz.mk)
#   make install    PREFIX=/usr/local DESTDIR= (mk/install.mk: man pages, unit, .deb)
#
# Layout: common/ (tiny shared utilities), parsers/ (pure text), providers/
# (pure aggregator translators), gateway/ (the daemon). All but gateway/main.c
# go into $(BUILD)/libtalaash.a, which the daemon, the unit tests
# (tests/unit/test_*.c), the mock aggregator and helpers (tests/mock/*.c),
# the fuzzers (tests/fuzz/fuzz_*.c) and the benchmarks (bench/*.c) link.

BUILD   ?= build
CC      ?= cc
PROVE   ?= prove
PROVE_FLAGS ?= -j2

PKG_DEPS := libevent libcurl sqlite3 libpq libpcre2-8 libcjson inih libcrypto libutf8proc libsystemd \
            libxml-2.0
PKG_CFLAGS = $(shell pkg-config --cflags $(PKG_DEPS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKG_DEPS) 2>/dev/null)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion \
        -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla
ifeq ($(CI),true)
WARN += -Werror
endif

OPT ?= -O2
CFLAGS  ?=
CPPFLAGS ?=
LDFLAGS ?=
SAN_FLAGS :=
ifeq ($(SAN),1)
OPT := -O1
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
ifeq ($(SAN),fuzz)
OPT := -O1
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g $(OPT) $(WARN) \
             $(SAN_FLAGS) -I. $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lm -pthread

LIB_SRC  := $(wildcard common/*.c parsers/*.c providers/*.c gateway/store/*.c) \
            $(filter-out gateway/main.c,$(wildcard gateway/*.c))
GEN_OBJ  := $(BUILD)/obj/gen/gazetteer_default.o
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(GEN_OBJ)
LIB      := $(BUILD)/libtalaash.a
DAEMON   := $(BUILD)/talaash
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
MOCK_SRC := $(wildcard tests/mock/*.c)
MOCK_BIN := $(MOCK_SRC:tests/mock/%.c=$(BUILD)/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/%)
# tests/deb/ builds a package: `make test-deb`; tests/pg/ needs PostgreSQL: `make test-pg`.
TAP_SCRIPTS = $(sort $(filter-out tests/deb/% tests/pg/%,$(wildcard tests/*/*.t)))

.PHONY: all deps run test check clean install test-bins tests-only lint
.DEFAULT_GOAL := all

all: $(DAEMON)

deps:
	@scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/gazetteer_default.c: data/areas/pakistan.csv scripts/csv2c.sh
	@mkdir -p $(@D)
	scripts/csv2c.sh $< gazetteer_default_csv > $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

-include $(LIB_OBJ:.o=.d) $(BUILD)/obj/gateway/main.d

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(DAEMON): $(BUILD)/obj/gateway/main.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/tap.h $(wildcard tests/unit/*.h) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LIBS)

$(BUILD)/%: tests/mock/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LIBS)

test-bins: $(DAEMON) $(UNIT_BIN) $(MOCK_BIN)

# Runs the tests against what is built in $(BUILD) (no dependency install).
tests-only: test-bins
	TALAASH_BUILD=$(BUILD) $(PROVE) $(PROVE_FLAGS) $(filter-out $(PG_UNIT_BIN),$(UNIT_BIN)) \
	    $(TAP_SCRIPTS)

# `make test-pg`: the PostgreSQL backend's unit tests (tests/unit/test_pg_*.c)
# and the e2e stories of PG_TAP_SCRIPTS with the daemon on PostgreSQL, in a
# throw-away cluster that pg_virtualenv creates for the run and drops after
# (as root it runs the server as the postgres user; -t: its files in a
# temporary directory, so runs side by side do not collide). Each test makes
# its own database in it. Debian's python3 first on PATH: psycopg2 is its.
PG_VERSION ?= 15
PG_UNIT_BIN := $(filter $(BUILD)/tests/test_pg_%,$(UNIT_BIN))
# The e2e stories that run on both backends, then the PostgreSQL-only ones.
PG_TAP_SCRIPTS ?= tests/e2e/20-channels.t tests/e2e/25-ussd.t tests/e2e/30-story.t tests/e2e/32-alert-channels.t \
                  tests/e2e/35-limits.t tests/e2e/40-crash.t tests/e2e/41-fanout.t $(sort $(wildcard tests/pg/*.t))
.PHONY: test-pg
test-pg: deps
	@$(MAKE) --no-print-directory test-bins
	PATH=/usr/bin:$$PATH pg_virtualenv -t -v $(PG_VERSION) env TALAASH_TEST_PG=1 TALAASH_TEST_STORE=postgresql \
	    TALAASH_BUILD=$(BUILD) $(PROVE) $(PROVE_FLAGS) $(PG_UNIT_BIN) $(PG_TAP_SCRIPTS)

test: deps
	@$(MAKE) --no-print-directory tests-only

check: deps
	@$(MAKE) --no-print-directory tests-only BUILD=build/san SAN=1 \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	$(DAEMON) serve -c gateway.conf.example

# fuzz, fuzz-build, fuzz-merge: mk/fuzz.mk

clean:
	rm -rf build

# Fragments for benchmarks and other optional targets (bench-*.mk, …).
-include $(sort $(wildcard mk/*.mk))
