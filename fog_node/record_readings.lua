-- Store a batch of readings in one round trip, idempotently by (meter, seq), keeping
-- rollups, region aggregates and VEE flags exact whatever order readings arrive in.
--
-- Consumption is attributed per link between consecutive readings (by seq) of a meter:
-- max(0, register(b) - register(a)) in integer Wh or litres goes to the hour, day and
-- month of b. A reading that arrives late (seq below the meter's latest) splits the
-- link it falls into: the old link's share is taken back and the two new links' shares
-- are added, so every total equals that of an in-order arrival.
--
-- The latest reading's hour is open: its consumption accumulates in the meter's summary
-- and is written to the hourly rollup, with the register that ended it, when a reading
-- of a later hour arrives. A day is closed the same way: its daily rollup (sum of its
-- hours, last register) is written once, then kept up to date by late readings. The
-- open hour and day are completed at query time from the summary (fog_node/rollups.py).
-- So an in-order reading costs five writes: summary, raw series, two rankings (the
-- ranking increments are summed per meter over the batch and written at its end).
--
-- ARGV[1..10]  key layout (fog_node.keys.RegionKeys.ingest_layout)
-- ARGV[11..18] now, raw_ttl, hourly_ttl, daily_ttl, top_day_ttl, top_month_ttl,
--              spike limit electricity, spike limit water (register units per second)
-- ARGV[19..22] register modulus (integer Wh or L: a drop from above 90 % of it to below
--              10 % is a rollover), stuck_after (readings), register units per second
--              per unit of rate, electricity and water (nevoa_core.vee)
-- ARGV[23] the largest seq step ahead of a meter's latest reading (nevoa_core.senml
--          MAX_SEQ_JUMP): a reading further ahead is refused as seq_jump
-- ARGV[24] the utility's calendar: lines "at offset", the UTC offset (seconds east) from
--          epoch second "at" on; the first line stands for all earlier time
--          (nevoa_core.calendar.Calendar.lua_table)
-- ARGV[25] readings: lines "meter seq time register rate kind" (rate "-" when absent)
-- ARGV[26] statuses: lines "meter online|offline time"
-- ARGV[27] rejects: lines "reason count"
--
-- All or nothing: every reading line is parsed and checked against the bounds the wire
-- format promises (nevoa_core.senml) BEFORE the first write; a batch with a line out of
-- bounds is refused whole with an error naming it, having changed nothing, and the
-- ingest isolates the line (a Redis script is not rolled back once it has written).
--
-- Days, months and hours are the utility's local ones (nevoa_core.calendar): a day is
-- numbered by its local date (days since 1970-01-01), an hour by its slot, the whole
-- hours since the local day's first instant (0..24: a 25-hour day keeps its repeated
-- hour apart). Hourly hashes have one field per slot.
-- Returns {stored, duplicates, stale, conflicts, seq jumps}.
local MP, RAWI, HI, DI, TOPP, TOTALS, METERS, STATS, ONLINE, OFFLINE = unpack(ARGV, 1, 10)
local now = ARGV[11]
local raw_ttl, hourly_ttl, daily_ttl = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local top_day_ttl, top_month_ttl = tonumber(ARGV[15]), tonumber(ARGV[16])
local spike_limit = {e = tonumber(ARGV[17]), w = tonumber(ARGV[18])}
local MODULUS, STUCK_AFTER = tonumber(ARGV[19]), tonumber(ARGV[20])
local rate_milli = {e = tonumber(ARGV[21]) * 1000, w = tonumber(ARGV[22]) * 1000}
local MAX_SEQ_JUMP = tonumber(ARGV[23])
local BLOCK = 128
local call, floor = redis.call, math.floor

local function milli(text) return floor(tonumber(text) * 1000 + 0.5) end

local HH = {}
for h = 0, 24 do HH[h] = string.format('%02d', h) end

