"""perflab's ``main()`` run as nobody:nogroup, for the tests of what a user without privileges
sees. A forked child drops its groups, gid and uid for good (the calls ``setpriv`` makes), runs
the command and exits without pytest's clean-up; the parent gets (exit code, stdout, stderr).

What the command imports must be imported before the fork, while root: the child may not be
able to read this interpreter's files any more.
"""

from __future__ import annotations

import grp
import io
import os
import pwd
import sys

from perflab.cli import main


def fork_as_nobody(argv: list[str], *, env: dict[str, str] | None = None
                   ) -> tuple[int, str, str]:
    nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges for good, run, exit without pytest's cleanup
        code = 70
        try:
            os.close(out_r)
            os.close(err_r)
            os.setgroups([])
            os.setresgid(nogroup, nogroup, nogroup)
            os.setresuid(nobody, nobody, nobody)
            os.environ.update(env or {})
            sys.stdout = io.TextIOWrapper(os.fdopen(out_w, "wb"), encoding="utf-8")
            sys.stderr = io.TextIOWrapper(os.fdopen(err_w, "wb"), encoding="utf-8")
            code = main(argv)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    # stdout first, then stderr: the commands used here write little, far below a pipe's buffer
    with os.fdopen(out_r, encoding="utf-8") as fo, os.fdopen(err_r, encoding="utf-8") as fe:
        out, err = fo.read(), fe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out, err
