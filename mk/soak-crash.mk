# mk/soak-crash.mk — `make soak-crash` (not part of `make test`): kill -9 of
# the daemon at random moments of a broadcast to $(SOAK_SUBSCRIBERS)
# subscribers, $(SOAK_KILLS) times in a row (tests/soak/crash.py, under
# prove; its kill loop and checks are tests/lib/crash.py's, shared with
# tests/e2e/40-crash.t). TALAASH_CRASH_SEED=N replays a run's kill moments.
# About two minutes.

SOAK_SUBSCRIBERS ?= 100000
SOAK_KILLS ?= 20

.PHONY: soak-crash
soak-crash: deps
	@$(MAKE) --no-print-directory test-bins
	SOAK_SUBSCRIBERS=$(SOAK_SUBSCRIBERS) SOAK_KILLS=$(SOAK_KILLS) TALAASH_BUILD=$(BUILD) \
	    $(PROVE) -v tests/soak/crash.py
