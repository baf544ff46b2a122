"""A program licensed with the client library, run in a process of its own by the tests.

    python licensed_app.py URL KEY FINGERPRINT MODE

It prints its seat id when it holds one, then, by MODE:

    with    does its work inside `with Client(...)`, and returns (the block releases)
    atexit  starts the client without a `with`, and returns (the interpreter's exit releases)
    crash   raises inside the `with` (the block releases on the way out)
    hold    keeps the seat with heartbeats until it is killed
"""

import sys
import time

from overdraft_client import Client


def main(url: str, key: str, fingerprint: str, mode: str) -> None:
    client = Client(url, key, fingerprint=fingerprint)
    if mode in ("with", "crash"):
        with client:
            print(client.seat_id, flush=True)
            if mode == "crash":
                raise RuntimeError("the application failed")
        return
    client.start()
    print(client.seat_id, flush=True)
    if mode == "hold":
        time.sleep(600)


if __name__ == "__main__":
    main(*sys.argv[1:5])
