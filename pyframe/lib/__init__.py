"""Reusable helpers behind pyframe's tools: HTTP utilities, config parsing,
static files, sessions, encodings and more."""
