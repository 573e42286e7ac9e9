"""Lua scripts for the job-record operations that must be atomic."""

from __future__ import annotations

# Prefix of every script that changes a record: -1 when there is none, 0 when
# it already finished (the first outcome wins; nothing is written).
_UNFINISHED_RECORD = """
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return -1 end
if st == 'succeeded' or st == 'failed' or st == 'cancelled' or st == 'dead' then return 0 end
"""

# KEYS: job, pending. ARGV: deadline ('' for none), job_id, field/value pairs...
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
if ARGV[1] ~= '' then redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2]) end
return 1
"""

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

# KEYS: job. ARGV: field/value pairs. -1 no record, 0 already finished, 1 done.
UPDATE = (
    _UNFINISHED_RECORD
    + """redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""
)

# KEYS: job, steps. ARGV: now, field/value pairs. Marks an attempt running
# (started_at only the first time) and returns the step memo as a flat list;
# -1 no record, 0 already finished (nothing written).
START = (
    _UNFINISHED_RECORD
    + """redis.call('HSET', KEYS[1], unpack(ARGV, 2))
local started = redis.call('HGET', KEYS[1], 'started_at')
if not started or started == '' then redis.call('HSET', KEYS[1], 'started_at', ARGV[1]) end
return redis.call('HGETALL', KEYS[2])
"""
)

# KEYS: job, owner, steps, pending. ARGV: retention_s, job_id, field/value pairs.
FINISH = (
    _UNFINISHED_RECORD
    + """redis.call('HSET', KEYS[1], unpack(ARGV, 3))
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
redis.call('ZREM', KEYS[4], ARGV[2])
return 1
"""
)

# KEYS: zset. ARGV: now, limit, lease_until. Leases the due members: they
# stay in the set, due again at lease_until unless the caller removes them.
LEASE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], member) end
return due
"""
