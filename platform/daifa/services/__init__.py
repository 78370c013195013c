"""Use cases: one module per flow. Each function takes the unit of work (a Session in a transaction),
the platform's ports (chain, documents) and the acting party, and raises daifa.errors on refusal,
before changing anything."""
