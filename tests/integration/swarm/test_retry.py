"""The "update out of sequence" retry against the real swarm: an update that lost a race (it carries a
version another client has moved past) is refused by the manager with that error, recognised, and the
retry with a freshly read version succeeds."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.swarm.retry import (
    is_out_of_sequence, retry_out_of_sequence)

pytestmark = [pytest.mark.swarm]


def test_lost_race_is_retried_with_the_new_version(swarm, prefix):
    client = swarm.client()
    name = "%s-race" % prefix
    # No tasks (0 replicas): only the service object matters here.
    client.services.create(swarm.image(), name=name, mode={"Replicated": {"Replicas": 0}}, labels={"n": "0"})
    stale = client.api.inspect_service(name)
    # Another client wins the race: the version moves on.
    spec = stale["Spec"]
    client.api.update_service(stale["ID"], stale["Version"]["Index"], task_template=spec["TaskTemplate"],
                              name=name, labels={"n": "1"}, mode=spec["Mode"])
    calls = []

    def attempt():
        # The first attempt still holds the version read before the other client won; later attempts read
        # the current version, as the module's attempts do.
        current = stale if not calls else client.api.inspect_service(name)
        calls.append(current["Version"]["Index"])
        client.api.update_service(current["ID"], current["Version"]["Index"], task_template=spec["TaskTemplate"],
                                  name=name, labels={"n": "2"}, mode=spec["Mode"])
        return current["Version"]["Index"]

    version, tries = retry_out_of_sequence(attempt, attempts=3, delay=0.1)
    assert tries == 2 and calls[0] == stale["Version"]["Index"] and version > calls[0]
    assert client.api.inspect_service(name)["Spec"]["Labels"] == {"n": "2"}

    # And when every attempt carries the stale version, the retry gives up after its bound.
    tries_seen = []

    def always_stale():
        tries_seen.append(1)
        client.api.update_service(stale["ID"], stale["Version"]["Index"], task_template=spec["TaskTemplate"],
                                  name=name, labels={"n": "3"}, mode=spec["Mode"])

    with pytest.raises(Exception) as gave_up:
        retry_out_of_sequence(always_stale, attempts=3, delay=0.1)
    assert is_out_of_sequence(gave_up.value) and len(tries_seen) == 3
    client.close()
