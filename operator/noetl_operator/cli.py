"""``noetl-operator``: ``render`` a pool's children offline, or ``run`` the operator.

``render -f pool.yaml`` prints exactly what the operator would apply (the same builders), for GitOps
reviews; give ``--secret`` manifests to resolve keychain keys and the Secret checksum as the cluster
would. ``run`` starts kopf with its liveness endpoint and peering (several replicas, one active).
Bad input ends with a message naming the file, document and field, and exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from noetl_operator import __version__
from noetl_operator.builders import build_children
from noetl_operator.kubeconfig import KubeConfigError, load_connection
from noetl_operator.manifests import ManifestError, OfflineSecrets, read_documents
from noetl_operator.secretrefs import resolve_secrets
from noetl_operator.settings import OperatorSettings, SettingsError
from noetl_operator.spec import KIND, PoolSpecError, parse_pool

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2


def _render(args: argparse.Namespace) -> int:
    try:
        pools = read_documents(args.file)
        reader = OfflineSecrets([doc for source in args.secret for doc in read_documents(source)])
    except ManifestError as error:
        print(f"noetl-operator render: {error}", file=sys.stderr)
        return EXIT_USAGE
    failed = bool(reader.problems)
    for problem in reader.problems:
        print(problem, file=sys.stderr)
    rendered: list[dict[str, Any]] = []
    for document in pools:
        content = document.content
        if not isinstance(content, dict):
            failed = True
            print(f"{document.where()}: expected a manifest (a mapping), got {type(content).__name__}", file=sys.stderr)
            continue
        if content.get("kind") != KIND:
            continue
        metadata = content.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        where = f"{document.where()} ({name if isinstance(name, str) and name else '?'})"
        try:
            pool = parse_pool(content)
        except PoolSpecError as error:
            failed = True
            for problem in error.problems:
                print(f"{where}: {problem}", file=sys.stderr)
            continue
        resolution = asyncio.run(resolve_secrets(pool, reader, connect_timeout=1.0))
        children = build_children(pool, resolution.resolved)
        if not args.secret and (pool.spec.keychain.secret_refs or pool.spec.keychain.secret_key_refs):
            print(
                f"{where}: note: without --secret, keys of envFrom Secrets and the Secret checksum are "
                "left out (the operator resolves them in the cluster)",
                file=sys.stderr,
            )
        elif args.secret and resolution.missing:
            print(f"{where}: note: {'; '.join(resolution.missing)}", file=sys.stderr)
        rendered += children.present()
    if not rendered and not failed:
        print(f"noetl-operator render: no {KIND} documents in {args.file}", file=sys.stderr)
        return EXIT_USAGE
    if rendered:
        sys.stdout.write(yaml.safe_dump_all(rendered, sort_keys=False, width=120))
    return EXIT_USAGE if failed else 0


def _run(args: argparse.Namespace) -> int:
    try:
        base = OperatorSettings.from_env()
    except SettingsError as error:
        print(f"noetl-operator run: {error}", file=sys.stderr)
        return EXIT_USAGE
    overrides = {
        key: value
        for key, value in {
            "namespace": args.namespace,
            "standalone": args.standalone or None,
            "peering_name": args.peering,
            "priority": args.priority,
            "liveness_endpoint": args.liveness,
            "kubeconfig": args.kubeconfig,
            "context": args.context,
        }.items()
        if value is not None
    }
    settings = base.model_copy(update=overrides)
    # Credentials are read once, before kopf starts: inside kopf a bad kubeconfig would be a traceback and a
    # retry every minute. A token file in them is re-read by the connection itself as it rotates.
    try:
        connection = load_connection(settings.kubeconfig, settings.context)
    except KubeConfigError as error:
        print(f"noetl-operator run: {error}", file=sys.stderr)
        return EXIT_USAGE

    # kopf imports the `kubernetes` client whenever it is installed, only to recognise that library's model
    # objects, which the operator never hands it: keep its ~30 MiB and second of start-up out of the process
    # (the image does not install it; a development environment does, for the tests).
    sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]
    import kopf  # noqa: PLC0415 - kopf is only needed to run, not to render

    from noetl_operator.handlers import build_registry  # noqa: PLC0415

    kopf.configure(verbose=args.verbose)
    kopf.run(
        registry=build_registry(settings, connection),
        clusterwide=settings.namespace is None,
        namespace=settings.namespace,
        standalone=settings.standalone,
        # A peering name makes peering mandatory in kopf; standalone must not pass one, or it pauses forever
        # on a cluster without the kopf.dev CRDs.
        peering_name=None if settings.standalone else settings.peering_name,
        priority=settings.priority,
        liveness_endpoint=settings.liveness_endpoint,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI)."""
    parser = argparse.ArgumentParser(prog="noetl-operator", description="Kubernetes operator for NoetlWorkerPool.")
    parser.add_argument("--version", action="version", version=f"noetl-operator {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    render = commands.add_parser("render", help="print the children of pools, offline (no cluster)")
    render.add_argument("-f", "--file", required=True, help="YAML file with NoetlWorkerPool documents ('-': stdin)")
    render.add_argument(
        "-s",
        "--secret",
        action="append",
        default=[],
        help="YAML file with Secret manifests to resolve keychain keys and the checksum (repeatable)",
    )
    render.set_defaults(handler=_render)

    run = commands.add_parser("run", help="run the operator (kopf); settings also from NOETL_OPERATOR_* env")
    run.add_argument("--namespace", help="watch one namespace (default: cluster-wide)")
    run.add_argument("--standalone", action="store_true", help="no peering (a single replica)")
    run.add_argument("--peering", help="peering object name (default noetl-operator)")
    run.add_argument("--priority", type=int, help="peering priority of this replica")
    run.add_argument("--liveness", help="probe endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    run.add_argument("--context", help="kubeconfig context")
    run.add_argument("--verbose", action="store_true", help="debug logging")
    run.set_defaults(handler=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``noetl-operator`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