-- the utility's calendar (nevoa_core.calendar.Calendar: the same numbers, by zoneinfo)
local TZ_AT, TZ_OFF = {}, {}
for at, off in string.gmatch(ARGV[24], '(%-?%d+) (%-?%d+)') do
  TZ_AT[#TZ_AT + 1], TZ_OFF[#TZ_OFF + 1] = tonumber(at), tonumber(off)
end
local offsets = {}  -- per quarter hour: every UTC offset change falls on one
local function offset_at(t)
  local q = floor(t / 900)
  local o = offsets[q]
  if o then return o end
  local lo, hi = 1, #TZ_AT
  if t >= TZ_AT[1] then
    while lo < hi do
      local mid = floor((lo + hi + 1) / 2)
      if TZ_AT[mid] <= t then lo = mid else hi = mid - 1 end
    end
  end
  o = TZ_OFF[lo]
  offsets[q] = o
  return o
end
-- the first instant of local day d (a midnight skipped by DST: the instant of the jump)
local day_starts = {}
local function day_start(d, hint)
  local s = day_starts[d]
  if s then return s end
  local s0 = d * 86400 - hint
  local o0 = offset_at(s0)
  if o0 == hint then
    s = s0
  else
    local s1 = d * 86400 - o0
    if offset_at(s1) == o0 then
      s = s1
    else  -- the clocks jumped over midnight: the day starts at the jump
      local lo, hi = math.min(s0, s1), math.max(s0, s1)
      s = hi
      for i = 1, #TZ_AT do
        if TZ_AT[i] > lo and TZ_AT[i] <= hi then s = TZ_AT[i] break end
      end
    end
  end
  day_starts[d] = s
  return s
end
local function local_day(t) return floor((t + offset_at(t)) / 86400) end
-- the hour bucket of a time: day * 25 + slot (nevoa_core.calendar.Calendar.slot_id)
local function slot_of(t)
  local o = offset_at(t)
  local d = floor((t + o) / 86400)
  return d, floor((t - day_start(d, o)) / 3600)
end
local function hour_id(t)
  local d, slot = slot_of(t)
  return d * 25 + slot
end

-- the proleptic Gregorian date of a day number (days since 1970-01-01), H. Hinnant
local function civil(days)
  local z = days + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return yoe + era * 400 + (m <= 2 and 1 or 0), m, d
end

local days = {}
-- the local day a time falls in: labels and region keys, cached per batch
local function day_of(t)
  local index = local_day(t)
  local p = days[index]
  if not p then
    local y, m, d = civil(index)
    local day, month = string.format('%04d-%02d-%02d', y, m, d), string.format('%04d-%02d', y, m)
    p = {index = index, day = day, month = month, dd = string.format('%02d', d),
         top_day = {}, top_month = {}, day_field = {}, month_field = {}}
    for _, k in ipairs({'e', 'w'}) do
      p.top_day[k] = TOPP .. k .. ':day:' .. day
      p.top_month[k] = TOPP .. k .. ':month:' .. month
      p.day_field[k] = k .. ':day:' .. day
      p.month_field[k] = k .. ':month:' .. month
    end
    days[index] = p
  end
  return p
end
local function hour_of(t)
  local _, slot = slot_of(t)
  return HH[slot]
end

local totals, touched = {}, {}

-- ranking increments summed per (ranking, meter) over the batch and applied once at the
-- end (below): a meter with several readings in a batch (a backlog pack) is written once
-- per ranking, not once per reading. Sums commute, so the result is the same in any order.
local ranked, ranked_order = {}, {}
local function rank(key, meter, delta, ttl)
  local per = ranked[key]
  if not per then
    per = {}
    ranked[key] = per
    ranked_order[#ranked_order + 1] = key
    touched[key] = ttl
  end
  per[meter] = (per[meter] or 0) + delta
end

-- an integer as text; tostring is exact below 1e14 and much cheaper than string.format
local function int(n)
  if n < 1e14 and n > -1e14 then return tostring(n) end
  return string.format('%.0f', n)
end

-- add to an hour of the meter's hourly rollup (a closed hour, or the open one's flush)
local function add_hourly(mkey, t, delta)
  local key = mkey .. HI .. day_of(t).day
  call('HINCRBY', key, hour_of(t), delta)
  call('EXPIRE', key, hourly_ttl, 'NX')
end

-- the register that ended an hour
local function end_hour(mkey, t, regm)
  local key = mkey .. HI .. day_of(t).day
  call('HSET', key, hour_of(t) .. 'r', regm)
  call('EXPIRE', key, hourly_ttl, 'NX')
end

-- sum a closed day's hours into its daily rollup
local function close_day(mkey, p, regm)
  local hours = call('HGETALL', mkey .. HI .. p.day)
  local sum = 0
  for i = 1, #hours, 2 do
    if #hours[i] == 2 then sum = sum + tonumber(hours[i + 1]) end
  end
  local dkey = mkey .. DI .. p.month
  if regm then
    call('HSET', dkey, p.dd, sum, p.dd .. 'r', regm)
  else
    call('HSET', dkey, p.dd, sum)
  end
  call('EXPIRE', dkey, daily_ttl, 'NX')
end

-- add delta (integer, may be negative) to the meter's consumption at time t. Returns
-- what goes to the open hour's accumulator (the summary's "live" field) instead of the
-- hourly hash. Days before latest_day are closed: their daily rollup follows. touch:
-- the meter's first reading of a day, which enters the day's ranking even at 0.
local function attribute(mkey, meter, kind, t, delta, latest_day, touch, open_hour)
  local p = day_of(t)
  local acc = 0
  if delta ~= 0 then
    if hour_id(t) == open_hour then acc = delta else add_hourly(mkey, t, delta) end
    if p.index < latest_day then
      if call('HEXISTS', mkey .. DI .. p.month, p.dd) == 1 then
        call('HINCRBY', mkey .. DI .. p.month, p.dd, delta)
      else
        close_day(mkey, p, nil)
      end
    end
  end
  if delta == 0 and not touch then return acc end
  rank(p.top_day[kind], meter, delta, top_day_ttl)
  rank(p.top_month[kind], meter, delta, top_month_ttl)
  local f1, f2 = p.day_field[kind], p.month_field[kind]
  totals[f1], totals[f2] = (totals[f1] or 0) + delta, (totals[f2] or 0) + delta
  return acc
