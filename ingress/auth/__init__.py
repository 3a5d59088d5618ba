"""Users and authentication: argon2id passwords, HS256 access tokens, rotated refresh tokens."""
