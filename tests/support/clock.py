"""A clock for tests: time moves only when told to, or when the code under test sleeps on it."""


class FakeClock:
    """Call it for the time; pass ``clock.sleep`` as the sleep function; ``sleeps`` records them."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += max(0.0, seconds)
