"""A moving-average crossover strategy on GOOG daily prices, backtested with backtesting.py.

Search (what autoresearch optimises): the search period (data/goog_search.csv, 2004-2011) is cut into
yearly walk-forward windows, 2006 to 2011. Each window is backtested on its own: it starts flat with
fresh cash, its indicators warm up on the bars before it (no trade there), and it pays commission on
every fill. The objective is the mean of the windows' annualised Sharpe ratios, so a strategy has to
work year after year, not on one lucky stretch.

    python strategy.py --config params.json
    python strategy.py --config params.json --holdout holdout/goog_holdout.csv

With --holdout it scores the last, never-seen period (2012-01 to 2013-03) instead, as one window whose
indicators warm up on the end of the search period; only autoresearch's holdout run can read that file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bars would fill stderr

import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

SEARCH_DATA = Path(__file__).parent / "data" / "goog_search.csv"
WINDOWS = [str(year) for year in range(2006, 2012)]  # the search's walk-forward windows, one per year
WARMUP_BARS = 220  # more than the slowest moving average the search space allows (50 x 4 = 200)
COMMISSION = 0.002  # 0.2% of the traded value on every fill, entry and exit
CASH = 100_000
TRADING_DAYS = 252


def moving_average(values: np.ndarray, bars: int) -> np.ndarray:
    return pd.Series(values).rolling(bars).mean().to_numpy()


class Crossover(Strategy):
    """Long (and optionally short) when the fast average crosses the slow one; a stop-loss on each entry;
    each position uses `size` of the equity."""

    fast = 10
    slow = 30
    stop_loss = 0.05
    size = 0.5
    short = False
    trade_from = 0  # bars before this index only warm the indicators up

    def init(self) -> None:
        self.fast_ma = self.I(moving_average, self.data.Close, self.fast)
        self.slow_ma = self.I(moving_average, self.data.Close, self.slow)

    def next(self) -> None:
        if len(self.data) <= self.trade_from:
            return
        price = self.data.Close[-1]
        if crossover(self.fast_ma, self.slow_ma):
            self.position.close()
            self.buy(size=self.size, sl=price * (1 - self.stop_loss))
        elif crossover(self.slow_ma, self.fast_ma):
            self.position.close()
            if self.short:
                self.sell(size=self.size, sl=price * (1 + self.stop_loss))


def load(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, index_col="Date", parse_dates=True)


def backtest_window(prices: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, params: dict) -> dict[str, float]:
    """Backtest the bars from `start` to `end`, warming up on the bars before; the window's own figures."""
    first = int(prices.index.searchsorted(start))
    if first < WARMUP_BARS:
        raise SystemExit(f"window {start.date()} has {first} bars of warm-up before it, needs {WARMUP_BARS}")
    bars = prices.iloc[first - WARMUP_BARS : int(prices.index.searchsorted(end, side="right"))]
    backtest = Backtest(bars, Crossover, cash=CASH, commission=COMMISSION, finalize_trades=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # backtesting.py warns about fractional sizes on every run
        stats = backtest.run(**params, trade_from=WARMUP_BARS)
    equity = stats["_equity_curve"]["Equity"].iloc[WARMUP_BARS - 1 :]  # from the close before the window
    returns = equity.pct_change().dropna()
    spread = float(returns.std())
    sharpe = float(returns.mean()) / spread * math.sqrt(TRADING_DAYS) if spread > 0 else 0.0
    drawdown = float((1 - equity / equity.cummax()).max())
    return {
        "sharpe": sharpe,
        "return_pct": 100 * (float(equity.iloc[-1]) / float(equity.iloc[0]) - 1),
        "max_drawdown_pct": 100 * drawdown,
        "trades": float(len(stats["_trades"])),
    }


def strategy_params(config: dict) -> dict:
    fast = int(config["fast"])
    return {
        "fast": fast,
        "slow": max(fast + 1, round(fast * float(config["slow_factor"]))),
        "stop_loss": float(config["stop_loss"]),
        "size": float(config["size"]),
        "short": bool(config["short"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True, help="the candidate's parameters (JSON)")
    parser.add_argument("--holdout", type=Path, help="score this never-seen period instead of the search windows")
    parser.add_argument("--windows", type=int, help="score only the first N windows (a cheap [[stage]])")
    args = parser.parse_args()
    params = strategy_params(json.loads(Path(args.config).read_text()))
    prices = load(SEARCH_DATA)
    print("params:", json.dumps(params))
    if args.holdout:
        unseen = load(args.holdout)
        result = backtest_window(pd.concat([prices, unseen]), unseen.index[0], unseen.index[-1], params)
        print(f"holdout {unseen.index[0].date()}..{unseen.index[-1].date()}: {json.dumps(result)}")
        for name, value in result.items():
            print(f"holdout_{name}: {value:.6f}")
        return
    results = []
    for year in WINDOWS[: args.windows]:
        result = backtest_window(prices, pd.Timestamp(f"{year}-01-01"), pd.Timestamp(f"{year}-12-31"), params)
        print(
            f"window {year}: sharpe {result['sharpe']:+.2f}  return {result['return_pct']:+6.1f}%  "
            f"drawdown {result['max_drawdown_pct']:4.1f}%  trades {result['trades']:.0f}"
        )
        results.append(result)
    # The objective and what the guards bound: the mean Sharpe, the worst window's drawdown, all trades.
    print(f"sharpe: {np.mean([r['sharpe'] for r in results]):.6f}")
    print(f"sharpe_worst: {min(r['sharpe'] for r in results):.6f}")
    print(f"return_pct: {np.mean([r['return_pct'] for r in results]):.6f}")
    print(f"max_drawdown_pct: {max(r['max_drawdown_pct'] for r in results):.6f}")
    print(f"trades: {sum(r['trades'] for r in results):.0f}")


if __name__ == "__main__":
    main()
