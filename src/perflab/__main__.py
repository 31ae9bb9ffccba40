"""``python -m perflab`` and the ``perflab`` command.

A load test's first worker is started here, before the command line (click, the command's
modules) is imported: a worker's interpreter and imports take longer than the command's,
and the test cannot start before its workers are ready.
"""

import sys

from perflab.errors import EXIT_INTERRUPTED

LOAD_SUBCOMMANDS_WITHOUT_TEST = ("compare",)


def runs_a_load_test(args: list[str]) -> bool:
    """Whether the command line asks for a load test here (a wrong guess only costs a worker
    that is terminated at exit); with --cluster the load processes run on the Dask workers."""
    return (len(args) > 1 and args[0] == "load"
            and args[1] not in LOAD_SUBCOMMANDS_WITHOUT_TEST
            and not {"-h", "--help"} & set(args)
            and not any(a == "--cluster" or a.startswith("--cluster=") for a in args))


def main() -> None:
    try:
        if runs_a_load_test(sys.argv[1:]):
            from perflab.load import WorkerPool  # noqa: PLC0415  # only for a load test

            WorkerPool.start_early()
        from perflab.cli import run  # noqa: PLC0415  # after the worker's start
    except KeyboardInterrupt:  # Ctrl-C while importing: as the command line answers it
        sys.stderr.write("perflab: error: interrupted\n")
        sys.exit(EXIT_INTERRUPTED)  # an early worker is terminated at exit
    run()


if __name__ == "__main__":
    main()
