"""The objective as an expression over metric names (`[metric] objective`), e.g. `latency + 1000 * violations`.

The spec checks it when it is loaded; the metrics reader computes it for every run (execute/metrics.py).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
_UNARY: dict[type, Callable[[float], float]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sqrt": math.sqrt,
}


class ObjectiveExpression:
    """An arithmetic expression over metric names, e.g. `latency + 1000 * violations`.

    Parsed with `ast` and evaluated by walking the tree: only numbers, metric names, + - * / ** %,
    and a few math functions are allowed, so nothing in the spec can run code.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self._tree = ast.parse(source, mode="eval").body
        except SyntaxError as exc:
            raise ValueError(f"objective {source!r} is not a valid expression: {exc.msg}") from None
        self.names: set[str] = set()
        self._check(self._tree)

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant) and _is_number(node.value):
            return
        if isinstance(node, ast.Name):
            self.names.add(node.id)
            return
        if isinstance(node, ast.Attribute) and "__" not in ast.unparse(node):  # dotted names such as val.loss
            self.names.add(ast.unparse(node))  # only ever looked up in the metrics, never getattr
            return
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            self._check(node.left)
            self._check(node.right)
            return
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            self._check(node.operand)
            return
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and not node.keywords
        ):
            for arg in node.args:
                self._check(arg)
            return
        raise ValueError(
            f"objective {self.source!r}: {ast.unparse(node)!r} is not allowed; use metric names, numbers, "
            f"+ - * / ** % and {', '.join(sorted(_FUNCTIONS))}"
        )

    def evaluate(self, metrics: Mapping[str, float]) -> float:
        missing = sorted(n for n in self.names if n not in metrics)
        if missing:
            raise KeyError(", ".join(missing))
        return self._eval(self._tree, metrics)

    def _eval(self, node: ast.AST, metrics: Mapping[str, float]) -> float:
        if isinstance(node, ast.Constant):
            assert _is_number(node.value)  # checked in _check
            return float(node.value)  # type: ignore[arg-type]
        if isinstance(node, ast.Name | ast.Attribute):
            return metrics[ast.unparse(node)]
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](self._eval(node.left, metrics), self._eval(node.right, metrics))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, metrics))
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(self._eval(arg, metrics) for arg in node.args))
