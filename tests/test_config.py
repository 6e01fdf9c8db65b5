"""Settings: defaults, parsing and the messages for values the app cannot use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import config

CAMPAIGN = "arn:aws:personalize:eu-west-1:123456789012:campaign/movies"


def test_defaults_run_the_embedded_recommender_locally_without_debug():
    settings = config.from_environment({})
    assert settings["PERSONALIZE_CAMPAIGN_ARN"] == ""
    assert settings["RATINGS_PATH"] == "data/ratings.csv"
    assert (settings["HOST"], settings["PORT"], settings["DEBUG"]) == ("127.0.0.1", 8080, False)
    assert settings["NUM_RESULTS"] == 10


def test_values_are_parsed_to_their_types():
    settings = config.from_environment(
        {"NUM_RESULTS": "25", "PORT": "5000", "DEBUG": "true", "PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN}
    )
    assert (settings["NUM_RESULTS"], settings["PORT"], settings["DEBUG"]) == (25, 5000, True)
    assert settings["PERSONALIZE_CAMPAIGN_ARN"] == CAMPAIGN


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NUM_RESULTS", "0", "NUM_RESULTS: expected a whole number from 1 to 100"),
        ("NUM_RESULTS", "many", "NUM_RESULTS"),
        ("PORT", "70000", "PORT: expected a port number"),
        ("DEBUG", "maybe", "DEBUG: expected true or false"),
        ("PERSONALIZE_CAMPAIGN_ARN", "my-campaign", "PERSONALIZE_CAMPAIGN_ARN: expected an ARN"),
        ("RECIPE", "magic", "RECIPE: expected one of"),
        ("TRENDING_WINDOW_DAYS", "0", "TRENDING_WINDOW_DAYS: expected a number of days above 0"),
        ("TRENDING_WINDOW_DAYS", "-7", "TRENDING_WINDOW_DAYS: expected a number of days"),
        ("TRENDING_WINDOW_DAYS", "a week", "TRENDING_WINDOW_DAYS: expected a number of days"),
        ("TRENDING_WINDOW_DAYS", "nan", "TRENDING_WINDOW_DAYS: expected a number of days"),
        ("TRENDING_WINDOW_DAYS", "inf", "TRENDING_WINDOW_DAYS: expected a number of days"),
    ],
)
def test_bad_values_are_rejected_naming_the_setting(name, value, message):
    with pytest.raises(config.ConfigError, match=message):
        config.from_environment({name: value})


def test_trending_now_is_a_recipe_and_its_window_a_setting_the_engine_receives():
    settings = config.from_environment({"RECIPE": "trending-now", "TRENDING_WINDOW_DAYS": "0.5"})

    assert settings["RECIPE"] == "trending-now"
    assert config.model_params(settings).trending_window_days == 0.5
    assert config.model_params(config.from_environment({})).trending_window_days == 30


def test_error_messages_do_not_repeat_the_value():
    with pytest.raises(config.ConfigError) as caught:
        config.from_environment({"PORT": "s3cr3t-looking-value"})
    assert "s3cr3t" not in str(caught.value)


def test_campaign_and_recommender_arns_are_exclusive():
    recommender = CAMPAIGN.replace("campaign/", "recommender/")
    with pytest.raises(config.ConfigError, match="both set"):
        config.from_environment(
            {"PERSONALIZE_CAMPAIGN_ARN": CAMPAIGN, "PERSONALIZE_RECOMMENDER_ARN": recommender}
        )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com", ""])
def test_debug_on_a_network_address_is_refused(host):
    with pytest.raises(config.ConfigError, match="ALLOW_DEBUG_ON_NETWORK"):
        config.from_environment({"DEBUG": "true", "HOST": host})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_debug_on_this_machine_only_is_allowed(host):
    assert config.from_environment({"DEBUG": "true", "HOST": host})["DEBUG"] is True


def test_debug_on_a_network_address_needs_the_explicit_override():
    network = {"HOST": "0.0.0.0", "ALLOW_OPEN_ON_NETWORK": "true"}  # open mode: see test_access
    settings = config.from_environment(
        {"DEBUG": "true", "ALLOW_DEBUG_ON_NETWORK": "true", **network}
    )
    assert (settings["DEBUG"], settings["HOST"]) == (True, "0.0.0.0")
    assert config.from_environment(network)["HOST"] == "0.0.0.0"  # no debug: fine


def test_python_app_py_refuses_to_start_with_debug_on_a_network_address(monkeypatch, tmp_path):
    import app

    monkeypatch.setenv("RATINGS_PATH", str(tmp_path / "none.csv"))  # nothing to train, if it ran
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setattr(app.Flask, "run", lambda *args, **kwargs: pytest.fail("it served"))
    with pytest.raises(SystemExit, match="Configuration error: .*debugger"):
        app.main()


def test_region_comes_from_the_arn():
    assert config.region_of(CAMPAIGN) == "eu-west-1"
    assert config.region_of("") == ""


def test_every_setting_is_documented_in_the_example_file():
    example = (config.PROJECT_DIR / "config.example.env").read_text()
    for name in config.SETTINGS:
        assert f"\n{name}=" in example, name


def test_reading_the_settings_loads_neither_numpy_nor_the_engine():
    code = "import sys, config; print(sorted({'numpy', 'implicit'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=config.PROJECT_DIR,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
