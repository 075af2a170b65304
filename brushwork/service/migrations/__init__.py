"""Alembic's revisions of the service's schema (``brushwork serve migrate`` runs them)."""
