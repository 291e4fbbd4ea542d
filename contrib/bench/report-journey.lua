-- wrk script of the report benchmark (report.sh): one USSD report journey is seven HTTP/1.1
-- POST /ussd in the aggregator form (text: every answer so far, joined by '*'), pipelined on
-- one connection: dial (""), "2" (report: the caller's phones), "2*K" (the phone), "2*K*DDDD"
-- (the last four digits of the owner's national ID), "...*1" (stolen), "...*1*1" (no police
-- report), "...*1*1*1" (confirm). K, the phone's place in the list, was worked out from the
-- dump by report.sh, so no answer has to be read before the next step is sent. Every journey
-- is a fresh session of the next owner of the list, each owner once.
--   BENCH_CONNECTIONS=64 wrk -t1 -c64 -d40s -s report-journey.lua http://127.0.0.1:PORT -- \
--       OWNERS REFS SECONDS
-- OWNERS: one owner a line, "MSISDN K DDDD IMEI" (E.164 digits without the +). REFS: the file
-- the reference of every accepted report is written to, one a line. SECONDS: how long
-- journeys are started. One thread only (-t1): the run's end is decided in its Lua state.
--
-- The end: after SECONDS (or when the owners run out) no journey is started any more
-- (delay() holds the connection), the journeys under way are answered in full, and then the
-- thread stops wrk (thread:stop() and SIGINT to wrk's main thread, which is sleeping out -d).
-- So no journey is cut half-way: every report ceirgw accepted had its receipt screen read
-- here, and the CEIR stream can be checked against the references exactly. -d is only a cap.
--
-- done() prints:
--   JOURNEYS <started> <completed> <seconds> <p50 us> <p99 us> <latency samples>
--            <socket errors> <non-2xx> <drained 0|1> <owners ran out 0|1>
--   SCREENS <menu> <pick> <ask id> <reason> <police> <confirm> <accepted> <other> <a sample>
-- Latency is a whole journey (first request written to the seventh response), with wrk's
-- coordinated-omission correction undone as in ussd-journey.lua; seconds run from the first
-- journey started to the last one answered.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
int getpid(void);
int tgkill(int tgid, int tid, int sig);
]]

local STEPS = 7
local HOLD_MS = 3600000		-- delay() of a connection once no journey is to start
local SIGINT = 2
local CLOCK_MONOTONIC = 1

local threads = {}
local next_id = 0

function setup(thread)
	thread:set("id", next_id)
	next_id = next_id + 1
	table.insert(threads, thread)
end

local ts = ffi.new("bench_timespec")
local function now()
	ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
	return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

-- the thread's state (globals: thread:get reads them in done())
local owners = {}
local refs
local seconds
local head
local prefix
local primed = false
started, responses, reserved = 0, 0, 0
t0, t_end = nil, nil
stopping, finished, exhausted = false, 0, 0
local c_menu, c_pick, c_id, c_reason, c_police, c_confirm, c_done, c_other = 0, 0, 0, 0, 0, 0, 0, 0
local sample_other

