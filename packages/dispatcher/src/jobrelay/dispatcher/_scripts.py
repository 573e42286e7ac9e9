"""Lua scripts for the dispatcher's steps of the ownership protocol.

See docs/architecture.md, Ownership (the protocol) and Redis keys (the keys).

They use the same keys as ``jobrelay.queue.JobStore``. The pending set doubles
as the repair set: a job whose owner is ``temporal`` stays in it, with a lease
as its score, until its workflow start is confirmed, so a crash between the
claim and the start is repaired by whichever reconciler leases it next.
"""

from __future__ import annotations

from jobrelay.queue import INDEX_LUA, finished_lua, retryable_lua

# KEYS: job, pending, owner, dramatiq queue list (its priority's lane), dramatiq
#       messages hash, the queue's wake-up list ('' for none; see DramatiqKeys.wake), the
#       job index, the uniqueness window's key ('' for none; Keys.flow_unique).
# ARGV: deadline ('' for none), job_id, owner ('' or 'temporal'), message id ('' for none),
#       message data, the record's fields as one JSON object (dispatch_token among them;
#       one argument instead of twenty halves the client's cost of packing the command),
#       the payload JSON (apart, so it is not escaped into the object), the window (ms).
# Returns {1} when created, else {0, dispatch_token, engine, reason, state, owner}, and
# a seventh item, the first job's id, when another job holds the uniqueness window.
_ADMIT_BODY = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local f = redis.call('HMGET', KEYS[1], 'dispatch_token', 'engine', 'reason', 'state')
  return {0, f[1], f[2], f[3], f[4], redis.call('GET', KEYS[3])}
end
if KEYS[8] ~= '' then
  -- The window's first job, while its record lasts, answers for this one.
  local first = redis.call('GET', KEYS[8])
  if first and first ~= ARGV[2] then
    local first_job = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[2]) .. first
    if redis.call('EXISTS', first_job) == 1 then
      local f = redis.call('HMGET', first_job, 'dispatch_token', 'engine', 'reason', 'state')
      return {0, f[1], f[2], f[3], f[4], redis.call('GET', first_job .. ':owner'), first}
    end
  end
end
if ARGV[3] ~= '' and not redis.call('SET', KEYS[3], ARGV[3], 'NX') then
  return {0, false, redis.call('GET', KEYS[3]), false, false, redis.call('GET', KEYS[3])}
end
local rec = cjson.decode(ARGV[6])
local fields = {}
for k, v in pairs(rec) do
  fields[#fields + 1] = k
  fields[#fields + 1] = v
end
fields[#fields + 1] = 'payload'
fields[#fields + 1] = ARGV[7]
redis.call('HSET', KEYS[1], unpack(fields))
jr_index_new(KEYS[7], ARGV[2], tonumber(rec.created_at), rec.queue, rec.name, rec.state,
  rec.reason or '')
if KEYS[8] ~= '' then redis.call('SET', KEYS[8], ARGV[2], 'PX', ARGV[8]) end
if ARGV[1] ~= '' then redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2]) end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[5], ARGV[4], ARGV[5])
  redis.call('RPUSH', KEYS[4], ARGV[4])
  -- A few tokens at most: more idle consumers than that poll on their own.
  if KEYS[6] ~= '' and redis.call('LLEN', KEYS[6]) < 8 then
    redis.call('RPUSH', KEYS[6], '1')
  end
end
return {1}
"""
ADMIT = INDEX_LUA + _ADMIT_BODY

# ADMIT for many jobs in one call: KEYS are ADMIT's eight per job, ARGV its
# eight per job, in the same order. Returns one ADMIT reply per job. A call
# runs EVALSHA's setup once, not per job, and the client reads one reply.
ADMIT_MANY = (
    INDEX_LUA
    + "local function admit(KEYS, ARGV)\n"
    + _ADMIT_BODY
    + """end
local out = {}
for i = 0, #KEYS / 8 - 1 do
  local k = i * 8
  local keys, args = {}, {}
  for j = 1, 8 do
    keys[j] = KEYS[k + j]
    args[j] = ARGV[k + j]
  end
  out[i + 1] = admit(keys, args)
end
return out
"""
)

# Retry a job that ended failed, dead or cancelled: its record back to queued,
# its owner claim gone (or taken by ARGV[7] at once), its keys kept again
# (they were set to expire when it finished), and then as ADMIT's new-record
# branch: pending and, for Dramatiq, the message and a wake-up token.
# KEYS: job, owner, steps, pending, dramatiq queue list, messages hash, wake list,
#       the job index, attempt log, step log (both kept again too: the rerun adds
#       to them, and they would otherwise expire on the first run's clock).
# ARGV: fresh ('1': drop the step memo too), dispatch token, now, deadline ('' for
#       none), job_id, engine, owner ('' or 'temporal'), message id ('' for none),
#       message data, reason.
# Returns {1} when done, {0, state} when the job is not retryable, {-1} when absent.
READMIT = (
    INDEX_LUA
    + """
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {-1} end
if not """
    + retryable_lua("st")
    + """ then return {0, st} end
redis.call('DEL', KEYS[2])
if ARGV[1] == '1' then redis.call('DEL', KEYS[3]) else redis.call('PERSIST', KEYS[3]) end
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[9])
redis.call('PERSIST', KEYS[10])
redis.call('HSET', KEYS[1], 'state', 'queued', 'engine', ARGV[6], 'reason', ARGV[10],
  'dispatch_token', ARGV[2], 'updated_at', ARGV[3], 'error', '', 'result', '',
  'finished_at', '', 'wake_at', '', 'cancel_requested', '', 'progress', '0', 'message', '')
