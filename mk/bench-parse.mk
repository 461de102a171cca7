# mk/bench-parse.mk — `make bench-parse`: how fast `talaash parse` reads SMS
# texts (SPEC.md §11; target: >= 50,000 messages/s on one core).
#
# Builds $(BENCH_PARSE_LINES) input lines deterministically from the messages
# of tests/fixtures/parse/corpus.tsv (in file order, repeated), then times,
# best of $(BENCH_PARSE_RUNS) runs each, in the same invocation:
#   - `$(DAEMON) parse` (gazetteer load, grammar, JSON out), and
#   - the baseline $(BUILD)/bench/bench_parse_baseline, which only reads the
#     lines and writes each JSON-escaped: the I/O floor.
# Prints both rates and fails when parse is below $(BENCH_PARSE_MIN)/s or
# does not print one object per line.

BENCH_PARSE_LINES ?= 200000
BENCH_PARSE_RUNS ?= 3
BENCH_PARSE_MIN ?= 50000
BENCH_PARSE_DIR := $(BUILD)/bench/parse

.PHONY: bench-parse
bench-parse: $(DAEMON) $(BUILD)/bench/bench_parse_baseline
	@mkdir -p $(BENCH_PARSE_DIR)
	@awk -F'\t' -v n=$(BENCH_PARSE_LINES) \
	    '/^#/ || NF < 2 { next } { m[k++] = $$1 } END { for (i = 0; i < n; i++) print m[i % k] }' \
	    tests/fixtures/parse/corpus.tsv > $(BENCH_PARSE_DIR)/input.txt
	@set -e; in=$(BENCH_PARSE_DIR)/input.txt; lines=$$(wc -l < $$in); \
	best() { b=0; for r in $$(seq $(BENCH_PARSE_RUNS)); do \
	    t0=$$(date +%s%N); "$$@" < $$in > $(BENCH_PARSE_DIR)/out.jsonl; t1=$$(date +%s%N); \
	    t=$$((t1 - t0)); if [ $$b -eq 0 ] || [ $$t -lt $$b ]; then b=$$t; fi; done; echo $$b; }; \
	tp=$$(best $(DAEMON) parse); \
	got=$$(wc -l < $(BENCH_PARSE_DIR)/out.jsonl); \
	tb=$$(best $(BUILD)/bench/bench_parse_baseline); \
	awk -v n=$$lines -v tp=$$tp -v tb=$$tb -v min=$(BENCH_PARSE_MIN) -v got=$$got 'BEGIN { \
	    rp = n / (tp / 1e9); rb = n / (tb / 1e9); \
	    printf "bench-parse: %d messages (best of $(BENCH_PARSE_RUNS))\n", n; \
	    printf "  talaash parse                      : %8.3f s  %10.0f messages/s\n", tp / 1e9, rp; \
	    printf "  baseline (read + JSON-escape only) : %8.3f s  %10.0f messages/s\n", tb / 1e9, rb; \
	    printf "  parse costs %.2f us per message over the baseline\n", (tp - tb) / 1e3 / n; \
	    if (got != n) { printf "bench-parse: FAIL: %d output lines for %d messages\n", got, n; exit 1 } \
	    if (rp < min) { printf "bench-parse: FAIL: below %d messages/s\n", min; exit 1 } }'
