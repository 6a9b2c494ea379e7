-- Writes a run's messages to the run's stream and its thread's stream: in order, at most once.
--
-- KEYS[1] run stream, KEYS[2] run cursor (hash), KEYS[3] thread stream, KEYS[4] run end
-- stream (one hash tag).
-- ARGV[1] mode: "check" (verdicts only) or "append"
-- ARGV[2] expiry of the keys after a write, in seconds
-- ARGV[3] run id
-- ARGV[4] patience: milliseconds a gap may stay open before it is given up
-- ARGV[5..7] the entry field names: event, data, run id
-- ARGV[8] the messages, in JSON:
--         [[attempt, seq, token, verified, [[target, event, data], ...]], ...]
--         token: the attempt's lease token the message carries ("" if none);
--         verified: the bridge found this attempt and token on the run's row (always so for
--         an AttemptStarted it hands over);
--         target: "b" both streams, "r" the run's only, "t" the thread's only, "e" the run's
--         and its end stream (the end entry, which waiting clients block on).
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
--
-- Cost: the cursor is read once per call and written back once (the script is atomic, so
-- no one sees the states in between), the clock is read only when a gap needs it, and the
-- keys' expiry is renewed once per call that wrote.

local run_stream, cursor, thread_stream, end_stream = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local mode, ttl, run_id, patience = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local field_event, field_data, field_run_id = ARGV[5], ARGV[6], ARGV[7]

local stored = redis.call('HMGET', cursor, 'attempt', 'seq', 'token', 'gap_attempt', 'gap_seq',
  'gap_since')
local state = {
  attempt = tonumber(stored[1]) or 0,
  seq = tonumber(stored[2]) or 0,
  token = stored[3],
  gap_attempt = tonumber(stored[4]),
  gap_seq = tonumber(stored[5]),
  gap_since = tonumber(stored[6]),
}
local dirty = false -- the cursor changed in this call
local moved = false -- its place (attempt, seq, token) changed
local gap_dropped = false

local clock_ms = nil
local function now()
  if clock_ms == nil then
    local clock = redis.call('TIME')
    clock_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  end
  return clock_ms
end

local function before(a1, s1, a2, s2)
  return a1 < a2 or (a1 == a2 and s1 < s2)
end

local function verdict_for(attempt, seq, token, verified)
  if attempt < state.attempt then
    return 'stale'
  end
  if attempt == state.attempt and token ~= state.token then
    if seq == 0 and verified then
      return 'refence'
    end
    if not verified then
      -- Another token for the cursor's attempt: a forgery, or the attempt claimed again
      -- whose fence another bridge still holds. Only the run's row can tell.
      return seq == 0 and 'forged' or 'unfenced'
    end
    -- Vouched for by the row: its fence (a refence) is on the way; wait for it as early.
  elseif attempt == state.attempt then
    if seq <= state.seq then
      return 'duplicate'
    end
    if seq == state.seq + 1 then
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
  if state.gap_attempt == nil or before(attempt, seq, state.gap_attempt, state.gap_seq) then
    state.gap_attempt, state.gap_seq, state.gap_since = attempt, seq, now()
    dirty = true
    return 'early'
  end
  local waited = now() - (state.gap_since or now())
  if attempt == state.gap_attempt and seq == state.gap_seq and waited >= patience then
    return 'forced'
  end
  return 'early'
end

local function drop_gap()
  if state.gap_attempt ~= nil then
    state.gap_attempt, state.gap_seq, state.gap_since = nil, nil, nil
    gap_dropped = true
  end
end

local function refence(attempt, token)
  state.attempt, state.seq, state.token = attempt, 0, token
  drop_gap()
  dirty, moved = true, true
end

local ended = false -- the end entry was written

local function write(attempt, seq, token, entries)
  for _, entry in ipairs(entries) do
    local target, event, data = entry[1], entry[2], entry[3]
    if target ~= 't' then
      redis.call('XADD', run_stream, '*', field_event, event, field_data, data)
    end
    if target == 'e' then
      redis.call('XADD', end_stream, '*', field_event, event, field_data, data)
      ended = true
    end
    if target == 'b' or target == 't' then
      redis.call('XADD', thread_stream, '*', field_event, event, field_data, data,
        field_run_id, run_id)
    end
  end
  state.attempt, state.seq, state.token = attempt, seq, token
  if state.gap_attempt ~= nil then
    if before(attempt, seq, state.gap_attempt, state.gap_seq) then
      state.gap_since = now() -- progress: the wait starts again
    else
      drop_gap()
    end
  end
  dirty, moved = true, true
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

if dirty then
  local fields = {}
  if moved then
    fields = {'attempt', state.attempt, 'seq', state.seq, 'token', state.token}
  end
  if state.gap_attempt ~= nil then
    table.insert(fields, 'gap_attempt')
    table.insert(fields, state.gap_attempt)
    table.insert(fields, 'gap_seq')
    table.insert(fields, state.gap_seq)
    table.insert(fields, 'gap_since')
    table.insert(fields, state.gap_since)
  end
  if #fields > 0 then
    redis.call('HSET', cursor, unpack(fields))
  end
  if gap_dropped and state.gap_attempt == nil then
    redis.call('HDEL', cursor, 'gap_attempt', 'gap_seq', 'gap_since')
  end
end
if written then
  redis.call('EXPIRE', run_stream, ttl)
  redis.call('EXPIRE', cursor, ttl)
  redis.call('EXPIRE', thread_stream, ttl)
  if ended then
    redis.call('EXPIRE', end_stream, ttl)
  end
elseif dirty then
  redis.call('EXPIRE', cursor, ttl, 'NX')
end
return verdicts
