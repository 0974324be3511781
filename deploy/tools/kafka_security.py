"""Kafka principals and ACLs, declared in deploy/config/kafka-security.json and applied to a broker.

    python -m deploy.tools.kafka_security provision --bootstrap-servers 127.0.0.1:9092 \\
        --credentials var/default/kafka/credentials.json     # users + ACLs, converging
    python -m deploy.tools.kafka_security rotate svc-assessment --credentials ...
    python -m deploy.tools.kafka_security matrix             # the ACL matrix as Markdown
    python -m deploy.tools.kafka_security provision --passwords-from-env   # compose: KAFKA_PASSWORD_<NAME>

Each principal is a SASL/SCRAM-SHA-256 user. `provision` adds missing users, adds missing ACLs and
deletes ACLs of managed principals that the file no longer grants, so re-running it converges.
Passwords never live in the repository: the credential store (a JSON file, mode 0600) is created
on first use with random passwords and is the one place clients read their own from.
aiokafka's admin client cannot manage ACLs or SCRAM users; confluent-kafka's can.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from pydantic import SecretStr

from contracts.topics import QA_SUBMISSIONS, all_topic_names
from services.runtime.kafka import KafkaAccess

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FILE = ROOT / "deploy" / "config" / "kafka-security.json"
SCRAM_ITERATIONS = 8192
Kind = Literal["service", "lms", "qa-agency", "subscriber", "operator"]
KINDS: tuple[Kind, ...] = ("service", "lms", "qa-agency", "subscriber", "operator")
LMS_TOPIC_PREFIXES = ("credstream.assessment.results.", "credstream.lms.")


class SecurityConfigError(ValueError):
    """The declarative file grants something its principal's kind must never have."""


@dataclass(frozen=True)
class Principal:
    """One Kafka user and the topics and consumer groups it may use."""

    name: str
    kind: Kind
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    group_prefixes: tuple[str, ...] = ()
    service: str | None = None
    lms_id: str | None = None
    agency_id: str | None = None

    @property
    def user(self) -> str:
        return f"User:{self.name}"


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW rule, in the broker's own terms (resource type, pattern, operation)."""

    principal: str
    resource_type: Literal["TOPIC", "GROUP"]
    pattern: Literal["LITERAL", "PREFIXED"]
    resource: str
    operation: Literal["READ", "WRITE"]

    def binding(self) -> AclBinding:
        return AclBinding(
            ResourceType[self.resource_type],
            self.resource,
            ResourcePatternType[self.pattern],
            f"User:{self.principal}",
            "*",
            AclOperation[self.operation],
            AclPermissionType.ALLOW,
        )


@dataclass(frozen=True)
class SecurityModel:
    """The whole file: the provisioning super user and the managed principals."""

    super_user: str
    principals: tuple[Principal, ...]

    def principal(self, name: str) -> Principal:
        for principal in self.principals:
            if principal.name == name:
                return principal
        raise KeyError(f"no Kafka principal {name!r} in the security file")

    def of_kind(self, kind: Kind) -> list[Principal]:
        return [p for p in self.principals if p.kind == kind]

    def service(self, service: str) -> Principal:
        [principal] = [p for p in self.of_kind("service") if p.service == service]
        return principal

    def lms(self, lms_id: str) -> Principal:
        [principal] = [p for p in self.of_kind("lms") if p.lms_id == lms_id]
        return principal

    def qa_agency(self, agency_id: str) -> Principal:
        [principal] = [p for p in self.of_kind("qa-agency") if p.agency_id == agency_id]
        return principal

    def acls(self) -> set[Acl]:
        """Every ALLOW rule the file grants. READ and WRITE imply DESCRIBE on the broker, and
        since Kafka 3.0 (KIP-679) WRITE on a topic also allows an idempotent producer's
        InitProducerId, so nothing cluster-wide is granted to anyone but the super user."""
        acls: set[Acl] = set()
        for p in self.principals:
            acls |= {Acl(p.name, "TOPIC", "LITERAL", t, "READ") for t in p.read}
            acls |= {Acl(p.name, "TOPIC", "LITERAL", t, "WRITE") for t in p.write}
            acls |= {Acl(p.name, "GROUP", "LITERAL", g, "READ") for g in p.groups}
            acls |= {Acl(p.name, "GROUP", "PREFIXED", g, "READ") for g in p.group_prefixes}
        return acls


def load(path: Path = DEFAULT_FILE) -> SecurityModel:
    """Read and check the file: each kind gets only what its role allows (an LMS writes results,
    a QA agency writes submissions, a subscriber reads with its own group prefix)."""
    document = json.loads(path.read_text())
    principals = tuple(_principal(entry) for entry in document["principals"])
    model = SecurityModel(super_user=document["super_user"], principals=principals)
    names = [p.name for p in principals]
    if len(set(names)) != len(names) or model.super_user in names:
        raise SecurityConfigError("principal names must be unique and differ from the super user")
    known = set(all_topic_names())
    for p in principals:
        unknown = sorted(set(p.read + p.write) - known)
        if unknown:
            raise SecurityConfigError(f"{p.name}: topics not in contracts/topics.py: {unknown}")
        _check_role(p)
    return model


