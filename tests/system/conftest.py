"""Session fixtures of the system tests: the test PKI and one Kamailio (TLS, 127.0.0.1)."""

import os

import pytest
from simsupport import ACCOUNTS, PASSWORD

from tools.peers import Kamailio, make_certs


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"), hostname="proxy.test")


@pytest.fixture(scope="session")
def proxy(tmp_path_factory, certs):
    """Kamailio as outbound proxy and registrar for the accounts 2001, 2002, ...
    (SIGKILLed at the end: its graceful stop waits out a grace period)."""
    workdir = tmp_path_factory.mktemp("kamailio")
    kam = Kamailio(os.fspath(workdir), certs, users={user: PASSWORD for user in ACCOUNTS})
    kam.start()
    yield kam
    kam.kill()
