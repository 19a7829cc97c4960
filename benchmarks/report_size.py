"""report.html's size for a small study: plotly.js packed (gzip + base64, unpacked by the browser)
against the same page with plotly.js inline as plain text, both from the same run.

    PYTHONPATH=src python benchmarks/report_size.py [N]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from plotly.offline import get_plotlyjs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package, for the synthetic study

from tests.support.synthetic import make_study, synthetic_spec_dict

from autoresearch.spec import spec_from_dict
from autoresearch.ui.report.html import packed_plotlyjs, write_report


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with tempfile.TemporaryDirectory(prefix="report-size-") as tmp:
        spec = spec_from_dict(synthetic_spec_dict("size"), root=Path(tmp))
        store = make_study(spec.study_dir, n, seed=13)
        html_path, md_path = write_report(spec, store)
        packed = html_path.stat().st_size
        plain = packed - len(packed_plotlyjs()) + len(get_plotlyjs().encode())
        mb = 1024 * 1024
        print(f"{n} experiments:")
        print("| report.html | MB |")
        print("| --- | --- |")
        print(f"| plotly.js inline as text (before) | {plain / mb:.2f} |")
        print(f"| plotly.js packed (after) | {packed / mb:.2f} ({plain / packed:.1f}x smaller) |")
        print(f"| of which the study itself | {(packed - len(packed_plotlyjs())) / mb:.2f} |")
        print(f"report.md: {md_path.stat().st_size / 1024:.1f} KB")


if __name__ == "__main__":
    main()
