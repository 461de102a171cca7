# mk/bench-api.mk — `make bench-api`: what scraping /metrics and paging the
# operator API's case list every 100 ms costs the inbound path (issue #11).
#
# bench/bench_api.py drives it (see its docstring): bench-inbound's load
# (bench/bench_inbound.py's daemon, wrk script and bare responder) in
# alternating rounds — gateway alone, bare responder, gateway while a
# scraper GETs /metrics and one page of GET /api/v1/cases?limit=50&cursor=C
# (Authorization: Bearer, [api] tokens) every $(BENCH_API_INTERVAL_MS) ms,
# bare responder — so both ratios meet the same spells of the machine.
# Fails when the ratio with scraping is more than $(BENCH_API_MAX_DROP)
# points below the ratio without, or when any scrape or page is not 200.
# BENCH_API_FLAGS=--metrics-only scrapes /metrics alone (no [api] section:
# for a build without the operator API).

BENCH_API_SECONDS ?= 60
BENCH_API_ROUNDS ?= 6
BENCH_API_INTERVAL_MS ?= 100
BENCH_API_MAX_DROP ?= 2.0
BENCH_API_FLAGS ?=

.PHONY: bench-api
bench-api: deps
	@$(MAKE) --no-print-directory $(DAEMON) $(BUILD)/mock_aggregator $(BUILD)/bench/bare_responder
	python3 bench/bench_api.py --build $(BUILD) --duration $(BENCH_API_SECONDS) \
	    --rounds $(BENCH_API_ROUNDS) --interval-ms $(BENCH_API_INTERVAL_MS) \
	    --max-drop $(BENCH_API_MAX_DROP) --threads $(BENCH_INBOUND_THREADS) \
	    --connections $(BENCH_INBOUND_CONNECTIONS) $(BENCH_API_FLAGS)
