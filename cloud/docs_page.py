"""A browsable page of the OpenAPI document at /docs: self-contained HTML, no CDN."""

from __future__ import annotations

import json
from functools import cache
from html import escape
from typing import Any

from flask import Blueprint, Response

from cloud.caching import public, with_cache
from cloud.openapi import build_spec

bp = Blueprint("docs_page", __name__)

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;
color:#1d2a33}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ccd;margin-top:2rem;text-transform:capitalize}
details{border:1px solid #dde;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer}code,pre{font:13px ui-monospace,monospace}
pre{background:#f4f6f8;padding:.5rem;overflow:auto}
.m{display:inline-block;width:3.6rem;font-weight:700;text-transform:uppercase}
.get{color:#1565c0}.post{color:#2e7d32}.put{color:#ef6c00}.delete{color:#c62828}
.auth{color:#6a1b9a;font-size:.85em;margin-left:.5rem}table{border-collapse:collapse}
td,th{border:1px solid #dde;padding:.2rem .5rem;text-align:left;vertical-align:top}
"""


def _auth(op: dict[str, Any]) -> str:
    security = op.get("security")
    if security == []:
        return "open"
    names = sorted({name for item in security or [] for name in item})
    return " or ".join("customer token" if n == "customerToken" else "API key" for n in names)


def _params(op: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
        f"<td><code>{escape(json.dumps(p['schema']))}</code></td>"
        f"<td>{escape(p.get('description', ''))}</td></tr>" for p in op.get("parameters", []))
    return (f"<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>{rows}"
            "</table>") if rows else ""


def _request(op: dict[str, Any]) -> str:
    content = op.get("requestBody", {}).get("content", {})
    return "".join(f"<p>body <code>{escape(ctype)}</code></p>"
                   f"<pre>{escape(json.dumps(c['schema'], indent=1))}</pre>"
                   for ctype, c in content.items())


def _responses(op: dict[str, Any]) -> str:
    return "<p>" + ", ".join(f"<b>{escape(code)}</b> {escape(r['description'])}"
                             for code, r in op["responses"].items()) + "</p>"


@cache
def render() -> str:
    spec = build_spec()
    by_tag: dict[str, list[str]] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            html = (f"<details><summary><span class='m {method}'>{method}</span>"
                    f"<code>{escape(path)}</code> — {escape(op['summary'])}"
                    f"<span class='auth'>{escape(_auth(op))}</span></summary>"
                    f"<p>{escape(op.get('description', ''))}</p>{_params(op)}{_request(op)}"
                    f"{_responses(op)}</details>")
            by_tag.setdefault(op["tags"][0], []).append(html)
    sections = "".join(f"<h2>{escape(tag)}</h2>{''.join(ops)}" for tag, ops in by_tag.items())
    info = spec["info"]
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(info['title'])}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{escape(info['title'])} <small>{escape(info['version'])}</small></h1>"
            f"<p>{escape(info['description'])}</p><p>Machine-readable: "
            f"<a href='/openapi.json'>/openapi.json</a> (OpenAPI {spec['openapi']}).</p>"
            f"{sections}</body></html>")


@bp.get("/docs")
def docs() -> Response:
    return with_cache(Response(render(), mimetype="text/html"), public(3600))
