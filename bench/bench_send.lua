-- bench_send.lua — the wrk script of the mock baseline of `make bench-send`
-- (run by bench/bench_send.py): owns replaying one send request, exactly as
-- the gateway makes it, against the mock aggregator with no gateway at all.
--
--   wrk -s bench/bench_send.lua ... URL -- REQUEST_FILE
-- REQUEST_FILE holds the request: "METHOD PATH" on the first line, then
-- "Name: value" header lines, an empty line, and the body (to the end).
-- Counts 2xx answers per thread; done() prints one line
-- "bench_send: key=value ..." for the driver to parse.

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

-- globals, so done() can read them with thread:get()
ok2xx, other = 0, 0
local req

function init(args)
    local f = assert(io.open(args[1], "rb"))
    local text = f:read("*a")
    f:close()
    local head, body = text:match("^(.-)\n\n(.*)$")
    local method, path
    local headers = {}
    for l in head:gmatch("[^\n]+") do
        if not method then
            method, path = l:match("^(%S+) (%S+)$")
        else
            local k, v = l:match("^([^:]+): (.*)$")
            headers[k] = v
        end
    end
    req = wrk.format(method, path, headers, body)
end

function request()
    return req
end

function response(status, hdrs, body)
    if status >= 200 and status < 300 then
        ok2xx = ok2xx + 1
    else
        other = other + 1
    end
end

function done(summary, latency, requests)
    local ok, ot = 0, 0
    for _, t in ipairs(threads) do
        ok = ok + t:get("ok2xx")
        ot = ot + t:get("other")
    end
    local e = summary.errors
    io.write(string.format(
        "bench_send: requests=%d duration_us=%d ok2xx=%d other=%d p50_us=%d p99_us=%d " ..
        "socket_errors=%d\n",
        summary.requests, summary.duration, ok, ot, latency:percentile(50),
        latency:percentile(99), e.connect + e.read + e.write + e.timeout))
end
