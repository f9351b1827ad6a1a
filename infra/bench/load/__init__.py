"""Many users at once through the local gateway."""