end

-- consumption between two consecutive registers (integer Wh or L) and whether the
-- register went backwards: the one rule of nevoa_core.consumption.link. A drop from above
-- 90 % of the modulus (and below it) to below 10 % of it is a rollover, new + modulus -
-- old; any other drop is tampering, counted as 0
local function consumed(pregm, regm)
  local d = regm - pregm
  if d >= 0 then return d, false end
  if pregm * 10 > 9 * MODULUS and pregm < MODULUS and regm * 10 < MODULUS then
    return d + MODULUS, false
  end
  return 0, true
end

local function is_spike(kind, delta, dt)
  if delta <= 0 then return false end
  if dt <= 0 then return true end
  return delta / 1000 / dt > spike_limit[kind]
end

-- A block of raw readings is one string of records ";offset:time:register:rate", offset =
-- seq % 128, appended in arrival order (APPEND costs the same however full the block).
local function record(seq, ttext, reg, rate)
  return ';' .. (seq % BLOCK) .. ':' .. ttext .. ':' .. reg .. ':' .. (rate == '-' and '' or rate)
end

-- whether a block holds a seq
local function holds(block_text, seq)
  return block_text ~= false and string.find(block_text, ';' .. (seq % BLOCK) .. ':', 1, true) ~= nil
end

-- the nearest stored reading before (later=false) or after a seq, in one block
local function neighbour(block_text, base, seq, later)
  if not block_text then return nil end
  local best
  for off, t, reg in string.gmatch(block_text, ';(%d+):([^:]+):([^:]+):[^;]*') do
    local s = base + tonumber(off)
    if (later and s > seq and (not best or s < best.seq))
        or (not later and s < seq and (not best or s > best.seq)) then
      best = {seq = s, t = tonumber(t), regm = milli(reg)}
    end
  end
  return best
end

-- VEE bookkeeping "first missing tamper spike stuck", in one field (stuck may be absent)
local function vee_of(s)
  local first, miss, tamper, spike, stuck =
    string.match(s or '', '^(%d+) (%d+) (%d+) (%d+) ?(%d*)$')
  return {tonumber(first), tonumber(miss) or 0, tonumber(tamper) or 0, tonumber(spike) or 0,
          tonumber(stuck) or 0}
end
local function vee_text(v)
  return string.format('%.0f %.0f %.0f %.0f %.0f', v[1], v[2], v[3], v[4], v[5])
end

-- note VEE events: the counts "first missing tamper spike stuck" and the event's detail
local function vee_event(mkey, what, detail, first)
  local vee = vee_of(call('HGET', mkey, 'vee'))
  vee[1] = vee[1] or first
  if what == 'gap' then vee[2] = vee[2] + detail[1] end
  if what == 'tamper' then vee[3] = vee[3] + 1 end
  if what == 'spike' then vee[4] = vee[4] + 1 end
  if what == 'stuck' then vee[5] = vee[5] + 1 end
  call('HSET', mkey, 'vee', vee_text(vee), what .. '_at', detail[2])
end

