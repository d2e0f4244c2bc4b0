"""Object listings as files for analysts: CSV, Parquet, JSON Lines, Excel.

One module per concern, in the order rows travel:

  columns.py       which columns, in which order, with which types (listing + HEAD columns)
  sources.py       rows from a live walk, the latest snapshot or an S3 Inventory report, filtered
                   by the query's SQL and the person's allowed prefixes
  enrich.py        HEAD columns (content type, uploaded-by, original name), bounded concurrency
  formats.py       streaming writers and the FORMATS registry
  destinations.py  local file, stdout, s3://, and the page's download-or-signed-link rule
  pipeline.py      one export end to end, with progress and a summary for the audit log
  cli.py           `python -m lib.export`
"""