function init(args)
	assert(#args >= 3, "arguments: OWNERS REFS SECONDS")
	local f = assert(io.open(args[1], "r"))
	for line in f:lines() do
		local msisdn, k, digits, imei = line:match("^(%d+) (%d) (%d%d%d%d) (%d+)$")
		if msisdn then
			owners[#owners + 1] = { msisdn, k, digits, imei }
		end
	end
	f:close()
	assert(#owners > 0, "no owners in " .. args[1])
	refs = assert(io.open(args[2], "w"))
	seconds = tonumber(args[3])
	head = { ["Content-Type"] = "application/x-www-form-urlencoded" }
	prefix = string.format("rep%d-%d-", os.time() % 100000, id)
end

local function post(sid, caller, text)
	return wrk.format("POST", "/ussd", head,
		"sessionId=" .. sid .. "&serviceCode=%2A384%23&phoneNumber=%2B" .. caller ..
		"&text=" .. text .. "&networkCode=63902")
end

local function journey(n)
	local o = owners[n]
	local sid = prefix .. n
	local caller, k, digits = o[1], o[2], o[3]
	local t = "2%2A" .. k .. "%2A" .. digits
	return post(sid, caller, "") .. post(sid, caller, "2") .. post(sid, caller, "2%2A" .. k) ..
		post(sid, caller, t) .. post(sid, caller, t .. "%2A1") ..
		post(sid, caller, t .. "%2A1%2A1") .. post(sid, caller, t .. "%2A1%2A1%2A1")
end

local function finish()
	t_end = now()
	finished = 1
	refs:close()
	local pid = ffi.C.getpid()
	ffi.C.tgkill(pid, pid, SIGINT)	-- wrk's main thread: out of its sleep(-d)
	wrk.thread:stop()
end

local function maybe_finish()
	if stopping and finished == 0 and reserved == 0 and responses == STEPS * started then
		finish()
	end
end

-- Called before every request() of a connection (wrk: c->delayed): 0 lets it start the next
-- journey, which is reserved for it here; HOLD_MS parks it once no journey is to start.
function delay()
	local t = now()
	if t0 == nil then
		t0 = t
	end
	if not stopping then
		if started + reserved >= #owners then
			stopping, exhausted = true, 1
		elseif t - t0 >= seconds then
			stopping = true
		end
	end
	if stopping then
		maybe_finish()
		return HOLD_MS
	end
	reserved = reserved + 1
	return 0
end

function request()
	if id == 0 and not primed then
		-- wrk calls request() once before the run to count the pipelined requests; that
		-- journey is never sent and uses no owner.
		primed = true
		return journey(1)
	end
	reserved = reserved - 1
	started = started + 1
	return journey(started)
end

function response(status, headers, body)
	responses = responses + 1
	if status ~= 200 then
		c_other = c_other + 1
		sample_other = sample_other or (status .. " " .. body)
	elseif body:find("^END Report received%. Reference") then
		c_done = c_done + 1
		refs:write(body:match("Reference (%d+)") or "?", "\n")
	elseif body:find("^CON Which phone%?") then
		c_pick = c_pick + 1
	elseif body:find("^CON Enter the last 4 digits") then
		c_id = c_id + 1
	elseif body:find("^CON What happened%?") then
		c_reason = c_reason + 1
	elseif body:find("^CON Enter the police report number") then
		c_police = c_police + 1
	elseif body:find("^CON Report .* as ") then
		c_confirm = c_confirm + 1
	elseif body:find("^CON .*\n1 Check a phone") then
		c_menu = c_menu + 1
	else
		c_other = c_other + 1
		sample_other = sample_other or body
	end
	screens = string.format("%d %d %d %d %d %d %d %d", c_menu, c_pick, c_id, c_reason,
		c_police, c_confirm, c_done, c_other)
	sample = sample_other or ""
	maybe_finish()
end

-- The latency histogram as the journeys' (wrk's coordinated-omission correction undone).
local latency_lib = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "latency.lua")
local journey_latencies, percentile = latency_lib.journeys, latency_lib.percentile

function done(summary, latency, requests)
	local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
		summary.errors.timeout
	local d, n, lo, hi = journey_latencies(summary, latency,
		tonumber(os.getenv("BENCH_CONNECTIONS") or "64"))
	local t = threads[1]
	local st, resp = t:get("started") or 0, t:get("responses") or 0
	local a, b = t:get("t0"), t:get("t_end")
	local secs = (a and b) and (b - a) or summary.duration / 1e6
	io.write(string.format("JOURNEYS %d %d %.3f %d %d %d %d %d %d %d\n", st,
		math.floor(resp / STEPS), secs, percentile(d, n, lo, hi, 50),
		percentile(d, n, lo, hi, 99), n, errors, summary.errors.status,
		t:get("finished") or 0, t:get("exhausted") or 0))
	io.write(string.format("SCREENS %s %s\n", t:get("screens") or "0 0 0 0 0 0 0 0",
		((t:get("sample") or ""):gsub("\n", "\\n"))))
end
