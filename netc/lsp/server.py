"""`netc lsp`: the language server, over stdio (pygls). Every answer comes from analysis.py, i.e. from the
same parser, elaborator and diagnostics as the command line; this module only speaks the protocol."""
from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from ..dsl.source import Span
from .analysis import Analysis, Outline, Problem, analyze, hover, inlay_hints, outline, problems
from .complete import completions
from .positions import LineMap

NAME_RE = re.compile(r"(?!\d)\w+$")
_SYMBOL_KINDS = {
    "network": lsp.SymbolKind.Class, "block": lsp.SymbolKind.Class, "train": lsp.SymbolKind.Module,
    "import": lsp.SymbolKind.File, "input": lsp.SymbolKind.Variable, "output": lsp.SymbolKind.Variable,
    "layer": lsp.SymbolKind.Field, "setting": lsp.SymbolKind.Property,
    "param": lsp.SymbolKind.Field, "buffer": lsp.SymbolKind.Field,
}
_COMPLETION_KINDS = {
    "op": lsp.CompletionItemKind.Function, "block": lsp.CompletionItemKind.Class,
    "attribute": lsp.CompletionItemKind.Property, "value": lsp.CompletionItemKind.Variable,
    "keyword": lsp.CompletionItemKind.Keyword, "setting": lsp.CompletionItemKind.Property,
}


class NetcServer(LanguageServer):
    def __init__(self) -> None:
        from .. import __version__

        super().__init__("netc", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.analyses: dict[str, Analysis] = {}  # uri -> the latest analysis
        self.parsed: dict[str, Analysis] = {}  # uri -> the latest analysis that parsed (for completion)

    def check(self, uri: str) -> Analysis:
        doc = self.workspace.get_text_document(uri)
        a = analyze(_display_path(uri), doc.source)
        self.analyses[uri] = a
        if a.program is not None:
            self.parsed[uri] = a
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=uri, version=doc.version, diagnostics=[_diagnostic(a, p) for p in problems(a)]))
        return a

    def analysis(self, uri: str) -> Analysis:
        a = self.analyses.get(uri)
        doc = self.workspace.get_text_document(uri)
        return a if a is not None and a.source.text == doc.source else self.check(uri)


server = NetcServer()


def _display_path(uri: str) -> str:
    """The document's path as the CLI would print it when run from the server's folder (the workspace)."""
    path = to_fs_path(uri) or uri
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def _range(lines: LineMap, start: int, end: int) -> lsp.Range:
    sl, sc = lines.position(start)
    el, ec = lines.position(end)
    return lsp.Range(lsp.Position(sl, sc), lsp.Position(el, ec))


def _location(a: Analysis, span: Span) -> lsp.Location:
    source = span.source
    lines = a.lines if source is a.source else LineMap(source.text)
    uri = from_fs_path(str(Path(source.path).resolve())) or source.path
    return lsp.Location(uri, _range(lines, span.start, span.end))


