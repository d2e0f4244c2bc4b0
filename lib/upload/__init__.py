"""Uploads: grants (POST policy), multipart plans, the per-session upload state, resume records, verification."""
