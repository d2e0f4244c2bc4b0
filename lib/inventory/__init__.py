"""Bucket inventory: parallel listing snapshots, S3 Inventory import, and DuckDB search over them."""
