"""The test suite itself: how long the whole of it takes, in one process and on parallel workers."""
