"""The Feast repo for customers and channels, and the thin client the rest of omnicx uses."""
