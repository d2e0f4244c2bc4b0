"""The audit page's library: one module per question an admin asks of a bucket.

- config_review: is the bucket configured safely, and for this app? (live calls, a checklist)
- usage:         what does it hold, where, how old, how fast is it growing? (DuckDB over a snapshot)
- hidden:        what is billed but not seen: unfinished multipart uploads and duplicates

Everything here reads; the one action (aborting an unfinished upload) is a plain function that
lib.desk calls after checking the user's permission and before recording the event.
"""
