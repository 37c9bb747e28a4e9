"""The quantity catalogue: canonical units, unit conversions, valid ranges, alert levels.

Loaded from ``infra/data/quantities.yaml`` (city data) and validated once; unknown keys are
refused so a typo in the file is an error at start, not a silent default.

Example::

    cat = load_catalogue()
    cat["pm25"].to_canonical(0.035, "mg/m3")  # -> 35.0
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class UnitConversion(BaseModel):
    """``canonical = value * factor + offset``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    factor: float = Field(description="Multiplier to the canonical unit.")
    offset: float = Field(default=0.0, description="Added after multiplying (temperatures).")


class AlertLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="Level key, e.g. 'poor'.")
    at: float = Field(description="Raised when the value reaches this (canonical unit).")
    severity: int = Field(ge=1, le=5, description="1 info … 5 critical.")


class Quantity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str = Field(default="", description="Filled from the catalogue key.")
    label: str = Field(description="Human name.")
    unit: str = Field(description="Canonical unit stored in the database.")
    units: dict[str, float | UnitConversion] = Field(description="Accepted units → conversion.")
    min: float = Field(description="Smallest physically plausible value (canonical unit).")
    max: float = Field(description="Largest physically plausible value (canonical unit).")
    hysteresis: float = Field(default=0.0, ge=0, description="Clear band below each level.")
    levels: tuple[AlertLevel, ...] = Field(default=(), description="Alert levels, ascending.")

    @model_validator(mode="after")
    def _check(self) -> Quantity:
        if self.min >= self.max:
            raise ValueError(f"min {self.min} must be below max {self.max}")
        ats = [lv.at for lv in self.levels]
        if ats != sorted(ats) or len(set(ats)) != len(ats):
            raise ValueError("alert levels must be strictly ascending")
        if self.unit not in self.units:
            raise ValueError(f"canonical unit {self.unit!r} must be among the accepted units")
        return self

    def to_canonical(self, value: float, unit: str | None) -> float | None:
        """Convert to the canonical unit; ``None`` when the unit is not accepted."""
        if unit is None or unit == self.unit:
            return value
        conv = self.units.get(unit)
        if conv is None:
            return None
        if isinstance(conv, UnitConversion):
            return value * conv.factor + conv.offset
        return value * conv


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    quantities: dict[str, Quantity]

    @model_validator(mode="after")
    def _keys(self) -> Catalogue:
        fixed = {k: q.model_copy(update={"key": k}) for k, q in self.quantities.items()}
        object.__setattr__(self, "quantities", fixed)
        return self

    def __getitem__(self, key: str) -> Quantity:
        return self.quantities[key]

    def get(self, key: str) -> Quantity | None:
        return self.quantities.get(key)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate the catalogue (the shipped one unless ``path`` is given)."""
    if path is None:
        text = resources.files("infra").joinpath("data", "quantities.yaml").read_text("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return Catalogue.model_validate(yaml.safe_load(text))
