"""CSV downloads cannot carry spreadsheet formulas (CSV injection)."""

from __future__ import annotations

import pandas as pd

from app.layout import csv_safe


def test_text_that_starts_a_formula_is_quoted_and_numbers_are_not() -> None:
    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tx", "Ada Lovelace"],
            "amount": [-1.5, 2.0, -3.25, 4.0, 5.0, 6.0],
            "orders": [1, -2, 3, 4, 5, 6],
        }
    )
    original = frame.copy()
    assert csv_safe(frame).to_csv(index=False) == (
        "name,amount,orders\n"
        '"\'=HYPERLINK(""http://x"",""y"")",-1.5,1\n'
        "'+1,2.0,-2\n"
        "'-2,-3.25,3\n"
        "'@SUM(A1),4.0,4\n"
        "'\tx,5.0,5\n"
        "Ada Lovelace,6.0,6\n"
    )
    pd.testing.assert_frame_equal(frame, original)
