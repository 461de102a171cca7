-- bench_inbound.lua — the wrk script of `make bench-inbound` (run by
-- bench/bench_inbound.py): owns the shape of the load, one Africa's Talking
-- inbound-SMS callback per request, each with a unique id and sender.
--
--   wrk -s bench/bench_inbound.lua ... URL -- PATH PHASE [LIMIT]
-- PATH is the request path (/sms/CHANNEL); PHASE (a number) keeps the ids
-- of runs on one store apart (warm-up, run; bench-growth's cycles). LIMIT
-- (bench-growth): a thread stops once that many of its requests are
-- answered, so a run writes the same number of messages however fast it
-- goes (plus at most its connections' requests in flight); -d is the cap.
-- wrk would still wait out -d: the thread prints "bench_inbound_limit:" for
-- the driver to end wrk with SIGINT once every thread has, and done() also
-- prints span_us, from the first request sent to the LIMIT-th answer of the
-- last thread (CLOCK_MONOTONIC through LuaJIT's ffi).
-- Request k of thread t is id "b<PHASE>-<t>-<k>" from +2547915 followed by
-- 8 digits (PHASE mod 10, t, k mod 10^6): unique while a thread sends < 10^6.
--
-- Counts per thread what it sent and which answers were 2xx; done() prints
-- one line "bench_inbound: key=value ..." for the driver to parse.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
]]
local timespec = ffi.new("bench_timespec")

local function now_us()
    ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
    return tonumber(timespec.tv_sec) * 1000000 + math.floor(tonumber(timespec.tv_nsec) / 1000)
end

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("tid", #threads)
end

-- globals, so done() can read them with thread:get()
path = "/"
phase = 0
limit = 0
first_us, last_us = 0, 0
sent, ok2xx, other = 0, 0, 0
local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}

function init(args)
    path = args[1] or "/"
    phase = tonumber(args[2] or "0")
    limit = tonumber(args[3] or "0")
end

function request()
    if sent == 0 then
        first_us = now_us()
    end
    sent = sent + 1
    local uid = string.format("%d%d%06d", phase % 10, tid % 10, sent % 1000000)
    local body = "linkId=SampleLinkId" .. uid .. "&text=HELP&to=21512&id=b" .. phase ..
        "-" .. tid .. "-" .. sent ..
        "&date=2017-05-03T06%3A04%3A45Z&from=%2B2547915" .. uid
    return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
    if status >= 200 and status < 300 then
        ok2xx = ok2xx + 1
    else
        other = other + 1
    end
    if limit > 0 and ok2xx + other >= limit then
        if last_us == 0 then
            last_us = now_us()
            io.write("bench_inbound_limit: reached\n") -- the driver ends wrk (SIGINT)
            io.flush()
        end
        wrk.thread:stop()
    end
end

function done(summary, latency, requests)
    local s, ok, ot, first, last = 0, 0, 0, nil, 0
    for _, t in ipairs(threads) do
        s = s + t:get("sent")
        ok = ok + t:get("ok2xx")
        ot = ot + t:get("other")
        local f, l = t:get("first_us"), t:get("last_us")
        if f > 0 and (first == nil or f < first) then
            first = f
        end
        if l > last then
            last = l
        end
    end
    -- 0 unless every thread reached its limit
    local span = 0
    if first ~= nil and last > 0 then
        for _, t in ipairs(threads) do
            if t:get("last_us") == 0 then
                last = 0
            end
        end
        if last > 0 then
            span = last - first
        end
    end
    local e = summary.errors
    io.write(string.format(
        "bench_inbound: requests=%d duration_us=%d sent=%d ok2xx=%d other=%d " ..
        "p50_us=%d p99_us=%d max_us=%d err_connect=%d err_read=%d err_write=%d " ..
        "err_timeout=%d span_us=%d\n",
        summary.requests, summary.duration, s, ok, ot,
        latency:percentile(50), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.timeout, span))
end
