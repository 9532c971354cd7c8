"""The ``onestop`` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from shared.config import SERVICES, Settings, load_settings


def _settings() -> Settings:
    return load_settings()


@click.group()
def main() -> None:
    """onestop — one-stop S&T service platform (一站式科技包保服务)."""
    import shared.contracts  # noqa: F401


@main.command()
@click.option(
    "--service",
    "names",
    multiple=True,
    type=click.Choice(list(SERVICES)),
    help="only these databases",
)
def migrate(names: tuple[str, ...]) -> None:
    """Bring every service database (and the directory) to the latest schema, and
    declare the broker's topology: a classic queue left from an older release becomes a
    quorum queue with its messages (stop the workers first)."""
    from onestop import migrate as m

    settings = _settings()
    m.upgrade(settings, names or None)
    click.echo("migrated: " + ", ".join(names or SERVICES))
    if not settings.embedded:
        from onestop.topology import declare_broker_topology

        migrated = declare_broker_topology(settings)
        click.echo("declared the broker topology (exchanges, queues, bindings, dead-letter queues)")
        for queue, moved in migrated.items():
            click.echo(f"migrated {queue} to a quorum queue: {moved} messages kept")


@main.command("seed-demo")
def seed_demo_cmd() -> None:
    """Load the demo province/city/districts, departments, agencies, enterprises and keys."""
    from onestop.seed import seed_demo

    settings = _settings()
    creds = seed_demo(settings)
    click.echo(json.dumps(creds, ensure_ascii=False, indent=2))
    click.echo(f"written to {settings.data_dir / 'demo-credentials.json'}")


@main.command()
@click.option("--port", type=int, default=None, help="default: $PORT or 8080")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-demo", is_flag=True, help="do not load the demo data")
def run(port: int | None, host: str, no_demo: bool) -> None:
    """Embedded default: every service, its workers and the web console in one process."""
    from onestop.embedded import serve

    settings = _settings()
    serve(settings, host=host, port=port or settings.port, demo=not no_demo)


@main.command("run-stack")
@click.option("--port", type=int, default=None, help="gateway port (default $PORT or 8080)")
def run_stack_cmd(port: int | None) -> None:
    """Production shape on one machine: gunicorn APIs + workers, RabbitMQ, PostgreSQL, nginx."""
    from onestop.stack import run_stack

    settings = _settings()
    run_stack(settings.data_dir / "stack", port or settings.port)


@main.command()
@click.argument("service", type=click.Choice(SERVICES))
def worker(service: str) -> None:
    """Run one service's consumers and outbox relay (production shape)."""
    import importlib

    svc_mod = importlib.import_module(f"services.{service}")
    wmod = importlib.import_module(f"services.{service}.worker")
    from shared.worker import run_worker

    run_worker(
        svc_mod.build(_settings()),
        wmod.subscriptions,
        getattr(wmod, "on_start", None),
        getattr(wmod, "periodic", None),
    )


@main.group()
def apikey() -> None:
    """Create and revoke API keys (stored hashed; shown once)."""


def _directory() -> Any:
    """The directory's use cases from this process. Their events wait in its outbox: the
    platform's relays publish them (the embedded default's broker lives in its process)."""
    from services import directory

    svc = directory.build(_settings())
    svc.relay.stop()
    return svc


@apikey.command("create")
@click.option("--role", required=True, type=click.Choice(["admin", "district", "staff", "agency"]))
@click.option("--jurisdiction", required=True, help="the unit's code the key is bound to")
@click.option("--name", required=True, help="who holds the key")
@click.option("--agency", "agency_id", default=None, help="agency id (agency keys)")
def apikey_create(role: str, jurisdiction: str, name: str, agency_id: str | None) -> None:
    """Print a new key; only its hash is kept. Every service accepts it once it has the
    directory's announcement (a moment after; the platform must be running)."""
    from services.directory.keys import issue_key
    from shared.usecases import DomainError

    command = {"name": name, "role": role, "jurisdiction": jurisdiction}
    if agency_id:
        command["agency_id"] = agency_id
    try:
        issued = issue_key(_directory().uow(), None, command)
    except DomainError as exc:
        raise click.UsageError(f"{exc.message} {exc.fields or ''}".strip()) from exc
    click.echo(issued["key"])


