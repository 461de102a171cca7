# mk/bench-send.mk — `make bench-send`: the outbox sender against a loopback
# mock aggregator that answers at once (targets: >= 5,000 single-recipient
# requests/s on a twilio channel; >= 50,000 recipients/s in Africa's Talking
# batches of 500).
#
# bench/bench_send.py drives it (see its docstring): for each scenario it
# seeds a fresh store with queued outbox rows (BENCH_SEND_TWILIO_ROWS,
# BENCH_SEND_AT_ROWS), starts the daemon and times it from start until every
# row is 'sent' (deadline BENCH_SEND_DEADLINE s each). Baselines from the same
# run: wrk replaying the gateway's own request against the mock alone
# (bench/bench_send.lua), and $(BUILD)/bench/bench_send_store on copies of
# the store: SQLite's raw per-row UPDATE rate and the sender's own store
# calls with no HTTP. Prints requests/s and recipients/s of each; fails when
# a target is missed or a row is not sent. BENCH_SEND_FLAGS=--perf profiles
# the daemon during its runs; --what-if expiry-index,no-trim measures the
# fixes the benchmark suggests, applied from outside. About 2–4 minutes on
# 2 cores; the work directory ($(BUILD)/bench/send) is removed at the end
# (--keep keeps it).

BENCH_SEND_TWILIO_ROWS ?= 50000
BENCH_SEND_AT_ROWS ?= 500000
BENCH_SEND_DEADLINE ?= 60
BENCH_SEND_FLAGS ?=

.PHONY: bench-send
bench-send: deps
	@$(MAKE) --no-print-directory $(DAEMON) $(BUILD)/mock_aggregator \
	    $(BUILD)/bench/bench_send_store
	python3 bench/bench_send.py --build $(BUILD) --twilio-rows $(BENCH_SEND_TWILIO_ROWS) \
	    --at-rows $(BENCH_SEND_AT_ROWS) --deadline $(BENCH_SEND_DEADLINE) $(BENCH_SEND_FLAGS)
