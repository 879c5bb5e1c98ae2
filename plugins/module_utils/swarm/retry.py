# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded retry of swarm object updates that lost a race ("update out of sequence")."""

from __future__ import annotations

import time

OUT_OF_SEQUENCE = "update out of sequence"


def is_out_of_sequence(exc):
    """True for the swarm's optimistic-concurrency refusal: the object's version moved meanwhile."""
    text = "%s %s" % (getattr(exc, "explanation", "") or "", exc)
    return OUT_OF_SEQUENCE in text.lower()


def retry_out_of_sequence(attempt, attempts=5, delay=0.2, sleep=time.sleep):
    """Call ``attempt()`` (which must read the object's current version itself) until it does not fail
    with "update out of sequence", at most ``attempts`` times; other errors and the last one propagate.
    Returns ``(result, tries)``."""
    tries = 0
    while True:
        tries += 1
        try:
            return attempt(), tries
        except Exception as exc:  # pylint: disable=broad-except
            if not is_out_of_sequence(exc) or tries >= attempts:
                raise
            sleep(delay * tries)