@apikey.command("revoke")
@click.argument("key_id")
def apikey_revoke(key_id: str) -> None:
    """Revoke a key by its id (the middle part of osk_<id>_<secret>)."""
    from services.directory.keys import revoke_key
    from shared.usecases import DomainError

    try:
        revoke_key(_directory().uow(), None, key_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"revoked {key_id}")


@main.group("directory")
def directory_group() -> None:
    """The unit tree and people: import the official divisions, create an account."""


@directory_group.command("create-person")
@click.option("--id", "person_id", required=True, help="the log-in name")
@click.option("--name", required=True)
@click.option("--unit", required=True, help="the unit's code")
@click.option("--role", "roles", required=True, multiple=True, help="a role (repeatable)")
@click.option("--agency", "agency_id", default=None, help="agency clerks: the agency")
@click.option("--credit-code", "credit_codes", multiple=True, help="enterprise users")
@click.password_option(help="asked for when not given; must meet the password rule")
def create_person_cmd(
    person_id: str,
    name: str,
    unit: str,
    roles: tuple[str, ...],
    agency_id: str | None,
    credit_codes: tuple[str, ...],
    password: str,
) -> None:
    """Create an account (the first security administrator of a province, typically);
    prints it, with the second factor's secret for the administrator roles — once."""
    from services.directory.passwords import Hasher
    from services.directory.people import create_person
    from shared.usecases import DomainError

    command: dict[str, Any] = {
        "person_id": person_id,
        "name": name,
        "unit": unit,
        "roles": list(roles),
        "password": password,
    }
    if agency_id:
        command["agency_id"] = agency_id
    if credit_codes:
        command["credit_codes"] = list(credit_codes)
    try:
        made = create_person(_directory().uow(), None, command, hasher=Hasher())
    except DomainError as exc:
        raise click.UsageError(f"{exc.message} {exc.fields or ''}".strip()) from exc
    click.echo(json.dumps(made, ensure_ascii=False, indent=2))


@directory_group.command("rotate-signing-key")
def rotate_signing_key_cmd() -> None:
    """A new key signs people's access tokens from now on; the old one stays published
    until its tokens have expired (the directory worker then retires it)."""
    from datetime import UTC, datetime

    from services.directory.signin import rotate_key

    uow = _directory().uow()
    with uow:
        key = rotate_key(uow, datetime.now(UTC))
        uow.commit()
    click.echo(key.kid)


@directory_group.command("import-divisions")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--province", default=None, help="only this province's rows (e.g. 630000)")
@click.option("--townships", is_flag=True, help="also the vendored townships and streets")
def import_divisions_cmd(file: str | None, province: str | None, townships: bool) -> None:
    """Bring the tree in line with FILE (CSV code,name,level,parent; default: the vendored
    official list, MCA end-2025). Idempotent; renames, moves and retirements are recorded."""
    from pathlib import Path

    from services.directory import imports
    from shared.usecases import DomainError

    paths = [Path(file)] if file else [imports.DIVISIONS]
    if townships and not file:
        paths.append(imports.TOWNSHIPS)
    for path in paths:
        text = imports.province_rows(path, province) if province else path.read_text("utf-8-sig")
        try:
            report = imports.import_divisions(_directory().uow(), None, text)
        except DomainError as exc:
            raise click.ClickException(json.dumps(exc.fields, ensure_ascii=False)) from exc
        click.echo(json.dumps({"file": str(path), **report}, ensure_ascii=False))


