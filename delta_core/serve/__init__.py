"""``delta serve``: the per-user model server (protocol, scheduler, server, launcher)."""
