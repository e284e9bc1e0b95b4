"""Team mode's people: who they are (as their identity provider says), what they may do, and
which agent names in the data are them.

A person is known by the issuer and subject of their sign-in (OpenID Connect), never by a name
they could type. Roles: a ``learner`` sees the team's KPIs, their own figures and their own
reflections; a ``supervisor`` also sees and signs off the reflections of the learners they
supervise; an ``admin`` also imports, undoes, changes settings and manages people. The first
person to sign in to a store with nobody in it becomes its admin; everyone after starts as a
learner until an admin says otherwise (on the Settings page or with ``kpi users``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from kpi.errors import InvalidChoice
from kpi.store import audit
from kpi.store.batches import importer_name
from kpi.store.connection import Store

ROLES = ("learner", "supervisor", "admin")
#: What each role may do beyond seeing the team's KPIs.
MAY = {
    "learner": frozenset({"reflect"}),
    "supervisor": frozenset({"reflect", "review"}),
    "admin": frozenset({"reflect", "review", "import", "settings", "people"}),
}


@dataclass(frozen=True)
class User:
    user_id: int
    issuer: str
    subject: str
    email: str | None
    name: str
    role: str
    agent_names: tuple[str, ...] = ()
    standard: str | None = None
    level: str | None = None

    @property
    def identity(self) -> str:
        """Who signed in, as the identity provider says: ``issuer|subject`` (never a name)."""
        return f"{self.issuer}|{self.subject}"

    def may(self, action: str) -> bool:
        """Whether this person's role allows ``action`` (a key of ``MAY``'s sets)."""
        return action in MAY[self.role]


_COLUMNS = "user_id, issuer, subject, email, name, role, agent_names, standard, level"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _user(row: Sequence) -> User:
    user_id, issuer, subject, email, name, role, agents, standard, level = row
    return User(
        int(user_id), issuer, subject, email, name, role, tuple(agents or ()), standard, level
    )


def sign_in(store: Store, issuer: str, subject: str, email: str | None, name: str | None) -> User:
    """The person with this identity, added on their first sign-in (the store's first person
    becomes its admin, anyone later a learner); their email and name are refreshed each time."""
    if not issuer or not subject:
        raise InvalidChoice("a sign-in needs the identity provider's issuer and subject")
    shown = (name or email or subject).strip()
    with store.transaction() as cur:
        found = cur.execute(
            "SELECT user_id FROM users WHERE issuer = ? AND subject = ?", [issuer, subject]
        ).fetchall()
        shown = _unique_name(cur, shown, found[0][0] if found else None, email or subject)
        if found:
            cur.execute(
                "UPDATE users SET email = ?, name = ?, agent_names = ?, last_seen_at = ? "
                "WHERE user_id = ?",
                [email, shown, _keeping_old_name(cur, found[0][0], shown), _now(), found[0][0]],
            )
        else:
            user_id, anyone = cur.execute(
                "SELECT coalesce(max(user_id), 0) + 1, count(*) FROM users"
            ).fetchall()[0]
            role = "learner" if anyone else "admin"
            cur.execute(
                f"INSERT INTO users ({_COLUMNS}, created_at, last_seen_at) "
                "VALUES (?, ?, ?, ?, ?, ?, [], NULL, NULL, ?, ?)",
                [user_id, issuer, subject, email, shown, role, _now(), _now()],
            )
    return user_by_identity(store, issuer, subject)


def _keeping_old_name(cur: duckdb.DuckDBPyConnection, user_id: int, shown: str) -> list[str]:
    """This person's names in the data, with the display name they had until now when it
    changes (a new surname): their reflections went by it, so it stays theirs, and nobody who
    signs in later with it is taken for them (``_unique_name``)."""
    old, agents = cur.execute(
        "SELECT name, agent_names FROM users WHERE user_id = ?", [user_id]
    ).fetchall()[0]
    names = list(agents or ())
    if _key(old) != _key(shown) and all(_key(old) != _key(n) for n in names):
        names.append(old)
    return names


def _unique_name(
    cur: duckdb.DuckDBPyConnection, shown: str, user_id: int | None, account: str
) -> str:
    """The display name to keep: the provider's, unless it names someone else already (their
    name or one of their agent names, ignoring case and spacing). Reflections and supervision
    go by names, so a second "Sam Lee" would otherwise be taken for the first; theirs gets
    their account added, "Sam Lee (sam.lee2@example.org)"."""
    others = cur.execute(
        "SELECT name, agent_names FROM users WHERE user_id IS DISTINCT FROM ?", [user_id]
    ).fetchall()
    taken = {_key(n) for name, agents in others for n in (name, *(agents or ()))}
    if _key(shown) not in taken:
        return shown
    return f"{shown} ({account})"


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def user_by_identity(store: Store, issuer: str, subject: str) -> User:
    rows = (
        store.cursor()
        .execute(
            f"SELECT {_COLUMNS} FROM users WHERE issuer = ? AND subject = ?", [issuer, subject]
        )
        .fetchall()
    )
    if not rows:
        raise InvalidChoice(f"nobody has signed in as {subject!r} of {issuer!r}")
    return _user(rows[0])


def all_users(store: Store) -> list[User]:
    rows = store.cursor().execute(f"SELECT {_COLUMNS} FROM users ORDER BY user_id").fetchall()
    return [_user(r) for r in rows]


def find(store: Store, who: str) -> User:
    """One person by their number, email or name (as ``kpi users`` lists them).

    Each is looked up on its own: text with an ``@`` is an email and is matched against emails
    only, anything else against display names only, so one person's name never picks out
    another's email. More than one match is refused, naming each with their number."""
    who = who.strip()
    people = all_users(store)
    if who.isdigit():
        matches = [u for u in people if u.user_id == int(who)]
    elif "@" in who:
        matches = [u for u in people if (u.email or "").casefold() == who.casefold()]
    else:
        matches = [u for u in people if _same(u.name, who)]
    if not matches:
        raise InvalidChoice(f"no one called {who!r}: `kpi users` lists everyone who signed in")
    if len(matches) > 1:
        listed = "; ".join(_listed(u) for u in matches)
        raise InvalidChoice(
            f"{who!r} names {len(matches)} people ({listed}): give their number instead"
        )
    return matches[0]


