"""The built-in jobs' API settings come from the application edge, never the environment."""

from __future__ import annotations

import pytest
from jobrelay.job_engine.jobs.api import ApiSettings, api_settings, configure_apis


def test_the_library_does_not_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBRELAY_BOOKING_API_URL", "http://from-env.test")
    configure_apis(None)
    assert api_settings().booking_api_url == "http://127.0.0.1:8101"
    assert api_settings().timeout_s == 10.0


def test_configured_settings_reach_the_steps() -> None:
    given = ApiSettings.model_validate({"booking_api_url": "http://given.test", "timeout_s": 3})
    configure_apis(given)
    assert api_settings() is given
    configure_apis(None)
    assert api_settings().booking_api_url == "http://127.0.0.1:8101"
