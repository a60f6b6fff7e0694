"""The technician's tool as technicians run it: the real console script in subprocesses, against simulators."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "servicehall"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "kiosk.cli"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def cli(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=ENV,
                          check=False)


@contextmanager
def simulator(*args: str) -> Iterator[str]:
    """``servicehall devices simulate …`` in the background; yields the URL it printed, stops it with SIGTERM."""
    proc = subprocess.Popen([*COMMAND, "devices", "simulate", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
    out_pipe, err_pipe = proc.stdout, proc.stderr
    assert out_pipe is not None and err_pipe is not None  # both piped
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(out_pipe.readline()), daemon=True)
    reader.start()
    reader.join(timeout=20)
    try:
        assert first and "://" in first[0], f"simulator printed no URL: {err_pipe.read() if proc.poll() else ''}"
        yield first[0].strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, err
    assert "simulator stopped" in err


@pytest.mark.parametrize("where", [("--port", "0"), ("--pty",)])
def test_probe_a_standalone_simulator(where):
    with simulator("ticket_printer", *where) as url:
        assert url.startswith("escpos+tcp://127.0.0.1:" if where[0] == "--port" else "escpos+serial:///")
        done = cli("devices", "probe", "--url", url, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["kind"], report["state"], report["paper"], report["url"]) == ("ticket_printer", "ready", "ok", url)
    assert report["reason"] and report["name"]


def test_paper_out_printer_exits_1_with_words():
    with simulator("ticket_printer", "--port", "0", "--fault", "paper_out") as url:
        done = cli("devices", "probe", "--url", url)
        test = cli("devices", "print-test", "--url", url)
    assert done.returncode == 1
    assert "paper out; load a new roll" in done.stdout and "fault" in done.stdout
    assert test.returncode == 1 and "NOT printed" in test.stdout and "paper out" in test.stdout


def test_sim_url_probe_and_print_test():
    done = cli("devices", "probe", "--url", "sim+escpos+serial://?fault=paper_near_end", "--json")
    assert done.returncode == 1  # near end is degraded, not ready
    assert json.loads(done.stdout)["paper"] == "near_end"
    test = cli("devices", "print-test", "--url", "sim+escpos+tcp://", "--json")
    assert test.returncode == 0, test.stdout
    report = json.loads(test.stdout)
    assert report["printed"] and report["bytes_sent"] > 0
    assert report["before"]["state"] == report["after"]["state"] == "ready"


def test_simulated_tickets_are_saved_as_png(tmp_path):
    with simulator("ticket_printer", "--port", "0", "--png-dir", str(tmp_path)) as url:
        assert cli("devices", "print-test", "--url", url).returncode == 0
    [png] = tmp_path.glob("*.png")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_unknown_scheme_and_bad_syntax_are_explained():
    done = cli("devices", "probe", "--url", "lpt://printer")
    assert done.returncode == 1
    assert "'lpt://printer'" in done.stdout and "unknown scheme" in done.stdout and "escpos+tcp" in done.stdout
    bad = cli("devices", "probe", "--url", "escpos+tcp://printer:x", "--json")
    assert bad.returncode == 1
    assert "escpos+tcp://HOST[:PORT]" in json.loads(bad.stdout)["reason"]


def test_a_dead_printer_is_reported_not_waited_for():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = cli("devices", "probe", "--url", f"escpos+tcp://127.0.0.1:{port}", "--timeout", "3", "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["state"] == "disconnected" and "cannot connect" in report["reason"]
    assert report["paper"] == "unknown"


def test_probe_every_device_of_a_node(tmp_path):
    sample = (ROOT / "config" / "samples" / "township_hall.toml").read_text(encoding="utf-8")
    done = cli("devices", "probe", "--config", str(ROOT / "config/samples/township_hall.toml"),
               "--node", "kiosk-1", "--json")
    assert "kiosk-1" in sample
    assert done.returncode == 0, done.stdout
    kinds = {r["kind"]: r for r in json.loads(done.stdout)}
    assert {"idcard", "ticket_printer"} <= set(kinds) and all(r["state"] == "ready" for r in kinds.values())
    missing = cli("devices", "probe", "--config", str(ROOT / "config/samples/township_hall.toml"),
                  "--node", "nope")
    assert missing.returncode == 1 and "kiosk-1" in missing.stdout


def test_read_card_is_masked_unless_asked():
    masked = cli("devices", "read-card", "--url", "sim+sam+serial://", "--json")
    clear = cli("devices", "read-card", "--url", "sim+sam+serial://", "--json", "--show-personal")
    assert masked.returncode == 0 and clear.returncode == 0
    shown, full = json.loads(masked.stdout), json.loads(clear.stdout)
    assert shown["masked"] and not full["masked"]
    assert "*" in shown["id_number"] and "*" in shown["name"]
    assert len(full["id_number"]) == 18 and "*" not in full["id_number"]
    assert full["id_number"] not in masked.stdout + masked.stderr
    assert full["name"] not in masked.stdout + masked.stderr


def test_read_card_failure_says_why():
    done = cli("devices", "read-card", "--url", "sim+sam+serial://?fault=no_card", "--timeout", "1")
    assert done.returncode == 1 and "no card" in done.stdout


def test_check_config_says_what_it_found_in_words():
    done = cli("check-config", "config/samples/county_hall.toml")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("config/samples/county_hall.toml: ok — 清河县政务服务中心")
    assert "12 departments, 25 services, 32 windows" in line and "Asia/Shanghai" in line
    assert "{" not in line and "'" not in line  # words, not a Python dict
    bad = cli("check-config", "no/such/hall.toml")
    assert bad.returncode == 1 and "cannot read the file" in bad.stderr


# ---- wording: each fact once, no internals, one name per device, times in the hall's zone ----------------
TOWNSHIP = str(ROOT / "config" / "samples" / "township_hall.toml")


def _dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_probe_line_says_each_fact_once():
    done = cli("devices", "probe", "--url", "sim+escpos+tcp://")
    line = done.stdout.strip()
    assert done.returncode == 0, line
    assert "ready — ready" not in line and line.count("ready") == 1, line
    assert line.count("paper ok") == 1 and "online online" not in line, line
    assert "(ticket_printer, " not in line, line  # the device's name is its kind: said once


def test_paper_out_is_not_shown_as_online_offline():
    done = cli("devices", "probe", "--url", "sim+escpos+tcp://?fault=paper_out")
    assert done.returncode == 1
    assert "online offline" not in done.stdout and done.stdout.count("paper out") == 1, done.stdout


def test_one_shot_commands_do_not_promise_a_retry():
    url = f"escpos+tcp://127.0.0.1:{_dead_port()}"
    for args in (("print-test", "--url", url), ("read-card", "--url", f"sam+tcp://127.0.0.1:{_dead_port()}",
                                                "--timeout", "2"), ("probe", "--url", url, "--timeout", "3")):
        done = cli("devices", *args)
        assert done.returncode == 1
        assert "retrying in" not in done.stdout and "cannot connect" in done.stdout, done.stdout


def test_a_device_is_called_by_one_name_everywhere():
    test = cli("devices", "print-test", "--url", "sim+escpos+tcp://?fault=paper_out")
    assert test.returncode == 1
    assert "'ticket'" not in test.stdout and "ticket_printer 'ticket_printer'" not in test.stdout, test.stdout
    assert "ticket_printer on sim+escpos+tcp://" in test.stdout, test.stdout
    card = cli("devices", "read-card", "--url", f"sam+tcp://127.0.0.1:{_dead_port()}", "--timeout", "2")
    assert "idcard 'idcard'" not in card.stdout and "idcard on sam+tcp://" in card.stdout, card.stdout


def _printed_at(stdout: str) -> str:
    import re

    found = re.search(r"printed at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \(([^)]*)\)", stdout)
    assert found, stdout
    return f"{found.group(1)}|{found.group(2)}"


def test_printed_times_are_in_the_halls_zone_or_say_the_zone():
    import datetime as dt
    import zoneinfo

    done = cli("devices", "print-test", "--url", "sim+escpos+tcp://", "--config", TOWNSHIP)
    assert done.returncode == 0, done.stdout + done.stderr
    when, zone = _printed_at(done.stdout).split("|")
    assert zone == "Asia/Shanghai"
    printed = dt.datetime.strptime(when, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert abs((dt.datetime.now(dt.UTC) - printed).total_seconds()) < 600
    bare = cli("devices", "print-test", "--url", "sim+escpos+tcp://")
    assert bare.returncode == 0
    assert "this machine's time zone" in _printed_at(bare.stdout) and "--config" in bare.stdout, bare.stdout


def test_read_card_says_when_a_card_has_expired():
    expired = cli("devices", "read-card", "--url", "sim+sam+serial://?deck=expired", "--config", TOWNSHIP)
    assert expired.returncode == 0, expired.stdout + expired.stderr
    assert "EXPIRED on 2019-01-01" in expired.stdout, expired.stdout
    report = json.loads(cli("devices", "read-card", "--url", "sim+sam+serial://?deck=expired", "--json").stdout)
    assert report["expired"] is True and report["valid_to"] == "2019-01-01"
    lasting = cli("devices", "read-card", "--url", "sim+sam+serial://?deck=elderly")
    assert "expired" not in lasting.stdout.lower() and "valid: long-term" in lasting.stdout, lasting.stdout


def test_read_card_reads_a_social_security_card_masked_like_an_id_card():
    masked = cli("devices", "read-card", "--url", "sim+pcsc://", "--json", timeout=60)
    clear = cli("devices", "read-card", "--url", "sim+pcsc://", "--json", "--show-personal", timeout=60)
    assert masked.returncode == 0 and clear.returncode == 0, masked.stdout + masked.stderr + clear.stdout
    shown, full = json.loads(masked.stdout), json.loads(clear.stdout)
    assert shown["kind"] == "social_security" and shown["masked"] and not full["masked"]
    assert len(full["id_number"]) == 18 and "*" not in full["id_number"]
    assert shown["id_number"] == full["id_number"][:4] + "*" * 10 + full["id_number"][-4:]  # as an ID card's
    assert shown["name"] == full["name"][0] + "*" * (len(full["name"]) - 1)
    assert shown["birth_date"] == full["birth_date"][:4]
    for secret in (full["id_number"], full["name"], full["card_number"]):
        assert secret not in masked.stdout + masked.stderr
    words = cli("devices", "read-card", "--url", "sim+pcsc://", timeout=60)
    assert words.returncode == 0 and "social-security card" in words.stdout and full["name"] not in words.stdout


def test_print_test_on_the_a4_printer_reports_the_job():
    done = cli("devices", "print-test", "--url", "sim+cups://", "--json", timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["printed"] and report["job_state"] == "completed" and report["job_id"] >= 1
    words = cli("devices", "print-test", "--url", "sim+cups://?fault=paper_out", timeout=90)
    assert words.returncode == 1 and "NOT printed" in words.stdout and "paper out" in words.stdout, words.stdout


async def test_the_a4_test_page_reaches_the_printer_with_its_chinese_text():
    import asyncio

    from devices.certificate.simulator import CupsSimulator
    from devices.print_check import GLYPH_CHECK

    cups = CupsSimulator(queue="CERT")
    await cups.start()
    try:
        done = await asyncio.to_thread(cli, "devices", "print-test", "--url", cups.url, "--config", TOWNSHIP,
                                       timeout=90)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "completed" in done.stdout and "(Asia/Shanghai)" in done.stdout
        (pdf,) = cups.spool
        text = (await asyncio.to_thread(subprocess.run, ["pdftotext", "-", "-"], input=pdf, capture_output=True,
                                        check=True, timeout=60)).stdout.decode()
        assert "打印机自检" in text and GLYPH_CHECK.split()[0] in text and "Asia/Shanghai" in text
    finally:
        await cups.stop()
