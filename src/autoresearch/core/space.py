"""The params search space: its dimensions (`[params]` in the spec) and the one check of a point in it.

Every proposal's params pass `check_params` before they run (`violation`, strict); an LLM's answer passes
it too, with harmless differences mended (`mend=True`: "64" for the choice 64, 3.0 for an int, a value
off the step grid snapped onto it), so that a model is not sent back for what its intent makes clear.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator


class ParamSpec(BaseModel):
    """One dimension of the search space: `{low, high, log?, step?}` or `{choices}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["float", "int", "categorical"] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[str | int | float | bool] | None = None
    default: str | int | float | bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") is None:
            data = dict(data)
            if "choices" in data:
                data["type"] = "categorical"
            elif all(
                isinstance(data.get(k), int) and not isinstance(data.get(k), bool) for k in ("low", "high")
            ) and not data.get("log"):
                data["type"] = "int"
            else:
                data["type"] = "float"
        return data

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("choices must list at least one value")
            if self.low is not None or self.high is not None:
                raise ValueError("give either choices or low/high, not both")
            if self.default is not None and self.default not in self.choices:
                raise ValueError(f"default {self.default!r} is not one of the choices {self.choices}")
            return self
        if self.low is None or self.high is None:
            raise ValueError("a numeric parameter needs both low and high (or use choices = [...])")
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high}); swap them")
        if self.log and self.low <= 0:
            raise ValueError(f"log = true needs low > 0, got low = {self.low}")
        if self.log and self.step is not None:
            raise ValueError("step cannot be combined with log = true")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"step must be positive, got {self.step}")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("an int parameter needs whole numbers for low and high")
        if self.default is not None:
            if isinstance(self.default, bool) or not isinstance(self.default, int | float):
                raise ValueError(f"default {self.default!r} must be a number")
            if not self.low <= self.default <= self.high:
                raise ValueError(f"default {self.default} is outside [{self.low}, {self.high}]")
        return self

    def baseline_value(self) -> Any:
        """The default, or the middle of the range (geometric for log), or the first choice."""
        if self.default is not None:
            return int(self.default) if self.type == "int" else self.default
        if self.type == "categorical":
            assert self.choices
            return self.choices[0]
        assert self.low is not None and self.high is not None
        mid = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
        if self.step is not None:
            mid = self.low + round((mid - self.low) / self.step) * self.step
        return round(mid) if self.type == "int" else mid


def params_key(params: dict[str, Any]) -> str:
    """A canonical key for deduplication (floats rounded to 12 significant digits)."""

    def canon(value: Any) -> Any:
        if isinstance(value, float) and math.isfinite(value):
            return float(f"{value:.12g}")
        return value

    return repr(sorted((k, canon(v)) for k, v in params.items()))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return json.dumps(value, default=repr)


def fit(name: str, value: Any, param: ParamSpec, *, mend: bool = False) -> Any:
    """VALUE as a point of PARAM's dimension, or a ValueError naming NAME, the value and what is valid.

    Without MEND the value must be valid as given (it is returned unchanged); with it, harmless
    differences are mended and the mended value is returned."""
    if param.type == "categorical":
        choices = param.choices or []
        for choice in choices:
            if (type(choice) is type(value) or (_is_number(choice) and _is_number(value))) and choice == value:
                return choice if mend else value
        if mend:
            matches = [c for c in choices if str(c).lower() == str(value).strip().lower()]
            if len(matches) == 1:
                return matches[0]
        raise ValueError(f"{name}={_shown(value)} is not one of the choices {_shown(choices)}")
    given = value
    if isinstance(value, str) or not _is_number(value):
        if not (mend and isinstance(value, str)):
            raise ValueError(f"{name}={_shown(value)} must be a number")
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{name}={_shown(value)} must be a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}={_shown(value)} must be a finite number")
    assert param.low is not None and param.high is not None
    if param.type == "int":
        if value != int(value):
            raise ValueError(f"{name}={value} must be an integer")
        value = int(value)
    if not param.low <= value <= param.high:
        raise ValueError(f"{name}={value} is out of range: it must be within [{param.low:g}, {param.high:g}]")
    if not mend:
        return given
    if param.step is not None:
        # Snapped rather than sent back: the intent is clear.
        steps = round((value - param.low) / param.step)
        value = min(param.low + steps * param.step, param.high)
        if param.type == "int":
            value = round(value)
    return float(value) if param.type == "float" else value


def check_params(
    given: Any, space: dict[str, ParamSpec], fallback: dict[str, Any] | None = None, *, mend: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """GIVEN's values fitted to SPACE (see `fit`), in the space's order, and the names taken from FALLBACK
    because GIVEN lacks them. A ValueError lists every problem, as a message meant for the proposer."""
    if not isinstance(given, dict):
        raise ValueError('"params" must be a JSON object mapping parameter names to values')
    fallback = fallback or {}
    unknown = [k for k in given if k not in space]
    errors = []
    if unknown:
        errors.append(
            f"unknown parameter(s) {', '.join(map(_shown, unknown))}; "
            f"the parameters are {', '.join(map(_shown, space))}"
        )
    result: dict[str, Any] = {}
    filled: list[str] = []
    for name, param in space.items():
        if name not in given:
            if name in fallback:
                result[name] = fallback[name]
                filled.append(name)
            else:
                errors.append(f"missing parameter {_shown(name)}")
            continue
        try:
            result[name] = fit(name, given[name], param, mend=mend)
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise ValueError("; ".join(errors))
    return result, filled


def violation(space: dict[str, ParamSpec], params: dict[str, Any]) -> str | None:
    """None when PARAMS are a point of SPACE exactly as given, else every reason they are not."""
    try:
        check_params(params, space)
    except ValueError as exc:
        return str(exc)
    return None
