"""Settings from the environment: the consumer's linger is the worker's own unless
``ONESTOP_CONSUMER_LINGER_MS`` says otherwise for every worker."""

from __future__ import annotations

import pytest

from services import archive
from shared.config import load_settings


def test_the_linger_is_the_worker_s_own_unless_the_environment_sets_one(tmp_path):
    env = {"ONESTOP_DATA_DIR": str(tmp_path)}
    assert load_settings(env).consumer_linger is None
    assert load_settings({**env, "ONESTOP_CONSUMER_LINGER_MS": ""}).consumer_linger is None
    assert load_settings({**env, "ONESTOP_CONSUMER_LINGER_MS": "0"}).consumer_linger == 0
    assert load_settings({**env, "ONESTOP_CONSUMER_LINGER_MS": "250"}).consumer_linger == 0.25
    with pytest.raises(ValueError, match="ONESTOP_CONSUMER_LINGER_MS"):
        load_settings({**env, "ONESTOP_CONSUMER_LINGER_MS": "soon"})

    svc = archive.build(load_settings(env))
    assert svc.consumer([], linger=0.2).linger == 0.2  # the worker's default
    svc = archive.build(load_settings({**env, "ONESTOP_CONSUMER_LINGER_MS": "0"}))
    assert svc.consumer([], linger=0.2).linger == 0  # the environment's, for every worker
