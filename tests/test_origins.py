"""A rendered line's template origin: looked up, kept in the render memo, read back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hwbuild.origins import Origins

T, P = "templates/problem1.tex.j2", "templates/part.tex.j2"


def test_a_line_is_looked_up_and_past_the_end_is_the_last_line() -> None:
    origins = Origins.of([(T, 3), (P, 7), (T, 4)])
    assert [origins.at(line) for line in (1, 2, 3, 4)] == [(T, 3), (P, 7), (T, 4), (T, 4)]
    assert origins.at(0) is None
    assert Origins().at(5) is None
    assert origins.templates() == [T, P]


def test_the_memo_keeps_runs_of_lines() -> None:
    origins = Origins.of([(T, 1), (T, 2), (T, 3), (P, 5), (P, 5), (T, 9), (T, 7)])
    assert origins.encode() == [[T, 1, 3, 1], [P, 5, 2, 0], [T, 9, 1, 1], [T, 7, 1, 1]]
    assert Origins.decode(origins.encode()) == origins
    assert Origins.decode([[T, "x", 1, 1]]) is None
    assert Origins.decode(None) is None


@given(st.lists(st.tuples(st.sampled_from([T, P, "/abs/base.tex.j2"]),
                          st.integers(min_value=1, max_value=40)), max_size=60))
def test_encode_then_decode_gives_the_origins_back(lines: list[tuple[str, int]]) -> None:
    origins = Origins.of(lines)
    assert Origins.decode(origins.encode()) == origins
