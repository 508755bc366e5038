"""The language server: the engine's ask, plan and explain as LSP commands (see `wire` for the
protocol surface, `server` for the handlers, `client` for the headless client the CLI uses)."""
