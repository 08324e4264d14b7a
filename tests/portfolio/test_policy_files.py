"""What ``ips/`` holds (issue #11 item 1): hidden files are not IPS files (``...yaml`` is never
portfolio ``..``), an IPS is read only from a regular file, its name must be a portfolio id, and
identifiers and names in it follow the identifier rules; every refusal is one printable line."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ballast.errors import BallastError
from ballast.kinds import ID_MAX_LENGTH
from ballast.portfolio.policy_set import PolicySet, label, load_policies
from ballast.workspace import Workspace

IPS = """\
id: {pid}
name: {name}
accounts:
  - {{id: "{account}", tax_status: taxable}}
asset_classes:
  equity: {{target: 60%}}
  bonds:  {{target: 40%}}
"""


def ips(pid: str, name: str = "Fund", account: str = "A1") -> str:
    return IPS.format(pid=pid, name=name, account=account)


def write(ws: Workspace, file_name: str, text: str) -> Path:
    path = ws.ips / file_name
    path.write_text(text, encoding="utf-8")
    return path


def loaded(ws: Workspace) -> PolicySet:
    return load_policies(Workspace(ws.root))


@pytest.mark.parametrize("hidden", ["...yaml", "..yaml", ".x.yaml", ".yaml", ".seed.yml"])
def test_hidden_files_are_not_ips_files(empty_ws: Workspace, hidden: str) -> None:
    """``ips/...yaml`` (id ``..``) was once reviewed as portfolio ``..``: now it is not read."""
    stem = hidden.rsplit(".", 1)[0]
    write(empty_ws, hidden, ips(stem))
    write(empty_ws, "fund.yaml", ips("fund"))
    pset = loaded(empty_ws)
    assert [p.id for p in pset.policies] == ["fund"]
    assert pset.errors == {}


def test_only_cannot_name_a_hidden_file(empty_ws: Workspace) -> None:
    write(empty_ws, "...yaml", ips(".."))
    with pytest.raises(BallastError, match=r"no IPS for portfolio\(s\) \.\.$"):
        load_policies(Workspace(empty_ws.root), only=[".."])


def test_link_to_an_ips_elsewhere_is_refused(empty_ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "linked.yaml"
    outside.write_text(ips("linked"), encoding="utf-8")
    (empty_ws.ips / "linked.yaml").symlink_to(outside)
    pset = loaded(empty_ws)
    assert pset.policies == [] and "linked" not in pset.hashes
    assert pset.errors == {
        "linked": f"ips/linked.yaml: a symbolic link (to {str(outside)!r}), not a regular file: "
        "not read"
    }


def test_fifo_named_like_an_ips_does_not_block(empty_ws: Workspace) -> None:
    fifo = empty_ws.ips / "pipe.yaml"
    os.mkfifo(fifo)
    write(empty_ws, "fund.yaml", ips("fund"))
    found: list[PolicySet] = []
    thread = threading.Thread(target=lambda: found.append(loaded(empty_ws)), daemon=True)
    thread.start()
    thread.join(300)  # a generous bound for a busy host, not a measure of speed
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # free it, then fail
        pytest.fail("loading the IPS files blocked on a FIFO")
    (pset,) = found
    assert [p.id for p in pset.policies] == ["fund"]
    assert pset.errors == {
        "pipe": "ips/pipe.yaml: a named pipe (FIFO), not a regular file: not read"
    }


@pytest.mark.parametrize(
    ("file_name", "problem"),
    [
        (
            "a b.yaml",
            "contains U+0020 SPACE; a portfolio id holds only A-Z, a-z, 0-9, '.', '_', '-'",
        ),
        (
            "evil\u202ecod.yaml",
            "contains U+202E RIGHT-TO-LEFT OVERRIDE; a portfolio id holds only A-Z, a-z, 0-9, "
            "'.', '_', '-'",
        ),
        (
            "two\nlines.yaml",
            "contains U+000A (a control character); a portfolio id holds only A-Z, a-z, 0-9, "
            "'.', '_', '-'",
        ),
        ("-dash.yaml", "must begin with a letter or a digit"),
        ("p" * (ID_MAX_LENGTH + 1) + ".yaml", "is 65 characters long, more than 64"),
    ],
)
def test_file_name_must_be_a_portfolio_id(
    empty_ws: Workspace, file_name: str, problem: str
) -> None:
    """A file whose name is no portfolio id is refused under a label (never a portfolio id),
    with one printable line."""
    stem = file_name.removesuffix(".yaml")
    write(empty_ws, file_name, ips(stem))
    pset = loaded(empty_ws)
    assert pset.policies == []
    ((key, reason),) = pset.errors.items()
    assert key == label(stem) and "~" in key and key.isprintable()
    assert reason.isprintable()
    assert reason.endswith(problem)
    assert reason.startswith("ips/") and ": the file name is not a portfolio id: " in reason


def test_longest_portfolio_id_loads(empty_ws: Workspace) -> None:
    pid = "p" * ID_MAX_LENGTH
    write(empty_ws, f"{pid}.yaml", ips(pid))
    assert [p.id for p in loaded(empty_ws).policies] == [pid]


@pytest.mark.parametrize(
    ("field", "text", "problem"),
    [
        (
            "accounts.0.id",
            ips("fund", account="A\u202e1"),
            "'A\\u202e1' contains U+202E RIGHT-TO-LEFT OVERRIDE, which an identifier may not hold",
        ),
        (
            "accounts.0.id",
            ips("fund", account="A" * 65),
            "is 65 characters long, more than 64",
        ),
        (
            "name",
            ips("fund", name='"Fund\\nApproved"'),
            "'Fund\\nApproved' contains U+000A (a control character), which text may not hold",
        ),
    ],
)
def test_identifiers_and_names_in_an_ips(
    empty_ws: Workspace, field: str, text: str, problem: str
) -> None:
    write(empty_ws, "fund.yaml", text)
    pset = loaded(empty_ws)
    assert pset.policies == []
    reason = pset.errors["fund"]
    assert reason.isprintable()
    assert reason.startswith(f"ips/fund.yaml: field {field}: ")
    assert reason.endswith(problem)


def test_refused_files_do_not_stop_the_others(empty_ws: Workspace, tmp_path: Path) -> None:
    """Links, folders, FIFOs, odd names and hidden files beside a good IPS: it alone loads, each
    of the others is one error (hidden ones are not there at all)."""
    write(empty_ws, "fund.yaml", ips("fund"))
    write(empty_ws, "...yaml", ips(".."))
    (empty_ws.ips / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (empty_ws.ips / "dir.yml").mkdir()
    write(empty_ws, "bad name.yaml", ips("bad name"))
    write(empty_ws, "notes.txt", "not an IPS")
    pset = loaded(empty_ws)
    assert [p.id for p in pset.policies] == ["fund"]
    assert sorted(pset.errors) == sorted(["gone", "dir", label("bad name")])
    assert all(reason.isprintable() for reason in pset.errors.values())