def _principal(entry: dict[str, Any]) -> Principal:
    kind = entry["kind"]
    if kind not in KINDS:
        raise SecurityConfigError(f"{entry['name']}: unknown kind {kind!r}")
    return Principal(
        name=entry["name"],
        kind=kind,
        read=tuple(entry.get("read", ())),
        write=tuple(entry.get("write", ())),
        groups=tuple(entry.get("groups", ())),
        group_prefixes=tuple(entry.get("group_prefixes", ())),
        service=entry.get("service"),
        lms_id=entry.get("lms_id"),
        agency_id=entry.get("agency_id"),
    )


def _check_role(p: Principal) -> None:
    def refuse(why: str) -> None:
        raise SecurityConfigError(f"{p.name} ({p.kind}): {why}")

    if p.kind == "lms":
        if not p.lms_id:
            refuse("an LMS principal names its lms_id (deploy/config/lms.json)")
        if p.read or p.groups or p.group_prefixes:
            refuse("an LMS only writes")
        if any(not t.startswith(LMS_TOPIC_PREFIXES) for t in p.write):
            refuse("an LMS may only write results topics")
    elif p.kind == "qa-agency":
        if not p.agency_id:
            refuse("a QA agency principal names its agency_id")
        if p.read or p.groups or p.group_prefixes or p.write != (QA_SUBMISSIONS.name,):
            refuse(f"a QA agency only writes {QA_SUBMISSIONS.name}")
    elif p.kind == "subscriber":
        if p.write or p.groups:
            refuse("a subscriber only reads, with its own group prefix")
        if not p.group_prefixes or any(not g.startswith(f"{p.name}.") for g in p.group_prefixes):
            refuse(f"a subscriber's consumer groups start with its own name ({p.name}.)")
    elif p.kind == "service" and not p.service:
        refuse("a service principal names its service")


# -- passwords -------------------------------------------------------------------------------


@dataclass
class CredentialStore:
    """Passwords per principal in one JSON file readable by its owner only (git-ignored var/),
    or, where a deployment hands secrets in as environment (compose), taken from there."""

    path: Path | None
    passwords: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path) -> CredentialStore:
        passwords = json.loads(path.read_text()) if path.exists() else {}
        return cls(path=path, passwords=passwords)

    @classmethod
    def from_env(cls, names: Iterable[str]) -> CredentialStore:
        """`KAFKA_PASSWORD_<NAME>` per principal (`svc-assessment`: KAFKA_PASSWORD_SVC_ASSESSMENT)."""
        passwords = {n: os.environ[password_variable(n)] for n in names if password_variable(n) in os.environ}
        return cls(path=None, passwords=passwords)

    def ensure(self, names: Iterable[str]) -> list[str]:
        """Generate a password for every name that has none; returns the names generated."""
        new = [n for n in names if n not in self.passwords]
        if new and self.path is None:
            raise SecurityConfigError(f"no password given for {', '.join(map(password_variable, new))}")
        for name in new:
            self.passwords[name] = new_password()
        if new:
            self.save()
        return new

    def rotate(self, name: str) -> str:
        self.passwords[name] = new_password()
        self.save()
        return self.passwords[name]

    def forget(self, names: Iterable[str]) -> None:
        for name in names:
            self.passwords.pop(name, None)
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(self.passwords, out, indent=2, sort_keys=True)
        os.replace(temporary, self.path)

    def access(self, name: str, bootstrap_servers: str) -> KafkaAccess:
        """How principal `name` connects (SASL_PLAINTEXT, SCRAM-SHA-256)."""
        if name not in self.passwords:
            raise KeyError(f"no password for Kafka principal {name!r} in {self.path}")
        return KafkaAccess(
            bootstrap_servers=bootstrap_servers,
            security_protocol="SASL_PLAINTEXT",
            username=name,
            password=SecretStr(self.passwords[name]),
        )


def password_variable(principal: str) -> str:
    return "KAFKA_PASSWORD_" + "".join(c if c.isalnum() else "_" for c in principal.upper())


def new_password() -> str:
    # URL-safe base64: never a comma, which the broker's --add-scram parser cannot take.
    return secrets.token_urlsafe(24)


# -- applying the model to a broker ----------------------------------------------------------


@dataclass
class Provisioned:
    users_added: list[str] = field(default_factory=list)
    users_removed: list[str] = field(default_factory=list)
    acls_added: int = 0
    acls_removed: int = 0

    def summary(self) -> str:
        return (
            f"users +{len(self.users_added)} -{len(self.users_removed)}, "
            f"ACLs +{self.acls_added} -{self.acls_removed}"
        )


def admin_client(access: KafkaAccess) -> AdminClient:
    config: dict[str, Any] = {
        "bootstrap.servers": access.bootstrap_servers,
        "client.id": "credstream-security",
    }
    if access.sasl:
        assert access.username is not None and access.password is not None
        config |= {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": access.sasl_mechanism,
            "sasl.username": access.username,
            "sasl.password": access.password.get_secret_value(),
        }
    return AdminClient(config)


