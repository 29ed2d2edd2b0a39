"""Differentially private exports: the budgets and spend ledger in the control database, the
tenant's records read from a region's dedup store, and the export that ties them together.
The DP logic and accounting math are pure and live in ledger/dp_*.py."""