def openapi_documents() -> dict[str, str]:
    """Each service's OpenAPI document, as canonical JSON text."""
    import importlib

    settings = _settings()
    docs = {}
    for name in SERVICES:
        app = importlib.import_module(f"services.{name}.app").create_app(settings)
        spec = app.test_client().get("/openapi.json").get_json()
        docs[name] = json.dumps(spec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return docs


@main.command("openapi")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs/openapi"),
    show_default=True,
)
def openapi_cmd(out: Path) -> None:
    """Write every service's OpenAPI document to OUT/<service>.json."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in openapi_documents().items():
        (out / f"{name}.json").write_text(text)
        click.echo(f"wrote {out / name}.json")


@main.command("topology")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("deploy/rabbitmq/definitions.json"),
    show_default=True,
)
def topology_cmd(out: Path) -> None:
    """Write the RabbitMQ definitions of every consumer queue (for import_definitions)."""
    from onestop.topology import definitions, platform_subscriptions

    doc = definitions(platform_subscriptions(_settings()))
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    click.echo(f"wrote {out}: {len(doc['queues'])} queues, {len(doc['bindings'])} bindings")


@main.group()
def archive() -> None:
    """The archive: verify the hash chain, replay events."""


@archive.command("verify")
@click.option(
    "--full", is_flag=True, help="walk the whole chain from its start (default: what is new)"
)
def archive_verify(full: bool) -> None:
    """Verify the chain from its newest checkpoint (--full: from its start); exit 1
    naming the first record that does not match."""
    from services import archive as archive_service
    from services.archive.verification import verify

    result = verify(archive_service.build(_settings()).uow(), None, full=full)
    click.echo(json.dumps(result, default=str, ensure_ascii=False))
    if not result["ok"]:
        raise SystemExit(1)


@archive.command("replay")
@click.argument("queue")
@click.option("--type", "types", multiple=True, help="event type (repeatable)")
@click.option("--jurisdiction", default=None, help="a subtree (GB/T 2260 code)")
def archive_replay(queue: str, types: tuple[str, ...], jurisdiction: str | None) -> None:
    """Re-publish archived events to a consumer QUEUE, marked as replays. In the embedded
    shape (whose broker lives inside `onestop run`) each event is applied to the queue's
    consumer in this process, through its inbox. Exits 1 when the queue is unknown, has no
    consumer here, or none of the events selected is routed to it."""
    from onestop.replay import NoConsumerHere, delivery
    from services import archive as archive_service
    from services.archive import replays
    from shared.errors import ApiError
    from shared.usecases import DomainError

    data: dict[str, Any] = {"queue": queue, "types": list(types), "jurisdiction": jurisdiction}
    svc = archive_service.build(_settings())
    queues, connect = replays.known_queues(svc.settings), replays.broker(svc.settings)
    here = None
    if svc.settings.embedded and queue in queues:
        try:
            here = delivery(svc.settings, queue)
        except NoConsumerHere as exc:
            raise click.ClickException(f"{exc}: {replays.embedded_refusal(queue)}") from None
        connect = lambda: here  # noqa: E731
    try:  # the operator's CLI is not bound to a jurisdiction
        result = replays.replay(svc.uow(), None, data, queues=queues, connect=connect)
    except (ApiError, DomainError) as exc:
        raise click.ClickException(exc.message) from None
    if here is not None:
        result.update(applied=here.applied, duplicates=here.duplicates)
    click.echo(json.dumps(result))
    reason = replays.not_routed_reason(result, queues[queue])
    if reason:
        raise click.ClickException(reason)


@main.group()
def dlq() -> None:
    """Dead letters: list, show and re-drive them after a fix (each service keeps its own)."""


def _service_of(queue: str) -> Any:
    import importlib

    name = queue.split(".", 1)[0]
    if name not in SERVICES or "." not in queue:
        raise click.UsageError(f"{queue!r} is not a consumer queue (<service>.<handler>)")
    return importlib.import_module(f"services.{name}").build(_settings())


@dlq.command("list")
@click.argument("queue", required=False)
@click.option(
    "--status", default="dead", type=click.Choice(["dead", "redriven", "all"]), show_default=True
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
def dlq_list(queue: str | None, status: str, limit: int) -> None:
    """Dead letters of QUEUE (of every service's queues without one), one JSON line each."""
    import importlib

    from shared import deadletters

    services = (
        [_service_of(queue)]
        if queue
        else [importlib.import_module(f"services.{n}").build(_settings()) for n in SERVICES]
    )
    for svc in services:
        for item in deadletters.listing(
            svc.db,
            svc.metadata_table("dead_letters"),
            queue=queue,
            status=None if status == "all" else status,
            limit=limit,
        ):
            click.echo(json.dumps(item, ensure_ascii=False))


@dlq.command("show")
@click.argument("queue")
@click.option("--id", "letter_id", required=True, type=int)
def dlq_show(queue: str, letter_id: int) -> None:
    """One dead letter of QUEUE with its body and headers."""
    from shared import deadletters

    svc = _service_of(queue)
    found = deadletters.show(svc.db, svc.metadata_table("dead_letters"), letter_id)
    if found is None or found["queue"] != queue:
        raise click.ClickException(f"no dead letter {letter_id} of {queue}")
    click.echo(json.dumps(found, ensure_ascii=False, indent=2))


@dlq.command("redrive")
@click.argument("queue")
@click.option("--id", "ids", multiple=True, type=int, help="only this one (repeatable)")
def dlq_redrive(queue: str, ids: tuple[int, ...]) -> None:
    """Put QUEUE's dead letters (or --id ones) back on it; archived, applied at most once."""
    import getpass

    svc = _service_of(queue)
    if svc.settings.embedded:
        raise click.ClickException(
            "the embedded broker lives inside the `onestop run` process: re-drive through "
            f"POST /{svc.name}/api/v1/dead-letters/redrive instead"
        )
    result = svc.redrive(queue, f"operator:{getpass.getuser()} (cli)", list(ids) or None)
    click.echo(json.dumps(result, ensure_ascii=False))
    if result["skipped"]:
        raise SystemExit(1)


@main.command("rebuild")
@click.argument("service")
def rebuild_cmd(service: str) -> None:
    """Rebuild SERVICE's derived tables from the archive (scoring)."""
    from onestop.rebuild import NotRebuildable, rebuild

    try:
        counts = rebuild(_settings(), service)
    except (NotRebuildable, ModuleNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(counts))


@main.command("backup")
@click.option(
    "--to",
    "to",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/backups"),
    show_default=True,
    help="directory the dated bundle is written under",
)
def backup_cmd(to: Path) -> None:
    """Write one dated bundle: a dump per service database, the archive chain's head, the
    broker's definitions (agency users' password hashes) and a manifest of sha256 sums.
    Store it encrypted (README: Backup and restore)."""
    from onestop.backup import BackupError, backup

    try:
        bundle = backup(_settings(), to, say=click.echo)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"bundle {bundle}")


