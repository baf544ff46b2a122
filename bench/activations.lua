-- wrk script for bench/activations: activations, heartbeats, releases and re-activations over
-- the client API.
--
-- Environment:
--   BENCH_KEYFMT  license key pattern for string.format with the entitlement's index
--   BENCH_NKEYS   how many entitlements (indexes 0 .. n-1)
--   BENCH_MIX     "new,heartbeat,release[,reactivate]" percentages, e.g. "70,20,10" or
--                 "10,30,10,50"
--   BENCH_SEED    random seed base
--   BENCH_HELD    "generation,per": seats held before the run, `per` on each entitlement, that
--                 bench/activations wrote (seed_held); unset or empty: none
--   BENCH_RATE    if set, requests per second for the whole run (open loop, below)
--   BENCH_THREADS wrk's thread count (-t), which shares BENCH_RATE
--
-- A new seat picks a random entitlement and a new random fingerprint `k<index>-<random>`; a
-- granted answer (201) is remembered (entitlement index, seat id and fingerprint, which the
-- answer carries back) so later heartbeats, releases and re-activations name a seat this
-- thread holds. Seats held before the run are shared out between the threads the same way
-- (each thread its own), named as seed_held names them. A release forgets its seat.
-- The summary is one JSON line on standard output, read by bench/activations.
--
-- With BENCH_RATE the load is paced rather than closed-loop: each wrk thread keeps a schedule
-- of send times (its share of the rate, evenly spaced) and each connection, once free, waits
-- for the next slot (wrk's delay()). A slot that comes due while every connection is still
-- waiting for an answer is sent late; those sends are counted (`late`, more than 10 ms behind
-- the schedule), since wrk times a request from its actual send and so would hide that wait
-- (coordinated omission). bench/activations counts a rate as sustained only if at most 1% of
-- its sends were late.

local keyfmt = os.getenv("BENCH_KEYFMT")
local nkeys = tonumber(os.getenv("BENCH_NKEYS") or "1")
local mix = os.getenv("BENCH_MIX") or "70,20,10"
local seed = tonumber(os.getenv("BENCH_SEED") or "1")
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local held_gen, held_per = (os.getenv("BENCH_HELD") or ""):match("^(%d+),(%d+)$")
local p_new, p_hb, p_rel = mix:match("^(%d+),(%d+),(%d+)")
p_new, p_hb, p_rel = tonumber(p_new), tonumber(p_hb), tonumber(p_rel)

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local keys, held_key, held_id, held_fp, nheld

local function hold(key, id, fp)
  if nheld < 100000 then
    nheld = nheld + 1
    held_key[nheld], held_id[nheld], held_fp[nheld] = key, id, fp
  end
end

function init(args)
  math.randomseed(seed * 1000 + tid)
  keys = {}
  for i = 0, nkeys - 1 do
    keys[i] = string.format(keyfmt, i)
  end
  held_key, held_id, held_fp, nheld = {}, {}, {}, 0
  if held_gen then
    -- bench/activations.py, seed_held: the same names, the same ids
    local gen, per = tonumber(held_gen), tonumber(held_per)
    for i = 0, nkeys - 1 do
      for j = 1, per do
        if (i * per + j) % nthreads == tid then
          hold(keys[i], string.format("%08x-%04x-4000-8000-%012x", i, gen, j),
               string.format("s%d-%d-%d", gen, i, j))
        end
      end
    end
  end
  n_new, n_hb, n_rel, n_react = 0, 0, 0, 0
  n_late, next_slot = 0, nil
  s_201, s_200, s_204, s_409, s_410, s_other = 0, 0, 0, 0, 0, 0
end

-- Monotonic milliseconds (wrk's Lua is LuaJIT: clock_gettime through its FFI).
local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]])
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local LATE_MS = 10