def _listed(person: User) -> str:
    """A person as a refusal names them: number, name and email."""
    email = f" <{person.email}>" if person.email else ""
    return f"{person.user_id} {person.name}{email}"


def set_role(store: Store, who: str, role: str, *, by: User | None = None) -> User:
    """Give ``who`` a role. The last admin cannot stop being one (nobody could manage people)."""
    if role not in ROLES:
        raise InvalidChoice(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if by is not None and not by.may("people"):
        raise InvalidChoice("only an admin can change someone's role")
    person = find(store, who)
    with store.transaction() as cur:
        # Read the role and count the admins inside the change's own transaction: two admins
        # demoting each other at once cannot both pass a check made before either wrote.
        current, admins = cur.execute(
            "SELECT role, (SELECT count(*) FROM users WHERE role = 'admin') FROM users "
            "WHERE user_id = ?",
            [person.user_id],
        ).fetchall()[0]
        if current == "admin" and role != "admin" and admins <= 1:
            raise InvalidChoice(f"{person.name} is the only admin: make someone else admin first")
        cur.execute("UPDATE users SET role = ? WHERE user_id = ?", [role, person.user_id])
        if role != current:
            changer = by.name if by is not None else importer_name()
            identity = by.identity if by is not None else None
            detail = f"{person.name}: {current} -> {role}"
            audit.record(cur, changer, "role", detail, identity=identity)
    return find(store, str(person.user_id))


def set_agent_names(store: Store, who: str, names: Sequence[str]) -> User:
    """The agent names in the data that are this person (their own figures, "this is me")."""
    person = find(store, who)
    kept = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    with store.transaction() as cur:
        cur.execute(
            "UPDATE users SET agent_names = ? WHERE user_id = ?", [list(kept), person.user_id]
        )
    return find(store, str(person.user_id))


def supervise(store: Store, supervisor: str, learner: str) -> None:
    """``supervisor`` (a supervisor or admin) now supervises ``learner``."""
    boss, person = find(store, supervisor), find(store, learner)
    if boss.role == "learner":
        raise InvalidChoice(f"{boss.name} is a learner: make them a supervisor first")
    if boss.user_id == person.user_id:
        raise InvalidChoice("nobody supervises themselves: their sign-off would be their own")
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO supervision VALUES (?, ?) ON CONFLICT DO NOTHING",
            [boss.user_id, person.user_id],
        )


def supervised_by(store: Store, supervisor: User) -> list[User]:
    """The learners ``supervisor`` supervises."""
    ids = {
        int(i)
        for (i,) in store.cursor()
        .execute("SELECT learner_id FROM supervision WHERE supervisor_id = ?", [supervisor.user_id])
        .fetchall()
    }
    return [u for u in all_users(store) if u.user_id in ids]


def supervises(store: Store, supervisor: User, learner: User) -> bool:
    return any(u.user_id == learner.user_id for u in supervised_by(store, supervisor))


def _same(a: str, b: str) -> bool:
    return _key(a) == _key(b)


def is_person(user: User, name: str) -> bool:
    """Whether ``name`` (a reflection's learner, an agent in the data) is ``user``."""
    return any(_same(name, own) for own in (user.name, *user.agent_names))


def may_see(store: Store, user: User, learner: str) -> bool:
    """A learner sees their own reflections, a supervisor also their learners', an admin all."""
    if user.role == "admin" or is_person(user, learner):
        return True
    return user.may("review") and _supervises_name(store, user, learner)


def may_sign_off(store: Store, user: User, learner: str) -> bool:
    """Only a supervisor of that learner signs off their reflection, never the learner."""
    if not user.may("review") or is_person(user, learner):
        return False
    return _supervises_name(store, user, learner)


def _supervises_name(store: Store, user: User, learner: str) -> bool:
    """Whether ``user`` supervises the person ``learner`` names (by name or agent name)."""
    return any(is_person(u, learner) for u in supervised_by(store, user))
