"""The witness API: C2SP tlog-witness add-checkpoint."""
