"""Who is using the Kubernetes test bed: the test command's two pytest-xdist workers may both run Kubernetes tests
(the native-mode unit and the operator unit, tests/conftest.py), and each worker's package fixture would otherwise
stop the cluster under the other's tests when it is done.

Every user (the k8s fixture of a worker, a Molecule scenario on the Kubernetes test bed) registers a file named after
its process; the test bed is stopped by the last user out, and only when the tests brought it up (a cluster that
was up before any test started is left running, as FLINKOPS_K8S_KEEP=1 leaves one the tests started).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets

USERS_DIR = os.environ.get("FLINKOPS_K8S_USERS_DIR", "/run/flinkops-k8s-users")
STARTED_MARK = os.path.join(USERS_DIR, "started-by-tests")


@contextlib.contextmanager
def _locked():
    os.makedirs(USERS_DIR, exist_ok=True)
    with open(os.path.join(USERS_DIR, ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _live_users():
    """The registrations of processes that still run (those of a killed run are removed)."""
    live = []
    for entry in os.listdir(USERS_DIR):
        pid = entry.split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            os.remove(os.path.join(USERS_DIR, entry))
            continue
        except PermissionError:
            pass
        live.append(entry)
    return live


def register(was_up):
    """Register a user; ``was_up``: the test bed answered before this user brought it up. Returns the token for
    release()."""
    token = "%d-%s" % (os.getpid(), secrets.token_hex(4))
    with _locked():
        first = not _live_users()
        if not was_up:
            open(STARTED_MARK, "w").close()
        elif first and os.path.exists(STARTED_MARK):
            os.remove(STARTED_MARK)  # left by an interrupted run: this cluster was up before these tests
        open(os.path.join(USERS_DIR, token), "w").close()
    return token


def release(token, down):
    """Deregister; call ``down()`` when this was the last user of a test bed the tests brought up."""
    with _locked():
        path = os.path.join(USERS_DIR, token)
        if os.path.exists(path):
            os.remove(path)
        if _live_users() or not os.path.exists(STARTED_MARK):
            return False
        if os.environ.get("FLINKOPS_K8S_KEEP") == "1":
            return False
        os.remove(STARTED_MARK)
        down()
        return True
