# mk/bench-ussd.mk — `make bench-ussd`: $(BENCH_USSD_CONNECTIONS) concurrent USSD
# sessions stepping through the report flow under wrk, over loopback
# (target: p99 reply latency <= $(BENCH_USSD_P99_MS) ms), each session pausing
# $(BENCH_USSD_THINK_MS) ms after an answer as a (very fast) person would; then
# the same flow without pauses, whose saturation figures are printed, not judged.
#
# bench/bench_ussd.py drives it (see its docstring) with bench/bench_ussd.lua:
# the real daemon with an Africa's Talking channel sending to
# $(BUILD)/mock_aggregator at $(BENCH_USSD_RATE) messages/s, one police
# officer for Korangi; each wrk connection (one per thread) walks whole
# sessions "" -> "1" -> "1*Bilal" -> ... -> "1*Bilal*8*1*Korangi*red shirt*1"
# (END with a case number). Prints requests/s and latency p50/p90/p99/max,
# per-step latencies, completed flows against cases in the store, errors,
# and as baselines from the same run and wrk settings GET /healthz of the
# same daemon and $(BUILD)/bench/bare_responder. Fails when p99 is above the
# target or a check fails. Four runs of BENCH_USSD_SECONDS: about 100 s.

BENCH_USSD_SECONDS ?= 20
BENCH_USSD_CONNECTIONS ?= 200
BENCH_USSD_RATE ?= 100
BENCH_USSD_P99_MS ?= 50
BENCH_USSD_THINK_MS ?= 100
BENCH_USSD_FLAGS ?=

.PHONY: bench-ussd
bench-ussd: deps
	@$(MAKE) --no-print-directory $(DAEMON) $(BUILD)/mock_aggregator $(BUILD)/bench/bare_responder
	python3 bench/bench_ussd.py --build $(BUILD) --seconds $(BENCH_USSD_SECONDS) \
	    --connections $(BENCH_USSD_CONNECTIONS) --rate $(BENCH_USSD_RATE) \
	    --p99-ms $(BENCH_USSD_P99_MS) --think-ms $(BENCH_USSD_THINK_MS) $(BENCH_USSD_FLAGS)
