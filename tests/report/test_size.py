"""A full-sized pack still makes an e-mail under 1 MB.

Two years of files for a larger council than the sample one: 60 teams with
long names, referrals and closures every month, so every chart and table is
full.  The e-mail as the SMTP server receives it must stay under 1 MB
without its PDF attachment (under 2 MB with it), and its HTML part under
100 KB (Gmail clips at about 102 KB).
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from etl.months import Month, month_range
from etl.report.config import load_pack_config
from etl.report.publish import publish_pack
from etl.warehouse.db import make_engine, upgrade
from tests.mailserver import mail_server, plain_smtp
from tests.report.conftest import make_settings
from tests.report.pack_month import load_file
from tests.warehouse.extracts import closure, referral, vacancy, worker

MONTHS = month_range(Month(2023, 4), 24)
TEAMS = 60
MAX_BYTES = 1_000_000
HTML_LIMIT = 100_000


def _month_files(rng: random.Random, index: int, month: Month) -> dict[str, list[dict[str, Any]]]:
    workforce = []
    for team in range(TEAMS):
        name = f"Team {team:02d} – Children in Need and Child Protection, North-East locality"
        for post in range(4):
            row = worker(
                f"T{team}P{post}",
                agency=post == 3,
                caseload=rng.randint(8, 30),
                month=month,
            )
            workforce.append({**row, "team": name})
        workforce.append(
            {**vacancy(f"T{team}V", covered=rng.random() < 0.5, month=month), "team": name}
        )
    day = month.start
    referrals = [
        referral(
            f"R{index}-{k}",
            f"child {rng.randint(0, 500)}",
            day + timedelta(days=rng.randint(0, 27)),
            nfa=rng.random() < 0.1,
            allocated=rng.random() < 0.9,
        )
        for k in range(40)
    ]
    closures = [
        closure(
            f"C{index}-{k}",
            day - timedelta(days=rng.randint(5, 200)),
            day + timedelta(days=rng.randint(0, 27)),
            reason=f"RC{rng.randint(1, 9)}",
            capacity=rng.random() < 0.3,
        )
        for k in range(30)
    ]
    return {"workforce": workforce, "referrals": referrals, "closures": closures}


def test_a_full_pack_is_an_email_under_one_megabyte(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    upgrade(engine)
    rng = random.Random(6)
    for index, month in enumerate(MONTHS):
        for dataset, rows in _month_files(rng, index, month).items():
            load_file(engine, dataset, month, rows)
    with mail_server() as (inbox, port):
        result = publish_pack(
            engine,
            make_settings(tmp_path),
            "330",
            MONTHS[-1],
            send=True,
            smtp=plain_smtp(port),
            config=load_pack_config(),
        )
    engine.dispose()
    assert result.sent == 2
    sizes = [len(message.data) for message in inbox.messages]
    assert all(size < 2 * MAX_BYTES for size in sizes), sizes
    for received in inbox.messages:
        message = received.message
        # The HTML part alone stays under Gmail's clip (about 102 KB), as sent.
        html_part = message.get_body(preferencelist=("html",))
        assert html_part is not None
        assert len(html_part.as_bytes()) < HTML_LIMIT
        pdf = next(part for part in message.iter_attachments() if part.get_filename())
        assert pdf.get_content_type() == "application/pdf"
        message.get_payload().remove(pdf)
        assert len(message.as_bytes()) < MAX_BYTES
    html = Path(result.html).read_text(encoding="utf-8")
    assert html.count("Team ") >= TEAMS  # every team is in it