def provision(admin_access: KafkaAccess, model: SecurityModel, store: CredentialStore) -> Provisioned:
    """Converge the broker on the model: SCRAM users with the store's passwords, exactly the
    file's ACLs for every managed principal. Principals removed from the file (known by the
    store) lose their user and ACLs. Passwords handed in as environment are the truth, so every
    user is upserted (a changed variable is a rotation); a store file only adds missing users
    (`rotate` changes one)."""
    admin = admin_client(admin_access)
    done = Provisioned()
    wanted = [p.name for p in model.principals]
    removed = [n for n in store.passwords if n not in wanted and n != model.super_user]
    store.ensure(wanted)

    described = admin.describe_user_scram_credentials()
    assert not isinstance(described, dict)  # all users: one future
    existing = set(described.result(timeout=30))
    mechanism = ScramMechanism.SCRAM_SHA_256
    upserts = [
        UserScramCredentialUpsertion(
            name, ScramCredentialInfo(mechanism, SCRAM_ITERATIONS), store.passwords[name].encode()
        )
        for name in wanted
        if name not in existing or store.path is None
    ]
    deletions = [UserScramCredentialDeletion(name, mechanism) for name in removed if name in existing]
    if upserts or deletions:
        for future in admin.alter_user_scram_credentials([*upserts, *deletions]).values():
            future.result(timeout=30)
    done.users_added = [u.user for u in upserts]
    done.users_removed = [d.user for d in deletions]

    managed = {f"User:{n}" for n in [*wanted, *removed]}
    # None matches any name, principal and host (the stubs say str).
    everything = AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    current = {b for b in admin.describe_acls(everything).result(timeout=30) if b.principal in managed}
    desired = {acl.binding() for acl in model.acls()}
    missing = [b for b in desired if b not in current]
    stale = [b for b in current if b not in desired]
    if missing:
        for future in admin.create_acls(missing).values():
            future.result(timeout=30)
    if stale:
        filters = [
            AclBindingFilter(
                b.restype,
                b.name,
                b.resource_pattern_type,
                b.principal,
                b.host,
                b.operation,
                b.permission_type,
            )
            for b in stale
        ]
        for future in admin.delete_acls(filters).values():
            future.result(timeout=30)
    done.acls_added, done.acls_removed = len(missing), len(stale)
    store.forget(removed)
    return done


def rotate(admin_access: KafkaAccess, store: CredentialStore, name: str) -> None:
    """A new password for one principal, on the broker and in the store (restart its clients)."""
    password = store.rotate(name)
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, SCRAM_ITERATIONS)
    admin = admin_client(admin_access)  # kept referenced until the futures resolve
    futures = admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion(name, info, password.encode())]
    )
    for future in futures.values():
        future.result(timeout=30)


def matrix(model: SecurityModel) -> str:
    """The ACL matrix as a Markdown table: one row per topic, one column per principal."""
    principals = model.principals
    header = "| topic | " + " | ".join(f"`{p.name}`" for p in principals) + " |"
    lines = [header, "|---|" + "---|" * len(principals)]
    for topic in all_topic_names():
        cells = []
        for p in principals:
            cell = ("R" if topic in p.read else "") + ("W" if topic in p.write else "")
            cells.append(cell or "·")
        lines.append(f"| `{topic}` | " + " | ".join(cells) + " |")
    groups = [
        ", ".join([*(f"`{g}`" for g in p.groups), *(f"`{g}*`" for g in p.group_prefixes)]) or "·"
        for p in principals
    ]
    lines.append("| *consumer groups* | " + " | ".join(groups) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["provision", "rotate", "matrix"])
    parser.add_argument("principal", nargs="?", help="rotate: the principal")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--credentials", type=Path, help="the credential store (JSON, mode 0600)")
    parser.add_argument(
        "--passwords-from-env", action="store_true", help="KAFKA_PASSWORD_<NAME> per principal instead"
    )
    args = parser.parse_args(argv)
    model = load(args.file)
    if args.command == "matrix":
        print(matrix(model))
        return 0
    if args.passwords_from_env:
        store = CredentialStore.from_env([model.super_user, *(p.name for p in model.principals)])
    elif args.credentials is not None:
        store = CredentialStore.open(args.credentials)
    else:
        parser.error("--credentials or --passwords-from-env is required")
    admin = store.access(model.super_user, args.bootstrap_servers)
    if args.command == "provision":
        print(f"kafka security: {provision(admin, model, store).summary()}")
    else:
        if not args.principal:
            parser.error("rotate needs a principal")
        if store.path is None:
            parser.error("with --passwords-from-env, change KAFKA_PASSWORD_<NAME> and run provision")
        rotate(admin, store, model.principal(args.principal).name)
        print(f"rotated {args.principal}; restart its clients")
    return 0


if __name__ == "__main__":
    sys.exit(main())