def _diagnostic(a: Analysis, p: Problem) -> lsp.Diagnostic:
    d = p.diagnostic
    return lsp.Diagnostic(
        range=_range(a.lines, p.start, p.end),
        message=p.message,
        severity=lsp.DiagnosticSeverity.Error if d.severity == "error" else lsp.DiagnosticSeverity.Warning,
        code=d.code,
        source="netc",
        related_information=[lsp.DiagnosticRelatedInformation(_location(a, span), msg or d.message)
                             for span, msg in p.related] or None,
    )


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: NetcServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.check(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: NetcServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.check(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: NetcServer, params: lsp.DidSaveTextDocumentParams) -> None:
    ls.check(params.text_document.uri)  # files it imports may have changed on disk


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: NetcServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.analyses.pop(params.text_document.uri, None)
    ls.parsed.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


def _offset(a: Analysis, pos: lsp.Position) -> int:
    return a.lines.offset(pos.line, pos.character)


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def on_hover(ls: NetcServer, params: lsp.HoverParams) -> lsp.Hover | None:
    a = ls.analysis(params.text_document.uri)
    found = hover(a, _offset(a, params.position))
    if found is None:
        return None
    text, occ = found
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text), _range(a.lines, occ.start, occ.end))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def on_definition(ls: NetcServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    a = ls.analysis(params.text_document.uri)
    offset = _offset(a, params.position)
    if a.program is not None:  # an import's path goes to the imported file
        for imp in a.program.imports:
            if imp.span.start <= offset <= imp.span.end:
                target = (Path(a.source.path).parent / imp.path).resolve()
                return lsp.Location(from_fs_path(str(target)) or str(target),
                                    lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)))
    if a.index is None:
        return None
    occ = a.index.at(offset)
    if occ is None:
        return None
    target = a.index.definition(occ)
    if target is not None:
        return lsp.Location(params.text_document.uri, _range(a.lines, target.start, target.end))
    external = a.index.external.get(occ.symbol)
    return _location(a, external) if external is not None else None


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
def on_references(ls: NetcServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
    a = ls.analysis(params.text_document.uri)
    occ = a.index.at(_offset(a, params.position)) if a.index else None
    if occ is None or a.index is None:
        return []
    refs = a.index.references(occ.symbol)
    if not params.context.include_declaration:
        refs = [r for r in refs if not r.binds]
    return [lsp.Location(params.text_document.uri, _range(a.lines, r.start, r.end)) for r in refs]


@server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
def on_prepare_rename(ls: NetcServer, params: lsp.PrepareRenameParams) -> lsp.Range | None:
    a = ls.analysis(params.text_document.uri)
    occ = a.index.at(_offset(a, params.position)) if a.index else None
    if occ is None or occ.symbol[0] in ("op", "attr") or occ.symbol in (a.index.external if a.index else {}):
        return None
    return _range(a.lines, occ.start, occ.end)


@server.feature(lsp.TEXT_DOCUMENT_RENAME)
def on_rename(ls: NetcServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    from .complete import KEYWORDS

    a = ls.analysis(params.text_document.uri)
    occ = a.index.at(_offset(a, params.position)) if a.index else None
    if occ is None or a.index is None or occ.symbol[0] in ("op", "attr"):
        return None
    if not NAME_RE.match(params.new_name) or params.new_name in KEYWORDS:
        raise ValueError(f"`{params.new_name}` is not a name netc accepts")
    edits = [lsp.TextEdit(_range(a.lines, r.start, r.end), params.new_name) for r in a.index.references(occ.symbol)]
    return lsp.WorkspaceEdit(changes={params.text_document.uri: edits})


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[">", "(", ",", " "]))
def on_completion(ls: NetcServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    lines = LineMap(doc.source)
    offset = lines.offset(params.position.line, params.position.character)
    items = completions(ls.parsed.get(params.text_document.uri), doc.source, offset)
    return lsp.CompletionList(is_incomplete=False, items=[
        lsp.CompletionItem(label=i.label, kind=_COMPLETION_KINDS[i.kind], detail=i.detail or None,
                           insert_text=i.insert) for i in items])


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def on_document_symbol(ls: NetcServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
    a = ls.analysis(params.text_document.uri)

    def convert(o: Outline) -> lsp.DocumentSymbol:
        return lsp.DocumentSymbol(
            name=o.name, kind=_SYMBOL_KINDS.get(o.kind, lsp.SymbolKind.Variable),
            range=_range(a.lines, o.span.start, o.span.end),
            selection_range=_range(a.lines, o.selection.start, o.selection.end),
            detail=o.detail or None,
            children=[convert(c) for c in o.children] or None)

    return [convert(o) for o in outline(a)]


@server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT, lsp.InlayHintOptions())
def on_inlay_hint(ls: NetcServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
    a = ls.analysis(params.text_document.uri)
    start = _offset(a, params.range.start)
    end = _offset(a, params.range.end)
    out = []
    for offset, label in inlay_hints(a, start, end):
        line, col = a.lines.position(offset)
        out.append(lsp.InlayHint(lsp.Position(line, col), label, kind=lsp.InlayHintKind.Type, padding_left=False))
    return out


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def on_formatting(ls: NetcServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    from ..fmt import FormatError, format_text

    doc = ls.workspace.get_text_document(params.text_document.uri)
    try:
        formatted = format_text(doc.source, to_fs_path(params.text_document.uri) or params.text_document.uri)
    except FormatError:
        return None  # a file that does not parse is left alone; its diagnostics say why
    if formatted == doc.source:
        return []
    lines = LineMap(doc.source)
    return [lsp.TextEdit(_range(lines, 0, len(doc.source)), formatted)]


def run() -> None:
    server.start_io()
