-- bench_inbound.lua — the wrk script of `make bench-inbound` (run by
-- bench/bench_inbound.py): owns the shape of the load, one Africa's Talking
-- inbound-SMS callback per request, each with a unique id and sender.
--
--   wrk -s bench/bench_inbound.lua ... URL -- PATH PHASE
-- PATH is the request path (/sms/CHANNEL); PHASE (a number) keeps the ids
-- of runs on one store apart (warm-up, run; bench-growth's cycles).
-- Request k of thread t is id "b<PHASE>-<t>-<k>" from +2547915 followed by
-- 8 digits (PHASE mod 10, t, k mod 10^6): unique while a thread sends < 10^6.
--
-- Counts per thread what it sent and which answers were 2xx; done() prints
-- one line "bench_inbound: key=value ..." for the driver to parse.

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("tid", #threads)
end

-- globals, so done() can read them with thread:get()
path = "/"
phase = 0
sent, ok2xx, other = 0, 0, 0
local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}

function init(args)
    path = args[1] or "/"
    phase = tonumber(args[2] or "0")
end

function request()
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
end

function done(summary, latency, requests)
    local s, ok, ot = 0, 0, 0
    for _, t in ipairs(threads) do
        s = s + t:get("sent")
        ok = ok + t:get("ok2xx")
        ot = ot + t:get("other")
    end
    local e = summary.errors
    io.write(string.format(
        "bench_inbound: requests=%d duration_us=%d sent=%d ok2xx=%d other=%d " ..
        "p50_us=%d p99_us=%d max_us=%d err_connect=%d err_read=%d err_write=%d " ..
        "err_timeout=%d\n",
        summary.requests, summary.duration, s, ok, ot,
        latency:percentile(50), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.timeout))
end
