"""Traffic-light state per movement (straight, left, right), from a phase feed or the image.

Pure: a lamp's colour comes from HSV statistics of the head's crop (share of saturated,
bright pixels in the red, amber and green hue bands); heads combine per movement (a lit arrow
overrides the round lamps for its movement, so a red ball with a green right arrow permits the
right turn and nothing else); a :class:`Debouncer` accepts a head's change only after a few
readings in a row, before the heads are combined (LEDs flicker on CCTV: a green arrow that
reads dark for a frame or two must not hand its movement to the red ball);
:class:`SignalHistory` answers "what did movement m show at time t" for the rules.

Example::

    reader = SignalReader(camera.signal)           # source: image
    state = reader.read(frame_rgb, t=12.4)         # SignalState(t=12.4, lights={...})
    history.add(state)
    history.light_at(12.0, "right")                # -> Light.GREEN
"""

from __future__ import annotations

import bisect
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from vision.config import MOVEMENTS, Movement, SignalConfig, SignalHead

logger = logging.getLogger(__name__)

K = TypeVar("K")


class Light(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    OFF = "off"
    UNKNOWN = "unknown"


LIT = frozenset({Light.RED, Light.AMBER, Light.GREEN})
_FEED_NAMES = {
    "red": Light.RED,
    "amber": Light.AMBER,
    "yellow": Light.AMBER,
    "green": Light.GREEN,
    "off": Light.OFF,
    "unknown": Light.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class LampThresholds:
    """What counts as a lit pixel, and the hue band (degrees) of each colour."""

    min_saturation: float = 0.2
    min_value: float = 0.45
    min_fraction: float = 0.03
    red: tuple[float, float] = (330.0, 15.0)  # wraps through 0
    amber: tuple[float, float] = (15.0, 50.0)
    green: tuple[float, float] = (90.0, 200.0)  # LED greens look cyan on CCTV


def rgb_to_hsv(image: NDArray[np.uint8]) -> tuple[NDArray[np.float64], ...]:
    """Hue in degrees [0, 360), saturation and value in [0, 1], per pixel."""
    f = image.astype(np.float64) / 255.0
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    mx, mn = f.max(axis=-1), f.min(axis=-1)
    d = mx - mn
    safe = np.where(d > 0, d, 1.0)
    h = (
        np.where(
            mx == r,
            ((g - b) / safe) % 6.0,
            np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0),
        )
        * 60.0
    )
    h = np.where(d > 0, h, 0.0)
    s = np.where(mx > 0, d / np.where(mx > 0, mx, 1.0), 0.0)
    return h, s, mx


def _in_band(h: NDArray[np.float64], band: tuple[float, float]) -> NDArray[np.bool_]:
    lo, hi = band
    return (h >= lo) & (h < hi) if lo <= hi else (h >= lo) | (h < hi)


def classify_lamp(image: NDArray[np.uint8], th: LampThresholds = LampThresholds()) -> Light:
    """Colour of the lit lamp in an RGB crop of a signal head, or ``OFF``.

    Example: a crop whose pixels are 10 % saturated red -> ``Light.RED``.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
        raise ValueError(
            f"expected a non-empty HxWx3 uint8 RGB crop, got {image.shape} {image.dtype}"
        )
    h, s, v = rgb_to_hsv(image)
    lit = (s >= th.min_saturation) & (v >= th.min_value)
    total = h.size
    counts = {
        light: int((lit & _in_band(h, band)).sum())
        for light, band in ((Light.RED, th.red), (Light.AMBER, th.amber), (Light.GREEN, th.green))
    }
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] >= th.min_fraction * total else Light.OFF


def combine_heads(readings: Sequence[tuple[SignalHead, Light]]) -> dict[Movement, Light]:
    """Light per movement: a lit arrow wins for its movement; else UNKNOWN when one of its
    arrows is (a green arrow not yet read would permit it); else a lit ball; else OFF when
    every head of that movement is dark, else UNKNOWN (no head, or unreadable)."""
    out: dict[Movement, Light] = {}
    for m in MOVEMENTS:
        mine = [(hd.kind, lt) for hd, lt in readings if m in hd.movements]
        arrows = [lt for kind, lt in mine if kind == "arrow" and lt in LIT]
        balls = [lt for kind, lt in mine if kind == "ball" and lt in LIT]
        lit = arrows or balls
        if not arrows and (("arrow", Light.UNKNOWN) in mine):
            out[m] = Light.UNKNOWN
        elif lit:
            out[m] = Light.GREEN if Light.GREEN in lit else lit[0]
        elif mine and all(lt == Light.OFF for _, lt in mine):
            out[m] = Light.OFF
        else:
            out[m] = Light.UNKNOWN
    return out


@dataclass(frozen=True, slots=True)
class SignalState:
    """Lights of every movement at time ``t`` (seconds, stream clock)."""

    t: float
    lights: Mapping[Movement, Light] = field(default_factory=dict)

    def light(self, movement: Movement) -> Light:
        return self.lights.get(movement, Light.UNKNOWN)


def state_from_feed(value: Mapping[str, object], t: float) -> SignalState:
    """Parse a phase-feed message ``{"straight": "red", "right": "green", "all": "red"}``.

    ``all`` sets every movement not named; names are case-insensitive ("yellow" = amber).
    Unknown movements or lights raise ``ValueError`` naming them.
    """
    lights: dict[Movement, Light] = {}
    default = Light.UNKNOWN
    for key, raw in value.items():
        name = str(raw).strip().lower()
        if name not in _FEED_NAMES:
            raise ValueError(f"signal feed: {key}: unknown light {raw!r}")
        if key == "all":
            default = _FEED_NAMES[name]
        elif key in MOVEMENTS:
            lights[key] = _FEED_NAMES[name]
        else:
            raise ValueError(f"signal feed: unknown movement {key!r}")
    return SignalState(t, {m: lights.get(m, default) for m in MOVEMENTS})


class Debouncer(Generic[K]):
    """Hysteresis per key (a signal head): its light changes only after ``confirm`` equal
    readings in a row, and goes dark (OFF/UNKNOWN) only after ``dark_confirm``: LEDs flicker
    on CCTV and screen recordings drop lamps for a few frames, while a real phase never
    blinks out that briefly.
    """

    def __init__(self, confirm: int, dark_confirm: int | None = None, *, keys: Sequence[K]) -> None:
        if confirm < 1 or (dark_confirm is not None and dark_confirm < 1):
            raise ValueError("confirm and dark_confirm must be >= 1")
        self.confirm = confirm
        self.dark_confirm = dark_confirm if dark_confirm is not None else confirm
        self.keys = tuple(keys)
        self._stable: dict[K, Light] = {}
        self._candidate: dict[K, tuple[Light, int]] = {}

    def update(self, lights: Mapping[K, Light]) -> dict[K, Light]:
        """Debounced light of every key, given this reading (a key missing reads UNKNOWN)."""
        for k in self.keys:
            new = lights.get(k, Light.UNKNOWN)
            if new == self._stable.get(k, Light.UNKNOWN):
                self._candidate.pop(k, None)
                continue
            seen, n = self._candidate.get(k, (new, 0))
            n = n + 1 if seen == new else 1
            if n >= (self.confirm if new in LIT else self.dark_confirm):
                self._stable[k] = new
                self._candidate.pop(k, None)
            else:
                self._candidate[k] = (new, n)
        return {k: self._stable.get(k, Light.UNKNOWN) for k in self.keys}


class SignalHistory:
    """Recent signal states of one camera, for "light of movement m at time t" questions."""

    def __init__(self, horizon_s: float = 300.0) -> None:
        self.horizon_s = horizon_s
        self._states: deque[SignalState] = deque()

    def add(self, state: SignalState) -> None:
        if self._states and state.t <= self._states[-1].t:
            logger.debug("signal state at %s is not newer than the last one; ignored", state.t)
            return
        self._states.append(state)
        while self._states and self._states[0].t < state.t - self.horizon_s:
            self._states.popleft()

    @property
    def latest_t(self) -> float | None:
        """Time of the newest state (``None`` when empty)."""
        return self._states[-1].t if self._states else None

    def clear(self) -> None:
        """Forget every state (the picture broke; what the lamps showed before says nothing
        about the new picture, so rules see UNKNOWN until the reader confirms a light)."""
        self._states.clear()

    def state_at(self, t: float) -> SignalState | None:
        """The latest state at or before ``t``; ``None`` before the first one."""
        i = bisect.bisect_right([s.t for s in self._states], t)
        return self._states[i - 1] if i else None

    def light_at(self, t: float, movement: Movement) -> Light:
        state = self.state_at(t)
        return Light.UNKNOWN if state is None else state.light(movement)

    def steady_since(self, t: float, movement: Movement) -> float | None:
        """Earliest time from which ``movement`` showed, without a break, its light at ``t``."""
        states = [s for s in self._states if s.t <= t]
        if not states:
            return None
        light, since = states[-1].light(movement), states[-1].t
        for s in reversed(states):
            if s.light(movement) != light:
                break
            since = s.t
        return since


class SignalReader:
    """Reads a camera's signal heads from full frames into debounced :class:`SignalState`."""

    def __init__(self, config: SignalConfig) -> None:
        if config.source != "image":
            raise ValueError("SignalReader reads image heads; feed signals use state_from_feed")
        self.config = config
        self.thresholds = LampThresholds(
            config.min_saturation, config.min_value, config.min_fraction
        )
        self.reset()

    def reset(self) -> None:
        """Start over as on the first frame: every head UNKNOWN until confirmed."""
        self._lamps = Debouncer(
            self.config.confirm_frames, self.config.dark_frames, keys=range(len(self.config.heads))
        )

    def read(self, frame: NDArray[np.uint8], t: float, bgr: bool = False) -> SignalState:
        """``frame`` is the full HxWx3 uint8 image (``bgr=True`` for OpenCV frames)."""
        readings: dict[int, Light] = {}
        for i, head in enumerate(self.config.heads):
            x1, y1, x2, y2 = head.box
            crop = frame[y1:y2, x1:x2]
            if bgr:
                crop = crop[..., ::-1]
            readings[i] = classify_lamp(crop, self.thresholds) if crop.size else Light.UNKNOWN
        lamps = self._lamps.update(readings)  # per head: a flickering arrow stays lit
        heads = [(head, lamps[i]) for i, head in enumerate(self.config.heads)]
        return SignalState(t, combine_heads(heads))
