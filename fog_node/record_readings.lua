-- Store a batch of readings idempotently by (meter, seq), in one round trip.
-- KEYS: for reading i (1-based): KEYS[2i-1] = raw sorted set, KEYS[2i] = summary hash;
--       then KEYS[#KEYS-1] = the region's meter set, KEYS[#KEYS] = the region's stats hash.
-- ARGV: ARGV[1] = raw_limit, then 7 values per reading:
--       meter, seq, member, time, register, rate ("" when absent), kind.
-- Returns {stored, duplicates}.
local limit = tonumber(ARGV[1])
local n = (#KEYS - 2) / 2
local meters_key, stats_key = KEYS[#KEYS - 1], KEYS[#KEYS]
local stored, duplicates = 0, 0
for i = 1, n do
  local raw, summary = KEYS[2 * i - 1], KEYS[2 * i]
  local a = 2 + (i - 1) * 7
  local meter, seq, member = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2]
  local fresh = redis.call('ZCOUNT', raw, seq, seq) == 0
  if fresh and redis.call('ZCARD', raw) >= limit then
    -- the series is full: a seq older than everything kept was stored and trimmed before
    local oldest = redis.call('ZRANGE', raw, 0, 0, 'WITHSCORES')
    if oldest[2] and seq < tonumber(oldest[2]) then fresh = false end
  end
  if fresh then
    redis.call('ZADD', raw, seq, member)
    if redis.call('ZCARD', raw) > limit then redis.call('ZREMRANGEBYRANK', raw, 0, -limit - 1) end
    local latest = tonumber(redis.call('HGET', summary, 'seq') or '-1')
    if seq > latest then
      redis.call('HSET', summary, 'seq', seq, 'time', ARGV[a + 3], 'register', ARGV[a + 4],
        'rate', ARGV[a + 5], 'kind', ARGV[a + 6])
    end
    redis.call('SADD', meters_key, meter)
    stored = stored + 1
  else
    duplicates = duplicates + 1
  end
end
if stored > 0 then redis.call('HINCRBY', stats_key, 'stored', stored) end
if duplicates > 0 then redis.call('HINCRBY', stats_key, 'duplicates', duplicates) end
return {stored, duplicates}
