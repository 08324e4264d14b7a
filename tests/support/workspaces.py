"""Small workspaces written file by file, then ingested and reviewed without Prefect."""

from __future__ import annotations

import datetime as dt

from ballast import review
from ballast.ingest import inbox
from ballast.portfolio import policy_set
from ballast.warehouse import db
from ballast.workspace import Workspace

POSITIONS_HEADER = "as_of_date,account_id,security_id,quantity,price,market_value,currency\n"
FLOWS_HEADER = "account_id,effective_date,amount,currency,description\n"


def review_files(
    ws: Workspace,
    classes: dict[str, str],
    ips: dict[str, str],
    files: dict[str, str],
    as_of: dt.date = dt.date(2026, 9, 30),
) -> review.Computed:
    """Write a security master (security → asset class, each its own symbol and name), the IPS
    files (portfolio → YAML) and inbox files (name → text); ingest them and review ``as_of``."""
    ws.securities.write_text(
        "security_id,symbol,name,asset_class,identical_group\n"
        + "".join(f"{s},{s},{s},{c},\n" for s, c in classes.items())
    )
    for pid, text in ips.items():
        (ws.ips / f"{pid}.yaml").write_text(text)
    for name, text in files.items():
        (ws.inbox / name).write_text(text)
    with db.connect(ws.warehouse) as con:
        inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
        return review.review(con, policy_set.load_policies(ws), as_of)
