-- Takes tokens from a token bucket, or answers how long until enough are there.
--
-- KEYS[1] the bucket: a hash {tokens, at}, at = the server's clock (microseconds) when
--         tokens was last computed. A missing key is a full bucket.
-- ARGV[1] rate: tokens added per second (> 0)
-- ARGV[2] burst: what the bucket holds when full (>= 1)
-- ARGV[3] tokens wanted (<= burst)
--
-- Returns 0 when the tokens were taken; else the milliseconds (>= 1) until the bucket will
-- hold them, and nothing is taken.
--
-- The clock is Redis's own (TIME), so that API instances whose clocks differ share one
-- bucket. The key expires when the bucket would be full again: an idle tenant costs nothing.

local key = KEYS[1]
local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local state = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000000)
end

local wait_ms = 0
if tokens >= wanted then
  tokens = tokens - wanted
else
  wait_ms = math.max(1, math.ceil((wanted - tokens) * 1000 / rate))
end

local full_in_ms = math.ceil((burst - tokens) * 1000 / rate)
if full_in_ms <= 0 then
  redis.call('DEL', key)
else
  -- Formatted here: a bare number becomes "%.14g" text, too few digits for microseconds.
  redis.call('HSET', key, 'tokens', string.format('%.6f', tokens), 'at',
    string.format('%.0f', now))
  redis.call('PEXPIRE', key, full_in_ms)
end
return wait_ms
