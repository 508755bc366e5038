"""A small shop module: the golden sample for the Python tags query."""

from dataclasses import dataclass
import logging

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


def with_retries(fn, retries=MAX_RETRIES):
    for _ in range(retries):
        return fn()
