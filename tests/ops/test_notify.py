"""End-of-run notifications: the summary, the log line, a webhook on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from ballast.ops import notify

RESULT = {
    "run_id": "r1",
    "kind": "quarterly_review",
    "as_of": "2026-09-30",
    "status": "completed_with_errors",
    "portfolios": 5,
    "breached": 3,
    "trades": 9,
    "invalid": ["lakeside-pension"],
    "ingest": {"quarantined": [{"file": "b.csv"}]},
    "report_dir": "/x",
}


def test_summary_and_line() -> None:
    s = notify.summary(RESULT)
    assert s["portfolios_reviewed"] == 5 and s["breaches"] == 3
    assert s["data_problems"] == {
        "invalid_portfolios": ["lakeside-pension"],
        "quarantined_files": ["b.csv"],
    }
    assert "5 portfolios reviewed, 3 breached, 1 with invalid data, 1 files quarantined" in (
        notify.line(s)
    )


def test_webhook_posted(tmp_path: Path) -> None:
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        (tmp_path / "ballast.yaml").write_text(f"notify:\n  webhook_url: {url}\n")
        out = notify.send(tmp_path, RESULT)
    finally:
        server.shutdown()
    assert out["webhook"] is True
    assert got[0]["run_id"] == "r1" and got[0]["breaches"] == 3


def test_webhook_failure_is_logged_not_raised(tmp_path: Path, caplog) -> None:
    (tmp_path / "ballast.yaml").write_text(
        "notify:\n  webhook_url: http://127.0.0.1:9/nothing\n  timeout_seconds: 1\n"
    )
    assert notify.send(tmp_path, RESULT)["webhook"] is False
    assert "webhook" in caplog.text


def test_no_webhook_by_default(tmp_path: Path, caplog) -> None:
    caplog.set_level("INFO")
    assert notify.send(tmp_path, RESULT)["webhook"] is None
    assert "run r1 completed_with_errors" in caplog.text
