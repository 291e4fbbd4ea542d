-- wrk script of the HTTP benchmark: one USSD check journey is three HTTP/1.1 POST /ussd requests
-- in the aggregator form, pipelined on one connection: dial (text ""), "1" (Check a phone),
-- "1*<IMEI>". Every journey has a fresh sessionId and caller; the IMEIs are built from real TACs
-- of data/tacdb.csv with valid Luhn check digits.
--   BENCH_CONNECTIONS=64 wrk -t1 -c64 -d10s -s ussd-journey.lua http://127.0.0.1:PORT -- TACDB [IMEIS]
-- (BENCH_CONNECTIONS: wrk's -c, which done() needs and wrk does not tell it)
--
-- wrk writes the three requests returned by request() at once and records one latency from the
-- first byte written to the third response: its latency samples are those of whole journeys
-- (see done() for the correction wrk applies to them). done() prints one line:
--   JOURNEYS <journeys completed> <seconds> <p50 us> <p99 us> <socket errors> <non-2xx>
-- With BENCH_CHECK=1 in the environment, every reply is also sorted by its text (menu, IMEI
-- prompt, result, other) and done() prints "CHECK menu ask end other <a result>".

local check = os.getenv("BENCH_CHECK") == "1"
local threads = {}
local next_id = 0

function setup(thread)
	thread:set("id", next_id)
	next_id = next_id + 1
	table.insert(threads, thread)
end

local function luhn(digits14)
	local sum = 0
	for i = 1, 14 do
		local d = tonumber(digits14:sub(i, i))
		if i % 2 == 0 then
			d = d * 2
			if d > 9 then d = d - 9 end
		end
		sum = sum + d
	end
	return digits14 .. tostring((10 - sum % 10) % 10)
end

local imeis = {}
local journey = 0
local prefix
local head

function init(args)
	local path = args[1] or "data/tacdb.csv"
	local want = tonumber(args[2] or "1000")
	local seen = {}
	local f = assert(io.open(path, "r"))
	local serial = 123457 + id * 7919
	for line in f:lines() do
		local tac = line:match("^(%d%d%d%d%d%d%d%d),")
		if tac and not seen[tac] then
			seen[tac] = true
			serial = (serial * 48271) % 1000000
			imeis[#imeis + 1] = luhn(tac .. string.format("%06d", serial))
			if #imeis >= want then break end
		end
	end
	f:close()
	assert(#imeis > 0, "no TAC in " .. path)
	-- sessionIds differ from one run (and thread) to the next; callers differ by thread
	prefix = string.format("b%d-%d-", os.time() % 100000, id)
	head = { ["Content-Type"] = "application/x-www-form-urlencoded" }
end

local function post(sid, caller, text)
	return wrk.format("POST", "/ussd", head,
		"sessionId=" .. sid .. "&serviceCode=%2A384%23&phoneNumber=%2B" .. caller ..
		"&text=" .. text .. "&networkCode=63902")
end

function request()
	journey = journey + 1
	local sid = prefix .. journey
	local caller = string.format("2547%d%07d", id % 10, journey % 10000000)
	local imei = imeis[(journey % #imeis) + 1]
	return post(sid, caller, "") .. post(sid, caller, "1") .. post(sid, caller, "1%2A" .. imei)
end

if check then
	local menu, ask, fin, other = 0, 0, 0, 0
	local sample_end, sample_other
	function response(status, headers, body)
		if status ~= 200 then
			other = other + 1
			sample_other = sample_other or (status .. " " .. body)
		elseif body:find("^CON .*\n1 Check a phone") then
			menu = menu + 1
		elseif body:find("^CON .*IMEI") then
			ask = ask + 1
		elseif body:find("^END ") then
			fin = fin + 1
			sample_end = sample_end or body
		else
			other = other + 1
			sample_other = sample_other or body
		end
		counts = string.format("%d %d %d %d", menu, ask, fin, other)
		samples = (sample_end or "") .. "|" .. (sample_other or "")
	end
end

-- The latency histogram as the journeys' (wrk's coordinated-omission correction undone).
local latency_lib = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "latency.lua")
local journey_latencies, percentile = latency_lib.journeys, latency_lib.percentile

function done(summary, latency, requests)
	local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
		summary.errors.timeout
	local d, n, lo, hi = journey_latencies(summary, latency, tonumber(os.getenv("BENCH_CONNECTIONS") or "64"))
	io.write(string.format("JOURNEYS %d %.3f %d %d %d %d\n", n, summary.duration / 1e6,
		percentile(d, n, lo, hi, 50), percentile(d, n, lo, hi, 99), errors,
		summary.errors.status))
	if check then
		local m, a, e, o = 0, 0, 0, 0
		local s = ""
		for _, t in ipairs(threads) do
			local c = t:get("counts")
			if c then
				local cm, ca, ce, co = c:match("(%d+) (%d+) (%d+) (%d+)")
				m, a, e, o = m + cm, a + ca, e + ce, o + co
				s = t:get("samples")
			end
		end
		io.write(string.format("CHECK %d %d %d %d %s\n", m, a, e, o,
			(s:gsub("\n", "\\n"))))
	end
end