redis.call('HINCRBY', KEYS[1], 'reruns', 1)
jr_index(KEYS[8], KEYS[1], ARGV[5], st, false)
if ARGV[7] ~= '' then redis.call('SET', KEYS[2], ARGV[7]) end
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5]) end
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[8], ARGV[9])
  redis.call('RPUSH', KEYS[5], ARGV[8])
  if KEYS[7] ~= '' and redis.call('LLEN', KEYS[7]) < 8 then
    redis.call('RPUSH', KEYS[7], '1')
  end
end
return {1}
"""
)

# KEYS: owner, job, pending. ARGV: job_id, now, lease_until, reason.
# SET owner temporal NX. While the owner is temporal and the job unfinished the
# job stays pending with the lease as its score; a dramatiq owner leaves it.
# Returns {owner, won (0/1), state}.
CLAIM_TEMPORAL = (
    """
local won = redis.call('SET', KEYS[1], 'temporal', 'NX') and 1 or 0
local owner = won == 1 and 'temporal' or redis.call('GET', KEYS[1])
local state = redis.call('HGET', KEYS[2], 'state')
if won == 1 and state then
  redis.call('HSET', KEYS[2], 'engine', 'temporal', 'reason', ARGV[4], 'updated_at', ARGV[2])
end
local finished = """
    + finished_lua("state")
    + """
if owner == 'temporal' and state and not finished then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return {owner, won, state}
"""
)

# KEYS: job, owner, pending, the job index. ARGV: job_id, dispatch_token.
# Undo a dispatch no engine accepted, when no Dramatiq message was sent: the
# id is free again, so a retry with the same job_id is a fresh dispatch.
ABANDON = (
    INDEX_LUA
    + """
if redis.call('HGET', KEYS[1], 'dispatch_token') ~= ARGV[2] then return 0 end
jr_unindex(KEYS[4], KEYS[1], ARGV[1], true)
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == 'temporal' then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""
)

# KEYS: owner, job, pending. ARGV: job_id, dispatch_token ('' for any), deadline, now.
# Give a won Temporal claim back when the start failed but the Dramatiq message
# is still queued: the job is Dramatiq's again, watched until its deadline.
RELEASE = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[2], 'dispatch_token') ~= ARGV[2] then return 0 end
if redis.call('GET', KEYS[1]) ~= 'temporal' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'engine', 'dramatiq', 'reason', 'ok', 'updated_at', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
"""
