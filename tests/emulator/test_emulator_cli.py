"""``python -m airflow_provider_evolink.emulator``: flags mirror the constructor; it serves until SIGTERM."""

from __future__ import annotations

import inspect
import signal
import subprocess
import sys

import httpx

from airflow_provider_evolink.emulator import EvoLinkEmulator
from airflow_provider_evolink.emulator.__main__ import _parser


def test_every_constructor_argument_has_a_kebab_case_flag() -> None:
    flags = {option for action in _parser()._actions for option in action.option_strings if option.startswith("--")}
    flags -= {"--no-fetch-inputs"}  # the negation of --fetch-inputs
    arguments = {f"--{name.replace('_', '-')}" for name in inspect.signature(EvoLinkEmulator).parameters}
    assert flags - {"--help"} == arguments


def test_cli_prints_the_base_url_serves_and_stops_on_sigterm() -> None:
    command = [sys.executable, "-m", "airflow_provider_evolink.emulator", "--port", "0", "--api-key", "sk-cli"]
    command += ["--processing-seconds", "0", "--rate-429", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("EvoLink emulator listening on http://127.0.0.1:")
            base_url = line.split(" on ")[1].strip()

            response = httpx.get(f"{base_url}/v1/credits", headers={"Authorization": "Bearer sk-cli"}, timeout=10)
            assert response.status_code == 200
            assert response.json()["success"] is True

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_input_fetching_is_on_by_default_and_no_fetch_inputs_turns_it_off() -> None:
    assert _parser().parse_args([]).fetch_inputs is True
    assert _parser().parse_args(["--no-fetch-inputs"]).fetch_inputs is False
