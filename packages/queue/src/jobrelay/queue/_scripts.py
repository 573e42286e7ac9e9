"""Lua scripts for the job-record operations that must be atomic."""

from __future__ import annotations

from .job_index import INDEX_LUA
from .records import finished_lua

# Lua: whether the record state in local ``st`` is a finished one.
_FINISHED = finished_lua("st")

# Prefix of every script that changes a record: -1 when there is none, 0 when
# it already finished (the first outcome wins; nothing is written). Its state
# is left in ``st`` for the index.
_UNFINISHED_RECORD = (
    INDEX_LUA
    + f"""
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return -1 end
if {_FINISHED} then return 0 end
"""
)

# KEYS: job, pending, index. ARGV: deadline ('' for none), job_id, field/value pairs...
CREATE = (
    INDEX_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
if ARGV[1] ~= '' then redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2]) end
jr_index(KEYS[3], KEYS[1], ARGV[2], false, false)
return 1
"""
)

# KEYS: owner, job, pending. ARGV: engine, job_id, now.
# Returns the owner after the call: the caller won when it equals its engine.
CLAIM = """
local ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
if ok then
  redis.call('ZREM', KEYS[3], ARGV[2])
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HSET', KEYS[2], 'engine', ARGV[1], 'updated_at', ARGV[3])
  end
  return ARGV[1]
end
return redis.call('GET', KEYS[1])
"""

# KEYS: owner, job, pending. ARGV: engine, job_id, now.
# CLAIM for an existing record only, returning the owner then the record's
# field/value pairs; an empty list (and no claim) when there is no record.
CLAIM_READ = """
if redis.call('EXISTS', KEYS[2]) == 0 then return {} end
local owner = ARGV[1]
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZREM', KEYS[3], ARGV[2])
  redis.call('HSET', KEYS[2], 'engine', ARGV[1], 'updated_at', ARGV[3])
else
  owner = redis.call('GET', KEYS[1])
end
local out = redis.call('HGETALL', KEYS[2])
table.insert(out, 1, owner)
return out
"""

# KEYS: job, index. ARGV: job_id, field/value pairs. -1 no record, 0 already
# finished, 1 done.
UPDATE = (
    _UNFINISHED_RECORD
    + """redis.call('HSET', KEYS[1], unpack(ARGV, 2))
jr_index(KEYS[2], KEYS[1], ARGV[1], st, false)
return 1
"""
)

# KEYS: pending, index, then owner, job, steps of each job. ARGV: engine, now, then
# job_id, attempt of each job. Per job, CLAIM_READ without the read; then for
# the owner of an unfinished job nobody asked to cancel, the attempt starts
# (state running; started_at the first time only). Per job it returns
# {owner, state before the call, step memo pairs or false when nothing
# started}, or an empty list (and no claim) when the job has no record.
CLAIM_START = (
    INDEX_LUA
    + """
local engine, now = ARGV[1], ARGV[2]
local out = {}
for i = 0, (#KEYS - 2) / 3 - 1 do
  local owner_key, job, steps = KEYS[3 + 3 * i], KEYS[4 + 3 * i], KEYS[5 + 3 * i]
  local job_id, attempt = ARGV[3 + 2 * i], ARGV[4 + 2 * i]
  -- Every record has a state: none means no record (and no claim).
  local f = redis.call('HMGET', job, 'state', 'cancel_requested', 'started_at', 'created_at',
    'queue')
  local st = f[1]
  if not st then
    out[i + 1] = {}
  else
    local owner = engine
    local won = redis.call('SET', owner_key, engine, 'NX')
    if won then
      redis.call('ZREM', KEYS[1], job_id)
    else
      owner = redis.call('GET', owner_key)
    end
    local memo = false
    local finished = """
    + _FINISHED
    + """
    if owner == engine and not finished and f[2] ~= '1' then
      local started = f[3]
      if not started or started == '' then started = now end
      redis.call('HSET', job, 'state', 'running', 'attempts', attempt, 'engine', engine,
        'wake_at', '', 'updated_at', now, 'started_at', started)
      jr_index_move(KEYS[2], job_id, tonumber(f[4]) or 0, f[5] or '', st, 'running')
      memo = redis.call('HGETALL', steps)
    elseif won then
      redis.call('HSET', job, 'engine', engine, 'updated_at', now)
    end
    out[i + 1] = {owner, st, memo}
  end
end
return out
"""
)

# KEYS: job, owner, steps, pending, index. ARGV: retention_s, job_id, field/value pairs.
FINISH = (
    _UNFINISHED_RECORD
    + """redis.call('HSET', KEYS[1], unpack(ARGV, 3))
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
redis.call('ZREM', KEYS[4], ARGV[2])
jr_index(KEYS[5], KEYS[1], ARGV[2], st, ARGV[1])
return 1
"""
)

# KEYS: index, job, then the job's other keys. ARGV: job_id. Delete a finished
# job: its record and keys, and its index entries. {-1}: no record; {0, state}:
# unfinished, nothing deleted; {1, state}: deleted.
REMOVE = (
    INDEX_LUA
    + """
local st = redis.call('HGET', KEYS[2], 'state')
if not st then return {-1} end
if not """
    + _FINISHED
    + """ then return {0, st} end
jr_unindex(KEYS[1], KEYS[2], ARGV[1], false)
redis.call('DEL', unpack(KEYS, 2))
return {1, st}
"""
)

# KEYS: zset. ARGV: now, limit, lease_until. Leases the due members: they
# stay in the set, due again at lease_until unless the caller removes them.
LEASE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], member) end
return due
"""

# KEYS: steps, job, lease. ARGV: step id, holder, ttl_ms.
# -> {status, stored result or '', cancel flag or ''}; status 1: the step has
# a result, 0: ARGV[2] holds its lease now, 2: another holder has it.
TAKE_STEP = """
local stored = redis.call('hget', KEYS[1], ARGV[1])
local cancel = redis.call('hget', KEYS[2], 'cancel_requested') or ''
if stored then return {1, stored, cancel} end
if redis.call('set', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then return {0, '', cancel} end
if redis.call('get', KEYS[3]) == ARGV[2] then return {0, '', cancel} end
return {2, '', cancel}
"""

# KEYS: lease. ARGV: holder. Frees the lease only if ARGV[1] still holds it.
DROP_LEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
