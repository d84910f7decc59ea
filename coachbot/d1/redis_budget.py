"""The Cloudflare budget shared by every machine of a deployment, kept in Redis.

Same window as ``FileBudget`` (see budget.py): a sorted set of send times scored by
the time itself, trimmed to the window. One small Lua script counts, records and
tells how long to wait, atomically, so two machines can never both take the last
slot. Times come from the caller's clock (all machines' clocks are assumed to agree
within a fraction of the window, which NTP gives).
"""

from __future__ import annotations

import uuid

from .budget import SlidingWindow

# KEYS[1] the sent set, KEYS[2] the block key; ARGV: now, window, cap, member.
# Returns 0 when a slot was taken, else the seconds to wait (as a string: Lua numbers
# come back from Redis as integers otherwise).
_ACQUIRE = """
local now, window, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < blocked then return tostring(blocked - now) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used < cap then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], used - cap, used - cap, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""

# KEYS[1] the block key; ARGV: until. Only ever moves the block later.
_BLOCK = """
local till = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if till > current then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 0
"""


class RedisBudget(SlidingWindow):
    """``limit`` requests per ``window`` seconds for all processes on all machines.

    ``priority`` 0 (background work) leaves ``reserve`` slots for interactions.
    """

    def __init__(self, url: str, *args, key: str = "coachbot:cloudflare-budget", **kwargs) -> None:
        import redis  # the "redis" extra; only needed when a Redis URL is configured

        super().__init__(*args, **kwargs)
        self.keys = [f"{key}:sent", f"{key}:blocked"]
        self.redis = redis.Redis.from_url(url)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._block = self.redis.register_script(_BLOCK)

    def _try(self, cap: int) -> float:
        now = self.clock()
        member = f"{now!r}:{uuid.uuid4().hex}"  # unique even for equal times
        return float(self._acquire(keys=self.keys, args=[repr(now), repr(self.window), cap, member]))

    def remaining(self) -> int:
        now = self.clock()
        used = self.redis.zcount(self.keys[0], f"({now - self.window!r}", "+inf")
        return max(0, self.limit - int(used))

    def block_until(self, when_epoch: float) -> None:
        """Cloudflare said 429: nobody sends before ``when_epoch``."""
        self._block(keys=self.keys[1:], args=[repr(float(when_epoch))])
