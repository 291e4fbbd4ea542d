-- The journeys' latencies of a wrk run, for the wrk scripts of contrib/bench (dofile'd):
--   local latency = dofile(<this directory> .. "latency.lua")
--   local d, n, lo, hi = latency.journeys(summary, latency_userdata, connections)
--   latency.percentile(d, n, lo, hi, 99)
--
-- wrk 4 "corrects" its latency histogram for coordinated omission before done(): every sample n
-- at or above twice E = duration / (responses / connections) adds synthetic samples at n - E,
-- n - 2E, ... down to E (stats_correct in wrk's stats.c). With three responses a journey nearly
-- every journey takes more than 2E, so the corrected percentiles are neither the journeys' nor
-- trustworthy (wrk 4.1.0 even prints a p99 of 0 when synthetic samples fall below the minimum).
-- journeys() reads the histogram through LuaJIT's FFI (wrk's stats struct) and undoes the correction
-- exactly: D'[m] = D[m] + sum over k >= 1 of D[m + kE] for m > E.
local ffi = require("ffi")
ffi.cdef[[ typedef struct { uint64_t count, limit, min, max; uint64_t data[?]; } wrk_stats; ]]

local function journeys(summary, latency, connections)
	local s = ffi.cast("wrk_stats **", latency)[0]
	local lo, hi = tonumber(s.min), tonumber(s.max)
	local d = {}
	if hi < lo then return d, 0, lo, hi end
	local per = math.floor(summary.requests / connections)
	local e = per > 0 and math.floor(summary.duration / per) or hi + 1
	local tail = {}	-- tail[m] = sum over k >= 1 of D[m + kE]
	local n = 0
	for m = hi, lo, -1 do
		local v = tonumber(s.data[m])
		if m > e then
			v = v - (tail[m] or 0)
		end
		d[m] = v
		n = n + v
		if m - e > e then
			tail[m - e] = v + (tail[m] or 0)
		end
	end
	return d, n, lo, hi
end

local function percentile(d, n, lo, hi, p)
	local rank = math.max(1, math.ceil(p / 100 * n))
	local total = 0
	for m = lo, hi do
		total = total + d[m]
		if total >= rank then return m end
	end
	return hi
end

return { journeys = journeys, percentile = percentile }
