// Starts `netc lsp` (the language server of the `netc` Python package) for .net files. Diagnostics, hover
// with shapes, completion, go to definition, references, rename, outline, inlay hints and formatting all
// come from the server; this file only launches it.
"use strict";
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("netc").get("server.command", ["netc", "lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient(
    "netc",
    "netc language server",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "netc" }, { scheme: "untitled", language: "netc" }] },
  );
  context.subscriptions.push(client);
  client.start().catch((err) => {
    vscode.window.showErrorMessage(
      `netc: could not start \`${[command, ...args].join(" ")}\` (${err.message}). ` +
      "Install netc with its lsp extra (pip install 'netc[lsp]') or set netc.server.command.");
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