if rate > 0 then
  function delay()
    local now = now_ms()
    if next_slot == nil then
      next_slot = now
    end
    local slot = next_slot
    next_slot = next_slot + 1000 * nthreads / rate -- this thread's share, evenly spaced
    local wait = slot - now
    if wait < -LATE_MS then
      n_late = n_late + 1
    end
    return math.max(0, math.floor(wait))
  end
end

local function headers(key)
  return { ["Authorization"] = "License " .. key, ["Content-Type"] = "application/json" }
end

local function activation(key, fp)
  local body = '{"fingerprint":"' .. fp .. '","label":"bench"}'
  return wrk.format("POST", "/api/v1/activations", headers(key), body)
end

local function activate()
  n_new = n_new + 1
  local i = math.random(0, nkeys - 1)
  return activation(keys[i], string.format("k%d-%d-%d", i, tid, math.random(1, 2000000000)))
end

function request()
  local r = math.random(1, 100)
  if nheld == 0 or r <= p_new then
    return activate()
  end
  local j = math.random(1, nheld)
  local key, id = held_key[j], held_id[j]
  if r <= p_new + p_hb then
    n_hb = n_hb + 1
    return wrk.format("POST", "/api/v1/activations/" .. id .. "/heartbeat", headers(key), "")
  end
  if r > p_new + p_hb + p_rel then
    n_react = n_react + 1
    return activation(key, held_fp[j])
  end
  -- release: forget the seat (swap with the last one)
  n_rel = n_rel + 1
  held_key[j], held_id[j], held_fp[j] = held_key[nheld], held_id[nheld], held_fp[nheld]
  held_key[nheld], held_id[nheld], held_fp[nheld] = nil, nil, nil
  nheld = nheld - 1
  return wrk.format("DELETE", "/api/v1/activations/" .. id, headers(key), nil)
end

function response(status, hdrs, body)
  if status == 201 then
    s_201 = s_201 + 1
    local id = body:match('"id":%s*"([%x%-]+)"')
    local fp, i = body:match('"fingerprint":%s*"(k(%d+)%-[^"]*)"')
    if id and fp then
      hold(keys[tonumber(i)], id, fp)
    end
  elseif status == 200 then
    s_200 = s_200 + 1
  elseif status == 204 then
    s_204 = s_204 + 1
  elseif status == 409 then
    s_409 = s_409 + 1
  elseif status == 410 then
    s_410 = s_410 + 1
  else
    s_other = s_other + 1
  end
end

function done(summary, latency, requests)
  local t = {
    new = 0, hb = 0, rel = 0, react = 0,
    s201 = 0, s200 = 0, s204 = 0, s409 = 0, s410 = 0, other = 0, late = 0,
  }
  for _, thread in ipairs(threads) do
    t.new = t.new + thread:get("n_new")
    t.hb = t.hb + thread:get("n_hb")
    t.rel = t.rel + thread:get("n_rel")
    t.react = t.react + thread:get("n_react")
    t.s201 = t.s201 + thread:get("s_201")
    t.s200 = t.s200 + thread:get("s_200")
    t.s204 = t.s204 + thread:get("s_204")
    t.s409 = t.s409 + thread:get("s_409")
    t.s410 = t.s410 + thread:get("s_410")
    t.other = t.other + thread:get("s_other")
    t.late = t.late + thread:get("n_late")
  end
  local e = summary.errors
  io.write(string.format(
    '{"wrk": true, "duration_us": %d, "requests": %d, "activations": %d, "heartbeats": %d,'
      .. ' "releases": %d, "reactivations": %d, "late": %d, "status": {"201": %d, "200": %d,'
      .. ' "204": %d, "409": %d, "410": %d, "other": %d}, "errors": {"connect": %d,'
      .. ' "read": %d, "write": %d, "status": %d, "timeout": %d}, "latency_us": {"p50": %d,'
      .. ' "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.duration, summary.requests, t.new, t.hb, t.rel, t.react, t.late,
    t.s201, t.s200, t.s204, t.s409, t.s410, t.other,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
