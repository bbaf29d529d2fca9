"""pytest configuration of the interop suite: what to collect, shared fixtures, and the
compatibility matrix of docs/interop.md, which is generated from this session's results.

P2P_INTEROP_MATRIX=check  (CTest sets it) fails the session when docs/interop.md differs from
                          the matrix these results give (after a complete run only);
P2P_INTEROP_MATRIX=write  rewrites docs/interop.md from these results.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen_matrix  # noqa: E402
import mesh_harness  # noqa: E402

# The references' own test suites and the drivers are not ours to collect.
collect_ignore_glob = ["node_modules/*", ".py2p/*", "drivers/*", "py2p_shim/*"]


# test name (with its parameters) -> outcome, folded from this session's reports
RESULTS = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "cpp: needs the p2pmesh CLI (P2PMESH_BIN)")


# The reference baseline (py2p with js2p, no p2pmesh) proves the harness and shows where the
# references fail each other. Its two-node scenarios run over Plaintext only (TLS changes
# nothing in what they exchange, and js2p hashes and compresses in slow pure JavaScript), to
# keep the whole suite well under its 10-minute budget. Deselected, so the matrix shows "—".
BASELINE_SSL = ("[py2p-js2p-SSL-", "[js2p-py2p-SSL-")


def pytest_collection_modifyitems(config, items):
    dropped = [item for item in items if item.module.__name__ == "test_interop" and
               any(tag in item.name for tag in BASELINE_SSL)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
    missing = mesh_harness.references_installed()
    cpp_missing = mesh_harness.cpp_binary() is None
    for item in items:
        if missing:
            item.add_marker(pytest.mark.skip(
                reason="reference not installed: %s; run scripts/install-references.sh "
                       "--fix-py2p-framing" % missing))
        elif cpp_missing and "cpp" in item.keywords:
            item.add_marker(pytest.mark.skip(
                reason="P2PMESH_BIN does not name the built p2pmesh CLI (CTest always sets it)"))
    config._interop_collected = [item.nodeid for item in items]


@pytest.fixture
def mesh():
    with mesh_harness.Mesh() as m:
        yield m


def pytest_runtest_logreport(report):
    gen_matrix.fold_report(RESULTS, report)


def pytest_sessionfinish(session, exitstatus):
    mode = os.environ.get("P2P_INTEROP_MATRIX", "")
    if mode not in ("check", "write"):
        return
    config = session.config
    results = RESULTS
    collected = {gen_matrix.test_key(nodeid) for nodeid in config._interop_collected}
    complete = (not config.option.keyword and not config.option.markexpr and
                collected <= set(results))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    say = (lambda text: reporter.write_line(text)) if reporter else print
    if not complete:
        say("interop matrix: partial run (-k/-m or interrupted): docs/interop.md not %s" %
            ("checked" if mode == "check" else "written"))
        return
    text = gen_matrix.render(results)
    path = gen_matrix.DOC_PATH
    if mode == "write":
        with open(path, "w") as f:
            f.write(text)
        say("interop matrix: wrote %s" % path)
        return
    problem = gen_matrix.compare(path, text)
    if problem:
        say("interop matrix: docs/interop.md does not match these results:\n" + problem +
            "\nregenerate it with: P2P_INTEROP_MATRIX=write P2PMESH_BIN=... "
            "/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/interop")
        session.exitstatus = 1
    else:
        say("interop matrix: docs/interop.md matches these results")
