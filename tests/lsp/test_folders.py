"""Several workspace folders in one server: each its own repository, named per command, added and
removed while the server runs. The folder rules themselves are tested in process at the end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pytest_lsp import LanguageClient, client_capabilities

from repo_builder import make_repo
from reporlm.lsp import wire
from reporlm.lsp.folders import Folder, Folders
from reporlm.lsp.runs import RunCap

from .conftest import alive, command, descendants, events, repl, status_when, wait_until, write_script

BILLING_REPO = {
    "README.md": "# billing\n",
    "billing/__init__.py": "",
    "billing/invoice.py": (
        "MAX_RETRIES = 9\n\n\ndef send(invoice):\n    return invoice.post(retries=MAX_RETRIES)\n"
    ),
}

LOOK = repl("print(repo.grep('MAX_RETRIES ='))")
CITE_BOTH = "FINAL(See shop/retry.py:3 and billing/invoice.py:1.)"
SLEEP = repl("import time\nprint('sleeping', flush=True)\ntime.sleep(300)")


@pytest.fixture
def billing_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "billing-repo", BILLING_REPO)


def folder(repo: Path) -> types.WorkspaceFolder:
    return types.WorkspaceFolder(uri=repo.as_uri(), name=repo.name)


async def open_folders(client: LanguageClient, repos: list[Path], script: Path, **options: Any) -> None:
    init = {"provider": "scripted", "script": str(script), **options}
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual_studio_code"),
            root_uri=repos[0].as_uri(),
            workspace_folders=[folder(r) for r in repos],
            initialization_options=init,
        )
    )


def look(question: str) -> dict[str, object]:
    return {"match": question, "turns": [LOOK, CITE_BOTH]}


def cited_files(result: dict[str, Any]) -> list[str]:
    return [c["uri"] for c in result["citations"]]


def by_repo(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["repo"]: f for f in status["folders"]}


async def error_of(client: LanguageClient, name: str, argument: object) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as caught:
        await command(client, name, argument)
    return caught.value


async def test_status_reports_every_folder_and_a_folder_opens_when_first_asked_about(
    lsp: LanguageClient, small_repo: Path, billing_repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "s.json", conversations=[look("count")])
    await open_folders(lsp, [small_repo, billing_repo], script)
    shop, billing = str(small_repo.resolve()), str(billing_repo.resolve())

    # The first folder opens at start-up, as a single folder does; the top level describes it.
    status = await status_when(lsp, lambda s: s["index"]["state"] == "ready")
    assert status["repo"] == shop and status["folder"] == small_repo.as_uri()
    assert [(f["name"], f["repo"]) for f in status["folders"]] == [
        (small_repo.name, shop),
        (billing_repo.name, billing),
    ]
    assert by_repo(status)[shop]["index"]["files"] == 5
    assert by_repo(status)[billing]["index"] == {"state": "not opened"}
    assert by_repo(status)[billing]["provider"] == "scripted"

    # Asked about, the second folder opens; the status of one folder is asked for by its URI.
    await command(lsp, wire.ASK, {"question": "count", "folder": billing_repo.as_uri()})
    second = await command(lsp, wire.STATUS, {"folder": billing_repo.as_uri()})
    assert second["repo"] == billing and second["folder"] == billing_repo.as_uri()
    assert second["index"]["state"] == "ready" and second["index"]["files"] == 3
    assert second["index"]["symbols"]["indexed"] == 2
    assert by_repo(second)[shop]["index"]["files"] == 5, "every folder is still listed"


async def test_an_ask_answers_about_the_folder_it_names_and_cites_only_that_folders_files(
    lsp: LanguageClient, small_repo: Path, billing_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "s.json",
        conversations=[look("in billing"), look("in shop"), look("by a document")],
    )
    await open_folders(lsp, [small_repo, billing_repo], script)

    billing = await command(lsp, wire.ASK, {"question": "in billing", "folder": billing_repo.as_uri()})
    assert billing["folder"] == billing_repo.as_uri()
    assert events(lsp, "output")[-1]["preview"] == (
        "[billing/invoice.py:1: MAX_RETRIES = 9]"
    )
    assert cited_files(billing) == [(billing_repo.resolve() / "billing/invoice.py").as_uri()]
    assert [(c["path"], c["verified"]) for c in billing["cited"]] == [
        ("shop/retry.py", False),
        ("billing/invoice.py", True),
    ]

    shop = await command(lsp, wire.ASK, {"question": "in shop", "folder": small_repo.as_uri()})
    assert shop["folder"] == small_repo.as_uri()
    assert "shop/retry.py:3: " in events(lsp, "output")[-1]["preview"]
    assert cited_files(shop) == [(small_repo.resolve() / "shop/retry.py").as_uri()]

    # A document inside a folder names that folder.
    document = (billing_repo / "billing" / "invoice.py").as_uri()
    by_document = await command(lsp, wire.ASK, {"question": "by a document", "folder": document})
    assert by_document["folder"] == billing_repo.as_uri()
    assert cited_files(by_document) == cited_files(billing)


async def test_explain_needs_no_folder_its_document_says_which(
    lsp: LanguageClient, small_repo: Path, billing_repo: Path, tmp_path: Path
) -> None:
    explained = "FINAL(`send` posts the invoice with MAX_RETRIES retries (billing/invoice.py:4-5).)"
    script = write_script(
        tmp_path / "s.json",
        conversations=[{"match": "Explain `send`", "turns": [repl("print(repo.files())"), explained]}],
    )
    await open_folders(lsp, [small_repo, billing_repo], script)
    invoice = billing_repo / "billing" / "invoice.py"
    result = await command(
        lsp, wire.EXPLAIN, {"uri": invoice.as_uri(), "position": {"line": 3, "character": 5}}
    )
    assert result["symbol"] == "send" and result["folder"] == billing_repo.as_uri()
    assert result["location"]["uri"] == (billing_repo.resolve() / "billing/invoice.py").as_uri()
    assert cited_files(result) == [(billing_repo.resolve() / "billing/invoice.py").as_uri()]
    assert "billing/invoice.py" in events(lsp, "output")[-1]["preview"]
    assert "shop/" not in events(lsp, "output")[-1]["preview"]


async def test_an_unknown_folder_or_none_among_several_is_a_clear_error(
    lsp: LanguageClient, small_repo: Path, billing_repo: Path, tmp_path: Path
) -> None:
    await open_folders(lsp, [small_repo, billing_repo], write_script(tmp_path / "s.json", replies=[]))
    elsewhere = (tmp_path / "elsewhere").as_uri()

    for name, argument in (
        (wire.ASK, {"question": "q", "folder": elsewhere}),
        (wire.PLAN, {"goal": "g", "folder": elsewhere}),
        (wire.STATUS, {"folder": elsewhere}),
        (wire.EXPLAIN, {"uri": elsewhere + "/a.py", "position": {"line": 0, "character": 0}}),
    ):
        unknown = await error_of(lsp, name, argument)
        assert unknown.code == JsonRpcInvalidParams.CODE
        assert "is not in a workspace folder" in unknown.message and elsewhere in unknown.message
        assert f"{small_repo.name} ({small_repo.as_uri()})" in unknown.message
        assert f"{billing_repo.name} ({billing_repo.as_uri()})" in unknown.message

    for name, argument in ((wire.ASK, "q"), (wire.PLAN, {"goal": "g"})):
        unnamed = await error_of(lsp, name, argument)
        assert unnamed.code == JsonRpcInvalidParams.CODE
        assert unnamed.message.startswith("several workspace folders are open: say which one with `folder`")
        assert small_repo.as_uri() in unnamed.message and billing_repo.as_uri() in unnamed.message
    not_text = await error_of(lsp, wire.ASK, {"question": "q", "folder": 3})
    assert (
        not_text.code == JsonRpcInvalidParams.CODE and not_text.message == "folder must be a string, not int"
    )
    # Status needs no folder: the first is described at the top, every folder below.
    status = await command(lsp, wire.STATUS)
    assert len(status["folders"]) == 2 and status["runs"]["active"] == 0


async def test_folders_added_and_removed_while_serving(
    lsp: LanguageClient, small_repo: Path, billing_repo: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "s.json",
        conversations=[
            look("added"),
            {"match": "slow", "turns": [SLEEP]},
            look("alone again"),
        ],
    )
    await open_folders(lsp, [small_repo], script, block_seconds=600)
    server = lsp._server
    assert server is not None
    await status_when(lsp, lambda s: s["index"]["state"] == "ready")

    lsp.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[folder(billing_repo)], removed=[])
        )
    )
    status = await status_when(lsp, lambda s: len(s["folders"]) == 2)
    assert by_repo(status)[str(billing_repo.resolve())]["index"] == {"state": "not opened"}
    added = await command(lsp, wire.ASK, {"question": "added", "folder": billing_repo.as_uri()})
    assert cited_files(added) == [(billing_repo.resolve() / "billing/invoice.py").as_uri()]

    # Removed while a run in it is going: the run stops and answers with what it has.
    slow = asyncio.ensure_future(
        command(lsp, wire.ASK, {"question": "slow", "folder": billing_repo.as_uri()})
    )
    await wait_until(lambda: "sleeping" in str(events(lsp, "code")[-1:]), "the block to start")
    workers = await wait_until(lambda: descendants(server.pid), "the sandbox worker")
    lsp.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[], removed=[folder(billing_repo)])
        )
    )
    result = await slow
    assert result["partial"] is True and result["reason"] == "cancelled"
    await wait_until(lambda: not [pid for pid in workers if alive(pid)], "the worker to stop")
    await wait_until(lambda: descendants(server.pid) == set(), "every process of the folder to stop")

    status = await command(lsp, wire.STATUS)
    assert [f["repo"] for f in status["folders"]] == [str(small_repo.resolve())]
    assert status["runs"]["active"] == 0
    gone = await error_of(lsp, wire.ASK, {"question": "q", "folder": billing_repo.as_uri()})
    assert gone.code == JsonRpcInvalidParams.CODE and "is not in a workspace folder" in gone.message
    # One folder again: nothing needs naming.
    alone = await command(lsp, wire.ASK, {"question": "alone again"})
    assert alone["folder"] == small_repo.as_uri()
    assert cited_files(alone) == [(small_repo.resolve() / "shop/retry.py").as_uri()]


async def test_the_cap_on_runs_at_once_is_server_wide(
    lsp: LanguageClient, small_repo: Path, billing_repo: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path / "s.json", conversations=[{"match": "slow", "turns": [SLEEP]}])
    await open_folders(lsp, [small_repo, billing_repo], script, max_runs=1, block_seconds=600)
    slow = asyncio.ensure_future(
        command(lsp, wire.ASK, {"question": "slow", "folder": small_repo.as_uri()}, msg_id="slow-1")
    )
    await wait_until(lambda: "sleeping" in str(events(lsp, "code")[-1:]), "the block to start")

    busy = await error_of(lsp, wire.ASK, {"question": "q", "folder": billing_repo.as_uri()})
    assert busy.code == wire.ErrorCodes.BUSY
    status = await command(lsp, wire.STATUS)
    assert status["runs"] == {"active": 1, "max": 1}
    folders = by_repo(status)
    assert folders[str(small_repo.resolve())]["runs"] == {"active": 1}
    assert folders[str(billing_repo.resolve())]["runs"] == {"active": 0}

    lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-1"))
    assert (await slow)["reason"] == "cancelled"


async def test_a_save_reindexes_only_the_folder_holding_the_file(
    lsp: LanguageClient, small_repo: Path, billing_repo: Path, tmp_path: Path
) -> None:
    plan = "# Plan: use it\n\n## Steps\n\n### 1. Call the helper\n"
    plan += "Touches: `shared/helpers.py` (`brand_new`)\n"
    final = repl(f"plan = {json.dumps(plan)}\nFINAL_VAR('plan')")
    # A plan citing no line that exists is turned down once; the same plan is given again.
    turns = [repl("print(repo.grep('brand_new'))"), final, "FINAL_VAR('plan')"]
    goals = ("zz-open", "zz-billing-after", "zz-shop-before", "zz-shop-after")
    script = write_script(tmp_path / "s.json", conversations=[{"match": g, "turns": turns} for g in goals])
    await open_folders(lsp, [small_repo, billing_repo], script)
    for repo in (small_repo, billing_repo):  # both open, listed and indexed
        await command(lsp, wire.PLAN, {"goal": "zz-open", "folder": repo.as_uri()})

    async def plan_in(repo: Path, goal: str) -> tuple[list[str], list[str]]:
        """(URIs of the places found, texts of the places not found) of the plan's step."""
        (step,) = (await command(lsp, wire.PLAN, {"goal": goal, "folder": repo.as_uri()}))["steps"]
        return [loc["uri"] for loc in step["locations"]], [u["text"] for u in step["unverified"]]

    def save(repo: Path) -> None:
        saved = types.TextDocumentIdentifier((repo / "shared" / "helpers.py").as_uri())
        lsp.text_document_did_save(types.DidSaveTextDocumentParams(saved))

    # The same new file lands in both folders; the editor saves the billing copy (the second folder).
    for repo in (small_repo, billing_repo):
        (repo / "shared").mkdir()
        (repo / "shared" / "helpers.py").write_text("def brand_new():\n    return 1\n")
    save(billing_repo)
    assert await plan_in(billing_repo, "zz-billing-after") == (
        [(billing_repo.resolve() / "shared/helpers.py").as_uri()] * 2,  # the file, and brand_new in it
        [],
    )
    assert await plan_in(small_repo, "zz-shop-before") == ([], ["shared/helpers.py", "brand_new"])
    save(small_repo)
    assert await plan_in(small_repo, "zz-shop-after") == (
        [(small_repo.resolve() / "shared/helpers.py").as_uri()] * 2,
        [],
    )


