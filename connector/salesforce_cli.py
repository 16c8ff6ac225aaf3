"""``connector salesforce …``: Test Fields against the org, and field metadata to deploy.

    connector salesforce check-fields [--json] [--profile FILE]     exit 0 ok, 1 not ok, 2 cannot run
    connector salesforce field-metadata --out DIR [--profile FILE]
        then: deploy (cd DIR && sf project deploy start --source-dir force-app --target-org <alias>),
        give the integration user edit access to the fields (permission set), run check-fields
"""
from __future__ import annotations

import argparse
import json
import sys

from connector.field_metadata import fields_not_created, next_steps, write_field_metadata
from connector.profile import Profile, ProfileError
from connector.profile_file import load_profile
from connector.salesforce import SalesforceClient, SalesforceError, check_fields
from connector.settings import CheckFieldsSettings, MetadataSettings, SettingsError, load_settings

COLUMNS = ("field", "profile_type", "salesforce_type", "ok")


def register(subparsers) -> None:
    """Add the ``salesforce`` command group to the connector's argparse subparsers."""
    group = subparsers.add_parser("salesforce", help="check the org's Contact fields, write field metadata")
    commands = group.add_subparsers(dest="salesforce_command", required=True)
    check = commands.add_parser("check-fields", help="describe the Contact and check every mapped field")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--profile", help="mapping profile (default: MAPPING_PROFILE or the shipped one)")
    check.set_defaults(handler=run_check_fields)
    metadata = commands.add_parser("field-metadata", help="write source-format metadata for the custom fields")
    metadata.add_argument("--out", required=True, help="project folder to write force-app/… into")
    metadata.add_argument("--profile", help="mapping profile (default: MAPPING_PROFILE or the shipped one)")
    metadata.set_defaults(handler=run_field_metadata)


def _profile(args: argparse.Namespace, settings: MetadataSettings) -> Profile:
    return load_profile(args.profile or settings.mapping_profile)


def run_check_fields(args: argparse.Namespace) -> int:
    try:
        # Only what it uses: run from an admin's shell, it needs none of the service's secrets.
        settings = load_settings(CheckFieldsSettings)
        report = check_fields(_profile(args, settings), SalesforceClient.from_settings(settings))
    except (SettingsError, ProfileError, SalesforceError) as exc:
        print(f"connector: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0 if report["ok"] else 1


def format_report(report: dict) -> str:
    """A plain-text table, one line per field, problems indented below it."""
    rows = [("FIELD", "SENDS", "SALESFORCE", "OK")] + [
        (row["field"], row["profile_type"], row["salesforce_type"] or "missing", "yes" if row["ok"] else "NO")
        for row in report["fields"]]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index:
            lines += [f"    - {problem}" for problem in report["fields"][index - 1]["problems"]]
    verdict = "All mapped fields accept what the connector sends." if report["ok"] else (
        "Some fields would refuse what the connector sends: fix them before going live.")
    return "\n".join(lines + ["", verdict])


def run_field_metadata(args: argparse.Namespace) -> int:
    try:
        # Only what it uses: it writes files, and needs no secret of the service's.
        settings = load_settings(MetadataSettings)
        profile = _profile(args, settings)
    except (SettingsError, ProfileError) as exc:
        print(f"connector: {exc}", file=sys.stderr)
        return 2
    try:
        paths = write_field_metadata(profile, args.out, settings.salesforce_api_version)
    except OSError as exc:
        print(f"connector: cannot write the metadata to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    existing = fields_not_created(profile)
    if existing:
        print(f"\nNot written, as they exist already (standard fields, or a package's with its namespace): "
              f"{', '.join(existing)}. `connector salesforce check-fields` checks them.")
    print("\n" + next_steps(paths, args.out))
    return 0
