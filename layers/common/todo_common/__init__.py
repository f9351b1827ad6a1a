"""What the todo chat backend's Lambda functions share: settings, database, models, auth, errors and logging."""
