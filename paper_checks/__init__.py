"""The paper's claims (SPEC.md section 3) as executable checks."""
