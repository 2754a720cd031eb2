"""`netc lsp` driven through a real LSP client over stdio (pytest-lsp starts the `netc` console script).

Oracles: the reviewed `.expected` snapshots of the CLI (codes, positions and hints of diagnostics), and
shapes and counts derived by hand from the samples' text (GPT-2's c_attn is 768 -> 3 * 768 = 2304, ResNet-18
calls BasicBlock 8 times, ...), never the server's own earlier answers.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types as lsp  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from .conftest import ROOT, SAMPLES  # noqa: E402

NETC = str(Path(sys.executable).parent / "netc")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[NETC, "lsp"]))
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    capabilities = lsp.ClientCapabilities(
        text_document=lsp.TextDocumentClientCapabilities(
            inlay_hint=lsp.InlayHintClientCapabilities(),
            hover=lsp.HoverClientCapabilities(content_format=[lsp.MarkupKind.Markdown]),
            document_symbol=lsp.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True),
        ))
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=capabilities))
    yield
    await lsp_client.shutdown_session()


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


async def open_doc(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = uri_of(path)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(
        uri=uri, language_id="netc", version=1, text=path.read_text() if text is None else text)))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


def position_of(text: str, needle: str, delta: int = 0) -> lsp.Position:
    offset = text.index(needle) + delta
    line = text.count("\n", 0, offset)
    return lsp.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


# -- diagnostics ----------------------------------------------------------------------------------
def expected_diagnostics(path: Path) -> list[tuple[str, int, int, list[str]]]:
    """(code, line, column, help lines) of the CLI's reviewed output; a diagnostic without a location is
    shown at the top of the file, one located in another file is only counted."""
    out: list[tuple[str, int, int, list[str]]] = []
    for line in path.with_suffix(".expected").read_text().splitlines():
        if m := re.match(r"(?:error|warning)\[(\w+)\]", line):
            out.append((m.group(1), 1, 1, []))
        elif m := re.match(r"\s*--> (.+):(\d+):(\d+)$", line):
            code = out[-1][0]
            out[-1] = ((code, int(m.group(2)), int(m.group(3)), []) if m.group(1).endswith(path.name) else
                       ("elsewhere:" + code, 0, 0, []))
        elif (m := re.match(r"\s*= help: (.*)", line)) and out:
            out[-1][3].append(m.group(1))
    return out


ERROR_SAMPLES = sorted((SAMPLES / "errors").glob("*.net"))


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ERROR_SAMPLES, ids=lambda p: p.stem)
async def test_diagnostics_match_the_cli(client: LanguageClient, path: Path) -> None:
    uri = await open_doc(client, path)
    got = client.diagnostics[uri]
    expected = expected_diagnostics(path)
    assert expected, f"{path.name}.expected lists no diagnostics"
    local = [e for e in expected if not e[0].startswith("elsewhere:")]
    got_codes = sorted((str(d.code), d.range.start.line + 1, d.range.start.character + 1) for d in got)
    for code, line, col, helps in local:
        assert (code, line, col) in got_codes, f"{code} at {line}:{col} missing from {got_codes}"
        d = next(d for d in got if (str(d.code), d.range.start.line + 1, d.range.start.character + 1)
                 == (code, line, col))
        for h in helps:
            assert f"help: {h}" in d.message.replace(f"{ROOT}/", "")
        assert d.source == "netc"
        want = lsp.DiagnosticSeverity.Warning if code.startswith("W") else lsp.DiagnosticSeverity.Error
        assert d.severity == want
    assert len(got) == len(expected)


@pytest.mark.asyncio
async def test_diagnostics_follow_every_change(client: LanguageClient) -> None:
    path = SAMPLES / "mnist_mlp.net"
    text = path.read_text()
    uri = await open_doc(client, path)
    assert list(client.diagnostics[uri]) == []
    # Break it: Linear(classes) fed 784 features but told 5.
    at = position_of(text, "Linear(classes)", len("Linear(classes"))
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [lsp.TextDocumentContentChangePartial(range=lsp.Range(at, at), text=", in_features=5")]))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    (diag,) = client.diagnostics[uri]
    assert diag.code == "E200" and diag.range.start.line == at.line
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
        [lsp.TextDocumentContentChangeWholeDocument(text=text)]))
    await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []


# -- hover, definition, references, rename ------------------------------------------------------
@pytest.mark.asyncio
async def test_hover_shows_shapes_parameters_and_op_docs(client: LanguageClient) -> None:
    path = SAMPLES / "gpt2.net"
    text = path.read_text()
    uri = await open_doc(client, path)
    hover = await client.text_document_hover_async(lsp.HoverParams(
        lsp.TextDocumentIdentifier(uri), position_of(text, "Linear(3 * d)", 2)))
    assert hover is not None
    value = hover.contents.value  # type: ignore[union-attr]
    # d = 768 (GPT2's default), so c_attn maps 768 -> 3 * 768 = 2304 features.
    assert "f32[B, T, 768] -> f32[B, T, 2304]" in value
    assert "`weight`: [2304, 768]" in value and "`bias`: [2304]" in value
    assert "out_features" in value and "over the last dim" in value  # the op's documentation
    # A value's symbolic type: `tok` is (B, T, d) per the sample's own comment.
    hover = await client.text_document_hover_async(lsp.HoverParams(
        lsp.TextDocumentIdentifier(uri), position_of(text, "tok = idx")))
    assert hover is not None and "tok: f32[B, T, 768]" in hover.contents.value  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_definition_and_references(client: LanguageClient) -> None:
    path = SAMPLES / "resnet18.net"
    text = path.read_text()
    uri = await open_doc(client, path)
    doc = lsp.TextDocumentIdentifier(uri)
    loc = await client.text_document_definition_async(lsp.DefinitionParams(doc, position_of(text, "BasicBlock(128")))
    assert isinstance(loc, lsp.Location)
    assert loc.range.start == position_of(text, "BasicBlock(cout")  # `block BasicBlock(cout: int, ...)`
    # `y` in `output relu(y + x)` is the `y = x -> ...` of the block.
    loc = await client.text_document_definition_async(lsp.DefinitionParams(doc, position_of(text, "y + x")))
    assert isinstance(loc, lsp.Location) and loc.range.start == position_of(text, "y = x")
    refs = await client.text_document_references_async(lsp.ReferenceParams(
        context=lsp.ReferenceContext(include_declaration=True), text_document=doc,
        position=position_of(text, "BasicBlock(64)")))
    assert refs is not None and len(refs) == 1 + 8  # the definition and two calls in each of layer1..layer4


@pytest.mark.asyncio
async def test_definition_of_a_comprehension_variable(client: LanguageClient, tmp_path: Path) -> None:
    path = tmp_path / "comp.net"
    text = ("network N(widths: list = [4, 8]) {\n    input x: f32[B, 3]\n"
            "    output x -> [Linear(widths[i]) -> relu for i in range(2)] as s\n}\n")
    path.write_text(text)
    uri = await open_doc(client, path)
    assert list(client.diagnostics[uri]) == []
    loc = await client.text_document_definition_async(lsp.DefinitionParams(
        lsp.TextDocumentIdentifier(uri), position_of(text, "i]) ->")))
    assert isinstance(loc, lsp.Location) and loc.range.start == position_of(text, "i in range")
    hover = await client.text_document_hover_async(lsp.HoverParams(
        lsp.TextDocumentIdentifier(uri), position_of(text, "i in range")))
    assert hover is not None and "0" in hover.contents.value and "1" in hover.contents.value  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_rename_a_parameter_everywhere(client: LanguageClient) -> None:
    path = SAMPLES / "mnist_mlp.net"
    text = path.read_text()
    uri = await open_doc(client, path)
    edit = await client.text_document_rename_async(lsp.RenameParams(
        text_document=lsp.TextDocumentIdentifier(uri), position=position_of(text, "hidden)"), new_name="width"))
    assert edit is not None and edit.changes is not None
    edits = edit.changes[uri]
    # `hidden: int = 128` and `Linear(hidden)`, and nothing else.
    assert sorted((e.range.start.line, e.range.start.character) for e in edits) == sorted([
        (position_of(text, "hidden:").line, position_of(text, "hidden:").character),
        (position_of(text, "hidden)").line, position_of(text, "hidden)").character)])
    assert all(e.new_text == "width" for e in edits)


# -- completion, outline, inlay hints, formatting -----------------------------------------------
@pytest.mark.asyncio
async def test_completion_in_context(client: LanguageClient, tmp_path: Path) -> None:
    # Typed with the editor closing brackets, as VS Code does; the file does not parse (`y = h ->`).
    text = ("block Tiny(width: int) {\n    input x: f32[B, 8]\n    output x\n}\n"
            "network N {\n    input x: f32[B, 784]\n    h = x -> Linear()\n    y = h -> \n    output y\n}\n"
            "train N {\n    \n}\n")
    path = tmp_path / "typing.net"
    path.write_text(text)
    uri = await open_doc(client, path, text)
    doc = lsp.TextDocumentIdentifier(uri)

    async def labels(pos: lsp.Position) -> set[str]:
        result = await client.text_document_completion_async(lsp.CompletionParams(doc, pos))
        assert isinstance(result, lsp.CompletionList)
        return {i.label for i in result.items}

    inside_call = await labels(position_of(text, "Linear(", len("Linear(")))
    assert {"out_features=", "bias=", "in_features="} <= inside_call
    assert "x" in inside_call  # names in scope
    after_arrow = await labels(position_of(text, "h -> ", len("h -> ")))
    assert {"Linear", "Conv2d", "relu", "Tiny"} <= after_arrow
    train = await labels(position_of(text, "train N {\n    ", len("train N {\n    ")))
    assert {"loss", "optimizer", "epochs", "data"} <= train


@pytest.mark.asyncio
async def test_document_symbols(client: LanguageClient) -> None:
    path = SAMPLES / "gpt2.net"
    uri = await open_doc(client, path)
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        lsp.TextDocumentIdentifier(uri)))
    assert symbols is not None
    assert [s.name for s in symbols] == ["CausalSelfAttention", "MLP", "Block", "Transformer", "GPT2"]
    gpt2 = symbols[-1]
    assert isinstance(gpt2, lsp.DocumentSymbol) and gpt2.children is not None
    assert {"idx", "transformer", "lm_head", "logits"} <= {c.name for c in gpt2.children}


@pytest.mark.asyncio
async def test_inlay_hints_show_each_steps_shape(client: LanguageClient) -> None:
    path = SAMPLES / "mnist_mlp.net"
    text = path.read_text()
    uri = await open_doc(client, path)
    hints = await client.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=lsp.TextDocumentIdentifier(uri), range=lsp.Range(lsp.Position(0, 0), lsp.Position(len(text.splitlines()), 0))))
    assert hints is not None
    by_position = {(h.position.line, h.position.character): h.label for h in hints}
    # 784 -> Linear(128) -> relu -> Dropout -> Linear(10) -> softmax, batch B kept symbolic.
    end_fc1 = position_of(text, "as fc1", len("as fc1"))
    assert by_position[(end_fc1.line, end_fc1.character)] == ": f32[B, 128]"
    end_fc2 = position_of(text, "as fc2", len("as fc2"))
    assert by_position[(end_fc2.line, end_fc2.character)] == ": f32[B, 10]"


@pytest.mark.asyncio
async def test_formatting(client: LanguageClient, tmp_path: Path) -> None:
    text = "network   N{\ninput x:f32[B,4]   # the input\n  x->Linear( 2 )as fc->y\noutput y}\n"
    path = tmp_path / "messy.net"
    uri = await open_doc(client, path, text)
    edits = await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=lsp.TextDocumentIdentifier(uri), options=lsp.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert edits is not None and len(edits) == 1
    assert edits[0].new_text == ("network N {\n    input x: f32[B, 4]  # the input\n"
                                 "    x -> Linear(2) as fc -> y\n    output y\n}\n")


@pytest.mark.asyncio
async def test_definition_across_imports(client: LanguageClient, tmp_path: Path) -> None:
    (tmp_path / "lib.net").write_text("block Head(n: int) {\n    input x: f32[B, C]\n"
                                      "    x -> Linear(n) as fc -> y\n    output y\n}\n")
    text = ('import "lib.net"\n\nnetwork Net {\n    input x: f32[B, 8]\n'
            "    x -> Head(3) as head -> y\n    output y\n}\n")
    path = tmp_path / "main.net"
    path.write_text(text)
    uri = await open_doc(client, path, text)
    assert list(client.diagnostics[uri]) == []
    doc = lsp.TextDocumentIdentifier(uri)
    lib_uri = (tmp_path / "lib.net").resolve().as_uri()
    loc = await client.text_document_definition_async(lsp.DefinitionParams(doc, position_of(text, "Head(3)")))
    assert isinstance(loc, lsp.Location) and loc.uri == lib_uri
    assert (loc.range.start.line, loc.range.start.character) == (0, len("block "))
    loc = await client.text_document_definition_async(lsp.DefinitionParams(doc, position_of(text, "lib.net")))
    assert isinstance(loc, lsp.Location) and loc.uri == lib_uri
    hover = await client.text_document_hover_async(lsp.HoverParams(doc, position_of(text, "Head(3)")))
    assert hover is not None
    value = hover.contents.value  # type: ignore[union-attr]
    # Linear(3) on 8 features: 8 * 3 weights + 3 biases = 27, the block's whole count.
    assert "block Head(n: int)" in value and "27 parameters" in value and "f32[B, 8] -> f32[B, 3]" in value


def test_every_position_of_every_sample_answers_without_crashing() -> None:
    """In process (the server runs the same functions): hover, definition lookup and completion at every
    position of every sample, broken ones included, and of every prefix-truncated sample."""
    from netc.lsp.analysis import analyze, hover, inlay_hints, outline, problems
    from netc.lsp.complete import completions

    paths = sorted(SAMPLES.glob("*.net")) + sorted((SAMPLES / "errors").glob("*.net"))
    for path in paths:
        text = path.read_text()
        a = analyze(str(path), text)
        problems(a), inlay_hints(a), outline(a)
        for offset in range(0, len(text) + 1, 3):
            hover(a, offset)
            if a.index is not None and (occ := a.index.at(offset)) is not None:
                a.index.definition(occ)
        for cut in range(0, len(text), max(1, len(text) // 40)):
            partial = analyze(str(path), text[:cut])
            problems(partial)
            assert isinstance(completions(a, text[:cut], cut), list)
