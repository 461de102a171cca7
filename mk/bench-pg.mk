# mk/bench-pg.mk — `make bench-pg`: the PostgreSQL backend measured, in a
# throw-away cluster that pg_virtualenv starts for the run and drops after:
#   1. inbound SMS callbacks/s and latency against the bare responder, as
#      bench-inbound (bench/bench_inbound.py --store-url; figures, no target);
#   2. a $(BENCH_PG_SUBSCRIBERS)-recipient wave committed by the daemon next
#      to the raw INSERT … SELECT of as many rows on the same PostgreSQL
#      (target <= 3 s);
#   3. sends/s to the mock aggregator of $(BENCH_PG_MESSAGES) messages with
#      one node, then with two nodes on the same database (target: two nodes
#      >= 1.7 x one), the mock answering each request in 100 ms as a real
#      aggregator does (bench/bench_pg.py, bench_send, says why).
BENCH_PG_SUBSCRIBERS ?= 1000000
BENCH_PG_MESSAGES ?= 200000
BENCH_PG_SECONDS ?= 20
BENCH_PG_FLAGS ?=
# The cluster as a deployment would run it (the defaults are for a laptop:
# 128 MB of shared buffers, a checkpoint every 1 GB of WAL, which a 1M wave
# writes twice over); durability is not touched (fsync, synchronous_commit on).
BENCH_PG_SERVER ?= -o shared_buffers=1GB -o max_wal_size=8GB -o wal_buffers=64MB \
                   -o checkpoint_timeout=30min -o maintenance_work_mem=512MB

.PHONY: bench-pg
bench-pg: deps
	@$(MAKE) --no-print-directory $(DAEMON) $(BUILD)/mock_aggregator $(BUILD)/bench/bare_responder
	PATH=/usr/bin:$$PATH pg_virtualenv -t -v $(PG_VERSION) $(BENCH_PG_SERVER) sh -c '\
	    createdb bench_inbound && \
	    python3 bench/bench_inbound.py --build $(BUILD) --store-url postgresql:///bench_inbound \
	        --duration $(BENCH_PG_SECONDS) --min-ratio 0 --max-p99-ratio 1000000 && \
	    TALAASH_BUILD=$(BUILD) python3 bench/bench_pg.py --subscribers $(BENCH_PG_SUBSCRIBERS) \
	        --messages $(BENCH_PG_MESSAGES) $(BENCH_PG_FLAGS)'
