-- bench_ussd.lua — the wrk script of `make bench-ussd` (run by bench/bench_ussd.py):
-- owns the shape of the load, each connection walking USSD report sessions
-- as Africa's Talking sends them, one step at a time, plus the timing and
-- checking of every answer.
--
--   wrk -t N -c N -s bench/bench_ussd.lua URL -- MODE PATH PHASE [THINK_MS]
-- MODE "ussd": POST PATH (/ussd/CHANNEL), form fields sessionId, serviceCode,
-- phoneNumber, networkCode, text; the text of one session goes
--   "" -> "1" -> "1*Bilal" -> "1*Bilal*8" -> "1*Bilal*8*1" -> "1*Bilal*8*1*Korangi"
--   -> "1*Bilal*8*1*Korangi*red shirt" -> "1*Bilal*8*1*Korangi*red shirt*1"
-- (END with a case number), then the connection starts a new session.
-- MODE "get": GET PATH (the HTTP floor: /healthz, or a bare responder).
-- PHASE (0-9) keeps the ids and numbers of two runs on one store apart.
-- THINK_MS (default 0): each connection waits that long after an answer
-- before its next request, as a person reads a screen and types (wrk's
-- delay()); the timing of a request starts when it is sent, after the wait.
--
-- One connection per thread (-t equal to -c) is required: wrk gives each
-- thread one Lua state and calls request()/response() with no connection
-- handle, and a connection's next request() is not adjacent to its last
-- response() when a thread owns several connections; with one, a thread's
-- globals are that connection's session. A request() while an answer is
-- still outstanding is counted as "overlap" (must stay 0).
--
-- Session k of thread t: sessionId "u<PHASE>-<t>-<k>", phone
-- +923<PHASE><t:3 digits><k:5 digits> (unique while t < 1000, k < 10^5).
-- Every answer must be 200 and begin "CON " or "END " (else bad_status /
-- bad_prefix) and begin with the expected screen (else bad_screen); a session
-- with a wrong answer is abandoned. Each step is timed here too (CLOCK_MONOTONIC
-- through LuaJIT's ffi, request() to response()), per step.
--
-- done() prints, for the driver to parse:
--   bench_ussd: key=value ...                     totals and wrk's latency percentiles
--   bench_ussd_step: step=S n=.. p50_us=.. ...    per step (Lua timing)
--   bench_ussd_pending: SID PHONE TEXT            a final step unanswered at the stop
--   bench_ussd_bad: BODY                          the first wrong answer, quoted

local ffi = require("ffi")
ffi.cdef [[
struct bench_ussd_ts { long tv_sec; long tv_nsec; };
int clock_gettime(int clk, struct bench_ussd_ts *tp);
]]
local ts = ffi.new("struct bench_ussd_ts")
local function now_us()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("tid", #threads)
end

local NAME = "Bilal"
local INPUTS = {"1", NAME, "8", "1", "Korangi", "red shirt", "1"}
local EXPECT = {
    "CON Talaash\n1 Report missing child",
    "CON Child's name?",
    "CON Age in years?",
    "CON 1 Boy\n2 Girl",
    "CON Area where last seen?",
    "CON Last seen when and where",
    "CON Confirm report:\n" .. NAME .. ", 8, boy, Korangi\n1 Yes, send",
    "END Talaash: case ",
}
local LAST = #INPUTS -- step index of the confirming "...*1"

local function urlencode(s)
    return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- the text of step s (0..LAST): the first s inputs joined by '*'
local TEXTS, ENCODED = {}, {}
for s = 0, LAST do
    local parts = {}
    for i = 1, s do parts[i] = INPUTS[i] end
    TEXTS[s] = table.concat(parts, "*")
    ENCODED[s] = urlencode(TEXTS[s])
end

-- globals, so done() can read them with thread:get()
mode, path, phase = "ussd", "/", 0
sent, completed, flows = 0, 0, 0
bad_status, bad_prefix, bad_screen, overlap = 0, 0, 0, 0
pending_final = ""
first_bad = ""
-- the timings, "STEP:US,..." (thread:get() of a table crashes wrk 4.1, strings are
-- fine): samples_done holds whole chunks of 64, samples_tail the newest ones
samples_done, samples_tail = "", ""
local chunk, nchunk = {}, 0

local function record(s, us)
    nchunk = nchunk + 1
    chunk[nchunk] = s .. ":" .. us
    if nchunk == 64 then
        samples_done = samples_done .. table.concat(chunk, ",", 1, nchunk) .. ","
        nchunk, samples_tail = 0, ""
    else
        samples_tail = table.concat(chunk, ",", 1, nchunk)
    end
end

local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
local session_no, sid, phone, step = 0, nil, nil, 0
local inflight, t0 = false, 0

function init(args)
    mode = args[1] or "ussd"
    path = args[2] or "/"
    phase = tonumber(args[3] or "0") % 10
    local think = tonumber(args[4] or "0")
    if think > 0 then
        delay = function() return think end -- wrk looks for it after init()
    end
end

local function new_session()
    session_no = session_no + 1
    local k = session_no % 100000
    sid = string.format("u%d-%d-%d", phase, tid, session_no)
    phone = string.format("+923%d%03d%05d", phase, tid % 1000, k)
    step = 0
    flows = flows + 1
end

function request()
    if inflight then
        if sent == 1 then
            sent = 0 -- wrk's own check call (script_verify_request on thread 1): never sent
        else
            overlap = overlap + 1
        end
    end
    inflight = true
    sent = sent + 1
    if mode ~= "ussd" then
        t0 = now_us()
        return wrk.format("GET", path)
    end
    if sid == nil then new_session() end
    local body = "sessionId=" .. sid .. "&serviceCode=%2A384%2A1234%23&phoneNumber=" ..
        urlencode(phone) .. "&networkCode=41001&text=" .. ENCODED[step]
    pending_final = step == LAST and (sid .. " " .. phone .. " " .. TEXTS[step]) or ""
    t0 = now_us()
    return wrk.format("POST", path, headers, body)
end

local function bad(kind, body)
    if kind == "status" then bad_status = bad_status + 1
    elseif kind == "prefix" then bad_prefix = bad_prefix + 1
    else bad_screen = bad_screen + 1 end
    if first_bad == "" then
        first_bad = string.format("%s step=%d %s", kind, step,
                                  ((body or ""):gsub("\n", "\\n"):sub(1, 160)))
    end
    sid = nil -- abandon the session
end

function response(status, hdrs, body)
    local dt = now_us() - t0
    inflight = false
    pending_final = ""
    record(step, math.floor(dt + 0.5))
    if mode ~= "ussd" then
        if status ~= 200 then bad("status", body) end
        return
    end
    if status ~= 200 then return bad("status", body) end
    local prefix = body:sub(1, 4)
    if prefix ~= "CON " and prefix ~= "END " then return bad("prefix", body) end
    local want = EXPECT[step + 1]
    if body:sub(1, #want) ~= want then return bad("screen", body) end
    if step == LAST then
        completed = completed + 1
        sid = nil
    else
        step = step + 1
    end
end

local function percentile(sorted, p)
    if #sorted == 0 then return 0 end
    local i = math.ceil(#sorted * p / 100)
    if i < 1 then i = 1 end
    return sorted[i]
end

function done(summary, latency, requests)
    local tot = {sent = 0, completed = 0, flows = 0, bad_status = 0, bad_prefix = 0,
                 bad_screen = 0, overlap = 0}
    local per_step, pendings, firsts = {}, {}, {}
    for _, t in ipairs(threads) do
        for k in pairs(tot) do tot[k] = tot[k] + t:get(k) end
        local p = t:get("pending_final")
        if p ~= "" then pendings[#pendings + 1] = p end
        local fb = t:get("first_bad")
        if fb ~= "" and #firsts == 0 then firsts[1] = fb end
        for _, str in ipairs({t:get("samples_done"), t:get("samples_tail")}) do
            for st, us in str:gmatch("(%d+):(%d+)") do
                local i = tonumber(st) + 1
                per_step[i] = per_step[i] or {}
                per_step[i][#per_step[i] + 1] = tonumber(us)
            end
        end
    end
    local e = summary.errors
    io.write(string.format(
        "bench_ussd: requests=%d duration_us=%d sent=%d flows=%d completed=%d " ..
        "bad_status=%d bad_prefix=%d bad_screen=%d overlap=%d pending_final=%d " ..
        "p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%d " ..
        "err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d\n",
        summary.requests, summary.duration, tot.sent, tot.flows, tot.completed,
        tot.bad_status, tot.bad_prefix, tot.bad_screen, tot.overlap, #pendings,
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency:percentile(99.9), latency.max, math.floor(latency.mean),
        e.connect, e.read, e.write, e.timeout, e.status))
    local all, sum = {}, 0
    for i = 1, LAST + 1 do
        for _, v in ipairs(per_step[i] or {}) do
            all[#all + 1] = v
            sum = sum + v
        end
    end
    table.sort(all)
    io.write(string.format(
        "bench_ussd_lua: n=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%d\n",
        #all, percentile(all, 50), percentile(all, 90), percentile(all, 99),
        percentile(all, 99.9), all[#all] or 0, #all > 0 and math.floor(sum / #all) or 0))
    for i = 1, LAST + 1 do
        local list = per_step[i] or {}
        if #list > 0 then
            table.sort(list)
            io.write(string.format(
                "bench_ussd_step: step=%d n=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
                i - 1, #list, percentile(list, 50), percentile(list, 90),
                percentile(list, 99), list[#list]))
        end
    end
    for _, p in ipairs(pendings) do io.write("bench_ussd_pending: " .. p .. "\n") end
    for _, f in ipairs(firsts) do io.write("bench_ussd_bad: " .. f .. "\n") end
end
