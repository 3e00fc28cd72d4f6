"""The quality rules every adapter answers for, and the check of its ``quality.yaml``.

The catalogue is :data:`RULES`, here and only here. Each adapter's ``quality.yaml`` lists
every rule with its status::

    # Quality rules of this adapter: hub/quality.py defines them, docs/plugins.md explains.
    distribution: last100-acme
    rules:
      http-session-timeouts: done
      push-signature-verified:
        status: exempt
        reason: a locker bank pushes nothing to the hub
      retries-idempotent:
        status: todo
        reason: notices are POSTed without an idempotency key

- ``done``: the adapter follows the rule; a ``note`` may say how.
- ``todo``: it does not yet; the ``reason`` says what is missing.
- ``exempt``: the rule cannot apply; the ``reason`` says why.

:func:`check_file` returns the problems of a file (none: it is valid); a rule marked done
whose evidence (:attr:`Rule.evidence`) is not in the adapter's folder is a problem too.
``python -m hub.quality adapters/*/quality.yaml`` prints each file's problems, or a
summary of its statuses.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATUSES = ("done", "todo", "exempt")

#: The keys a rule's entry may have, in its long form.
_ENTRY_KEYS = frozenset({"status", "reason", "note"})
_TOP_KEYS = frozenset({"distribution", "rules"})


@dataclass(frozen=True)
class Rule:
    """One quality rule: its id (as ``quality.yaml`` names it), a title, and what
    following it means. ``evidence``: a path (a glob) relative to the adapter's folder
    that must exist when the rule is done."""

    id: str
    title: str
    means: str
    evidence: str = ""


RULES: tuple[Rule, ...] = (
    Rule(
        "http-session-timeouts",
        "Bounded calls",
        "Every call to the service goes through one pooled session (or one long-lived connection) per "
        "connection, with a connect timeout, a read timeout and a deadline for the whole reply, all within the "
        "connection's timeout_s: no call can hang, however slowly the reply trickles in.",
    ),
    Rule(
        "signed-requests",
        "Authenticated requests",
        "Every request to the service is authenticated as its protocol requires (an HMAC signature over the "
        "request, HTTP Digest, a token) with the connection's secret; no secret travels in a URL.",
    ),
    Rule(
        "tls-required",
        "Encrypted transport",
        "The settings refuse a plain-text transport (http://, MQTT without TLS) except to this machine, where "
        "the simulator runs.",
    ),
    Rule(
        "settings-validated",
        "Validated settings",
        "The settings schema checks every setting and names the wrong one; hub_check_connection tries the "
        "credentials for real and reports a failure in Health, never raising.",
    ),
    Rule(
        "secrets-write-only",
        "Secrets stay secret",
        "Every secret setting is marked secret (the hub encrypts it and never shows it); no secret appears in an "
        "error, a health message or a log line.",
    ),
    Rule(
        "errors-mapped",
        "Errors in the hub's terms",
        "Upstream failures become the hub's errors: CredentialRejected (with words for the rider) only when the "
        "service refuses the rider, UpstreamTimeout when no answer came in time, UpstreamError otherwise, "
        "PushRejected with 401 or 400 for a push; no other exception escapes a hook.",
    ),
    Rule(
        "push-signature-verified",
        "Authenticated pushes",
        "A push is authenticated (a signature over its body, or a secret in its URL where the sender can do no "
        "better) before anything in it is read.",
    ),
    Rule(
        "push-replay-protection",
        "Replayed pushes do no harm",
        "A push carries a stable event id, so a repeat is applied once, and a time that is checked against its "
        "arrival, so an old one is refused.",
    ),
    Rule(
        "retries-idempotent",
        "Safe retries",
        "Every write the hub may retry (a grant, an allocation, a visitor record, a notice, a profile) is "
        "idempotent at the service, keyed by the hub's own id, so a retry after a lost reply does not do it twice.",
    ),
    Rule(
        "no-personal-data-in-logs",
        "No personal data in logs",
        "Riders' names and phones reach the hub masked; credentials, codes, names and phones are never logged "
        "or quoted in errors.",
    ),
    Rule(
        "simulator-wire-compatible",
        "A faithful simulator",
        "The adapter ships a simulator that speaks the real wire protocol (the same signing, payloads and errors); "
        "the conformance suite and the demo run against it.",
    ),
    Rule(
        "conformance-suite",
        "The conformance suite",
        "The adapter's tests bind the hub's conformance suite for its kind; a check that cannot apply is declared "
        "not_applicable with the reason.",
        evidence="tests/test_conformance.py",
    ),
    Rule(
        "client-tests",
        "Client tested against recorded replies",
        "The client is tested against recorded replies (responses, fixtures) for every answer and error the "
        "protocol has, without a network.",
        evidence="tests/test_client.py",
    ),
    Rule(
        "docs-readme",
        "A README that documents it",
        "The README documents installation, the entry points, every setting, the wire protocol as the adapter "
        "speaks it, the errors and the simulator.",
        evidence="README.md",
    ),
)

RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in RULES)
_BY_ID = {rule.id: rule for rule in RULES}


def _loader() -> type:
    """PyYAML's safe loader, refusing a key given twice (PyYAML keeps the last one
    silently, which would hide a rule listed twice with different statuses)."""
    import yaml  # PyYAML: a test dependency of the hub and of every adapter

    class StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"{key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return loader.construct_mapping(node)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return StrictLoader


def load(path: Path | str) -> Any:
    """A ``quality.yaml``, parsed (a key given twice is a ``yaml.YAMLError``)."""
    import yaml

    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_loader())


def check(data: Any, folder: Path | None = None) -> list[str]:
    """The problems of a parsed ``quality.yaml``; ``folder``: the adapter's, where the
    evidence of rules marked done must be."""
    if not isinstance(data, Mapping):
        return ["the file must be a mapping with 'distribution' and 'rules'"]
    problems = [f"unknown key {key!r} (known: distribution, rules)" for key in data if key not in _TOP_KEYS]
    if not isinstance(data.get("distribution"), str) or not data["distribution"].strip():
        problems.append("'distribution' must name the adapter's distribution, e.g. last100-acme")
    rules = data.get("rules")
    if not isinstance(rules, Mapping):
        return [*problems, "'rules' must map every rule id to its status"]
    for rule_id, entry in rules.items():
        if rule_id not in _BY_ID:
            problems.append(f"unknown rule {rule_id!r} (the rules: {', '.join(RULE_IDS)})")
            continue
        problems.extend(f"{rule_id}: {problem}" for problem in _check_entry(_BY_ID[rule_id], entry, folder))
    missing = [rule_id for rule_id in RULE_IDS if rule_id not in rules]
    if missing:
        problems.append(f"rules not listed: {', '.join(missing)} (list every rule: done, todo or exempt)")
    return problems


def _check_entry(rule: Rule, entry: Any, folder: Path | None) -> list[str]:
    if isinstance(entry, str):
        entry = {"status": entry}
    if not isinstance(entry, Mapping):
        return ["give a status (done) or a mapping with status and reason"]
    problems = [f"unknown key {key!r} (known: note, reason, status)" for key in entry if key not in _ENTRY_KEYS]
    status = entry.get("status")
    if status not in STATUSES:
        return [*problems, f"status {status!r} is not one of {', '.join(STATUSES)}"]
    reason = entry.get("reason")
    if status in ("todo", "exempt"):
        if not isinstance(reason, str) or not reason.strip():
            problems.append(f"a rule marked {status} needs a reason")
    elif reason is not None:
        problems.append("a rule marked done takes a note, not a reason")
    for key in ("reason", "note"):
        if key in entry and not isinstance(entry[key], str):
            problems.append(f"{key} must be text")
    if status == "done" and rule.evidence and folder is not None and not any(folder.glob(rule.evidence)):
        problems.append(f"marked done, but {rule.evidence} is not in {folder}")
    return problems


def check_file(path: Path | str) -> list[str]:
    """The problems of a ``quality.yaml`` (an empty list: it is valid)."""
    path = Path(path)
    try:
        data = load(path)
    except OSError as exc:
        return [f"cannot read {path}: {exc.strerror}"]
    except Exception as exc:  # yaml.YAMLError, without importing yaml for the except clause
        return [f"{path} is not valid YAML: {exc}"]
    return check(data, path.parent)


def statuses(path: Path | str) -> dict[str, str]:
    """Each rule's status in a valid ``quality.yaml``."""
    rules = load(path)["rules"]
    return {rule_id: entry if isinstance(entry, str) else entry["status"] for rule_id, entry in rules.items()}


def main(paths: Iterable[str]) -> int:
    """``python -m hub.quality FILE...``: each file's problems, or a summary of its
    statuses; exit status 1 when any file has a problem."""
    failed = False
    for path in paths:
        problems = check_file(path)
        if problems:
            failed = True
            print(f"{path}: {len(problems)} problem(s)")
            for problem in problems:
                print(f"  {problem}")
            continue
        counts = {status: 0 for status in STATUSES}
        todo = []
        for rule_id, status in statuses(path).items():
            counts[status] += 1
            if status == "todo":
                todo.append(rule_id)
        summary = ", ".join(f"{counts[s]} {s}" for s in STATUSES)
        print(f"{path}: {summary}" + (f" (todo: {', '.join(todo)})" if todo else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