@main.command("restore")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace what the bundle holds in non-empty databases")
@click.option(
    "--republish-minutes",
    type=click.IntRange(0, None),
    default=60,
    show_default=True,
    help="outbox events published this long before the backup are sent again",
)
def restore_cmd(bundle: Path, force: bool, republish_minutes: int) -> None:
    """Bring BUNDLE up on the configured empty databases and broker, then walk the archive
    chain to the recorded head. Checks every sha256 before writing anything."""
    from datetime import timedelta

    from onestop.backup import BackupError, restore

    try:
        restore(
            _settings(),
            bundle,
            force=force,
            republish=timedelta(minutes=republish_minutes),
            say=click.echo,
        )
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("restored; start the workers and APIs")


@main.group()
def agencies() -> None:
    """Member agencies' broker access."""


@agencies.command("reprovision")
def agencies_reprovision() -> None:
    """Make every agency's queue, broker user and read-only permission again from
    dispatch's records (stored password hashes: the agencies' passwords keep working)."""
    from services import dispatch
    from services.dispatch.broker import ProvisioningError, agency_records, reprovision

    settings = _settings()
    if not settings.embedded and not settings.broker_admin_url:
        raise click.ClickException("ONESTOP_BROKER_ADMIN_URL is not set: no broker users")
    svc = dispatch.build(settings)
    svc.relay.stop()
    try:
        done = reprovision(settings, agency_records(svc.db))
    except ProvisioningError as exc:
        raise click.ClickException(str(exc)) from None
    for line in done:
        click.echo(json.dumps(line, ensure_ascii=False))
    click.echo(f"reprovisioned {len(done)} agencies")


@main.command("make-revision")
@click.argument("name", type=click.Choice(list(SERVICES)))
@click.option("-m", "--message", required=True)
def make_revision(name: str, message: str) -> None:
    """Autogenerate a migration in NAME's chain (developers)."""
    from onestop import migrate as m

    m.revision(_settings(), name, message)


if __name__ == "__main__":
    main()
