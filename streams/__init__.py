"""Stream side: channel adapters, the ingest gateway, and the faust app (identity, timeline,
features, outreach rules)."""
