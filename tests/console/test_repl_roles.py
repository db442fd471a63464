"""gate-repl with a token's role: the banner names it, the menu shows what it may do, the rest is
refused in one line; ``--read-only`` makes an admin's token a reader's (issue #18)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from console.repl.menu import render_menu
from console.repl.printer import Printer
from console.repl.toolbar import toolbar_fragments
from tests.cluster_harness import RunningCluster
from tests.console.script_runs import assert_clean, run_script

TOKENS = {"reader": "r-secret", "writer": "w-secret", "admin": "a-secret"}


def test_a_readers_menu_has_no_option_that_changes_anything() -> None:
    transcript = io.StringIO()
    render_menu(Printer(stream=transcript), "reader")
    menu = transcript.getvalue()
    for hidden in ("7. Start Producers", "13. Append Events Manually", "18. Kill Node"):
        assert hidden not in menu
    for shown in ("1. Create Observer by Stream", "14. Get Cluster Status", "15. Exit Console"):
        assert shown in menu
    admin = io.StringIO()
    render_menu(Printer(stream=admin))
    assert "18. Kill Node" in admin.getvalue() and "13. Append Events Manually" in admin.getvalue()


def test_the_toolbar_names_the_role_first() -> None:
    assert toolbar_fragments(None, "http://g", "reader (student-7)")[0] == (
        "class:toolbar.role",
        " as reader (student-7) ",
    )
    assert toolbar_fragments(None, "http://g")[0][1].startswith(" http://g")


@pytest.mark.slow
async def test_a_reader_and_a_read_only_admin(make_cluster: Any, tmp_path: Path) -> None:
    cluster: RunningCluster = await make_cluster(
        extra={
            "security": {
                "tokens": [
                    {"name": f"{role}-1", "token": token, "role": role}
                    for role, token in TOKENS.items()
                ]
            }
        }
    )
    async with cluster.new_client() as admin:  # the token the harness starts with is the admin's
        await admin.append("reg_gh", "greenhouse-1", [{"event_type": "t", "data": {}}])
    script = "13\n18\n14\n15\n"
    runs = {
        "reader (reader-1)": ["--token", TOKENS["reader"]],
        "reader (admin-1, read-only)": ["--token", TOKENS["admin"], "--read-only"],
    }
    for label, args in runs.items():
        run = await run_script(["--connect", cluster.url, *args], script, tmp_path)
        assert_clean(run)
        lines = run.stdout.splitlines()
        assert f"🔑 As {label}: the menu shows what that role may do" in lines
        assert not any("18. Kill Node" in line for line in lines)
        assert any(
            "Option 13: Append Events Manually needs the writer role; this console runs as reader"
            in line
            for line in lines
        ), run.stdout
        assert any("Option 18: Kill Node needs the admin role" in line for line in lines)
        assert any("leader" in line.lower() for line in lines)  # option 14 ran
    async with cluster.new_client() as admin:
        assert await admin.stream_version("reg_gh", "greenhouse-1") == 0, "nothing appended"
        view = await admin.cluster()
        assert all(node["role"] != "down" for node in view["nodes"]), "nothing killed"
