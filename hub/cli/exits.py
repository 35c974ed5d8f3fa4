"""The `hub` command's exit statuses, one meaning each, and which of the hub's errors gives which.

    0  OK           the command did what it was asked
    1  FAILED       it ran, and what it checked or did failed (a verification found a change,
                    a policy test failed, records were rejected, a worker stopped)
    2  USAGE        the command line, a setting (`HUB_…`) or an input file is wrong; nothing
                    was changed
    3  UNAVAILABLE  the database or the Kafka brokers could not be reached, or the database
                    failed midway (trying again later may succeed)
    4  NOT_FOUND    what the command names does not exist (a person, client, delivery, proposal)
    5  REFUSED      the hub refused: it contradicts what is stored (a conflict), or it is not
                    allowed
  130  INTERRUPTED  stopped by Ctrl-C (SIGINT)
  141  BROKEN_PIPE  the reader of the output went away (`hub … | head`); as for SIGPIPE

Imports only the error tree (no database driver), so `hub --help` stays fast.
"""

from __future__ import annotations

from typing import Final

from hub.errors import (
    AuthenticationFailed,
    BusUnavailable,
    Conflict,
    HubError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StoreUnavailable,
)

OK: Final = 0
FAILED: Final = 1
USAGE: Final = 2
UNAVAILABLE: Final = 3
NOT_FOUND: Final = 4
REFUSED: Final = 5
INTERRUPTED: Final = 130
BROKEN_PIPE: Final = 141

#: For `hub --help` and the README: the table above, one line a status.
SUMMARY: Final = (
    "exit status: 0 ok; 1 failed (a check or the work failed); 2 usage (bad arguments, "
    "settings or input; nothing changed); 3 unavailable (database or brokers out of reach); "
    "4 not found; 5 refused (conflict, not allowed); 130 interrupted; 141 output closed "
    "(| head)"
)


def for_error(error: HubError) -> int:
    """The exit status of a command that stopped on `error`."""
    if isinstance(error, InvalidInput):
        return USAGE
    if isinstance(error, NotFound):
        return NOT_FOUND
    if isinstance(error, Conflict | PermissionDenied | AuthenticationFailed):
        return REFUSED
    if isinstance(error, StoreUnavailable | BusUnavailable):
        return UNAVAILABLE
    return FAILED
