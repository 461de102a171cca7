# mk/fuzz.mk — the fuzz campaign and the replay of its corpora (tests/fuzz/).
#
#   make fuzz FUZZ_SECONDS=N FUZZ_JOBS=J   every libFuzzer harness (clang,
#        ASan+UBSan, build/fuzz) for N seconds each, J at a time; new inputs in
#        $(FUZZ_OUT)/work/NAME, crashes in $(FUZZ_OUT)/artifacts/NAME, logs
#        $(FUZZ_OUT)/NAME.log (FUZZ_OUT=build/fuzz; tests/fuzz/run.sh). Fails
#        when any crashed.
#   make fuzz-merge      minimises what the runs found into the committed
#        corpora tests/fuzz/corpus/NAME (libFuzzer -merge=1).
#   make fuzz-one FUZZ_NAME=fuzz_x   one harness (FUZZ_SECONDS).
#
# The replay (tests/fuzz/10-replay.t, in `make test` and `make check`) runs
# each harness's entry point over tests/fuzz/corpus/NAME and
# tests/fuzz/regressions/NAME through tests/fuzz/replay.c, linked with the
# normal build: $(BUILD)/fuzz-replay/NAME.

FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
# Where runs keep their logs, finds and crashes (the binaries stay in build/fuzz).
FUZZ_OUT ?= build/fuzz
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/%.c=%)
# The harnesses that run the daemon's own code over the in-memory gateway.
FUZZ_MEMD := fuzz_callbacks fuzz_ussd
FUZZ_REPLAY_BIN := $(FUZZ_NAMES:%=$(BUILD)/fuzz-replay/%)

.PHONY: fuzz fuzz-build fuzz-merge fuzz-one

fuzz-build: deps
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang SAN=fuzz \
	    $(FUZZ_NAMES:%=build/fuzz/%)

# The harnesses of FUZZ_MEMD link tests/fuzz/memd.c (target-specific).
$(FUZZ_MEMD:%=$(BUILD)/%) $(FUZZ_MEMD:%=$(BUILD)/fuzz-replay/%): FUZZ_EXTRA = tests/fuzz/memd.c
$(FUZZ_MEMD:%=$(BUILD)/%) $(FUZZ_MEMD:%=$(BUILD)/fuzz-replay/%): tests/fuzz/memd.c tests/fuzz/memd.h

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_provider.h $(LIB)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_EXTRA) $(LIB) $(LIBS)

$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c tests/fuzz/fuzz_provider.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< tests/fuzz/replay.c $(FUZZ_EXTRA) $(LIB) $(LIBS)

test-bins: $(FUZZ_REPLAY_BIN)

fuzz: fuzz-build
	@mkdir -p $(FUZZ_OUT)
	@printf '%s\n' $(FUZZ_NAMES) | FUZZ_OUT=$(FUZZ_OUT) \
	    xargs -P $(FUZZ_JOBS) -I{} tests/fuzz/run.sh {} $(FUZZ_SECONDS); \
	    rc=$$?; [ $$rc -eq 0 ] || { echo "fuzz: crashes in $(FUZZ_OUT)/artifacts/ (see the logs)"; exit 1; }

fuzz-one: fuzz-build
	FUZZ_OUT=$(FUZZ_OUT) tests/fuzz/run.sh $(FUZZ_NAME) $(FUZZ_SECONDS)

# The committed corpus becomes the smallest set with the coverage of itself
# and of what the runs found (build/fuzz/work/NAME). Edges only
# (-use_counters=0): every edge is kept, hit counts are not, which keeps a
# corpus at a few hundred small files (fuzz_grammar: 375 instead of 2,032
# for the same 1,863 edges); a campaign finds the counts again in seconds.
fuzz-merge: fuzz-build
	@set -e; for name in $(FUZZ_NAMES); do \
	    new=build/fuzz/merge-$$name; rm -rf $$new; mkdir -p $$new tests/fuzz/corpus/$$name; \
	    build/fuzz/$$name -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 $$new \
	        tests/fuzz/corpus/$$name $$( [ -d $(FUZZ_OUT)/work/$$name ] && echo $(FUZZ_OUT)/work/$$name ) \
	        $$( [ -d tests/fuzz/seeds/$$name ] && echo tests/fuzz/seeds/$$name ) \
	        >build/fuzz/merge-$$name.log 2>&1; \
	    rm -rf tests/fuzz/corpus/$$name; mv $$new tests/fuzz/corpus/$$name; \
	    echo "fuzz-merge: $$name $$(ls tests/fuzz/corpus/$$name | wc -l) files"; \
	done
