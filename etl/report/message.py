"""The pack as an e-mail: text and HTML alternatives, charts as inline CID images.

Structure (what Outlook, Gmail and Apple Mail all show as one message with
pictures in place, and screen readers or text-only clients as plain text),
with the archived PDF copy attached for board papers::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain             the pack in words
    │   └── multipart/related
    │       ├── text/html          inline styles, <img src="cid:...">
    │       └── image/png × charts Content-ID, Content-Disposition: inline
    └── application/pdf            the archived pack as A4, an attachment

No script, no remote image, no SVG: clients block or drop them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from etl.report.config import Audience
from etl.report.render import render_html, render_text
from etl.report.view import View


def subject(view: View, *, correction: bool) -> str:
    text = f"Children's social care monthly pack: {view.council}, {view.month_name}"
    return f"Correction: {text}" if correction else text


def build_message(
    view: View,
    charts: Mapping[str, bytes],
    *,
    audience: Audience,
    sender: str,
    correction: str | None = None,
    pdf: bytes | None = None,
) -> EmailMessage:
    """One audience's e-mail of the pack.

    ``correction``: the date the pack it replaces was sent; the subject
    starts "Correction:" and a note heads the pack.  ``pdf``: the audience's
    archived PDF copy, attached as :func:`pdf_name`.
    """
    domain = sender.rpartition("@")[2] or "csc-pipeline.invalid"
    # Short, unique Content-IDs: a long one gets its header folded, which
    # some clients do not unfold before matching it to the cid: reference.
    run = secrets.token_hex(6)
    content_ids = {key: f"<{key}.{run}@{domain}>" for key in charts}
    # In the HTML a CID is referenced without its angle brackets (RFC 2392).
    sources = {key: "cid:" + cid.strip("<>") for key, cid in content_ids.items()}

    message = EmailMessage()
    message["Subject"] = subject(view, correction=correction is not None)
    message["From"] = sender
    message["To"] = ", ".join(audience.recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid("csc-pack", domain=domain)
    # RFC 3834: an automatic message; out-of-office replies should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_text(view, correction=correction))
    message.add_alternative(render_html(view, sources, correction=correction), subtype="html")
    # add_alternative made the message multipart/alternative: [text, html].
    html_part = list(message.iter_parts())[1]
    assert isinstance(html_part, EmailMessage)
    for key, png in charts.items():
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=content_ids[key],
            disposition="inline",
            filename=f"{key}.png",
        )
    if pdf is not None:
        # Makes the message multipart/mixed: [the alternatives, the PDF].
        message.add_attachment(
            pdf, maintype="application", subtype="pdf", filename=pdf_name(view, audience)
        )
    return message


def pdf_name(view: View, audience: Audience) -> str:
    """The attachment's file name, telling one board paper from another."""
    return f"csc-pack-{view.la_code}-{view.month}-{audience.name}.pdf"
