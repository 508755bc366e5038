"""A small shop module: the golden sample for the Python tags query."""

from dataclasses import dataclass
import logging
from . import payments
from ..core.base import Model as BaseModel, Tracked
import shop.audit as audit

MAX_RETRIES = 3
log = logging.getLogger(__name__)


@dataclass
class Order:
    id: str
    count = 0

    def submit(self, client: Client) -> Receipt:
        def attempt():
            return client.post(self.id)

        return with_retries(attempt)

    @property
    def empty(self):
        return self.count == 0


class Rush(Order):
    def submit(self, client):
        return super().submit(client)


class Audited(audit.Logged, BaseModel, Generic[T]):
    """An order whose changes are logged.

    More detail that is not part of the summary.
    """


def with_retries(fn, retries=MAX_RETRIES):
    """Call `fn` until it succeeds, at most `retries` times."""
    for _ in range(retries):
        return fn()
