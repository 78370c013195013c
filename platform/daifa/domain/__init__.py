"""Pure domain model: no web3, no database, no HTTP."""
