"""The web console (services/console): pages for the platform's people over the services'
public HTTP APIs (``app``)."""
