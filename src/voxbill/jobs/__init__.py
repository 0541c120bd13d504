"""Background jobs run by ``voxbill serve``; each is safe on every node at once."""
