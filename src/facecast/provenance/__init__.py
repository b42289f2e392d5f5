"""Provenance: invisible watermark, C2PA Content Credentials, verification, consent ledger."""
