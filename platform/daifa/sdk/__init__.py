"""The doors for people: the API client (`daifa.Client`) and the party wallet (`daifa.Wallet`)."""
