# mk/bench-inbound.mk — `make bench-inbound`: inbound Africa's Talking SMS
# callbacks (POST /sms/{channel}, a unique id and sender per request) against
# the real daemon under wrk, next to the same wrk load against
# $(BUILD)/bench/bare_responder in the same run (targets: the gateway serves
# >= $(BENCH_INBOUND_MIN_RATIO) of the bare responder's requests/s, and its p99
# is <= $(BENCH_INBOUND_MAX_P99_RATIO) x the bare responder's p99).
#
# bench/bench_inbound.py drives it (see its docstring) with
# bench/bench_inbound.lua. Every inbound SMS ("HELP") queues a reply, which
# the channel sends to $(BUILD)/mock_aggregator (--no-record-bodies
# --max-records 0) at up to $(BENCH_INBOUND_REPLY_RATE)/s in batches of 100
# while the load runs: the gateway does its whole job. After the run the
# store must hold one processed inbound row per 2xx (plus at most the
# requests wrk left unanswered when it stopped). Prints both requests/s, the
# ratio, p50/p99 latency (also per round) and the rows committed; fails when
# a target is missed or a check fails. wrk -t$(BENCH_INBOUND_THREADS)
# -c$(BENCH_INBOUND_CONNECTIONS), $(BENCH_INBOUND_WARMUP) s warm-up +
# $(BENCH_INBOUND_SECONDS) s per server, in 4 alternating rounds (gateway,
# bare, gateway, bare, ...) so that a slow spell of the machine hits both:
# under a minute.

BENCH_INBOUND_SECONDS ?= 20
BENCH_INBOUND_WARMUP ?= 2
BENCH_INBOUND_THREADS ?= 1
BENCH_INBOUND_CONNECTIONS ?= 32
BENCH_INBOUND_MIN_RATIO ?= 0.45
BENCH_INBOUND_MAX_P99_RATIO ?= 3
BENCH_INBOUND_REPLY_RATE ?= 100000
BENCH_INBOUND_FLAGS ?=

.PHONY: bench-inbound
bench-inbound: deps
	@$(MAKE) --no-print-directory $(DAEMON) $(BUILD)/mock_aggregator $(BUILD)/bench/bare_responder
	python3 bench/bench_inbound.py --build $(BUILD) --duration $(BENCH_INBOUND_SECONDS) \
	    --warmup $(BENCH_INBOUND_WARMUP) --threads $(BENCH_INBOUND_THREADS) \
	    --connections $(BENCH_INBOUND_CONNECTIONS) --min-ratio $(BENCH_INBOUND_MIN_RATIO) \
	    --max-p99-ratio $(BENCH_INBOUND_MAX_P99_RATIO) \
	    --reply-rate $(BENCH_INBOUND_REPLY_RATE) $(BENCH_INBOUND_FLAGS)
