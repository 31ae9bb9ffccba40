"""What perflab says when a program dies under valgrind: the fatal signal and the frame it struck,
read from valgrind's own log (the logs below are valgrind 3.19's, copied from real runs)."""

from __future__ import annotations

import pytest

from perflab.bench._cmd import refuse_a_breakpoint_death, valgrind_failure
from perflab.errors import CheckFailed

# valgrind --tool=callgrind /bin/echo hi, while bpftrace held a uprobe on libc's malloc
TRAPPED = """\
==7899== For interactive control, run 'callgrind_control -h'.
==7899==
==7899== Process terminating with default action of signal 5 (SIGTRAP)
==7899==    at 0x48DE931: malloc (malloc.c:3281)
==7899==    by 0x487F220: _nl_normalize_codeset (l10nflist.c:321)
==7899==    by 0x486D249: (below main) (libc_start_call_main.h:58)
==7899==
==7899== Events    : Ir
==7899== Collected : 129394
==7899==
==7899== I   refs:      129,394
"""

SEGFAULT = TRAPPED.replace("signal 5 (SIGTRAP)", "signal 11 (SIGSEGV)")


def test_the_fatal_signal_and_its_frame_are_named_without_the_address():
    assert valgrind_failure(TRAPPED) == ("the program died of SIGTRAP under valgrind at "
                                         "malloc (malloc.c:3281)")
    assert valgrind_failure(SEGFAULT).startswith("the program died of SIGSEGV under valgrind")


def test_without_a_fatal_signal_the_last_line_is_the_message():
    assert valgrind_failure("==1== Memcheck\nvalgrind: no such file\n\n") == \
        "valgrind: no such file"
    assert valgrind_failure("") == "valgrind printed nothing"


def test_a_breakpoint_death_is_refused_and_blames_a_uprobe():
    with pytest.raises(CheckFailed) as err:
        refuse_a_breakpoint_death(TRAPPED, "/bin/echo hi")
    assert str(err.value) == ("/bin/echo hi: the program died of SIGTRAP under valgrind at "
                              "malloc (malloc.c:3281)")
    assert "uprobe" in (err.value.hint or "")


def test_other_deaths_are_the_programs_own_and_left_to_the_caller():
    refuse_a_breakpoint_death(SEGFAULT, "x")
    refuse_a_breakpoint_death("==1== I   refs: 5\n", "x")
