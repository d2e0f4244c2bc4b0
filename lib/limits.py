"""How long signed links live, and how much one request from a browser may ask for.

One home for these numbers: the pages, lib.upload and lib.browse import them from here.
"""

from __future__ import annotations

from lib.config import MAX_SIGNATURE_SECONDS

# --- signed GET links -----------------------------------------------------------------------------
# The link shown after an upload, and the Browse table's row links (previews, the PDF frame).
VIEW_LINK_SECONDS = 3600
# A row link is reused while it has half its life left, so reruns keep the same URL (browser cache).
VIEW_LINK_REUSE_SECONDS = VIEW_LINK_SECONDS // 2
# Thumbnails: signed for two hours, reused for one, so a reused URL is valid for at least an hour.
THUMBNAIL_LINK_SECONDS = 2 * 3600
THUMBNAIL_LINK_REUSE_SECONDS = 3600
# Share links: the person picks, within what SigV4 signs.
MIN_SHARE_LINK_SECONDS = 5 * 60
MAX_SHARE_LINK_SECONDS = MAX_SIGNATURE_SECONDS  # 7 days: S3 refuses SigV4 links valid for longer

# --- what one browser event may ask for -----------------------------------------------------------
# Files in one sign/done event; the component's parser drops the rest.
MAX_FILES_PER_EVENT = 1000
# Part URLs one file may ask for in one parts event (the JS asks for a few at a time).
MAX_PARTS_PER_FILE_EVENT = 256
# Part URLs signed in one parts event, over all files.
MAX_PARTS_PER_EVENT = 1024
# Files one browser session may have signed (grants and refusals held in memory).
MAX_FILES_PER_SESSION = 10_000

# --- the server's records of grants (lib.upload.journal) -----------------------------------------
# Kept this long, so an app restarted mid-upload (a deploy) can still judge the uploads its earlier
# self granted; grants themselves expire within minutes, so a day is ample.
GRANT_RECORD_SECONDS = 24 * 3600
