"""Write the bundled GOOG daily prices (backtesting.py's test data) as two files, once.

data/goog_search.csv    2004-08-19 .. 2011-12-30: the search period, cut into yearly windows
holdout/goog_holdout.csv 2012-01-03 .. 2013-03-01: the last, never-seen period (the holdout's alone)

The files are committed; run this only to recreate them.
"""

from pathlib import Path

from backtesting.test import GOOG

HOLDOUT_START = "2012-01-01"

here = Path(__file__).parent
(here / "data").mkdir(exist_ok=True)
(here / "holdout").mkdir(exist_ok=True)
GOOG[GOOG.index < HOLDOUT_START].to_csv(here / "data" / "goog_search.csv", index_label="Date")
GOOG[GOOG.index >= HOLDOUT_START].to_csv(here / "holdout" / "goog_holdout.csv", index_label="Date")
