# mk/bench-growth.mk — bounded growth, measured:
#
# `make bench-startup`: `talaash serve` until /healthz answers, on a store of
# $(BENCH_STARTUP_ROWS) outbox rows (built in SQLite directly, set-based, with
# $(BENCH_STARTUP_INFLIGHT) rows left 'sending' as a kill -9 leaves them)
# next to an empty store, alternating, $(BENCH_STARTUP_ROUNDS) rounds each
# (bench/bench_startup.py). Target: the big store's median <= 1 s. Prints
# what the recovery would cost scanning the outbox, for comparison. About
# 2 minutes; ~1.5 GB in $(BUILD)/bench/startup, removed at the end.
#
# `make bench-growth`: $(BENCH_GROWTH_CYCLES) consecutive alerts to
# $(BENCH_GROWTH_SUBSCRIBERS) subscribers, each sent, its case FOUND and the
# update sent, then the test clock moved past keep_sent so the pruner
# deletes the case's rows; prints per cycle the database size, the rows
# left and inbound requests/s (wrk, $(BENCH_GROWTH_WRK_REQUESTS) requests, at
# most $(BENCH_GROWTH_WRK_SECONDS) s, with the cycle's messages in the store:
# the same number each cycle, as a timed run stores more the faster it goes;
# 0 requests runs the seconds instead) next to the bare responder's
# (bench/bench_growth.py). Targets: the size after every cycle within
# $(BENCH_GROWTH_MAX_GROWTH) of the first cycle's, and the inbound share of
# the bare responder's in the last cycles >= 85 % of the first ones'.
# At 1M subscribers a cycle takes 1-4 minutes on 2 shared cores (mostly the
# sends), ~45 minutes in all; ~1.2 GB in $(BUILD)/bench/growth (database
# and WAL), removed at the end.

BENCH_STARTUP_ROWS ?= 10000000
BENCH_STARTUP_INFLIGHT ?= 2000
BENCH_STARTUP_ROUNDS ?= 5
BENCH_STARTUP_FLAGS ?=
BENCH_GROWTH_CYCLES ?= 20
BENCH_GROWTH_SUBSCRIBERS ?= 1000000
BENCH_GROWTH_WRK_REQUESTS ?= 40000
BENCH_GROWTH_WRK_SECONDS ?= 30
BENCH_GROWTH_MAX_GROWTH ?= 0.05
BENCH_GROWTH_FLAGS ?=

.PHONY: bench-startup bench-growth
bench-startup: deps
	@$(MAKE) --no-print-directory $(DAEMON) $(BUILD)/mock_aggregator
	python3 bench/bench_startup.py --build $(BUILD) --rows $(BENCH_STARTUP_ROWS) \
	    --inflight $(BENCH_STARTUP_INFLIGHT) --rounds $(BENCH_STARTUP_ROUNDS) \
	    $(BENCH_STARTUP_FLAGS)

bench-growth: deps
	@$(MAKE) --no-print-directory $(DAEMON) $(BUILD)/mock_aggregator $(BUILD)/bench/bare_responder
	python3 bench/bench_growth.py --build $(BUILD) --cycles $(BENCH_GROWTH_CYCLES) \
	    --subscribers $(BENCH_GROWTH_SUBSCRIBERS) --wrk-requests $(BENCH_GROWTH_WRK_REQUESTS) \
	    --wrk-seconds $(BENCH_GROWTH_WRK_SECONDS) \
	    --max-growth $(BENCH_GROWTH_MAX_GROWTH) $(BENCH_GROWTH_FLAGS)
