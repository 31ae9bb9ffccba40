"""perflab top's keys: raw terminal input -> key names -> the next UI state (pure)."""

from __future__ import annotations

from functools import reduce

from perflab.top import UiState, ViewOptions, handle_key, split_keys
from perflab.top._keys import BACKSPACE, ENTER, ESC


def press(keys: str, state: UiState | None = None) -> UiState:
    return reduce(handle_key, split_keys(keys), state or UiState())


def test_split_keys_names_enter_backspace_and_a_lone_escape():
    assert split_keys("c/ab\r") == ["c", "/", "a", "b", ENTER]
    assert split_keys("x\x7f\x08\n") == ["x", BACKSPACE, BACKSPACE, ENTER]
    assert split_keys("\x1b") == [ESC]


def test_split_keys_drops_escape_sequences_whole():
    """Arrow and function keys arrive as ESC [ ... final-byte: never read as Esc + letters."""
    assert split_keys("\x1b[A\x1b[1;5Cq") == ["q"]
    assert split_keys("\x1bOPm") == ["m"]


def test_sort_keys():
    assert press("m").options.sort == "mem"
    assert press("mi").options.sort == "io"
    assert press("mic").options.sort == "cpu"


def test_filter_is_typed_then_applied_with_enter():
    s = press("/slx")
    assert s.screen.editing == "slx"
    assert s.options.filter == ""  # not applied while typing
    s = press("\x7feep\r", s)
    assert s.screen.editing is None
    assert s.options.filter == "sleep"


def test_keys_typed_into_the_filter_are_text_not_commands():
    s = press("/qtcp")
    assert not s.quit
    assert not s.options.tree
    assert s.screen.editing == "qtcp"


def test_escape_clears_the_filter_while_typing_and_after():
    assert press("/abc\x1b").options.filter == ""
    s = press("/abc\r")
    assert s.options.filter == "abc"
    s = press("\x1b", s)
    assert s.options.filter == ""
    assert s.screen.editing is None


def test_slash_edits_the_current_filter():
    s = press("/", UiState(options=ViewOptions(filter="ngi")))
    assert s.screen.editing == "ngi"
    assert press("nx\r", s).options.filter == "nginx"


def test_tree_pause_toggle():
    assert press("t").options.tree
    assert not press("tt").options.tree
    assert press("p").screen.paused
    assert not press("pp").screen.paused


def test_help_opens_and_any_key_closes_it():
    s = press("?")
    assert s.screen.help
    closed = press("m", s)
    assert not closed.screen.help
    assert closed.options.sort == "cpu"  # the key only closed the help
    assert press("q", s).quit


def test_q_quits_and_unknown_keys_do_nothing():
    assert press("q").quit
    assert press("zZ9") == UiState()
