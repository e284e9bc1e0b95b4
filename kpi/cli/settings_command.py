"""`kpi settings`: every setting with its value, default, allowed values and meaning; and
`kpi settings set KEY VALUE` to change one, checked before it is saved.

The same settings the dashboard's Settings page edits, kept in the store, so a scripted user is
never sent to a page. `kpi report --set KEY=VALUE` changes one for a single report instead.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kpi.errors import printable
from kpi.metrics.settings import Settings, load_settings, save_settings
from kpi.metrics.settings_form import SettingKey, setting_key, setting_keys
from kpi.store.connection import default_path, open_store
from kpi.store.location import default_location, is_url, shown

#: Marks a setting whose value differs from its default.
CHANGED = "*"


def register(subparsers: argparse._SubParsersAction, summary: str) -> None:
    """The command's parser; ``summary`` is its one line in `kpi --help`."""
    p = subparsers.add_parser(
        "settings",
        help=summary,
        description="Without arguments: every setting with its current value, its default, "
        "what it accepts and what it means. `set KEY VALUE` changes one in the store.",
    )
    p.add_argument(
        "--db", metavar="PATH|URL", help=f"the store: a file or a URL (default {default_path()})"
    )
    actions = p.add_subparsers(dest="action")
    change = actions.add_parser("set", help="change one setting, e.g. set sla_variant source_flag")
    change.add_argument("key", metavar="KEY", help="a key `kpi settings` lists")
    change.add_argument("value", metavar="VALUE", help="its new value")
    # Also after the key and value; SUPPRESS keeps an absent one from hiding `settings --db`.
    change.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="the store")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = args.db or default_location()
    if args.action == "set":
        return _set(path, args.key, args.value)
    settings = _stored(path)
    if settings is None:
        _say(f"no store at {shown(path)} yet: these are the defaults.")
        settings = Settings()
    for line in listing(settings):
        _say(line)
    return 0


def _say(text: str) -> None:
    print(printable(text), flush=True)


def _stored(path: str) -> Settings | None:
    """The store's settings; None when there is no store yet (listing never creates one)."""
    if path != ":memory:" and not is_url(path) and not Path(path).exists():
        return None
    store = open_store(path)
    try:
        return load_settings(store)
    finally:
        store.close()


def _set(path: str, key: str, value: str) -> int:
    """Check first (InvalidChoice names the allowed values), then save: a mistake changes
    nothing in the store."""
    store = open_store(path)
    try:
        current = load_settings(store)
        setting = setting_key(key, current)
        chosen = setting.set(current, value)
        save_settings(store, chosen)
    finally:
        store.close()
    _say(
        f"{setting.key} = {setting.value(chosen)} (was {setting.value(current)}); saved in {shown(path)}"
    )
    return 0


def listing(settings: Settings) -> list[str]:
    """One block per setting: "KEY = VALUE (default D)", what it means, what it accepts; a
    changed value is marked with a star."""
    lines = [
        f"KPI settings ({CHANGED} = changed from the default). "
        "Change one with: kpi settings set KEY VALUE",
    ]
    for setting in setting_keys(settings).values():
        lines += ["", *_block(setting, settings)]
    return lines


def _block(setting: SettingKey, settings: Settings) -> list[str]:
    value, default = setting.value(settings), setting.default()
    mark = f" {CHANGED}" if value != default else ""
    return [
        f"{setting.key} = {value}{mark}   (default {default})",
        f"    {setting.description}",
        f"    allowed: {setting.allowed}",
    ]
