"""A job's success and the ack of its Dramatiq message, written together in one script.

A worker that dies between recording a success and acking its message would
leave a finished job's message to run again; one that acks first could lose
the outcome. Here both land together or not at all, for many jobs in one
round trip (the consumer's group commit batches them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from jobrelay.queue import INDEX_LUA, JobStore, Slot, finished_lua, unavailable_on_error

from ..broker import MessageAck

# KEYS: pending, the job index, then job, owner, steps, acks, messages, concurrency
# slots ('' for none) of each job. ARGV: retention_s, now, then job_id, message_id,
# result JSON, slot member of each job.
# FINISH as succeeded, plus an ack of the job's Dramatiq message (the layout
# of dispatch.lua's "ack": SREM from the worker's ack set, HDEL its data)
# whatever the record's state, so outcome and ack land together or not at
# all; a job under a concurrency limit frees its slot in the same call. Per
# job: -1 no record, 0 already finished, 1 done.
SUCCEED_ACK = (
    INDEX_LUA
    + """
local retention, now = ARGV[1], ARGV[2]
local out = {}
for i = 0, (#KEYS - 2) / 6 - 1 do
  local k = 3 + 6 * i
  local a = 3 + 4 * i
  local job_id, message_id, result = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  if redis.call('SREM', KEYS[k + 3], message_id) > 0 then
    redis.call('HDEL', KEYS[k + 4], message_id)
  end
  if KEYS[k + 5] ~= '' then redis.call('ZREM', KEYS[k + 5], ARGV[a + 3]) end
  local f = redis.call('HMGET', KEYS[k], 'state', 'created_at', 'queue', 'name', 'engine')
  local st = f[1]
  if not st then
    out[i + 1] = -1
  elseif """
    + finished_lua("st")
    + """ then
    out[i + 1] = 0
  else
    redis.call('HSET', KEYS[k], 'state', 'succeeded', 'result', result, 'progress', '100',
      'finished_at', now, 'updated_at', now)
    for j = 0, 2 do redis.call('EXPIRE', KEYS[k + j], retention) end
    redis.call('ZREM', KEYS[1], job_id)
    jr_index_move(KEYS[2], job_id, tonumber(f[2]) or 0, f[3] or '', st, 'succeeded')
    jr_index_finished(KEYS[2], f[3] or '', f[4] or '', f[5] or '', 'succeeded', retention)
    out[i + 1] = 1
  end
end
return out
"""
)


class SuccessAck:
    """Succeeds jobs in ``store`` and acks their messages, atomically per job."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self._script = store.client.register_script(SUCCEED_ACK)

    def __call__(
        self,
        outcomes: Sequence[tuple[str, str, MessageAck] | tuple[str, str, MessageAck, Slot | None]],
    ) -> list[bool]:
        """For each ``(job_id, result_json, ack[, slot])``: succeed the job and ack its message.

        ``result_json`` is the result encoded with :func:`dumps`. Each job's
        outcome and ack are atomic, and all go in one round trip; ``slot``, a
        concurrency slot the job held, is freed with them. The message is
        acked even when the job had finished already; the job's result is
        then left as it was (False in its place).
        """
        keys = [self._store.keys.pending, self._store.keys.index]
        now = repr(time.time())
        args = [str(self._store.retention_s), now]
        for outcome in outcomes:
            job_id, result_json, ack = outcome[:3]
            slot = outcome[3] if len(outcome) > 3 else None
            keys += [
                self._store.keys.job(job_id),
                self._store.keys.owner(job_id),
                self._store.keys.steps(job_id),
                ack.acks_key,
                ack.messages_key,
                slot.key if slot is not None else "",
            ]
            args += [job_id, ack.message_id, result_json, slot.member if slot is not None else ""]
        with unavailable_on_error():
            replies = self._script(keys=keys, args=args)
        return [reply == 1 for reply in replies]
