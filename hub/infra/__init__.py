"""Infrastructure: the SQL event store, database engines and migrations, repositories."""
