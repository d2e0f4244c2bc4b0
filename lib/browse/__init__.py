"""Browsing: paged listings, filters, one object's details, thumbnails and signed links."""