-- The summary's "last" field is "seq time register rate kind"; its "live" field is
-- "flowing_since seen interval open_hour open_hour_consumption" (two fields, each under
-- 64 bytes: the hash keeps its compact encoding). The open hour (the latest reading's)
-- accumulates there and is written to the hourly rollup when the next hour starts.
local function parse_live(live)
  local flow, hour, acc = string.match(live or '', '^(%S+) %S+ %S+ (%S+) (%S+)$')
  return flow or '-', tonumber(hour) or -1, tonumber(acc) or 0
end

-- a reading newer than every stored one of its meter (or its first): the common case;
-- pseqtext, ptext, preg: the latest one's texts (nil for a first reading); livetext:
-- the summary's live field; stilltext: its "still" field, the stuck run (nevoa_core.vee)
local function append(mkey, meter, seqtext, seq, t, ttext, reg, rate, kind, pseqtext, ptext,
                      preg, livetext, stilltext)
  local regm = milli(reg)
  local block = floor(seq / BLOCK)
  local hour = hour_id(t)
  local delta, flow, interval, acc = 0, '-', '-', 0
  local run, new_run = tonumber(stilltext) or 0, 0
  local flowing = rate ~= '-' and tonumber(rate) > 0
  local p = day_of(t)
  if pseqtext then
    local live_flow, live_hour, live_acc = parse_live(livetext)
    local pseq, pt, pregm = tonumber(pseqtext), tonumber(ptext), milli(preg)
    local tampered
    delta, tampered = consumed(pregm, regm)
    if tampered then
      vee_event(mkey, 'tamper', {0, pseqtext .. '>' .. seqtext .. ' register ' .. preg .. '>' .. reg},
        pseq)
    end
    -- stuck: the register repeats itself while the rate says it should have moved
    if regm == pregm and rate ~= '-' then
      local expected = tonumber(rate) * rate_milli[kind] * (t - pt)
      if expected >= 1 then new_run = run + 1 elseif expected > 0 then new_run = run end
    end
    if new_run == STUCK_AFTER and run ~= STUCK_AFTER then
      vee_event(mkey, 'stuck', {0, pseqtext .. '>' .. seqtext .. ' register ' .. reg}, pseq)
    end
    if delta > 0 and is_spike(kind, delta, t - pt) then
      vee_event(mkey, 'spike', {0, pseqtext .. '>' .. seqtext .. ' ' .. delta .. ' in '
        .. (t - pt) .. 's'}, pseq)
    end
    if seq > pseq + 1 then
      vee_event(mkey, 'gap', {seq - pseq - 1, pseqtext .. '>' .. seqtext}, pseq)
    end
    -- to the millisecond: 14.999999999767 would make the field too long to stay compact
    if t > pt then interval = tostring(floor((t - pt) * 1000 + 0.5) / 1000) end
    -- leak bookkeeping: since when has water flowed without a pause
    if rate == '-' then flowing = delta > 0 end
    if flowing then
      flow = live_flow ~= '-' and live_flow or (rate == '-' and ptext or ttext)
    end
    local pblock = floor(pseq / BLOCK)
    if block ~= pblock then
      -- the previous block is complete: rewrite it without the room APPEND keeps for
      -- growth (up to as much again), and start its retention
      local previous = mkey .. RAWI .. pblock
      local text = call('GET', previous)
      if text then call('SET', previous, text, 'EX', raw_ttl) end
    end
    local pp = day_of(pt)
    if live_hour ~= hour then  -- the previous reading's hour is over
      if live_acc ~= 0 then add_hourly(mkey, pt, live_acc) end
      end_hour(mkey, pt, pregm)
    else
      acc = live_acc
    end
    if pp.index < p.index then close_day(mkey, pp, pregm) end
    acc = acc + attribute(mkey, meter, kind, t, delta, math.max(p.index, pp.index),
      pp.index ~= p.index, hour)
  else
    call('SADD', METERS, meter)
    call('HSET', mkey, 'vee', seqtext .. ' 0 0 0 0')
    if flowing then flow = ttext end
    attribute(mkey, meter, kind, t, 0, p.index, true, hour)
  end
  call('APPEND', mkey .. RAWI .. block, record(seq, ttext, reg, rate))
  local last = seqtext .. ' ' .. ttext .. ' ' .. reg .. ' ' .. rate .. ' ' .. kind
  local live = flow .. ' ' .. now .. ' ' .. interval .. ' ' .. int(hour) .. ' ' .. int(acc)
  if new_run ~= run then
    call('HSET', mkey, 'last', last, 'live', live, 'still', new_run)
  else
    call('HSET', mkey, 'last', last, 'live', live)
  end
end

-- a reading older than the meter's latest: fill the hole it left, or refuse it as stale
local function insert_late(mkey, meter, seqtext, t, ttext, reg, rate, kind, last, livetext)
  local seq = tonumber(seqtext)
  local block = floor(seq / BLOCK)
  local bkey = mkey .. RAWI .. block
  local here = call('GET', bkey)
  if holds(here, seq) then return 'duplicate' end
  local vee = vee_of(call('HGET', mkey, 'vee'))
  local first = vee[1] or seq
  local base = block * BLOCK
  local pred = neighbour(here, base, seq, false)
    or neighbour(call('GET', mkey .. RAWI .. (block - 1)), base - BLOCK, seq, false)
  local succ = neighbour(here, base, seq, true)
    or neighbour(call('GET', mkey .. RAWI .. (block + 1)), base + BLOCK, seq, true)
  -- without both neighbours (expired, or 128+ readings missing) the link cannot be split
  if succ == nil or (pred == nil and seq > first) then return 'stale' end
  local regm = milli(reg)
  local latest_seq, latest_t = string.match(last, '^(%d+) (%S+)')
  local latest_day = day_of(tonumber(latest_t)).index
  local _, live_hour, live_acc = parse_live(livetext)
  local before, old_link = 0, 0
  local tampered
  if pred then
    -- the link pred -> succ was judged when it formed; it is not a link any more: take
    -- its events back, so that flags, like totals, do not depend on the arrival order
    local old_tampered
    old_link, old_tampered = consumed(pred.regm, succ.regm)
    if old_tampered then vee[3] = math.max(0, vee[3] - 1) end
    if is_spike(kind, old_link, succ.t - pred.t) then vee[4] = math.max(0, vee[4] - 1) end
    before, tampered = consumed(pred.regm, regm)
    if tampered then vee[3] = vee[3] + 1 end
    if is_spike(kind, before, t - pred.t) then vee[4] = vee[4] + 1 end
  end
  local after
  after, tampered = consumed(regm, succ.regm)
  if tampered then vee[3] = vee[3] + 1 end
  if is_spike(kind, after, succ.t - t) then vee[4] = vee[4] + 1 end
  if seq < first then
    vee[1], vee[2] = seq, vee[2] + first - seq - 1
  else
    vee[2] = math.max(0, vee[2] - 1)  -- a hole filled
  end
  call('APPEND', bkey, record(seq, ttext, reg, rate))
  if block < floor(tonumber(latest_seq) / BLOCK) and call('TTL', bkey) == -1 then
    call('EXPIRE', bkey, raw_ttl)
  end
  local acc = attribute(mkey, meter, kind, t, before, latest_day, true, live_hour)
    + attribute(mkey, meter, kind, succ.t, after - old_link, latest_day, false, live_hour)
  local p, sp = day_of(t), day_of(succ.t)
  if hour_id(succ.t) ~= hour_id(t) then end_hour(mkey, t, regm) end
  if sp.index ~= p.index then
    if call('HEXISTS', mkey .. DI .. p.month, p.dd) == 0 then close_day(mkey, p, regm)
    else call('HSET', mkey .. DI .. p.month, p.dd .. 'r', regm) end
  end
  call('HSET', mkey, 'vee', vee_text(vee))
  if acc ~= 0 then
    local head = string.match(livetext, '^(%S+ %S+ %S+ %S+) ')
    call('HSET', mkey, 'live', head .. ' ' .. int(live_acc + acc))
  end
  return 'stored'
end

-- every line parsed and checked before anything is written (see the header)
local MAX_SEQ, EARLIEST, LATEST = 2 ^ 53 - 1, 946684800, 4102444800
local lines = {}
for meter, seqtext, ttext, reg, rate, kind in
    string.gmatch(ARGV[25], '(%S+) (%d+) (%S+) (%S+) (%S+) (%a)') do
  local seq, t, r = tonumber(seqtext), tonumber(ttext), tonumber(reg)
  local ok = seq and seq <= MAX_SEQ and t and t >= EARLIEST and t <= LATEST and r
    and r >= 0 and milli(reg) < MODULUS and (kind == 'e' or kind == 'w')
    and (rate == '-' or (tonumber(rate) and tonumber(rate) >= 0))
  if not ok then
    return redis.error_reply('ERR nevoa: reading out of bounds, batch refused unwritten: '
      .. meter .. ' ' .. seqtext .. ' ' .. ttext .. ' ' .. reg .. ' ' .. rate .. ' ' .. kind)
  end
  lines[#lines + 1] = {meter, seqtext, seq, ttext, t, reg, rate, kind}
end

local stored, duplicates, stale, conflicts, jumps = 0, 0, 0, 0, 0
for _, line in ipairs(lines) do
  local meter, seqtext, seq, ttext, t, reg, rate, kind = unpack(line)
  local mkey = MP .. meter
  local found = call('HMGET', mkey, 'last', 'live', 'still')
  local last, livetext = found[1], found[2]
  local outcome = 'stored'
  if not last then
    append(mkey, meter, seqtext, seq, t, ttext, reg, rate, kind)
  else
    local pseq, ptime, preg, pkind = string.match(last, '^(%d+) (%S+) (%S+) %S+ (%a)')
    local latest = tonumber(pseq)
    if pkind ~= kind then
      outcome = 'conflict'  -- a meter id already used by a meter of the other kind
    elseif seq > latest + MAX_SEQ_JUMP then
      outcome = 'jump'  -- a corrupt seq: accepting it would make every later reading stale
    elseif seq > latest then
      append(mkey, meter, seqtext, seq, t, ttext, reg, rate, kind, pseq, ptime, preg, livetext,
        found[3])
    elseif seq == latest then
      outcome = 'duplicate'
    else
      outcome = insert_late(mkey, meter, seqtext, t, ttext, reg, rate, kind, last, livetext)
    end
  end
  if outcome == 'stored' then
    stored = stored + 1
  elseif outcome == 'duplicate' then
    duplicates = duplicates + 1
  elseif outcome == 'stale' then
    stale = stale + 1
  elseif outcome == 'jump' then
    jumps = jumps + 1
  else
    conflicts = conflicts + 1
  end
end

-- each ranking: its meters' scores read in one ZMSCORE and written in one ZADD (chunks
-- of RANK_CHUNK meters), instead of a ZINCRBY per meter: a redis.call and a logged command
-- cost more than the sorted-set update itself. Scores are integers (exact as doubles).
local RANK_CHUNK = 1000
local function flush_ranking(key, meters, deltas)
  local scores = call('ZMSCORE', key, unpack(meters))
  local args = {}
  for i = 1, #meters do
    args[2 * i - 1] = int((tonumber(scores[i]) or 0) - deltas[i])
    args[2 * i] = meters[i]
  end
  call('ZADD', key, unpack(args))
end
for _, key in ipairs(ranked_order) do
  local meters, deltas = {}, {}
  for meter, delta in pairs(ranked[key]) do
    meters[#meters + 1], deltas[#deltas + 1] = meter, delta
    if #meters == RANK_CHUNK then
      flush_ranking(key, meters, deltas)
      meters, deltas = {}, {}
    end
  end
  if #meters > 0 then flush_ranking(key, meters, deltas) end
end
for key, ttl in pairs(touched) do call('EXPIRE', key, ttl) end
for field, delta in pairs(totals) do
  if delta ~= 0 then call('HINCRBY', TOTALS, field, delta) end
end

-- a status older than the stored one changes nothing: two batches in flight (writer
-- threads, $share workers) may deliver a meter's statuses out of order
for meter, status, t in string.gmatch(ARGV[26], '(%S+) (%a+) (%S+)') do
  local known = tonumber(call('HGET', MP .. meter, 'status_time'))
  if not known or tonumber(t) >= known then
    call('HSET', MP .. meter, 'status', status, 'status_time', t)
    if status == 'online' then
      call('SADD', ONLINE, meter); call('SREM', OFFLINE, meter)
    else
      call('SADD', OFFLINE, meter); call('SREM', ONLINE, meter)
    end
  end
end

for reason, count in string.gmatch(ARGV[27], '(%S+) (%d+)') do
  call('HINCRBY', STATS, 'rejected:' .. reason, count)
end
if conflicts > 0 then call('HINCRBY', STATS, 'rejected:kind_conflict', conflicts) end
if jumps > 0 then call('HINCRBY', STATS, 'rejected:seq_jump', jumps) end
if stored > 0 then call('HINCRBY', STATS, 'stored', stored) end
if duplicates > 0 then call('HINCRBY', STATS, 'duplicates', duplicates) end
if stale > 0 then call('HINCRBY', STATS, 'stale', stale) end
return {stored, duplicates, stale, conflicts, jumps}
