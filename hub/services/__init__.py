"""Application services: use cases over the domain, through the ports in `hub.services.ports`."""
