"""The paper's claims (docs/claims.md) as executable checks."""
