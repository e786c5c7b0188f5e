"""``python -m sweeps``: the CLI (:mod:`sweeps.cli`)."""

try:
    from sweeps.cli import main
except KeyboardInterrupt:
    # Ctrl-C while the CLI's modules load, before its own handling exists: nothing has
    # started, so no traceback, and the exit of any interrupted command (128 + SIGINT).
    import sys

    sys.stderr.write("interrupted\n")
    raise SystemExit(130) from None

raise SystemExit(main())
