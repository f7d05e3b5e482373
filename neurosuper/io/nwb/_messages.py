"""Errors and warnings of the NWB loader that carry their fix twice: as Python arguments (``stimulus=...``) for
:func:`load_nwb`, and as command-line flags (``--stimulus ...``) for ``neurosuper nwb``.

The Python text is the exception's message; the command-line text is the attribute ``cli_message`` (``None`` when
the fix has no flag), which :mod:`neurosuper.cli.nwb` prints instead when the error surfaces through the CLI.
"""

from __future__ import annotations

from ...errors import NeurosuperWarning, NWBLayoutError, fail

__all__ = ["layout_error", "nwb_warning"]


def layout_error(
    what: str,
    found: str,
    expected: str,
    fix: str,
    *,
    cli_fix: str | None = None,
    cli_what: str | None = None,
    cli_found: str | None = None,
    cli_expected: str | None = None,
) -> NWBLayoutError:
    """``NWBLayoutError("<what>: found ...; expected .... Fix: <fix>")`` with ``cli_message`` the same sentence
    whose fix (and, where given, subject, finding and expectation) is written with CLI flags."""
    err = fail(what, found, expected, fix, cls=NWBLayoutError)
    err.cli_message = (
        str(fail(cli_what or what, cli_found or found, cli_expected or expected, cli_fix, cls=NWBLayoutError))
        if cli_fix is not None
        else None
    )
    return err


def nwb_warning(message: str, *, cli: str | None = None) -> NeurosuperWarning:
    """A :class:`NeurosuperWarning` whose ``cli_message`` says the same with CLI flags."""
    warning = NeurosuperWarning(message)
    warning.cli_message = cli  # type: ignore[attr-defined]
    return warning
