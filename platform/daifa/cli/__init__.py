"""The `daifa` command (typer + rich): the devnet, deployment, the server, the parties' and the
operator's work over the SDK, verification, and the demo."""
