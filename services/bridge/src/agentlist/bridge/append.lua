-- Writes a run's messages to the run's stream and its thread's stream: in order, at most once.
--
-- KEYS[1] run stream, KEYS[2] run cursor (hash), KEYS[3] thread stream (one hash tag).
-- ARGV[1] mode: "check" (verdicts only) or "append"
-- ARGV[2] expiry of the three keys after a write, in seconds
-- ARGV[3] run id
-- ARGV[4] patience: milliseconds a gap may stay open before it is given up
-- ARGV[5..7] the entry field names: event, data, run id
-- ARGV[8] the messages, in JSON:
--         [[attempt, seq, token, verified, [[target, event, data], ...]], ...]
--         token: the attempt's lease token the message carries ("" if none);
--         verified: the bridge found this attempt and token on the run's row (always so for
--         an AttemptStarted it hands over);
--         target: "b" both streams, "r" the run's only, "t" the thread's only.
--
-- Returns one verdict per message: "stale", "duplicate", "early", "next", "forced", "forged"
-- or "unfenced".
--
-- The cursor hash holds {attempt, seq, token} of the last message written: token is the lease
-- token of the cursor's attempt, learnt from its verified fence. A fence that was not verified
-- is "forged" and changes nothing; so is, once the bridge has checked the run's row, a message
-- of the cursor's attempt with another token: until then it is "unfenced" (the attempt may
-- have been claimed again, its new fence still with another bridge), and once vouched for it
-- waits for that fence as an early message would.
-- While messages arrive early it also holds the lowest of them (gap_attempt, gap_seq) and
-- since when the run has made no progress towards it (gap_since, ms). Once that lasts
-- ``patience``, the messages before the lowest early one are given up as lost and it is
-- written ("forced"): only that one, so that the messages after it still follow in order.
-- A message of an attempt whose fence the cursor has not seen (on its way, or lost) is
-- "unfenced" until the bridge has verified its token: it leaves no mark until then.
--
-- A verified fence of the cursor's own attempt with another token (the attempt was undone
-- and claimed again) takes the attempt over: the cursor's token is replaced, nothing is
-- written, and the verdict is "duplicate".

local run_stream, cursor, thread_stream = KEYS[1], KEYS[2], KEYS[3]
local mode, ttl, run_id, patience = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local field_event, field_data, field_run_id = ARGV[5], ARGV[6], ARGV[7]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function before(a1, s1, a2, s2)
  return a1 < a2 or (a1 == a2 and s1 < s2)
end

local function verdict_for(attempt, seq, token, verified)
  local state = redis.call('HMGET', cursor, 'attempt', 'seq', 'gap_attempt', 'gap_seq',
    'gap_since', 'token')
  local cursor_attempt = tonumber(state[1]) or 0
  local cursor_seq = tonumber(state[2]) or 0
  if attempt < cursor_attempt then
    return 'stale'
  end
  if attempt == cursor_attempt and token ~= state[6] then
    if seq == 0 and verified then
      return 'refence'
    end
    if not verified then
      -- Another token for the cursor's attempt: a forgery, or the attempt claimed again
      -- whose fence another bridge still holds. Only the run's row can tell.
      return seq == 0 and 'forged' or 'unfenced'
    end
    -- Vouched for by the row: its fence (a refence) is on the way; wait for it as early.
  elseif attempt == cursor_attempt then
    if seq <= cursor_seq then
      return 'duplicate'
    end
    if seq == cursor_seq + 1 then
      return 'next'
    end
  elseif seq == 0 then
    if verified then
      return 'next'
    end
    return 'forged'
  elseif not verified then
    return 'unfenced'
  end
  local gap_attempt, gap_seq = tonumber(state[3]), tonumber(state[4])
  if gap_attempt == nil or before(attempt, seq, gap_attempt, gap_seq) then
    redis.call('HSET', cursor, 'gap_attempt', attempt, 'gap_seq', seq, 'gap_since', now)
    redis.call('EXPIRE', cursor, ttl, 'NX')
    return 'early'
  end
  local waited = now - (tonumber(state[5]) or now)
  if attempt == gap_attempt and seq == gap_seq and waited >= patience then
    return 'forced'
  end
  return 'early'
end

local function refence(attempt, token)
  redis.call('HSET', cursor, 'attempt', attempt, 'seq', 0, 'token', token)
  redis.call('HDEL', cursor, 'gap_attempt', 'gap_seq', 'gap_since')
end

local function write(attempt, seq, token, entries)
  for _, entry in ipairs(entries) do
    local target, event, data = entry[1], entry[2], entry[3]
    if target ~= 't' then
      redis.call('XADD', run_stream, '*', field_event, event, field_data, data)
    end
    if target ~= 'r' then
      redis.call('XADD', thread_stream, '*', field_event, event, field_data, data,
        field_run_id, run_id)
    end
  end
  redis.call('HSET', cursor, 'attempt', attempt, 'seq', seq, 'token', token)
  local gap = redis.call('HMGET', cursor, 'gap_attempt', 'gap_seq')
  if gap[1] then
    if before(attempt, seq, tonumber(gap[1]), tonumber(gap[2])) then
      redis.call('HSET', cursor, 'gap_since', now) -- progress: the wait starts again
    else
      redis.call('HDEL', cursor, 'gap_attempt', 'gap_seq', 'gap_since')
    end
  end
end

local verdicts = {}
local written = false
for i, message in ipairs(cjson.decode(ARGV[8])) do
  local attempt, seq, token, verified = message[1], message[2], message[3], message[4]
  local verdict = verdict_for(attempt, seq, token, verified)
  if verdict == 'refence' then
    if mode == 'append' then
      refence(attempt, token)
    end
    verdict = 'duplicate'
  elseif mode == 'append' and (verdict == 'next' or verdict == 'forced') then
    write(attempt, seq, token, message[5])
    written = true
  end
  verdicts[i] = verdict
end
if written then
  redis.call('EXPIRE', run_stream, ttl)
  redis.call('EXPIRE', cursor, ttl)
  redis.call('EXPIRE', thread_stream, ttl)
end
return verdicts