# -- the folder rules, in process ------------------------------------------------------------------


def folders_at(*roots: Path) -> Folders:
    folders = Folders()
    for root in roots:
        assert folders.add(Folder(root.as_uri(), root.name, root, RunCap(1)))
    return folders


def test_the_innermost_folder_holds_a_document_and_paths_are_matched_whole(tmp_path: Path) -> None:
    outer, inner, sibling = tmp_path / "app", tmp_path / "app" / "lib", tmp_path / "app-docs"
    for path in (inner, sibling):
        path.mkdir(parents=True)
    folders = folders_at(outer, inner, sibling)
    assert folders.pick(None, (inner / "x.py").as_uri()).root == inner
    assert folders.pick((outer / "main.py").as_uri()).root == outer
    assert folders.pick(str(sibling / "a.md")).root == sibling, "app-docs is not inside app"
    assert folders.pick(inner.as_uri()).root == inner
    assert not folders.add(Folder(inner.as_uri() + "/", "again", inner, RunCap(1)))
    with pytest.raises(JsonRpcException, match="not in a workspace folder"):
        folders.pick("relative/path.py")
    assert folders.remove(inner.as_uri()) is not None
    assert folders.pick(None, (inner / "x.py").as_uri()).root == outer


def test_a_folder_reached_through_a_symlink_holds_documents_either_way(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    folders = folders_at(link)
    assert folders.pick((real / "a.py").as_uri()).uri == link.as_uri()
    assert folders.pick((link / "a.py").as_uri()).uri == link.as_uri()


def test_without_folders_every_pick_is_a_configuration_error() -> None:
    with pytest.raises(wire.ConfigurationFailed, match="no workspace folder"):
        Folders().pick(None)
