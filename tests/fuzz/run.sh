#!/bin/sh
# run.sh — runs one libFuzzer harness of build/fuzz/ for SECONDS of wall time
# (the `make fuzz` campaign; mk/fuzz.mk runs FUZZ_JOBS of these at a time).
#
#   tests/fuzz/run.sh NAME SECONDS
#
# The binary is build/fuzz/NAME; the output goes under $FUZZ_OUT (default
# build/fuzz). New inputs go to $FUZZ_OUT/work/NAME (the first corpus
# directory, the only one libFuzzer writes); the committed corpus tests/fuzz/corpus/NAME, the
# regressions tests/fuzz/regressions/NAME and the seeds tests/fuzz/seeds/NAME
# are read. A crash is kept as $FUZZ_OUT/artifacts/NAME/crash-* and the run
# goes on for the rest of its time (a campaign finds more than one bug). The
# log is $FUZZ_OUT/NAME.log; its last "#N DONE"/stats lines are the figures.
set -u
name=$1
seconds=$2
bin=build/fuzz/$name
out=${FUZZ_OUT:-build/fuzz}
work=$out/work/$name
art=$out/artifacts/$name
log=$out/$name.log
mkdir -p "$work" "$art"
dict=""
[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
dirs=""
for d in tests/fuzz/corpus/$name tests/fuzz/regressions/$name tests/fuzz/seeds/$name; do
    [ -d "$d" ] && dirs="$dirs $d"
done
start=$(date +%s)
runs=0
: >"$log"
while :; do
    left=$((seconds - ($(date +%s) - start)))
    [ "$left" -gt 0 ] || break
    runs=$((runs + 1))
    echo "fuzz: $name run $runs for ${left}s" >>"$log"
    # shellcheck disable=SC2086 # $dict and $dirs are word lists
    "$bin" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$art/" $dict "$work" $dirs >>"$log" 2>&1
    rc=$?
    echo "fuzz: $name run $runs exit $rc" >>"$log"
    [ "$rc" -eq 0 ] && break
    # A crash: its input is in $art; go on unless it keeps crashing at once.
    [ $(($(date +%s) - start)) -lt 5 ] && [ "$runs" -gt 3 ] && break
done
crashes=$(find "$art" -type f | wc -l)
stats=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
echo "fuzz: $name: ${execs} executions, artifacts ${crashes}, last: ${stats}"
[ "$crashes" -eq 0 ]
