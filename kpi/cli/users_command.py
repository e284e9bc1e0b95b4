"""`kpi users`: the people of a team store, and their roles, agent names and learners.

Team mode adds people as they sign in (the first becomes admin); this command lets whoever runs
the server change what they may do without the dashboard. Imports the store only when run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kpi.store.connection import Store

SUMMARY = "list the people of a team store, or change a role, agent names or supervision"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "users",
        help=SUMMARY,
        description="Without arguments: everyone who has signed in, with their role, their agent "
        "names in the data and whom they supervise. People are added by signing in to the "
        "dashboard in team mode (the first becomes admin).",
    )
    p.add_argument("--db", metavar="PATH|URL", help="the store: a file or a URL (default $KPI_DB)")
    actions = p.add_subparsers(dest="action")
    role = actions.add_parser("role", help="give someone a role: kpi users role WHO ROLE")
    role.add_argument(
        "who", help="their number, email or name as listed (an email is matched to emails only)"
    )
    role.add_argument("role", choices=("learner", "supervisor", "admin"))
    agents = actions.add_parser("agents", help="the agent names in the data that are this person")
    agents.add_argument("who")
    agents.add_argument("names", nargs="+", metavar="NAME")
    supervise = actions.add_parser("supervise", help="kpi users supervise SUPERVISOR LEARNER")
    supervise.add_argument("supervisor")
    supervise.add_argument("learner")
    for action in (role, agents, supervise):  # `kpi users role WHO ROLE --db PATH` too
        action.add_argument("--db", default=argparse.SUPPRESS, help="store file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kpi.store import users
    from kpi.store.connection import open_store

    store = open_store(existing_store(args.db))
    try:
        if args.action == "role":
            person = users.set_role(store, args.who, args.role)
            print(f"{person.name} is now {person.role}.")
        elif args.action == "agents":
            person = users.set_agent_names(store, args.who, args.names)
            print(f"{person.name} is {', '.join(person.agent_names)} in the data.")
        elif args.action == "supervise":
            users.supervise(store, args.supervisor, args.learner)
            print(f"{args.supervisor} now supervises {args.learner}.")
        else:
            _list(store)
    finally:
        store.close()
    return 0


def existing_store(db: str | None) -> str:
    """The store to manage, which must exist: people are added by signing in to a store the
    dashboard serves, so a mistyped path must not quietly create an empty one."""
    from kpi.errors import NotFound, printable
    from kpi.store.location import ENV_VAR, default_location, is_url

    location = db or default_location()
    if is_url(location):
        return location  # a server's store: opening it says when there is none
    path = Path(location).expanduser()
    if not path.exists():
        raise NotFound(
            printable(
                f"there is no store at {path}: give the path of the store the dashboard serves "
                f"with --db PATH (or set ${ENV_VAR})"
            )
        )
    return str(path)


def _list(store: Store) -> None:
    from kpi.errors import printable
    from kpi.store import users

    people = users.all_users(store)
    if not people:
        print("nobody has signed in yet: in team mode the first person to sign in is admin.")
        return
    for person in people:
        learners = ", ".join(u.name for u in users.supervised_by(store, person))
        line = f"{person.user_id:>3}  {person.role:<10} {person.name}"
        if person.email:
            line += f" <{person.email}>"
        if person.agent_names:
            line += f"; in the data: {', '.join(person.agent_names)}"
        if learners:
            line += f"; supervises {learners}"
        print(printable(line))
