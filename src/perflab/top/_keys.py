"""Key handling: raw terminal input -> key names -> the next UI state. Pure, so tested alone.

    c m i   sort by cpu / mem / io          /   start typing a filter (Enter applies, Esc clears)
    t       toggle the tree                 p   pause / resume
    ?       help (any key closes it)        q   quit (Ctrl-C is a signal, handled by the loop)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from perflab.top._model import SortKey, ViewOptions
from perflab.top._render import ScreenState

ESC, ENTER, BACKSPACE = "ESC", "ENTER", "BACKSPACE"
SORT_BY_KEY: dict[str, SortKey] = {"c": "cpu", "m": "mem", "i": "io"}


@dataclass(frozen=True, slots=True)
class UiState:
    options: ViewOptions = field(default_factory=ViewOptions)
    screen: ScreenState = field(default_factory=ScreenState)
    quit: bool = False


def split_keys(data: str) -> list[str]:
    """Cut terminal input into keys. A lone ESC is Esc; ESC followed by ``[`` or ``O`` starts
    an escape sequence (arrows, function keys) that is dropped whole."""
    keys: list[str] = []
    i = 0
    while i < len(data):
        ch = data[i]
        if ch == "\x1b":
            if i + 1 < len(data) and data[i + 1] in "[O":
                j = i + 2
                while j < len(data) and not ("@" <= data[j] <= "~"):  # CSI final byte
                    j += 1
                i = j + 1
                continue
            keys.append(ESC)
        elif ch in "\r\n":
            keys.append(ENTER)
        elif ch in "\x7f\x08":
            keys.append(BACKSPACE)
        elif ch >= " ":
            keys.append(ch)
        i += 1
    return keys


def handle_key(state: UiState, key: str) -> UiState:
    s = state.screen
    if s.editing is not None:
        return _edit(state, key)
    if s.help:  # any key closes the help; q still quits
        return replace(state, screen=replace(s, help=False), quit=key == "q")
    o = state.options
    if key in SORT_BY_KEY:
        return replace(state, options=replace(o, sort=SORT_BY_KEY[key]))
    if key == "t":
        return replace(state, options=replace(o, tree=not o.tree))
    if key == "p":
        return replace(state, screen=replace(s, paused=not s.paused))
    if key == "?":
        return replace(state, screen=replace(s, help=True))
    if key == "/":
        return replace(state, screen=replace(s, editing=o.filter))
    if key == ESC and o.filter:
        return replace(state, options=replace(o, filter=""))
    if key == "q":
        return replace(state, quit=True)
    return state


def _edit(state: UiState, key: str) -> UiState:
    s, text = state.screen, state.screen.editing or ""
    if key == ENTER:
        return replace(state, options=replace(state.options, filter=text.strip()),
                       screen=replace(s, editing=None))
    if key == ESC:
        return replace(state, options=replace(state.options, filter=""),
                       screen=replace(s, editing=None))
    if key == BACKSPACE:
        return replace(state, screen=replace(s, editing=text[:-1]))
    if len(key) == 1:
        return replace(state, screen=replace(s, editing=text + key))
    return state
